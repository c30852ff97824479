//! Objectives of the search: the default two (accuracy, speed-up) and hardware-only speed-up
//! write exactly the bytes they wrote before energy became an objective (golden files), and
//! three objectives (accuracy, speed-up, energy) or two hardware ones (speed-up, energy) run
//! deterministically, resume exactly and record every objective. A cheap hardware stub keeps
//! these fast; `tests/search.rs` runs the CLI on the real pipeline.

use rnc::accuracy::{AccuracySource, Candidate, NoAccuracy};
use rnc::network::Network;
use rnc::partition::{PartitionOptions, partition};
use rnc::search::{self, HwEval, HwObjective, SearchConfig};
use std::path::{Path, PathBuf};

/// Hardware stand-in: one crossbar per tile; latency from the summed activations, shortened
/// by spare crossbars; energy from the cells times the activations (so it pulls against
/// speed-up: spare crossbars speed a network up without changing its energy).
struct Stub {
    budget: usize,
}

impl HwObjective for Stub {
    fn evaluate(&self, net: &Network) -> anyhow::Result<HwEval> {
        let part = partition(net, &PartitionOptions::default())?;
        let tiles = part.tiles();
        if tiles > self.budget {
            return Ok(HwEval::infeasible(tiles));
        }
        let cycles: u64 = part.layers.iter().map(|l| l.max_cycles()).sum();
        let latency_ns = cycles as f64 * 150.0 / (1.0 + (self.budget - tiles) as f64 / 40.0);
        let energy_nj = part
            .iter_tiles()
            .map(|t| (t.rows * t.read_cols) as f64 * t.cycles as f64 * 1e-4)
            .sum();
        Ok(HwEval {
            feasible: true,
            latency_ns,
            speedup: 4e7 / latency_ns,
            crossbars_used: tiles,
            energy_nj: Some(energy_nj),
        })
    }
    fn baseline_json(&self) -> serde_json::Value {
        serde_json::json!({"stub": self.budget})
    }
}

/// Accuracy that grows with capacity.
struct Toy;

impl AccuracySource for Toy {
    fn name(&self) -> String {
        "toy".into()
    }
    fn evaluate(&mut self, batch: &[Candidate]) -> anyhow::Result<Vec<f64>> {
        Ok(batch
            .iter()
            .map(|c| {
                let g = &c.genome;
                let cap: usize = (0..16)
                    .filter(|&i| g.active(i))
                    .map(|i| g.ks[i] * g.ks[i] * g.e[i])
                    .sum();
                0.6 + 0.3 * (1.0 - (-(cap as f64) / 800.0).exp())
            })
            .collect())
    }
}

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("search-objectives")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn cfg(out: &Path, population: usize, generations: usize) -> SearchConfig {
    SearchConfig {
        seed: 11,
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

fn energy_cfg(out: &Path, population: usize, generations: usize) -> SearchConfig {
    SearchConfig {
        energy: true,
        ..cfg(out, population, generations)
    }
}

fn outputs(d: &Path) -> Vec<Vec<u8>> {
    FILES.iter().map(|f| std::fs::read(d.join(f)).unwrap()).collect()
}

/// `a` Pareto-dominates `b` on objectives to minimise.
fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// Minimised objective vectors of pareto.json's members (accuracy and speed-up negated).
fn front_vectors(d: &Path, accuracy: bool) -> Vec<Vec<f64>> {
    let front: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("pareto.json")).unwrap()).unwrap();
    front
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let mut v = Vec::new();
            if accuracy {
                v.push(-m["accuracy"].as_f64().unwrap());
            }
            v.push(-m["speedup"].as_f64().unwrap());
            let e = m["energy_nj"].as_f64().unwrap();
            assert!(e > 0.0, "{m}");
            v.push(e);
            v
        })
        .collect()
}

const FILES: [&str; 3] = ["evolution.csv", "pareto.json", "checkpoint.json"];

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/search-golden")
}

