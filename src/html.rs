//! The self-contained HTML report of `rnc report DIR` (SPEC §12): one file with inline CSS and
//! SVG, no scripts and no network fetches, readable on screen and in print.

use crate::plots::{self, CompileData, Gantt, Occupancy, Pareto, Periods, SearchData};
use std::fmt::Write;
use std::path::Path;

pub use crate::plots::GANTT_SAMPLES;

const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto;
  max-width: 1240px; padding: 16px 24px; color: #1a1a1a; background: #fff; line-height: 1.4; }
h1 { font-size: 1.6em; margin: 0.2em 0 0.4em; }
h2 { font-size: 1.25em; margin: 1.4em 0 0.5em; border-bottom: 1px solid #ccc; padding-bottom: 2px; }
p.note { color: #555; font-size: 0.92em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.4em 0 1em; }
th, td { border: 1px solid #d0d0d0; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
table.kv th { width: 16em; }
figure { margin: 0.6em 0 1.2em; }
figure svg { max-width: 100%; height: auto; display: block; border: 1px solid #e4e4e4; }
figcaption { font-size: 0.88em; color: #444; margin-top: 4px; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.85em; word-break: break-all; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; vertical-align: -0.1em; margin-right: 4px;
  border: 1px solid #888; }
.warn { color: #8a4b00; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  h2 { page-break-after: avoid; }
  figure, table.kv { page-break-inside: avoid; }
  tr { page-break-inside: avoid; }
  figure svg { border: none; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// Escapes text for HTML content and attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(title)
    )
}

/// Inline SVG with its XML prolog removed (it is not allowed inside HTML).
fn figure<P: plots::Picture>(p: &P, caption: &str) -> anyhow::Result<String> {
    let svg = plots::svg(p)?;
    let body = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg.as_str(),
    };
    Ok(format!(
        "<figure>\n{body}\n<figcaption>{}</figcaption>\n</figure>\n",
        esc(caption)
    ))
}

fn fmt_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => {
                if f.abs() >= 1e4 || f == f.trunc() {
                    format!("{f:.0}")
                } else {
                    format!("{f:.4}")
                }
            }
            _ => n.to_string(),
        },
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) if a.len() > 24 => format!("[{} values]", a.len()),
        other => other.to_string(),
    }
}

