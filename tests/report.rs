//! Pictures and the HTML report: `rnc compile --plots`, `rnc report DIR`, and (when Chromium
//! is installed) the page as a browser renders it.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common {
    pub mod cli;
}
use common::cli::rnc;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnc-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Decodes a PNG; returns (width, height, RGB(A) bytes, channels).
fn decode(path: &Path) -> (u32, u32, Vec<u8>, usize) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let ch = info.color_type.samples();
    (info.width, info.height, buf, ch)
}

/// Variance of the luminance of an image: near 0 for a blank page.
fn variance(buf: &[u8], ch: usize) -> f64 {
    let lum: Vec<f64> = buf
        .chunks(ch)
        .map(|p| {
            if ch >= 3 {
                (p[0] as f64 + p[1] as f64 + p[2] as f64) / 3.0
            } else {
                p[0] as f64
            }
        })
        .collect();
    let m = lum.iter().sum::<f64>() / lum.len() as f64;
    lum.iter().map(|l| (l - m) * (l - m)).sum::<f64>() / lum.len() as f64
}

/// Distinct colours in an image (a plot has many; a blank one, one).
fn colours(buf: &[u8], ch: usize) -> usize {
    let mut s: Vec<&[u8]> = buf.chunks(ch).collect();
    s.sort_unstable();
    s.dedup();
    s.len()
}

fn compile_folder(name: &str) -> PathBuf {
    let out = tmp(name);
    let (code, _, err) = rnc(&[
        "compile",
        "--model",
        "mbv3-small",
        "--crossbars",
        "168",
        "--duplicate",
        "--effort",
        "fast",
        "--out",
        out.to_str().unwrap(),
        "--plots",
    ]);
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn compile_plots_and_report_for_mbv3_small_at_168() {
    let out = compile_folder("mbv3");
    for f in ["summary.json", "pack.csv", "partition.json", "trace.csv"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // PNG sizes follow the pictures' layout: fixed widths, heights from content.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let used = summary["crossbars_used"].as_u64().unwrap() as usize;
    let layers = std::fs::read_to_string(out.join("partition.json")).unwrap();
    let layers: serde_json::Value = serde_json::from_str(&layers).unwrap();
    let n_layers = layers["layers"].as_array().unwrap().len() as u32;
    for (name, w, h) in [
        ("occupancy", 1200, None),
        ("periods", 1200, Some(440)),
        ("gantt", 1200, Some((140 + 12 * n_layers).clamp(300, 1400))),
    ] {
        let svg = std::fs::read_to_string(out.join(format!("{name}.svg"))).unwrap();
        assert!(svg.contains("<svg"), "{name}.svg is not SVG");
        let (pw, ph, buf, ch) = decode(&out.join(format!("{name}.png")));
        assert_eq!(pw, w, "{name}.png width");
        if let Some(h) = h {
            assert_eq!(ph, h, "{name}.png height");
        }
        assert!(colours(&buf, ch) > 8, "{name}.png looks blank");
        assert!(variance(&buf, ch) > 50.0, "{name}.png looks blank");
    }
    // One square per used crossbar, each with its utilisation label.
    let occ = std::fs::read_to_string(out.join("occupancy.svg")).unwrap();
    assert!(
        occ.contains(&format!("#{} ", used - 1)),
        "last crossbar label missing"
    );
    assert!(
        !occ.contains(&format!("#{} ", used)),
        "a crossbar beyond the used ones is drawn"
    );

    let (code, stdout, err) = rnc(&["report", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("report.html"));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(
        html.matches("<svg").count(),
        4,
        "occupancy, gantt, periods and energy inline"
    );
    assert!(html.contains("<h2>Energy</h2>"));
    assert!(html.contains("@media print"));
    // Self-contained: nothing fetched, no scripts.
    for bad in [
        "<script",
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
        "<link",
    ] {
        assert!(!html.contains(bad), "report.html contains {bad}");
    }
    // The per-layer table names every layer, and the summary shows the speed-up.
    for l in layers["layers"].as_array().unwrap() {
        assert!(html.contains(&format!("<td>{}</td>", l["name"].as_str().unwrap())));
    }
    let sp = summary["speedup"].as_f64().unwrap();
    assert!(html.contains(&format!("{sp:.2}×")));

    browser_check(&out.join("report.html"));
    let _ = std::fs::remove_dir_all(&out);
}

/// Opens the report in headless Chromium: no console errors and a non-blank screenshot.
fn browser_check(report: &Path) {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        eprintln!(
            "note: /usr/bin/chromium not found; skipping the browser check (apt-get install -y chromium)"
        );
        return;
    }
    let profile = tmp("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let shot = tmp("shot.png");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1280,2000")
        .arg(format!("file://{}", report.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stderr.lines() {
        assert!(
            !line.contains("Uncaught") && !line.contains("ERROR:CONSOLE"),
            "console error: {line}"
        );
    }
    assert!(shot.is_file(), "no screenshot; chromium said:\n{stderr}");
    let (w, h, buf, ch) = decode(&shot);
    assert_eq!((w, h), (1280, 2000));
    assert!(variance(&buf, ch) > 100.0, "screenshot looks blank");
    assert!(colours(&buf, ch) > 50, "screenshot looks blank");
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_file(&shot);
}

#[test]
fn report_names_the_missing_file() {
    let out = compile_folder("missing");
    std::fs::remove_file(out.join("pack.csv")).unwrap();
    let (code, _, err) = rnc(&["report", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("pack.csv"), "{err}");
    assert!(!out.join("report.html").exists());

    let empty = tmp("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, err) = rnc(&["report", empty.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("summary.json"), "{err}");

    let (code, _, err) = rnc(&["report", "/nonexistent/rnc-report-dir"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a folder"), "{err}");

    // A damaged pack.csv is named with its line; nothing is written.
    let bad = compile_folder("bad");
    let mut pack = std::fs::read_to_string(bad.join("pack.csv")).unwrap();
    pack.push_str("9999,9999,0,0,0,0,1,1\n");
    std::fs::write(bad.join("pack.csv"), pack.as_bytes()).unwrap();
    let lines = pack.lines().count();
    let (code, _, err) = rnc(&["report", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("pack.csv line {lines}")), "{err}");
    assert!(!bad.join("report.html").exists());
    for d in [out, empty, bad] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn plots_require_out() {
    let (code, _, err) = rnc(&[
        "compile",
        "--model",
        "mbv3-small",
        "--crossbars",
        "168",
        "--plots",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--out"), "{err}");
}

#[test]
fn search_plots_and_report() {
    let out = tmp("search");
    let (code, _, err) = rnc(&[
        "search",
        "--budget",
        "168",
        "--population",
        "6",
        "--generations",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--plots",
    ]);
    assert_eq!(code, 0, "{err}");
    let (w, h, buf, ch) = decode(&out.join("pareto.png"));
    assert_eq!((w, h), (1000, 640));
    assert!(colours(&buf, ch) > 8);
    let svg = std::fs::read_to_string(out.join("pareto.svg")).unwrap();
    assert!(svg.contains("ISAAC-like"));
    let (code, _, err) = rnc(&["report", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 1);
    // Every front member appears with its genome.
    let front: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("pareto.json")).unwrap()).unwrap();
    for m in front.as_array().unwrap() {
        assert!(html.contains(&format!("<td class=\"n\">{}</td>", m["id"])));
    }
    assert!(html.contains("hardware-only"));
    let _ = std::fs::remove_dir_all(&out);
}
