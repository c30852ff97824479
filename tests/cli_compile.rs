//! `rnc compile` as a user meets it: outputs, errors, sweeps, traces.

mod common {
    pub mod cli;
}
use common::cli::rnc;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rnc-cli-compile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn compile_writes_its_outputs() {
    let out = tmp("out");
    let trace = out.join("trace.json");
    std::fs::create_dir_all(&out).unwrap();
    let (code, stdout, err) = rnc(&[
        "compile",
        "--model",
        "mbv3-small",
        "--crossbars",
        "168",
        "--duplicate",
        "--out",
        out.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
        "--trace-format",
        "chrome",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    // The default-effort spinner draws only on a terminal: piped stderr stays clean.
    assert!(err.is_empty(), "stderr: {err}");
    let s: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for key in [
        "crossbars_budget",
        "crossbars_used",
        "area_lower_bound",
        "lower_bound",
        "tiles",
        "copies",
        "utilization",
        "utilization_of_budget",
        "latency_ns",
        "ideal_latency_ns",
        "baseline_crossbars",
        "baseline_latency_ns",
        "speedup",
        "period_ns",
        "period_lower_bound_ns",
        "period_lower_bound_reason",
        "utilization_bound",
        "energy_nj",
    ] {
        assert!(!s[key].is_null(), "summary lacks {key}");
    }
    assert_eq!(s["crossbars_budget"], 168);
    assert_eq!(s["baseline_crossbars"], 210);
    assert!(s["crossbars_used"].as_u64().unwrap() <= 168);
    assert!(
        s["speedup"].as_f64().unwrap() > 5.1,
        "the reference reached 5.1x at 168"
    );
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(on_disk, s);
    let pack = std::fs::read_to_string(out.join("pack.csv")).unwrap();
    assert!(pack.starts_with("tile,layer,copy,crossbar,x,y,w,h\n"));
    assert_eq!(
        pack.lines().count() - 1,
        s["tile_copies"].as_u64().unwrap() as usize
    );
    let part: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("partition.json")).unwrap()).unwrap();
    assert_eq!(part["layers"].as_array().unwrap().len(), 63);
    let tr: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    assert_eq!(tr["traceEvents"].as_array().unwrap().len(), 63 * 8);
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn same_seed_same_bytes() {
    let (a, b) = (tmp("a"), tmp("b"));
    for d in [&a, &b] {
        let (code, _, err) = rnc(&[
            "compile",
            "--model",
            "squeezenet1_1",
            "--crossbars",
            "80",
            "--duplicate",
            "--out",
            d.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
    }
    for f in ["summary.json", "pack.csv", "partition.json"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    std::fs::remove_dir_all(&a).ok();
    std::fs::remove_dir_all(&b).ok();
}

#[test]
fn budget_sweep_prints_one_row_per_factor() {
    let (code, out, err) = rnc(&[
        "compile",
        "--model",
        "squeezenet1_1",
        "--duplicate",
        "--budget-sweep",
        "0.8,1.0,1.2",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.lines().nth(1).unwrap().trim_start().starts_with("0.80"));
}

#[test]
fn does_not_fit_exits_2_and_writes_nothing() {
    let out = tmp("nofit");
    let (code, _, err) = rnc(&[
        "compile",
        "--model",
        "mbv3-small",
        "--crossbars",
        "90",
        "--rules",
        "reference",
        "--depth-split",
        "1",
        "--depthwise",
        "serial",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("does not fit in 90 crossbars") && err.contains("at least 103"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1);
    assert!(!out.exists(), "nothing may be written");
}

#[test]
fn bad_flags_exit_2() {
    for (args, want) in [
        (&["compile", "--model", "mbv3-small"][..], "--crossbars"),
        (
            &["compile", "--model", "mbv3-small", "--crossbars", "0"],
            "--crossbars",
        ),
        (
            &[
                "compile",
                "--model",
                "mbv3-small",
                "--crossbars",
                "100",
                "--samples",
                "0",
            ],
            "--samples",
        ),
        (
            &[
                "compile",
                "--model",
                "mbv3-small",
                "--crossbars",
                "100",
                "--xbar",
                "64x64",
            ],
            "Xbar_Size",
        ),
        (
            &["compile", "--model", "mbv3-small", "--budget-sweep", "0.8,-1"],
            "--budget-sweep",
        ),
        (
            &[
                "compile",
                "--model",
                "mbv3-small",
                "--crossbars",
                "100",
                "--config",
                "/nonexistent.ini",
            ],
            "nonexistent",
        ),
        (
            &[
                "compile",
                "--model",
                "squeezenet1_1",
                "--crossbars",
                "100",
                "--rules",
                "reference",
                "--same-layer-diagonal",
            ],
            "--layer-threshold -1",
        ),
        (
            &[
                "compile",
                "--model",
                "squeezenet1_1",
                "--crossbars",
                "80",
                "--duplicate",
                "--refine-moves",
                "0",
            ],
            "--refine-moves must be at least 1",
        ),
        (
            &[
                "compile",
                "--model",
                "squeezenet1_1",
                "--crossbars",
                "80",
                "--duplicate",
                "none",
                "--refine-moves",
                "10",
            ],
            "--duplicate auto",
        ),
        (
            &[
                "compile",
                "--model",
                "squeezenet1_1",
                "--crossbars",
                "80",
                "--duplicate",
                "--effort",
                "fast",
                "--refine-moves",
                "10",
            ],
            "--effort default or max",
        ),
    ] {
        let (code, _, err) = rnc(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
}

/// `--depth-split auto` ranks its splits like one compile ranks its mappings: under
/// `--min-efficiency` the fastest split at or above the floor wins, not the fastest overall.
#[test]
fn depth_split_auto_respects_the_efficiency_floor() {
    let run = |floor: &str| {
        let (code, stdout, err) = rnc(&[
            "compile",
            "--model",
            "mbv3-small",
            "--crossbars",
            "168",
            "--depth-split",
            "auto",
            "--depthwise",
            "serial",
            "--layer-threshold",
            "0",
            "--max-load",
            "0",
            "--schedule",
            "chain",
            "--duplicate",
            "--min-efficiency",
            floor,
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let s: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        (
            s["contention_efficiency"].as_f64().unwrap(),
            s["speedup"].as_f64().unwrap(),
        )
    };
    let (eff_any, fastest) = run("0");
    let (eff, speedup) = run("0.8");
    // The fastest mapping shares crossbars heavily; the floor changes the choice.
    assert!(eff_any < 0.8, "{eff_any}");
    assert!(eff >= 0.8, "efficiency {eff} under the floor");
    assert!(speedup < fastest);
}

/// squeezenet1_1 on 80 crossbars, copies on a block diagonal, chain schedule.
const SQUEEZENET_DIAGONAL_80: &[&str] = &[
    "compile",
    "--model",
    "squeezenet1_1",
    "--crossbars",
    "80",
    "--duplicate",
    "--layer-threshold",
    "-1",
    "--max-load",
    "0",
    "--same-layer-diagonal",
    "--schedule",
    "chain",
];

/// `--same-layer-diagonal` is recorded in summary.json, and the mapping it gives keeps one
/// layer's tiles on a crossbar apart in rows and columns (pack.csv checked here).
#[test]
fn same_layer_diagonal_is_recorded_and_kept() {
    let out = tmp("diagonal");
    let mut args = SQUEEZENET_DIAGONAL_80.to_vec();
    args.extend(["--out", out.to_str().unwrap(), "--json"]);
    let (code, stdout, err) = rnc(&args);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(s["same_layer_diagonal"], serde_json::json!(true));
    let mut rd = csv::Reader::from_path(out.join("pack.csv")).unwrap();
    let rows: Vec<Vec<usize>> = rd
        .records()
        .map(|r| {
            let r = r.unwrap();
            // tile, layer, copy, crossbar, x, y, w, h
            (0..8).map(|i| r[i].parse().unwrap()).collect()
        })
        .collect();
    let mut shared = 0;
    for (i, a) in rows.iter().enumerate() {
        for b in &rows[i + 1..] {
            if a[1] == b[1] && a[3] == b[3] {
                shared += 1;
                let cols_apart = a[4] + a[6] <= b[4] || b[4] + b[6] <= a[4];
                let rows_apart = a[5] + a[7] <= b[5] || b[5] + b[7] <= a[5];
                assert!(cols_apart && rows_apart, "{a:?} {b:?}");
            }
        }
    }
    assert!(shared > 0);
    let _ = std::fs::remove_dir_all(&out);
}

/// `--refine-moves` replaces the effort's move count: recorded in summary.json (absent
/// without it), and more moves search further (squeezenet1_1 on 80 crossbars: 11.3x after one
/// move, 11.8x after 3,000).
#[test]
fn refine_moves_is_recorded_and_searches_further() {
    let run = |moves: Option<&str>| {
        let mut args = SQUEEZENET_DIAGONAL_80.to_vec();
        args.push("--json");
        if let Some(m) = moves {
            args.extend(["--refine-moves", m]);
        }
        let (code, stdout, err) = rnc(&args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()
    };
    let (one, many, effort) = (run(Some("1")), run(Some("3000")), run(None));
    assert_eq!(one["refine_moves"], serde_json::json!(1));
    assert_eq!(many["refine_moves"], serde_json::json!(3000));
    assert!(effort.get("refine_moves").is_none());
    let speedup = |s: &serde_json::Value| s["speedup"].as_f64().unwrap();
    assert!(
        speedup(&many) > speedup(&one) + 0.1,
        "{} vs {}",
        speedup(&many),
        speedup(&one)
    );
}
