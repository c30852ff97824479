//! Speed of the search: the NSGA-II machinery per candidate (with a cheap hardware stub),
//! the real per-candidate hardware evaluation (compile pipeline, fast effort), a whole
//! 50×100 hardware-only search at 168 crossbars, and a 50×100 three-objective search
//! (accuracy from the shipped predictor, speed-up, energy; goal ≤ 60 s on 2 cores). Run with
//! `cargo bench --bench search` (part names machinery, hardware, search, objectives select
//! parts); `cargo test --all-targets` runs it as a quick smoke test.

use rnc::accuracy::{AccuracySource, Candidate, NoAccuracy};
use rnc::compile::Effort;
use rnc::hardware::HwConfig;
use rnc::network::{Network, ofa};
use rnc::partition::{PartitionOptions, partition};
use rnc::search::{self, HwEval, HwObjective, SearchConfig, genome_ops, rng::Xoshiro256};
use std::path::PathBuf;
use std::time::Instant;

/// Cheap deterministic hardware stand-in: partition only, one crossbar per tile.
struct Stub {
    budget: usize,
}

impl HwObjective for Stub {
    fn evaluate(&self, net: &Network) -> anyhow::Result<HwEval> {
        let part = partition(net, &PartitionOptions::default())?;
        let tiles = part.tiles();
        let cycles: u64 = part.layers.iter().map(|l| l.max_cycles()).sum();
        let latency_ns = cycles as f64 * 150.0 / (1.0 + self.budget.saturating_sub(tiles) as f64 / 40.0);
        Ok(HwEval {
            feasible: tiles <= self.budget,
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

/// Instant accuracy, so two objectives cost nothing but the machinery.
struct Toy;

impl AccuracySource for Toy {
    fn name(&self) -> String {
        "toy".into()
    }
    fn evaluate(&mut self, batch: &[Candidate]) -> anyhow::Result<Vec<f64>> {
        Ok(batch
            .iter()
            .map(|c| 0.5 + c.genome.ks.iter().sum::<usize>() as f64 / 1000.0)
            .collect())
    }
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnc-bench-search-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn config(name: &str, budget: usize, population: usize, generations: usize) -> SearchConfig {
    SearchConfig {
        seed: 1,
        budget,
        input: 64,
        classes: 10,
        population,
        generations,
        out: out_dir(name),
        resume: false,
        energy: false,
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    // Optional part names (machinery, hardware, search) run only those parts.
    let parts: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let part = |name: &str| parts.is_empty() || parts.contains(&name);
    let (pop, gens) = if full { (50, 100) } else { (2, 0) };
    let threads = rayon::current_num_threads();
    println!("rayon threads: {threads}");

    // 1. Machinery: build + partition stub + NSGA-II + outputs and checkpoint every generation.
    let machinery: Vec<(&str, Box<dyn AccuracySource>)> = if part("machinery") {
        vec![("none", Box::new(NoAccuracy)), ("toy accuracy", Box::new(Toy))]
    } else {
        Vec::new()
    };
    for (label, acc) in machinery {
        let mut acc = acc;
        let cfg = config("machinery", 168, pop, gens);
        let t = Instant::now();
        let s = search::run(&cfg, &Stub { budget: 168 }, acc.as_mut(), &mut ())?;
        let dt = t.elapsed().as_secs_f64();
        let n = (pop * (gens + 1)) as f64;
        println!(
            "machinery ({label}, stub hardware): {pop}x{gens} in {:.3} s = {:.1} us per candidate \
             ({} evaluated, {} cache hits)",
            dt,
            dt / n * 1e6,
            s.last.hw_evaluations,
            s.last.cache_hits
        );
        let _ = std::fs::remove_dir_all(&cfg.out);
    }

    let ev = search::search_evaluator(HwConfig::embedded_default(), 168, 64, Effort::Fast)?;
    if part("hardware") {
        // 2. Real hardware evaluation per candidate, one thread, random subnets.
        let mut rng = Xoshiro256::seed(7);
        let samples = if full { 60 } else { 3 };
        let mut times = Vec::with_capacity(samples);
        let mut feasible = 0;
        for _ in 0..samples {
            let g = genome_ops::random_genome(&mut rng);
            let net = ofa::build(&g, 64, 10)?;
            let t = Instant::now();
            let e = HwObjective::evaluate(&ev, &net)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            feasible += e.feasible as usize;
        }
        times.sort_by(f64::total_cmp);
        println!(
            "hardware evaluation (compile pipeline, fast effort, 168 crossbars, 1 thread): median {:.1} ms, \
             min {:.1} ms, max {:.1} ms over {samples} random subnets ({feasible} feasible)",
            times[samples / 2],
            times[0],
            times[samples - 1]
        );
    }
    if part("search") {
        // 3. A whole hardware-only search on the real pipeline.
        let cfg = config("full", 168, pop, gens);
        let t = Instant::now();
        let s = search::run(&cfg, &ev, &mut NoAccuracy, &mut ())?;
        let dt = t.elapsed().as_secs_f64();
        println!(
            "search --accuracy none --budget 168, {pop}x{gens}, real pipeline, {threads} threads: {:.1} s \
             ({} evaluated, {} cache hits, {:.1} ms per evaluated candidate wall), best speed-up {:.2}x",
            dt,
            s.last.hw_evaluations,
            s.last.cache_hits,
            dt / s.last.hw_evaluations.max(1) as f64 * 1e3,
            s.last.best_speedup.unwrap_or(0.0)
        );
        let _ = std::fs::remove_dir_all(&cfg.out);
    }
    if part("objectives") {
        // 4. Three objectives: `rnc search --objectives accuracy,speedup,energy --accuracy predictor`.
        let cfg = SearchConfig {
            energy: true,
            ..config("objectives", 168, pop, gens)
        };
        let mut acc = rnc::accuracy::predictor::PredictorSource::new(None)?;
        let t = Instant::now();
        let s = search::run(&cfg, &ev, &mut acc, &mut ())?;
        let dt = t.elapsed().as_secs_f64();
        println!(
            "search --objectives accuracy,speedup,energy --accuracy predictor --budget 168, {pop}x{gens}, \
             real pipeline, {threads} threads: {:.1} s (goal 60 s; {} evaluated, {} cache hits), front {}, \
             best speed-up {:.2}x, best accuracy {:.4}, least energy {:.3} uJ",
            dt,
            s.last.hw_evaluations,
            s.last.cache_hits,
            s.last.front_size,
            s.last.best_speedup.unwrap_or(0.0),
            s.last.best_accuracy.unwrap_or(0.0),
            s.last.best_energy_nj.unwrap_or(0.0) / 1e3
        );
        let _ = std::fs::remove_dir_all(&cfg.out);
    }
    Ok(())
}
