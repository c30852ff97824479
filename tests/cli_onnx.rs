//! `--onnx` on the command line: same results as the built-in models, clear failures.

use std::path::{Path, PathBuf};

mod common {
    pub mod cli;
}
use common::cli::rnc;

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(rel)
        .display()
        .to_string()
}

fn json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = rnc(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn inspect_onnx_matches_the_built_in_model() {
    let onnx = json(&["inspect", "--onnx", &fixture("mbv3-small_64.onnx.gz"), "--json"]);
    let zoo = json(&["inspect", "--model", "mbv3-small", "--json"]);
    for key in ["tiles", "area_lower_bound", "cells"] {
        assert_eq!(onnx[key], zoo[key], "{key}");
    }
    assert_eq!(onnx["tiles"], 210);
    let layers = onnx["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 63);
    // ONNX node names are kept.
    assert_eq!(
        layers[2]["name"],
        "/bottlenecks/bottlenecks.0/bottleneck/bottleneck.3/Conv"
    );
    // --input defaults to the model's own size, and can be changed.
    assert_eq!(layers[0]["input_hw"], serde_json::json!([64, 64]));
    let small = json(&[
        "inspect",
        "--onnx",
        &fixture("mbv3-small_64.onnx.gz"),
        "--input",
        "32",
        "--json",
    ]);
    let zoo32 = json(&["inspect", "--model", "mbv3-small", "--input", "32", "--json"]);
    assert_eq!(small["tiles"], zoo32["tiles"]);
    assert_eq!(small["layers"][0]["input_hw"], serde_json::json!([32, 32]));
}

#[test]
fn inspect_onnx_table_and_skipped_ops() {
    let (code, out, err) = rnc(&["inspect", "--onnx", &fixture("gen/resnet18_64.onnx.gz")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("698 tiles") && out.contains("area lower bound 682"),
        "{out}"
    );
    assert!(out.contains("layer4.0.shortcut.0"), "{out}");

    let f = fixture("gen/unsupported.onnx");
    let (code, _, err) = rnc(&["inspect", "--onnx", &f, "--skip-unsupported"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: skipped node 'up' (ConvTranspose)"),
        "{err}"
    );
}

fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rnc-cli-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn bad_onnx_inputs_exit_2_with_one_line() {
    let raw = std::fs::read(fixture("gen/cases.onnx")).unwrap();
    let gz = std::fs::read(fixture("squeezenet1_1_64.onnx.gz")).unwrap();
    let truncated = temp("truncated.onnx", &raw[..raw.len() / 2]);
    let truncated_gz = temp("truncated.onnx.gz", &gz[..gz.len() - 100]);
    let text = temp("notes.onnx", b"this is not a model\n");
    let [truncated, truncated_gz, text] = [truncated, truncated_gz, text].map(|p| p.display().to_string());
    let no_weights = fixture("gen/no_weights.onnx");
    let symbolic = fixture("gen/symbolic_hw.onnx");
    let unsupported = fixture("gen/unsupported.onnx");
    let squeeze = fixture("squeezenet1_1_64.onnx.gz");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--onnx", &truncated], vec![&truncated, "not an ONNX model"]),
        (vec!["--onnx", &truncated_gz], vec![&truncated_gz, "gzip"]),
        (vec!["--onnx", &text], vec![&text, "not an ONNX model"]),
        (
            vec!["--onnx", "/nonexistent/m.onnx"],
            vec!["/nonexistent/m.onnx", "cannot read"],
        ),
        (vec!["--onnx", &no_weights], vec![&no_weights, "no weight layers"]),
        (
            vec!["--onnx", &symbolic],
            vec![&symbolic, "no fixed height and width", "--input"],
        ),
        (
            vec!["--onnx", &unsupported],
            vec![&unsupported, "'up' (ConvTranspose)"],
        ),
        (
            vec!["--onnx", &squeeze, "--input", "8"],
            vec![&squeeze, "too small"],
        ),
        (
            vec!["--onnx", &squeeze, "--input", "0"],
            vec![&squeeze, "out of range"],
        ),
        (
            vec!["--model", "resnet18", "--skip-unsupported"],
            vec!["--skip-unsupported"],
        ),
    ];
    for (args, wants) in cases {
        let mut full = vec!["inspect"];
        full.extend(&args);
        let (code, out, err) = rnc(&full);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        for want in wants {
            assert!(err.contains(want), "{args:?}: want '{want}' in {err}");
        }
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // --onnx is exclusive with --model.
    let (code, _, err) = rnc(&["inspect", "--model", "resnet18", "--onnx", &no_weights]);
    assert_eq!(code, 2, "{err}");
}
