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
