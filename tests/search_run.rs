//! The search driver through the library with a cheap deterministic hardware stub, so many
//! generations run in milliseconds: reproducibility at any thread count, exact resume after
//! a stop anywhere, constraint handling, front invariants.

use rnc::accuracy::{AccuracySource, Candidate, ExternalEvaluator, NoAccuracy};
use rnc::network::Network;
use rnc::partition::{PartitionOptions, partition};
use rnc::search::{self, HwEval, HwObjective, SearchConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Hardware stand-in for these tests only: one crossbar per tile; latency from the summed
/// activations, shortened by spare crossbars.
struct Stub {
    budget: usize,
}

impl HwObjective for Stub {
    fn evaluate(&self, net: &Network) -> anyhow::Result<HwEval> {
        let part = partition(net, &PartitionOptions::default())?;
        let tiles = part.tiles();
        if tiles > self.budget {
            return Ok(HwEval {
                feasible: false,
                latency_ns: f64::INFINITY,
                speedup: 0.0,
                crossbars_used: tiles,
                energy_nj: None,
            });
        }
        let cycles: u64 = part.layers.iter().map(|l| l.max_cycles()).sum();
        let latency_ns = cycles as f64 * 150.0 / (1.0 + (self.budget - tiles) as f64 / 40.0);
        Ok(HwEval {
            feasible: true,
            latency_ns,
            speedup: 4e7 / latency_ns,
            crossbars_used: tiles,
            energy_nj: None,
        })
    }
    fn baseline_json(&self) -> serde_json::Value {
        serde_json::json!({"stub": self.budget})
    }
}

/// A toy accuracy in Rust: grows with capacity. Fails on purpose from candidate `fail_from`.
struct Toy {
    fail_from: u64,
    asked: Vec<u64>,
}

impl Toy {
    fn new() -> Toy {
        Toy {
            fail_from: u64::MAX,
            asked: Vec::new(),
        }
    }
}

impl AccuracySource for Toy {
    fn name(&self) -> String {
        "toy".into()
    }
    fn evaluate(&mut self, batch: &[Candidate]) -> anyhow::Result<Vec<f64>> {
        batch
            .iter()
            .map(|c| {
                if c.id >= self.fail_from {
                    anyhow::bail!("toy evaluator fails at candidate {}", c.id);
                }
                self.asked.push(c.id);
                let g = &c.genome;
                let cap: usize = (0..16)
                    .filter(|&i| g.active(i))
                    .map(|i| g.ks[i] * g.ks[i] * g.e[i])
                    .sum();
                Ok(0.6 + 0.3 * (1.0 - (-(cap as f64) / 800.0).exp()))
            })
            .collect()
    }
}

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("search-run")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn cfg(out: &Path, population: usize, generations: usize) -> SearchConfig {
    SearchConfig {
        seed: 5,
        budget: 168,
        input: 64,
        classes: 10,
        population,
        generations,
        out: out.to_path_buf(),
        resume: false,
        energy: false,
    }
}

fn run(c: &SearchConfig, acc: &mut dyn AccuracySource) -> anyhow::Result<search::SearchSummary> {
    search::run(c, &Stub { budget: c.budget }, acc, &mut ())
}

fn outputs(d: &Path) -> [Vec<u8>; 3] {
    ["evolution.csv", "pareto.json", "checkpoint.json"].map(|f| std::fs::read(d.join(f)).unwrap())
}

/// A shell evaluator (accuracy from the count of 7s and 6s in the genome).
const SH: &str = r#"while IFS= read -r l; do id=${l#*\"id\":}; id=${id%%,*}; n=$(printf %s "${l#*genome}" | tr -cd 76 | wc -c); printf '{"id":%s,"accuracy":0.%03d}\n' "$id" $((500 + 10 * n)); done"#;

type MakeSource = fn() -> Box<dyn AccuracySource>;

fn external() -> ExternalEvaluator {
    ExternalEvaluator::new(SH, Duration::from_secs(30), None).unwrap()
}

#[test]
fn same_result_at_any_thread_count() {
    let sources: [(&str, MakeSource); 3] = [
        ("none", || Box::new(NoAccuracy)),
        ("toy", || Box::new(Toy::new())),
        ("external", || Box::new(external())),
    ];
    for (name, make) in sources {
        let mut results = Vec::new();
        for threads in [1, 2, 8] {
            let d = dir(&format!("threads-{name}-{threads}"));
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let c = cfg(&d, 16, 8);
            pool.install(|| run(&c, make().as_mut())).unwrap();
            results.push(outputs(&d));
        }
        assert!(
            results[0] == results[1] && results[1] == results[2],
            "{name}: outputs differ"
        );
    }
}

#[test]
fn resume_continues_exactly() {
    for (name, make) in [
        (
            "toy",
            (|| Box::new(Toy::new())) as fn() -> Box<dyn AccuracySource>,
        ),
        ("external", || Box::new(external())),
        ("none", || Box::new(NoAccuracy)),
    ] {
        let whole = dir(&format!("resume-whole-{name}"));
        let s = run(&cfg(&whole, 12, 9), make().as_mut()).unwrap();
        assert_eq!(s.resumed_after, None);
        // Stopped after generation 3, then again after 3 (nothing to do), 6, then to 9.
        let parts = dir(&format!("resume-parts-{name}"));
        run(&cfg(&parts, 12, 3), make().as_mut()).unwrap();
        for g in [3, 6, 9] {
            let c = SearchConfig {
                resume: true,
                ..cfg(&parts, 12, g)
            };
            let s = run(&c, make().as_mut()).unwrap();
            assert_eq!(s.last.generation, g);
        }
        assert!(outputs(&whole) == outputs(&parts), "{name}: resumed run differs");
    }
}

#[test]
fn failure_mid_generation_keeps_the_last_checkpoint_and_resume_matches() {
    let whole = dir("fail-whole");
    run(&cfg(&whole, 10, 5), &mut Toy::new()).unwrap();
    let d = dir("fail");
    // The accuracy source fails at candidate 25, in generation 2 (ids 20..29).
    let mut failing = Toy {
        fail_from: 25,
        asked: Vec::new(),
    };
    let e = run(&cfg(&d, 10, 5), &mut failing).unwrap_err().to_string();
    assert!(e.contains("candidate 25"), "{e}");
    let cp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("checkpoint.json")).unwrap()).unwrap();
    assert_eq!(cp["generation"], 1);
    assert_eq!(cp["next_id"], 20);
    let csv = std::fs::read_to_string(d.join("evolution.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 20);
    let c = SearchConfig {
        resume: true,
        ..cfg(&d, 10, 5)
    };
    let mut toy = Toy::new();
    run(&c, &mut toy).unwrap();
    // Only generation 2 onwards is asked again.
    assert!(toy.asked.iter().all(|&id| id >= 20), "{:?}", toy.asked);
    assert!(outputs(&whole) == outputs(&d), "resumed run differs");
}

#[test]
fn stop_between_history_and_checkpoint_resumes_exactly() {
    let whole = dir("between-whole");
    run(&cfg(&whole, 8, 3), &mut Toy::new()).unwrap();
    let d = dir("between");
    run(&cfg(&d, 8, 1), &mut Toy::new()).unwrap();
    let cp1 = std::fs::read(d.join("checkpoint.json")).unwrap();
    let resume = |g| SearchConfig {
        resume: true,
        ..cfg(&d, 8, g)
    };
    run(&resume(2), &mut Toy::new()).unwrap();
    // As if stopped after writing generation 2's evolution.csv and pareto.json but before its
    // checkpoint.
    std::fs::write(d.join("checkpoint.json"), &cp1).unwrap();
    let s = run(&resume(3), &mut Toy::new()).unwrap();
    assert_eq!(s.resumed_after, Some(1));
    assert!(outputs(&whole) == outputs(&d), "resumed run differs");
    // The history is part of the state.
    std::fs::remove_file(d.join("evolution.csv")).unwrap();
    let e = run(&resume(3), &mut Toy::new()).unwrap_err().to_string();
    assert!(e.contains("evolution.csv"), "{e}");
    // A damaged checkpoint is a clear error.
    std::fs::write(d.join("checkpoint.json"), b"{\"format\":1").unwrap();
    let e = run(&resume(3), &mut Toy::new()).unwrap_err();
    assert!(format!("{e:#}").contains("not an rnc search checkpoint"), "{e:#}");
    assert_eq!(rnc::error::exit_code(&e), 2);
}

#[test]
fn front_is_feasible_and_non_dominated_and_elitist() {
    let d = dir("front");
    let s = run(&cfg(&d, 20, 15), &mut Toy::new()).unwrap();
    let front: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(d.join("pareto.json")).unwrap()).unwrap();
    assert_eq!(front.len(), s.front.len());
    assert_eq!(front.len(), s.last.front_size);
    let num = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
    for a in &front {
        assert!(a["crossbars_used"].as_u64().unwrap() <= 168);
        for b in &front {
            let dominates = num(a, "speedup") >= num(b, "speedup")
                && num(a, "accuracy") >= num(b, "accuracy")
                && (num(a, "speedup") > num(b, "speedup") || num(a, "accuracy") > num(b, "accuracy"));
            assert!(!dominates, "{a} dominates {b}");
        }
    }
    // Elitism: nothing ever evaluated dominates a front member... except candidates the
    // crowding cut may have dropped; but the best speed-up and best accuracy seen survive.
    let csv = std::fs::read_to_string(d.join("evolution.csv")).unwrap();
    let mut rd = csv::Reader::from_reader(csv.as_bytes());
    let (mut best_s, mut best_a, mut infeasible) = (0.0f64, 0.0f64, 0);
    for r in rd.records() {
        let r = r.unwrap();
        if &r[3] == "true" {
            best_s = best_s.max(r[5].parse().unwrap());
            best_a = best_a.max(r[4].parse().unwrap());
        } else {
            infeasible += 1;
            assert!(r[4].is_empty(), "an infeasible candidate is not scored");
        }
    }
    assert!(infeasible > 0, "the test should meet over-budget candidates");
    assert_eq!(s.last.best_speedup, Some(best_s));
    assert_eq!(s.last.best_accuracy, Some(best_a));
    assert_eq!(num(&front[0], "speedup"), best_s);
    assert_eq!(s.last.hw_evaluations + s.last.cache_hits, 20 * 16);
}

