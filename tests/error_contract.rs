//! The error contract in one table: every bad input exits 2 with one line naming the problem,
//! never a panic. (Internal errors, exit 1, are rnc's own faults and have no user trigger.)

use std::io::Write;
use std::process::Command;

fn tmpfile(name: &str, bytes: &[u8]) -> String {
    let p = std::env::temp_dir().join(format!("rnc-contract-{}-{name}", std::process::id()));
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn bad_inputs_table() {
    let ini = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mnsim_SimConfig.ini"
    ))
    .unwrap();
    let no_section = tmpfile("nosec.ini", ini.replace("[Crossbar level]", "").as_bytes());
    let truncated_onnx = {
        let b = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/onnx/squeezenet1_1_64.onnx.gz"
        ))
        .unwrap();
        tmpfile("trunc.onnx.gz", &b[..b.len() / 2])
    };
    let junk = tmpfile("junk.onnx", b"this is not a model");
    let bad_genome = tmpfile("g.json", br#"{"ks":[3,3],"e":[3],"d":[2,2,2,2]}"#);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["inspect", "--model", "vgg16"], "unknown model 'vgg16'"),
        (
            vec!["inspect", "--model", "squeezenet1_1", "--input", "8"],
            "too small",
        ),
        (
            vec!["inspect", "--model", "mbv3-small", "--input", "100000"],
            "out of range",
        ),
        (
            vec!["inspect", "--model", "mbv3-small", "--input", "0"],
            "out of range",
        ),
        (
            vec!["inspect", "--model", "mbv3-small", "--classes", "0"],
            "--classes",
        ),
        (
            vec!["inspect", "--model", "mbv3-small", "--xbar", "0x128"],
            "zero side",
        ),
        (
            vec!["inspect", "--model", "mbv3-small", "--xbar", "128"],
            "ROWSxCOLS",
        ),
        (
            vec!["inspect", "--model", "mbv3-small", "--xbar", "999999x2"],
            "too large",
        ),
        (
            vec!["inspect", "--model", "mbv3-small", "--depth-split", "0"],
            "--depth-split",
        ),
        (vec!["inspect", "--genome", "{\"ks\":[3]}"], "genome"),
        (
            vec!["inspect", "--genome", &bad_genome],
            "has 2 values, expected 16",
        ),
        (vec!["inspect", "--genome", "/nonexistent/g.json"], "cannot read"),
        (vec!["inspect", "--onnx", &junk], "not an ONNX model"),
        (vec!["inspect", "--onnx", &truncated_onnx], "trunc.onnx.gz"),
        (
            vec!["inspect", "--onnx", "/nonexistent.onnx"],
            "/nonexistent.onnx",
        ),
        (vec!["compile", "--model", "mbv3-small"], "--crossbars"),
        (
            vec!["compile", "--model", "mbv3-small", "--crossbars", "0"],
            "--crossbars",
        ),
        (
            vec!["compile", "--model", "mbv3-small", "--crossbars", "10000000"],
            "between 1 and 1000000",
        ),
        (
            vec!["compile", "--model", "mbv3-small", "--crossbars", "90"],
            "does not fit in 90 crossbars",
        ),
        (
            vec![
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
            vec![
                "compile",
                "--model",
                "mbv3-small",
                "--crossbars",
                "100",
                "--input-bits",
                "0",
            ],
            "--input-bits",
        ),
        (
            vec![
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
            vec!["compile", "--model", "mbv3-small", "--budget-sweep", "0.8,nan"],
            "--budget-sweep",
        ),
        (
            vec![
                "compile",
                "--model",
                "mbv3-small",
                "--crossbars",
                "200",
                "--config",
                &no_section,
            ],
            "Crossbar level",
        ),
        (vec!["hw", "--rows", "0", "--cols", "5"], "--rows"),
        (
            vec!["hw", "--rows", "10", "--cols", "10", "--set", "Xbar_Size=128"],
            "Xbar_Size = 128",
        ),
        (
            vec!["hw", "--rows", "10", "--cols", "10", "--set", "ADC_Choice=42"],
            "ADC_Choice = 42",
        ),
        (
            vec!["hw", "--rows", "10", "--cols", "10", "--set", "Read_Latency=abc"],
            "Read_Latency = abc",
        ),
        (
            vec!["hw", "--rows", "10", "--cols", "10", "--set", "nonsense"],
            "KEY=VALUE",
        ),
        (
            vec!["hw", "--rows", "10", "--cols", "10", "--config", &no_section],
            "Crossbar level",
        ),
        (vec!["search", "--budget", "0"], "--budget"),
        (
            vec!["search", "--budget", "100", "--population", "1"],
            "--population",
        ),
        (
            vec!["search", "--budget", "100", "--accuracy", "bogus"],
            "unknown source",
        ),
    ];
    assert!(cases.len() >= 30);
    for (args, want) in &cases {
        let out = Command::new(env!("CARGO_BIN_EXE_rnc"))
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let msg = err.lines().filter(|l| l.starts_with("error")).collect::<Vec<_>>();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected '{want}' in: {err}");
        assert_eq!(msg.len(), 1, "{args:?}: one error line: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{args:?}: {err}"
        );
    }
}
