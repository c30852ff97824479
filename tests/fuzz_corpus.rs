//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the same checks the
//! cargo-fuzz targets run (`rnc::fuzzing`), so `cargo test` catches a regression on any input
//! the fuzzers kept, with no nightly toolchain. Regression inputs for fixed crashes live in
//! `tests/fixtures/fuzz/<target>/` and are replayed too.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for dir in [
        root.join("fuzz/corpus").join(target),
        root.join("tests/fixtures/fuzz").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            // A panic names the input that caused it.
            let r = std::panic::catch_unwind(|| check(&data));
            assert!(r.is_ok(), "{target}: input {} panicked", f.display());
            n += 1;
        }
    }
    assert!(n >= 3, "{target}: only {n} corpus files found");
}

#[test]
fn simconfig_corpus() {
    replay("simconfig", rnc::fuzzing::simconfig);
}

#[test]
fn onnx_corpus() {
    replay("onnx", rnc::fuzzing::onnx);
}

#[test]
fn genome_corpus() {
    replay("genome", rnc::fuzzing::genome);
}

#[test]
fn checkpoint_corpus() {
    replay("checkpoint", rnc::fuzzing::checkpoint);
}

#[test]
fn cli_files_corpus() {
    replay("cli_files", rnc::fuzzing::cli_files);
}
