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
        Ok(HwEval {
            feasible: true,
            latency_ns,
            speedup: 4e7 / latency_ns,
            crossbars_used: tiles,
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
    }
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