/// Rows of the summary table: the headline figures first, readable units, then the settings.
fn summary_table(s: &serde_json::Value) -> String {
    let f = |k: &str| s.get(k).and_then(|v| v.as_f64());
    let ms = |k: &str| f(k).map(|v| format!("{:.4} ms", v / 1e6));
    let pct = |k: &str| f(k).map(|v| format!("{:.1}%", 100.0 * v));
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            rows.push((k.to_string(), v));
        }
    };
    push("network", s.get("network").map(fmt_value));
    push(
        "speed-up over ISAAC-like",
        f("speedup").map(|v| format!("{v:.2}×")),
    );
    push(
        "crossbars used / budget",
        match (f("crossbars_used"), f("crossbars_budget")) {
            (Some(u), Some(b)) => Some(format!("{u:.0} / {b:.0}")),
            _ => None,
        },
    );
    push(
        "lower bound (crossbars)",
        s.get("lower_bound").map(|b| {
            let why = s.get("lower_bound_reason").and_then(|r| r.as_str()).unwrap_or("");
            format!("{} {why}", fmt_value(b))
        }),
    );
    push(
        "area lower bound (crossbars)",
        s.get("area_lower_bound").map(fmt_value),
    );
    push("utilisation of used crossbars", pct("utilization"));
    push("utilisation of the budget", pct("utilization_of_budget"));
    push("latency", ms("latency_ns"));
    push("ideal latency (no contention)", ms("ideal_latency_ns"));
    push(
        "contention efficiency",
        f("contention_efficiency").map(|v| format!("{v:.3}")),
    );
    push("period", ms("period_ns"));
    push(
        "least period the budget allows",
        f("period_lower_bound_ns").map(|v| {
            let why = s
                .get("period_lower_bound_reason")
                .and_then(|r| r.as_str())
                .unwrap_or("");
            format!("{:.2} µs for the slowest layer ({why})", v / 1e3)
        }),
    );
    push("utilisation its least copies reach", pct("utilization_bound"));
    push(
        "least latency the budget allows",
        ms("latency_lower_bound_ns").map(|v| {
            let why = s
                .get("latency_lower_bound_reason")
                .and_then(|r| r.as_str())
                .unwrap_or("");
            format!("{v} ({why})")
        }),
    );
    push(
        "optimality gap",
        f("optimality_gap")
            .map(|g| format!("{g:.2} (latency / least latency: at most this far from the best mapping)")),
    );
    push(
        "throughput",
        f("throughput_per_s").map(|v| format!("{v:.0} inferences/s")),
    );
    push(
        "ISAAC-like baseline",
        match (ms("baseline_latency_ns"), f("baseline_crossbars")) {
            (Some(l), Some(c)) => Some(format!("{l} on {c:.0} crossbars")),
            _ => None,
        },
    );
    push(
        "energy",
        f("energy_nj").map(|v| format!("{:.2} µJ per inference", v / 1e3)),
    );
    push(
        "energy by component (with buffers)",
        plots::EnergyBars::report_of(s).map(|r| {
            let e = r.per_inference_nj;
            e.parts()
                .iter()
                .map(|(n, v)| format!("{n} {:.2} µJ", v / 1e3))
                .collect::<Vec<_>>()
                .join(", ")
        }),
    );
    let shown = [
        "network",
        "speedup",
        "crossbars_used",
        "crossbars_budget",
        "area_lower_bound",
        "lower_bound",
        "lower_bound_reason",
        "utilization",
        "utilization_of_budget",
        "latency_ns",
        "ideal_latency_ns",
        "contention_efficiency",
        "period_ns",
        "period_lower_bound_ns",
        "period_lower_bound_reason",
        "utilization_bound",
        "latency_lower_bound_ns",
        "latency_lower_bound_reason",
        "optimality_gap",
        "throughput_per_s",
        "baseline_latency_ns",
        "baseline_crossbars",
        "energy_nj",
        "energy_breakdown",
        "copies",
        "warnings",
    ];
    if let Some(o) = s.as_object() {
        for (k, v) in o {
            if !shown.contains(&k.as_str()) {
                push(k, Some(fmt_value(v)));
            }
        }
    }
    let mut t = String::from("<table class=\"kv\">\n");
    for (k, v) in rows {
        let _ = writeln!(t, "<tr><th>{}</th><td>{}</td></tr>", esc(&k), esc(&v));
    }
    t.push_str("</table>\n");
    if let Some(w) = s
        .get("warnings")
        .and_then(|w| w.as_array())
        .filter(|w| !w.is_empty())
    {
        t.push_str("<ul class=\"warn\">\n");
        for x in w {
            let _ = writeln!(t, "<li>{}</li>", esc(x.as_str().unwrap_or_default()));
        }
        t.push_str("</ul>\n");
    }
    t
}