/// The default objectives and hardware-only speed-up write the bytes they wrote before
/// `--objectives` existed (files made by that version; `RNC_BLESS=1` rewrites them).
#[test]
fn two_objective_and_hardware_only_runs_are_unchanged() {
    let runs: [(&str, Box<dyn AccuracySource>); 2] = [("toy", Box::new(Toy)), ("none", Box::new(NoAccuracy))];
    for (name, mut acc) in runs {
        let d = dir(&format!("golden-{name}"));
        search::run(&cfg(&d, 12, 6), &Stub { budget: 168 }, acc.as_mut(), &mut ()).unwrap();
        for f in FILES {
            let got = std::fs::read(d.join(f)).unwrap();
            let golden = golden_dir().join(format!("{name}-{f}"));
            if std::env::var_os("RNC_BLESS").is_some() {
                std::fs::create_dir_all(golden_dir()).unwrap();
                std::fs::write(&golden, &got).unwrap();
            }
            let want = std::fs::read(&golden).unwrap();
            assert!(got == want, "{name}: {f} differs from {}", golden.display());
        }
    }
}

#[test]
fn three_objectives_record_energy_and_no_front_member_dominates_another() {
    let d = dir("three");
    let s = search::run(&energy_cfg(&d, 16, 8), &Stub { budget: 168 }, &mut Toy, &mut ()).unwrap();
    assert!(s.last.best_energy_nj.is_some_and(|e| e > 0.0));
    let csv = std::fs::read_to_string(d.join("evolution.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "generation,id,genome,feasible,accuracy,speedup,energy_nj,latency_ns,crossbars_used,rank,survived,cached"
    );
    let mut rd = csv::Reader::from_reader(csv.as_bytes());
    for r in rd.records() {
        let r = r.unwrap();
        // An energy exactly for feasible candidates.
        assert_eq!(r[3] == *"true", !r[6].is_empty(), "{r:?}");
    }
    let front = front_vectors(&d, true);
    assert!(front.len() >= 2, "{front:?}");
    for (i, a) in front.iter().enumerate() {
        for (j, b) in front.iter().enumerate() {
            assert!(
                i == j || !dominates(a, b),
                "front member {i} dominates {j}: {a:?} {b:?}"
            );
        }
    }
    let cp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("checkpoint.json")).unwrap()).unwrap();
    assert_eq!(
        cp["settings"]["objectives"],
        serde_json::json!(["accuracy", "speedup", "energy"])
    );
    // Energy changes what survives: the three-objective run is not the two-objective one.
    let two = dir("three-vs-two");
    search::run(&cfg(&two, 16, 8), &Stub { budget: 168 }, &mut Toy, &mut ()).unwrap();
    let csv2 = std::fs::read_to_string(two.join("evolution.csv")).unwrap();
    assert!(!csv2.contains("energy"));
    let survived = |text: &str, col: usize| -> Vec<String> {
        csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap()[col].to_string())
            .collect()
    };
    assert_ne!(survived(&csv, 10), survived(&csv2, 9));
}

