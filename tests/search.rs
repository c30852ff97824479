//! `rnc search` as a user meets it, on the real compiler pipeline (kept tiny: every
//! candidate is compiled). The search mechanics at length are in `search_run.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh folder for one test.
fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("search-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rnc(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rnc"));
    c.args(args).env_remove("CRASH_FROM");
    for (k, v) in env {
        c.env(k, v);
    }
    let out: Output = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Base arguments: 256x256 crossbars and a budget of 48 keep every candidate's compilation
/// around 20 ms (128x128 crossbars take about three times longer); the final front keeps the
/// search's figures (re-mapping it at default effort takes seconds per member; one test
/// below checks it).
const BASE: [&str; 9] = [
    "search",
    "--budget",
    "48",
    "--set",
    "Xbar_Size=256,256",
    "--seed",
    "11",
    "--no-remap",
    "--out",
];

fn search(out: &Path, extra: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let o = out.to_str().unwrap();
    let mut args = BASE.to_vec();
    args.push(o);
    args.extend_from_slice(extra);
    rnc(&args, env)
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The outputs that must be byte-identical between equivalent runs.
fn outputs(d: &Path) -> [Vec<u8>; 3] {
    [
        read(&d.join("evolution.csv")),
        read(&d.join("pareto.json")),
        read(&d.join("checkpoint.json")),
    ]
}

/// A toy evaluator in POSIX sh: accuracy grows with the number of 7-kernels and 6-expands in
/// the genome. With CRASH_FROM=n it prints to stderr and exits when asked for candidate id ≥ n.
/// (Not awk: mawk buffers a pipe's input and would wait for more lines.)
const SH_EVAL: &str = r#"external:while IFS= read -r l; do id=${l#*\"id\":}; id=${id%%,*}; if [ "$id" -ge "${CRASH_FROM:-999999}" ]; then echo 'boom: out of memory' >&2; exit 3; fi; n=$(printf %s "${l#*genome}" | tr -cd 76 | wc -c); printf '{"id":%s,"accuracy":0.%03d}\n' "$id" $((500 + 10 * n)); done"#;

/// A shell evaluator answering `accuracy` for every candidate except the `skip`-th line
/// (0 = none); it hangs when asked for candidate id ≥ `hang_from`.
fn answer(accuracy: &str, skip: usize, hang_from: u64) -> String {
    format!(
        r#"c=0; while IFS= read -r l; do c=$((c+1)); id=${{l#*\"id\":}}; id=${{id%%,*}}; if [ $c -eq {skip} ]; then echo "skipping $id" >&2; continue; fi; if [ $id -ge {hang_from} ]; then echo 'stuck in data loader' >&2; sleep 30; fi; echo "{{\"id\":$id,\"accuracy\":{accuracy}}}"; done"#
    )
}

/// The candidate id an error names first ("… candidate N …").
fn named_candidate(err: &str) -> u64 {
    let rest = &err[err.find("candidate ").unwrap_or_else(|| panic!("{err}")) + 10..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn checkpoint(d: &Path) -> serde_json::Value {
    serde_json::from_slice(&read(&d.join("checkpoint.json"))).unwrap()
}

#[test]
fn same_result_at_any_thread_count() {
    for (name, acc) in [("none", "none"), ("awk", SH_EVAL)] {
        let mut results = Vec::new();
        for threads in ["1", "2", "8"] {
            let d = dir(&format!("threads-{name}-{threads}"));
            let args = ["--population", "4", "--generations", "1", "--accuracy", acc];
            let (code, _, err) = search(&d, &args, &[("RAYON_NUM_THREADS", threads)]);
            assert_eq!(code, 0, "{err}");
            results.push(outputs(&d));
        }
        assert!(
            results[0] == results[1] && results[1] == results[2],
            "{name}: outputs differ"
        );
    }
}

#[test]
fn evaluator_crash_keeps_the_last_checkpoint() {
    let args = ["--population", "4", "--generations", "3", "--accuracy", SH_EVAL];
    // The evaluator dies when asked about a candidate of generation 1 or later (ids ≥ 4).
    let d = dir("crash");
    let (code, _, err) = search(&d, &args, &[("CRASH_FROM", "4")]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("exited (exit status: 3) before answering candidate"),
        "{err}"
    );
    assert!(err.contains("boom: out of memory"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
    // Checkpoint and history are those of the last complete generation, before the failing
    // candidate.
    let failed = named_candidate(&err);
    let cp = checkpoint(&d);
    assert!(failed >= cp["next_id"].as_u64().unwrap(), "{err}");
    let csv = String::from_utf8(read(&d.join("evolution.csv"))).unwrap();
    assert_eq!(csv.lines().count() as u64 - 1, cp["next_id"].as_u64().unwrap());
    let mut resume = args.to_vec();
    resume.push("--resume");
    let (code, out, err) = search(&d, &resume, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("search finished: generation 3 of 3 (resumed after generation"),
        "{out}"
    );
}

#[test]
fn killed_run_resumes_exactly() {
    // A slow evaluator, so the kill lands mid-run; whatever generation it hits, the resumed
    // run must end with the same files as an uninterrupted one.
    let slow = r#"external:while IFS= read -r l; do sleep 0.02; id=${l#*\"id\":}; echo "{\"id\":${id%%,*},\"accuracy\":0.5}"; done"#;
    let args = ["--population", "4", "--generations", "3", "--accuracy", slow];
    let whole = dir("kill-whole");
    assert_eq!(search(&whole, &args, &[]).0, 0);
    let d = dir("kill");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rnc"));
    cmd.args(BASE)
        .arg(&d)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let t = std::time::Instant::now();
    while !d.join("checkpoint.json").exists() && t.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        checkpoint(&d)["generation"].as_u64().unwrap() < 6,
        "the kill came too late to test anything"
    );
    let mut resume = args.to_vec();
    resume.push("--resume");
    let (code, _, err) = search(&d, &resume, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(outputs(&whole) == outputs(&d), "resumed run differs");
}

#[test]
fn resume_refuses_other_settings() {
    let d = dir("refuse");
    assert_eq!(search(&d, &["--population", "4", "--generations", "1"], &[]).0, 0);
    let mut args = BASE.to_vec();
    args[2] = "50";
    args.extend([d.to_str().unwrap(), "--population", "4", "--resume"]);
    let (code, _, err) = rnc(&args, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--budget is 48 in the checkpoint but 50 now"),
        "{err}"
    );
    let (code, _, err) = search(&d, &["--population", "5", "--resume"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--population is 4 in the checkpoint but 5 now"),
        "{err}"
    );
    // Without --resume an existing search is not overwritten.
    let before = outputs(&d);
    let (code, _, err) = search(&d, &["--population", "4", "--generations", "1"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("pass --resume"), "{err}");
    assert!(before == outputs(&d));
    let (code, _, err) = search(&dir("refuse-empty"), &["--resume"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("no ") && err.contains("checkpoint.json"), "{err}");
}

#[test]
fn evaluator_failures_name_the_candidate() {
    let base = ["--population", "4", "--generations", "1", "--eval-timeout", "0.5"];
    let run = |name: &str, eval: &str| {
        let d = dir(name);
        let acc = format!("external:{eval}");
        let mut args = base.to_vec();
        args.extend(["--accuracy", acc.as_str()]);
        let (code, _, err) = search(&d, &args, &[]);
        (d, code, err)
    };
    // Junk on stdout at the first candidate: nothing is written.
    let (d, code, err) = run("junk", "echo 'loading model...'; cat >/dev/null");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("printed 'loading model...'") && err.contains("candidate 0"),
        "{err}"
    );
    assert!(!d.join("checkpoint.json").exists() && !d.join("evolution.csv").exists());
    // Answers generation 0 (ids < 4), then hangs: timeout, last checkpoint intact.
    let (d, code, err) = run("hang", &answer("0.5", 0, 4));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("gave no answer within 0.5 s"), "{err}");
    assert!(err.contains("(genome {"), "{err}");
    assert!(err.contains("stuck in data loader"), "{err}");
    let cp = checkpoint(&d);
    assert!(named_candidate(&err) >= cp["next_id"].as_u64().unwrap(), "{err}");
    assert_eq!(
        read(&d.join("evolution.csv"))
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64,
        1 + cp["next_id"].as_u64().unwrap()
    );
    // Omits the third candidate's answer and waits: the missing id is named.
    let (_, code, err) = run("omit", &answer("0.5", 3, 999_999));
    assert_eq!(code, 2, "{err}");
    let skipped = named_candidate(&err);
    assert!(err.contains(&format!("skipping {skipped}")), "{err}");
    assert!(
        err.contains("no answer within 0.5 s (--eval-timeout) for candidate"),
        "{err}"
    );
    // Percentages instead of fractions.
    let (_, code, err) = run("pct", &answer("91", 0, 999_999));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("gave accuracy 91 for candidate 0"), "{err}");
}

#[test]
fn hardware_only_run_says_so_and_keeps_the_best() {
    let d = dir("none");
    let (code, out, err) = search(&d, &["--population", "4", "--generations", "2"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("hardware-only search with one objective (speed-up)"),
        "{out}"
    );
    assert!(
        out.contains("accuracy: none (single objective: speed-up)"),
        "{out}"
    );
    let front: serde_json::Value = serde_json::from_slice(&read(&d.join("pareto.json"))).unwrap();
    let front = front.as_array().unwrap();
    assert!(!front.is_empty());
    assert!(front.iter().all(|m| m["accuracy"].is_null()));
    // Elitism: the front holds the best speed-up of every feasible candidate ever evaluated.
    let csv = String::from_utf8(read(&d.join("evolution.csv"))).unwrap();
    let mut rd = csv::Reader::from_reader(csv.as_bytes());
    let mut best = 0.0f64;
    let mut rows = 0;
    for r in rd.records() {
        let r = r.unwrap();
        rows += 1;
        assert!(r[4].is_empty(), "accuracy column must be empty without a source");
        if &r[3] == "true" {
            assert!(r[7].parse::<usize>().unwrap() <= 48);
            best = best.max(r[5].parse().unwrap());
        }
    }
    assert_eq!(rows, 4 * 3);
    assert_eq!(front[0]["speedup"].as_f64().unwrap(), best);
}

#[test]
fn bad_flags_are_clear_errors() {
    let d = dir("flags");
    let cases: [(&[&str], &str); 5] = [
        (&["--accuracy", "supernet:x"], "unknown source"),
        (&["--accuracy", "oracle"], "unknown source"),
        (&["--accuracy", "external:"], "needs a command"),
        (
            &["--accuracy", "external:cat", "--eval-timeout", "0"],
            "--eval-timeout",
        ),
        (&["--input", "0"], "--input 0"),
    ];
    for (args, want) in cases {
        let (code, _, err) = search(&d, args, &[]);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let (code, _, err) = search(&d, &["--population", "1"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--population must be between 2 and 10000"), "{err}");
    let (code, _, err) = rnc(&["search", "--budget", "0"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--budget must be between 1 and"), "{err}");
}

#[test]
fn example_python_evaluator_works() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("python3 not found: skipping the examples/evaluator.py test");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/evaluator.py");
    let acc = format!("external:python3 '{}'", script.display());
    let d = dir("python");
    let (code, out, err) = search(
        &d,
        &["--population", "8", "--generations", "3", "--accuracy", &acc],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("best accuracy"), "{out}");
    let front: serde_json::Value = serde_json::from_slice(&read(&d.join("pareto.json"))).unwrap();
    let front = front.as_array().unwrap();
    assert!(!front.is_empty());
    for (i, a) in front.iter().enumerate() {
        let acc = a["accuracy"].as_f64().unwrap();
        assert!((0.7..0.92).contains(&acc));
        // A two-objective front: sorted by speed-up, accuracy must rise as speed-up falls,
        // and no member dominates another.
        for b in &front[i + 1..] {
            assert!(b["speedup"].as_f64() <= a["speedup"].as_f64());
            assert!(b["accuracy"].as_f64().unwrap() >= acc, "{a} dominates {b}");
        }
    }
    let log = String::from_utf8(read(&d.join("evaluator.log"))).unwrap();
    assert!(log.starts_with("evaluator ready"), "{log}");
}

/// A budget that no subnet of the space fits is refused before the run, naming the least
/// crossbars of the smallest subnet; one crossbar more than that starts.
#[test]
fn budget_below_the_smallest_subnet_is_refused() {
    let out = dir("tiny-budget");
    let (code, _, err) = rnc(
        &[
            "search",
            "--budget",
            "10",
            "--population",
            "4",
            "--generations",
            "0",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    let least: u64 = err
        .split("at least ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no bound named: {err}"));
    assert!(least > 10 && err.contains("--budget 10"), "{err}");
    assert!(!out.join("checkpoint.json").exists(), "nothing may be written");
    let (code, _, err) = rnc(
        &[
            "search",
            "--budget",
            &least.to_string(),
            "--population",
            "4",
            "--generations",
            "0",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn three_objectives_record_energy_at_any_thread_count() {
    let mut results = Vec::new();
    for threads in ["1", "2"] {
        let d = dir(&format!("three-{threads}"));
        let args = [
            "--population",
            "6",
            "--generations",
            "2",
            "--accuracy",
            "predictor",
            "--objectives",
            "accuracy,speedup,energy",
            "--plots",
        ];
        let (code, out, err) = search(&d, &args, &[("RAYON_NUM_THREADS", threads)]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("objectives: accuracy,speedup,energy") && out.contains("least energy"),
            "{out}"
        );
        let front: serde_json::Value = serde_json::from_slice(&read(&d.join("pareto.json"))).unwrap();
        let front = front.as_array().unwrap();
        assert!(!front.is_empty());
        for m in front {
            assert!(m["energy_nj"].as_f64().is_some_and(|e| e > 0.0), "{m}");
            assert!(
                m["accuracy"].as_f64().is_some() && m["speedup"].as_f64().is_some(),
                "{m}"
            );
        }
        assert!(
            String::from_utf8(read(&d.join("evolution.csv")))
                .unwrap()
                .starts_with("generation,id,genome,feasible,accuracy,speedup,energy_nj,latency_ns,")
        );
        assert!(
            String::from_utf8(read(&d.join("pareto.svg")))
                .unwrap()
                .contains("energy per inference")
        );
        assert_eq!(
            checkpoint(&d)["settings"]["objectives"],
            serde_json::json!(["accuracy", "speedup", "energy"])
        );
        results.push(outputs(&d));
    }
    assert!(results[0] == results[1], "outputs differ between 1 and 2 threads");
    // The same folder resumed under the default objectives is refused, naming them.
    let d = dir("three-1");
    let (code, _, _) = search(
        &d,
        &[
            "--population",
            "6",
            "--generations",
            "1",
            "--accuracy",
            "predictor",
            "--objectives",
            "speedup,accuracy,energy",
        ],
        &[],
    );
    assert_eq!(code, 0);
    let (code, _, err) = search(
        &d,
        &[
            "--population",
            "6",
            "--generations",
            "2",
            "--accuracy",
            "predictor",
            "--resume",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--objectives is accuracy,speedup,energy in the checkpoint but accuracy,speedup now"),
        "{err}"
    );
}

#[test]
fn objectives_flag_errors() {
    let d = dir("objectives-flags");
    let cases: [(&[&str], &str); 5] = [
        (
            &["--objectives", "accuracy,speedup,energy"],
            "needs --accuracy SOURCE",
        ),
        (
            &["--objectives", "speedup,energy", "--accuracy", "predictor"],
            "does not include it",
        ),
        (
            &["--objectives", "accuracy,energy", "--accuracy", "predictor"],
            "speedup must be",
        ),
        (&["--objectives", "speedup,watts"], "unknown objective 'watts'"),
        (&["--objectives", "energy,speedup,energy"], "given twice"),
    ];
    for (args, want) in cases {
        let (code, _, err) = search(&d, args, &[]);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!d.join("checkpoint.json").exists());
    }
}

/// The search maps candidates as `rnc compile` does (rules preset, depthwise mapping and depth
/// split chosen per candidate), records the rules, and re-maps its final front at default
/// effort: each `latency_ns_default` is what `rnc compile --genome` gives for that network.
#[test]
fn search_maps_like_compile_and_remaps_the_front_at_default_effort() {
    let d = dir("defaults");
    let mut args = BASE.to_vec();
    args.retain(|a| *a != "--no-remap");
    args.push(d.to_str().unwrap());
    args.extend_from_slice(&["--population", "4", "--generations", "1"]);
    let (code, out, err) = rnc(&args, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("rules: physical (layer threshold -1, max load 0, same-layer block diagonal on); depthwise auto, depth split auto"),
        "{out}"
    );
    assert!(out.contains("front re-mapped at default effort: "), "{out}");
    let cp = checkpoint(&d);
    let hw: serde_json::Value = serde_json::from_str(cp["settings"]["baseline"].as_str().unwrap()).unwrap();
    assert_eq!(hw["options"]["rules"], "physical");
    assert_eq!(hw["options"]["depth_split"], "auto");
    assert_eq!(hw["options"]["effort"], "fast");
    let front: serde_json::Value = serde_json::from_slice(&read(&d.join("pareto.json"))).unwrap();
    let first = &front.as_array().unwrap()[0];
    let fast = first["latency_ns"].as_f64().unwrap();
    let default = first["latency_ns_default"].as_f64().unwrap();
    assert!(first["crossbars_used_default"].as_u64().unwrap() <= 48);
    let ratio = first["speedup_default"].as_f64().unwrap() / first["speedup"].as_f64().unwrap();
    assert!((ratio - fast / default).abs() < 1e-9, "{first}");
    let genome = first["genome"].to_string();
    let (code, json, err) = rnc(
        &[
            "compile",
            "--genome",
            &genome,
            "--crossbars",
            "48",
            "--set",
            "Xbar_Size=256,256",
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(summary["latency_ns"].as_f64().unwrap(), default, "{summary}");
}

/// `--rules reference` maps under the paper's rules, records them, and a resume under other
/// rules is refused naming the difference.
#[test]
fn rules_flags_are_recorded_and_checked_on_resume() {
    let d = dir("rules");
    let args = ["--population", "4", "--generations", "0", "--rules", "reference"];
    let (code, out, err) = search(&d, &args, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("rules: reference (layer threshold 1, max load 6, same-layer block diagonal off)"),
        "{out}"
    );
    let hw: serde_json::Value =
        serde_json::from_str(checkpoint(&d)["settings"]["baseline"].as_str().unwrap()).unwrap();
    assert_eq!(hw["options"]["rules"], "reference");
    let (code, _, err) = search(&d, &["--population", "4", "--generations", "1", "--resume"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("options.rules") && err.contains("\"reference\" in the checkpoint"),
        "{err}"
    );
    let (code, _, err) = search(&d, &["--depth-split", "zero", "--population", "4"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--depth-split 'zero'"), "{err}");
}