/// The report of a compile output folder.
pub fn compile_report(d: &CompileData) -> anyhow::Result<String> {
    let mut h = head(&format!("rnc report: {}", d.network));
    let _ = writeln!(h, "<h1>rnc compile report: {}</h1>", esc(&d.network));
    h.push_str("<h2>Summary</h2>\n");
    h.push_str(&summary_table(&d.summary));
    h.push_str("<h2>Crossbar occupancy</h2>\n");
    h.push_str(&figure(
        &Occupancy { data: d },
        "Each square is one crossbar; tiles are drawn at their place and size, coloured by layer \
         (the number is the layer index), duplicate copies hatched; the percentage under a \
         crossbar is the share of its cells holding weights.",
    )?);
    h.push_str("<h2>Pipeline</h2>\n");
    match &d.trace {
        Some(tr) => {
            let samples = tr
                .iter()
                .map(|e| e.sample + 1)
                .max()
                .unwrap_or(0)
                .min(GANTT_SAMPLES);
            h.push_str(&figure(
                &Gantt {
                    data: d,
                    trace: tr,
                    samples,
                },
                "Simulated layer executions of the first samples (one colour per sample); a row \
                 is a layer, layer 0 at the top.",
            )?)
        }
        None => h.push_str(
            "<p class=\"note\">No trace.csv in this folder: run <code>rnc compile --out DIR --plots</code> \
             to include the pipeline Gantt chart.</p>\n",
        ),
    }
    h.push_str(&figure(
        &Periods { data: d },
        "Time each layer needs per sample with its copies (t_i); the red line is the steady-state \
         period bound.",
    )?);
    if let Some(report) = plots::EnergyBars::report_of(&d.summary) {
        h.push_str("<h2>Energy</h2>\n");
        h.push_str(&figure(
            &plots::EnergyBars {
                network: &d.network,
                report: &report,
            },
            "Read energy of one inference per layer, stacked by component (MNSIM's PE model: \
             crossbar, DAC, ADC, digital registers/adders/muxes, input-buffer traffic).",
        )?);
    }
    h.push_str(
        "<h2>Layers</h2>\n<table>\n<tr><th>#</th><th>name</th><th>kind</th><th>box rows × cols × cycles</th>\
                <th>tiles</th><th>copies</th><th>t_i (µs)</th></tr>\n",
    );
    for l in &d.layers {
        let c = plots::layer_color(l.index);
        let _ = writeln!(
            h,
            "<tr><td class=\"n\"><span class=\"swatch\" style=\"background:#{:02x}{:02x}{:02x}\"></span>{}</td>\
             <td>{}</td><td>{}</td><td class=\"n\">{} × {} × {}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{:.3}</td></tr>",
            c.0,
            c.1,
            c.2,
            l.index,
            esc(&l.name),
            esc(&l.kind),
            l.rows,
            l.cols,
            l.cycles,
            l.tiles,
            l.copies,
            l.time_ns / 1e3
        );
    }
    h.push_str("</table>\n");
    h.push_str(&footer());
    Ok(h)
}

