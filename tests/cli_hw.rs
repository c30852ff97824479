//! The `rnc hw` command as a user meets it.

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

mod common {
    pub mod cli;
}
use common::cli::rnc;

#[test]
fn hw_json_has_exactly_the_documented_keys() {
    let (code, out, err) = rnc(&["hw", "--rows", "128", "--cols", "128", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut want = vec![
        "latency_ns",
        "xbar_ns",
        "dac_ns",
        "adc_ns",
        "digital_ns",
        "buffer_write_ns",
        "buffer_read_ns",
        "area_um2",
        "power_w",
        "energy_nj",
    ];
    let mut got = keys.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(v["latency_ns"], 152.77319047999998);
    assert_eq!(v["area_um2"], 1112505.4078840236);
    assert_eq!(v["power_w"], 0.2812663444866272);
    assert_eq!(v["energy_nj"], 16.076479741690157);
    let (_, out, _) = rnc(&[
        "hw",
        "--rows",
        "256",
        "--cols",
        "64",
        "--input-bits",
        "9",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["latency_ns"], 171.36983929);
}

#[test]
fn hw_reads_mnsim_files_and_overrides() {
    let cfg = format!("{FIX}/mnsim_SimConfig_commented.ini");
    let (code, out, err) = rnc(&["hw", "--config", &cfg, "--rows", "128", "--cols", "128"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("latency") && out.contains("152.773190 ns"), "{out}");
    assert!(out.contains("mnsim_SimConfig_commented.ini"), "{out}");
    let (code, out, err) = rnc(&[
        "hw",
        "--config",
        &cfg,
        "--set",
        "Buffer_Bitwidth=128",
        "--rows",
        "128",
        "--cols",
        "128",
        "--indata",
        "64",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["buffer_write_ns"], 80.0); // ⌈64·8 / 128⌉ · 20 ns
    assert_eq!(v["latency_ns"], 232.77319048); // (80 + 0 + computing) + digital, MNSIM order
}

#[test]
fn hw_bad_inputs_exit_2_with_one_line() {
    let dir = std::env::temp_dir().join(format!("rnc-cli-hw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.ini");
    let text = std::fs::read_to_string(format!("{FIX}/mnsim_SimConfig.ini")).unwrap();
    std::fs::write(&bad, text.replace("ADC_Choice = 2", "ADC_Choice = 42")).unwrap();
    let bad_s = bad.to_str().unwrap();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["hw", "--config", bad_s, "--rows", "1", "--cols", "1"],
            format!("{bad_s}: [Interface level] ADC_Choice = 42: must be -1"),
        ),
        (
            vec![
                "hw",
                "--config",
                "/nonexistent/x.ini",
                "--rows",
                "1",
                "--cols",
                "1",
            ],
            "--config: cannot read hardware configuration /nonexistent/x.ini".into(),
        ),
        (
            vec!["hw", "--rows", "0", "--cols", "1"],
            "--rows and --cols must be at least 1".into(),
        ),
        (
            vec!["hw", "--rows", "1", "--cols", "1", "--input-bits", "0"],
            "--input-bits".into(),
        ),
        (
            vec!["hw", "--rows", "300", "--cols", "300"],
            "more cells than one 128x128 crossbar".into(),
        ),
        (
            vec!["hw", "--rows", "1", "--cols", "1", "--set", "Xbar_Size"],
            "--set 'Xbar_Size': expected KEY=VALUE".into(),
        ),
        (
            vec!["hw", "--rows", "1", "--cols", "1", "--set", "Xbar_Size=128"],
            "[Crossbar level] Xbar_Size = 128: expected two values".into(),
        ),
    ];
    for (args, want) in cases {
        let (code, _, err) = rnc(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(&want), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
