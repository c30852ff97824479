//! The `rnc inspect` command as a user meets it.

mod common {
    pub mod cli;
}
use common::cli::rnc;

#[test]
fn inspect_json_has_the_documented_shape() {
    let (code, out, err) = rnc(&["inspect", "--model", "mbv3-small", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tiles"], 210);
    assert_eq!(v["area_lower_bound"], 102);
    // 82 tiles are over half a crossbar both ways: rounding their sides up proves 103.
    assert_eq!(v["lower_bound"], 103);
    assert_eq!(v["cells"], 1_671_080);
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 63);
    let dw = &layers[2];
    assert_eq!(dw["name"], "bottlenecks.0.bottleneck.3");
    assert_eq!(dw["kind"], "conv");
    assert_eq!(dw["groups"], 16);
    assert_eq!(dw["kernel"], serde_json::json!([3, 3]));
    assert_eq!(dw["input_hw"], serde_json::json!([32, 32]));
    assert_eq!(
        dw["box"],
        serde_json::json!({"rows": 9, "cols": 16, "cycles": 16384})
    );
    let last = &layers[62];
    assert_eq!(last["kind"], "linear");
    assert_eq!(last["kernel"], serde_json::json!([1, 1]));
    assert_eq!(last["output_hw"], serde_json::json!([1, 1]));
    assert_eq!(last["tiles"], 10);
}

#[test]
fn inspect_table_and_genome() {
    let (code, out, _) = rnc(&["inspect", "--model", "resnet18", "--depth-split", "3"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("698 tiles") && out.contains("area lower bound 682"),
        "{out}"
    );
    let g = r#"{"ks":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"e":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"d":[2,2,2,2]}"#;
    let (code, out, err) = rnc(&["inspect", "--genome", g, "--input", "32", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["layers"].as_array().unwrap().len(), 42);
}

#[test]
fn bad_inputs_exit_2_with_one_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["inspect", "--model", "vgg16"], "unknown model 'vgg16'"),
        (
            &["inspect", "--model", "squeezenet1_1", "--input", "8"],
            "too small",
        ),
        (&["inspect", "--model", "mbv3-small", "--xbar", "0x128"], "--xbar"),
        (
            &["inspect", "--model", "mbv3-small", "--xbar", "128"],
            "ROWSxCOLS",
        ),
        (
            &["inspect", "--model", "mbv3-small", "--depth-split", "0"],
            "--depth-split",
        ),
        (&["inspect", "--genome", "{\"ks\":[3]}"], "genome"),
        (
            &["inspect", "--genome", "/nonexistent/g.json"],
            "cannot read '/nonexistent/g.json'",
        ),
    ];
    for (args, want) in cases {
        let (code, _, err) = rnc(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `rnc inspect | head` must end quietly: a closed pipe is not a crash.
#[test]
fn closed_stdout_is_not_a_panic() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_rnc"))
        .args(["inspect", "--model", "mbv3-small"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before rnc writes anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");
}