fn footer() -> String {
    format!(
        "<p class=\"note\">Written by rnc {}.</p>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The report of a search output folder.
pub fn search_report(d: &SearchData) -> anyhow::Result<String> {
    let mut h = head("rnc search report");
    h.push_str("<h1>rnc search report</h1>\n");
    let feasible = d.all.iter().filter(|c| c.feasible).count();
    let gens = d.all.iter().map(|c| c.generation).max().map_or(0, |g| g + 1);
    let best = d.front.iter().map(|c| c.speedup).fold(f64::NAN, f64::max);
    let _ = writeln!(
        h,
        "<table class=\"kv\">\n<tr><th>objectives</th><td>{}</td></tr>\n\
         <tr><th>generations</th><td>{gens}</td></tr>\n\
         <tr><th>candidates (feasible)</th><td>{} ({feasible})</td></tr>\n\
         <tr><th>front size</th><td>{}</td></tr>\n\
         <tr><th>best speed-up over ISAAC-like</th><td>{}</td></tr>\n</table>",
        match (d.hardware_only(), d.has_energy()) {
            (true, false) => "speed-up only (hardware-only run, no accuracy)",
            (true, true) =>
                "speed-up over ISAAC-like and energy per inference (hardware-only run, no accuracy)",
            (false, true) => "accuracy, speed-up over ISAAC-like and energy per inference",
            (false, false) => "accuracy and speed-up over ISAAC-like",
        },
        d.all.len(),
        d.front.len(),
        if best.is_finite() {
            format!("{best:.2}×")
        } else {
            "-".into()
        }
    );
    h.push_str("<h2>Front</h2>\n");
    let energy = d.has_energy();
    h.push_str(&figure(
        &Pareto { data: d },
        if energy && !d.hardware_only() {
            "Grey: every feasible candidate evaluated; circles: the final front, coloured by \
             energy per inference (scale on the right); red: the ISAAC-like baseline (speed-up 1)."
        } else {
            "Grey: every feasible candidate evaluated; blue: the final front; red: the ISAAC-like \
             baseline (speed-up 1)."
        },
    )?);
    h.push_str(if energy {
        "<table>\n<tr><th>id</th><th>generation</th><th>accuracy</th><th>speed-up</th>\
         <th>energy (µJ)</th><th>latency (ms)</th><th>crossbars</th><th>genome</th></tr>\n"
    } else {
        "<table>\n<tr><th>id</th><th>generation</th><th>accuracy</th><th>speed-up</th>\
         <th>latency (ms)</th><th>crossbars</th><th>genome</th></tr>\n"
    });
    let mut front: Vec<_> = d.front.iter().collect();
    front.sort_by(|a, b| b.speedup.total_cmp(&a.speedup));
    for c in front {
        let _ = writeln!(
            h,
            "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{:.3}</td>{}<td class=\"n\">{:.4}</td><td class=\"n\">{}</td><td><code>{}</code></td></tr>",
            c.id,
            c.generation,
            c.accuracy.map_or("-".into(), |a| format!("{a:.4}")),
            c.speedup,
            if energy {
                format!(
                    "<td class=\"n\">{}</td>",
                    c.energy_nj.map_or("-".into(), |e| format!("{:.3}", e / 1e3))
                )
            } else {
                String::new()
            },
            c.latency_ns / 1e6,
            c.crossbars_used,
            esc(&c.genome)
        );
    }
    h.push_str("</table>\n");
    h.push_str(&footer());
    Ok(h)
}

/// The report of a non-ideal evaluation folder (`rnc supernet eval --nonideal --out DIR`):
/// the headline figures, the sweep's picture and its table.
pub fn nonideal_report(doc: &serde_json::Value, source: &Path) -> anyhow::Result<String> {
    let bad = |what: &str| anyhow::anyhow!("{}: {what}", source.display());
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{:.2}%", 100.0 * x));
    let mut h = head("rnc non-ideal accuracy report");
    h.push_str("<h1>rnc non-ideal accuracy report</h1>\n<table class=\"kv\">\n");
    let row = |h: &mut String, k: &str, v: String| {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), v);
    };
    row(
        &mut h,
        "genome",
        format!("<code>{}</code>", esc(&fmt_value(&doc["genome"]))),
    );
    row(&mut h, "test images", fmt_value(&doc["images"]));
    row(&mut h, "float accuracy", pct(doc["float_accuracy"].as_f64()));
    row(
        &mut h,
        "quantized (9-bit) accuracy",
        pct(doc["quantized_accuracy"].as_f64()),
    );
    if let Some(s) = doc.get("nonideal").filter(|v| !v.is_null()) {
        row(
            &mut h,
            "non-ideal accuracy",
            format!(
                "{} ± {} (min {}, max {}; {} chips)",
                pct(s["mean"].as_f64()),
                pct(s["std"].as_f64()),
                pct(s["min"].as_f64()),
                pct(s["max"].as_f64()),
                s["trials"].as_array().map_or(0, |t| t.len())
            ),
        );
    }
    for k in ["config", "set", "range", "seconds_per_trial"] {
        if let Some(v) = doc.get(k).filter(|v| !v.is_null()) {
            row(&mut h, k, esc(&fmt_value(v)));
        }
    }
    if let Some(dev) = doc.get("device").and_then(|d| d.as_object()) {
        let text = dev
            .iter()
            .map(|(k, v)| format!("{k} {}", fmt_value(v)))
            .collect::<Vec<_>>()
            .join(", ");
        row(&mut h, "device", esc(&text));
    }
    if let Some(o) = doc.get("options").and_then(|d| d.as_object()) {
        let text = o
            .iter()
            .map(|(k, v)| format!("{k} {}", fmt_value(v)))
            .collect::<Vec<_>>()
            .join(", ");
        row(&mut h, "options", esc(&text));
    }
    h.push_str("</table>\n");
    if let Some(sw) = doc.get("sweep").filter(|v| !v.is_null()) {
        let key = sw["key"].as_str().ok_or_else(|| bad("sweep without a key"))?;
        let points = sw["points"]
            .as_array()
            .ok_or_else(|| bad("sweep without points"))?;
        let mut xy = Vec::new();
        for (i, p) in points.iter().enumerate() {
            let x = p["x"].as_f64();
            let m = p["nonideal"]["mean"].as_f64();
            let sd = p["nonideal"]["std"].as_f64();
            match (x, m, sd) {
                (Some(x), Some(m), Some(sd)) => xy.push((x, m, sd)),
                _ => return Err(bad(&format!("sweep point {i}: needs x and nonideal mean/std"))),
            }
        }
        let series = vec![plots::SweepSeries {
            label: fmt_value(&doc["genome"]).chars().take(24).collect(),
            points: xy,
            quantized: doc["quantized_accuracy"].as_f64(),
        }];
        let _ = writeln!(h, "<h2>Sweep of {}</h2>", esc(key));
        h.push_str(&figure(
            &plots::NonidealSweep { key, series: &series },
            "Mean accuracy over simulated chips with ± one standard deviation; dashed: the 9-bit \
             quantized model (the ideal limit).",
        )?);
        h.push_str(
            "<table>\n<tr><th>value</th><th>mean</th><th>std</th><th>min</th><th>max</th>\
             <th>chips</th></tr>\n",
        );
        for p in points {
            let s = &p["nonideal"];
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&fmt_value(&p["value"])),
                pct(s["mean"].as_f64()),
                pct(s["std"].as_f64()),
                pct(s["min"].as_f64()),
                pct(s["max"].as_f64()),
                s["trials"].as_array().map_or(0, |t| t.len())
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str(&footer());
    Ok(h)
}

/// What `rnc report DIR` found in DIR.
pub enum Folder {
    Compile(Box<CompileData>),
    Search(SearchData),
    /// nonideal.json of `rnc supernet eval --nonideal --out`.
    Nonideal(serde_json::Value),
}

/// Reads DIR: a compile folder (summary.json) or a search folder (evolution.csv).
pub fn load(dir: &Path) -> anyhow::Result<Folder> {
    if !dir.is_dir() {
        anyhow::bail!("{}: not a folder", dir.display());
    }
    if dir.join("summary.json").exists() {
        return Ok(Folder::Compile(Box::new(CompileData::load(dir)?)));
    }
    if dir.join("evolution.csv").exists() || dir.join("pareto.json").exists() {
        return Ok(Folder::Search(SearchData::load(dir)?));
    }
    let ni = dir.join("nonideal.json");
    if ni.exists() {
        let text = std::fs::read_to_string(&ni).map_err(|e| anyhow::anyhow!("{}: {e}", ni.display()))?;
        let doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", ni.display()))?;
        if !doc.is_object() {
            anyhow::bail!("{}: expected a JSON object", ni.display());
        }
        return Ok(Folder::Nonideal(doc));
    }
    anyhow::bail!(
        "{}: missing (neither this nor {} nor {} is there; give a folder written by rnc compile --out, \
         rnc search --out or rnc supernet eval --nonideal --out)",
        dir.join("summary.json").display(),
        dir.join("evolution.csv").display(),
        ni.display()
    )
}

/// Renders the report of DIR and writes DIR/report.html; returns its path.
pub fn write_report(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let html = match load(dir)? {
        Folder::Compile(d) => compile_report(&d)?,
        Folder::Search(d) => search_report(&d)?,
        Folder::Nonideal(doc) => nonideal_report(&doc, &dir.join("nonideal.json"))?,
    };
    let path = dir.join("report.html");
    crate::error::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}
