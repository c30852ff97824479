//! Same inputs and seed → byte-identical output files at any thread count (issue #11):
//! `rnc compile` (summary, partition, pack, trace, plots, stdout JSON) and `rnc search`
//! (evolution, pareto, checkpoint, plots) with RAYON_NUM_THREADS = 1, 2 and 8.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(args: &[&str], threads: &str) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_rnc"))
        .args(args)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rnc {args:?} with {threads} threads: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnc-determinism-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Every file in `d` by name.
fn files(d: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(d)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn assert_same(what: &str, runs: &[BTreeMap<String, Vec<u8>>], expect: &[&str]) {
    for name in expect {
        assert!(runs[0].contains_key(*name), "{what}: {name} not written");
    }
    for (i, r) in runs.iter().enumerate().skip(1) {
        assert_eq!(
            r.keys().collect::<Vec<_>>(),
            runs[0].keys().collect::<Vec<_>>(),
            "{what}: different files"
        );
        for (name, bytes) in r {
            assert!(
                *bytes == runs[0][name],
                "{what}: {name} differs between 1 and {} threads",
                ["1", "2", "8"][i]
            );
        }
    }
}

#[test]
fn compile_outputs_do_not_depend_on_the_thread_count() {
    let mut runs = Vec::new();
    for threads in ["1", "2", "8"] {
        let d = dir(&format!("compile-{threads}"));
        let ds = d.to_str().unwrap();
        std::fs::create_dir_all(&d).unwrap();
        let trace = format!("{ds}/trace.json");
        // --duplicate auto runs every contention-aware mapper in parallel.
        let args = [
            "compile",
            "--model",
            "squeezenet1_1",
            "--input",
            "32",
            "--crossbars",
            "120",
            "--duplicate",
            "auto",
            "--out",
            ds,
            "--trace",
            &trace,
            "--trace-format",
            "chrome",
            "--json",
            "--plots",
        ];
        let stdout = run(&args, threads);
        let mut f = files(&d);
        f.insert("stdout".into(), stdout);
        runs.push(f);
    }
    assert_same(
        "compile",
        &runs,
        &[
            "summary.json",
            "partition.json",
            "pack.csv",
            "trace.json",
            "stdout",
        ],
    );
}

#[test]
fn search_outputs_do_not_depend_on_the_thread_count() {
    let mut runs = Vec::new();
    for threads in ["1", "2", "8"] {
        let d = dir(&format!("search-{threads}"));
        let args = [
            "search",
            "--budget",
            "100",
            "--input",
            "32",
            "--population",
            "6",
            "--generations",
            "2",
            "--seed",
            "7",
            "--out",
            d.to_str().unwrap(),
            "--plots",
        ];
        run(&args, threads);
        runs.push(files(&d));
    }
    assert_same(
        "search",
        &runs,
        &["evolution.csv", "pareto.json", "checkpoint.json", "pareto.svg"],
    );
}