#[test]
fn three_objectives_are_deterministic_and_resume_exactly() {
    let mut results = Vec::new();
    for threads in [1, 2] {
        let d = dir(&format!("three-threads-{threads}"));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let c = energy_cfg(&d, 12, 6);
        pool.install(|| search::run(&c, &Stub { budget: 168 }, &mut Toy, &mut ()))
            .unwrap();
        results.push(outputs(&d));
    }
    assert!(results[0] == results[1], "outputs differ between 1 and 2 threads");
    let parts = dir("three-parts");
    search::run(
        &energy_cfg(&parts, 12, 3),
        &Stub { budget: 168 },
        &mut Toy,
        &mut (),
    )
    .unwrap();
    let more = SearchConfig {
        resume: true,
        ..energy_cfg(&parts, 12, 6)
    };
    search::run(&more, &Stub { budget: 168 }, &mut Toy, &mut ()).unwrap();
    assert!(outputs(&parts) == results[0], "resumed run differs");
    // Resuming with other objectives is refused, naming them.
    let two = SearchConfig {
        resume: true,
        ..cfg(&parts, 12, 8)
    };
    let e = search::run(&two, &Stub { budget: 168 }, &mut Toy, &mut ())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--objectives is accuracy,speedup,energy in the checkpoint but accuracy,speedup now"),
        "{e}"
    );
    let golden = dir("two-resumed-with-energy");
    search::run(&cfg(&golden, 12, 2), &Stub { budget: 168 }, &mut Toy, &mut ()).unwrap();
    let e = search::run(
        &SearchConfig {
            resume: true,
            ..energy_cfg(&golden, 12, 4)
        },
        &Stub { budget: 168 },
        &mut Toy,
        &mut (),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("--objectives is accuracy,speedup in the checkpoint but accuracy,speedup,energy now"),
        "{e}"
    );
}

#[test]
fn speedup_and_energy_without_accuracy() {
    let d = dir("hw-energy");
    let s = search::run(
        &energy_cfg(&d, 12, 5),
        &Stub { budget: 168 },
        &mut NoAccuracy,
        &mut (),
    )
    .unwrap();
    assert!(s.last.hardware_only && s.accuracy_evaluations == 0);
    let front = front_vectors(&d, false);
    assert!(!front.is_empty());
    for (i, a) in front.iter().enumerate() {
        for (j, b) in front.iter().enumerate() {
            assert!(i == j || !dominates(a, b), "{a:?} dominates {b:?}");
        }
    }
    // The least-energy and the fastest candidate of the population are both on the front.
    let cp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("checkpoint.json")).unwrap()).unwrap();
    let pop = cp["population"].as_array().unwrap();
    let num = |v: &serde_json::Value| v.as_str().unwrap().parse::<f64>().unwrap();
    let feasible = || {
        pop.iter()
            .map(|m| &m["outcome"])
            .filter(|o| o["feasible"] == true)
    };
    let least = feasible()
        .map(|o| num(&o["energy_nj"]))
        .fold(f64::INFINITY, f64::min);
    let fastest = feasible().map(|o| num(&o["speedup"])).fold(0.0, f64::max);
    // pareto.json is read back by serde_json's float parser, which may be one ulp off.
    let same = |x: f64, y: f64| (x - y).abs() <= 1e-12 * y.abs();
    assert!(front.iter().any(|v| same(v[1], least)), "{least} {front:?}");
    assert!(front.iter().any(|v| same(-v[0], fastest)), "{fastest} {front:?}");
    // Its picture draws energy against speed-up.
    let data = rnc::plots::SearchData::load(&d).unwrap();
    assert!(data.hardware_only() && data.has_energy());
    let svg = rnc::plots::svg(&rnc::plots::Pareto { data: &data }).unwrap();
    assert!(svg.contains("energy per inference"), "no energy axis");
}

#[test]
fn three_objective_picture_has_a_colour_bar_and_the_report_an_energy_column() {
    let d = dir("three-plot");
    search::run(&energy_cfg(&d, 10, 3), &Stub { budget: 168 }, &mut Toy, &mut ()).unwrap();
    let data = rnc::plots::SearchData::load(&d).unwrap();
    assert!(!data.hardware_only() && data.has_energy());
    assert!(data.front.iter().all(|c| c.energy_nj.is_some_and(|e| e > 0.0)));
    let svg = rnc::plots::svg(&rnc::plots::Pareto { data: &data }).unwrap();
    assert!(svg.contains("front coloured by energy") && svg.contains("energy per inference (µJ)"));
    let html = rnc::html::search_report(&data).unwrap();
    assert!(html.contains("<th>energy (µJ)</th>") && html.contains("energy per inference"));
}