#[test]
fn infeasible_candidates_lose_to_any_feasible_one() {
    // A budget so small that only some subnets fit: every survivor that can be feasible is.
    let d = dir("tight");
    let c = SearchConfig {
        budget: 130,
        ..cfg(&d, 12, 6)
    };
    let s = search::run(&c, &Stub { budget: 130 }, &mut Toy::new(), &mut ()).unwrap();
    let cp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("checkpoint.json")).unwrap()).unwrap();
    let pop = cp["population"].as_array().unwrap();
    let feasible = pop.iter().filter(|m| m["outcome"]["feasible"] == true).count();
    let csv = std::fs::read_to_string(d.join("evolution.csv")).unwrap();
    let mut rd = csv::Reader::from_reader(csv.as_bytes());
    let ever_feasible = rd.records().filter(|r| &r.as_ref().unwrap()[3] == "true").count();
    assert!(ever_feasible > 0);
    assert_eq!(
        feasible,
        ever_feasible.min(12),
        "feasible candidates were dropped for infeasible ones"
    );
    assert!(s.last.best_speedup.is_some());
}

#[test]
fn existing_search_is_not_overwritten() {
    let d = dir("exists");
    run(&cfg(&d, 4, 1), &mut NoAccuracy).unwrap();
    let before = outputs(&d);
    let e = run(&cfg(&d, 4, 1), &mut NoAccuracy).unwrap_err().to_string();
    assert!(e.contains("pass --resume"), "{e}");
    assert!(before == outputs(&d));
    let c = SearchConfig {
        resume: true,
        ..cfg(&d, 4, 2)
    };
    let e = run(&c, &mut Toy::new()).unwrap_err().to_string();
    assert!(
        e.contains("--accuracy is none in the checkpoint but toy now"),
        "{e}"
    );
}

/// Fails (or panics) on networks with more than 60 weight layers.
struct Fragile {
    panic: bool,
}

impl HwObjective for Fragile {
    fn evaluate(&self, net: &Network) -> anyhow::Result<HwEval> {
        if net.layers.len() > 60 {
            if self.panic {
                panic!("simulated compiler bug");
            }
            anyhow::bail!("simulated compiler error");
        }
        Stub { budget: 400 }.evaluate(net)
    }
    fn baseline_json(&self) -> serde_json::Value {
        serde_json::json!({"fragile": self.panic})
    }
}

#[test]
fn hardware_failures_name_the_candidate() {
    for panic in [false, true] {
        let d = dir(&format!("fragile-{panic}"));
        let e = search::run(&cfg(&d, 8, 2), &Fragile { panic }, &mut NoAccuracy, &mut ()).unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("hardware evaluation of candidate"), "{msg}");
        assert!(msg.contains("(genome {\"ks\":["), "{msg}");
        if panic {
            assert!(msg.contains("panicked: simulated compiler bug"), "{msg}");
            assert_eq!(rnc::error::exit_code(&e), 1, "a panic is rnc's fault");
        } else {
            assert!(msg.contains("simulated compiler error"), "{msg}");
        }
    }
}
