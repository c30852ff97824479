//! One test per defect the fuzzers (`fuzz/`) found; the inputs themselves are replayed from
//! `tests/fixtures/fuzz/<target>/` by `tests/fuzz_corpus.rs`.

use rnc::hardware::{DEFAULT_SIMCONFIG, DEFAULT_SOURCE, HwConfig};

/// `--set` with a line break in the key or value printed a multi-line error quoting it.
#[test]
fn set_with_a_line_break_is_one_clear_line() {
    for (k, v) in [
        ("Xbar_Size\nfoo", "1"),
        ("Xbar_Size", "64\n64"),
        ("Crossbar level\n/Xbar_Size", "64"),
    ] {
        let e = HwConfig::parse_with_overrides(DEFAULT_SIMCONFIG, DEFAULT_SOURCE, &[(k, v)])
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains("cannot contain line breaks"), "{e}");
        assert!(e.contains("\\n"), "the key or value is shown escaped: {e}");
    }
    // A tab is harmless and still accepted.
    HwConfig::parse_with_overrides(DEFAULT_SIMCONFIG, DEFAULT_SOURCE, &[("Xbar_Size", "256,\t256")]).unwrap();
}

/// A checkpoint number holding a line break (JSON `\n`) was quoted raw: a multi-line error.
#[test]
fn damaged_checkpoint_number_is_one_clear_line() {
    use rnc::search::checkpoint::Checkpoint;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fuzz/checkpoint/number-with-line-break.json"
    ))
    .unwrap();
    let e = Checkpoint::from_slice(text.as_bytes(), "cp.json").unwrap_err();
    let msg = format!("{e:#}");
    assert!(!msg.contains('\n'), "{msg}");
    assert!(msg.contains("cp.json is not an rnc search checkpoint"), "{msg}");
    assert!(msg.contains("is not a number"), "{msg}");
    // Long text is cut short.
    let long = format!(
        r#"{{"format":1,"settings":{{"seed":1,"mutation_rate":"{}"}}}}"#,
        "x".repeat(500)
    );
    let msg = format!(
        "{:#}",
        Checkpoint::from_slice(long.as_bytes(), "cp.json").unwrap_err()
    );
    assert!(msg.contains("xxx…' is not a number") && msg.len() < 200, "{msg}");
}
