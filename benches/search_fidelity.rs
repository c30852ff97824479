//! How well the search's fast effort predicts what the compiler reaches at default effort,
//! under the compiler's defaults (physical rules, depthwise mapping and depth split chosen
//! per candidate): random OFA subnets at 168 crossbars (64x64 input, 128x128 crossbars,
//! 8 samples), each mapped at fast effort (what `rnc search` scores) and at default effort
//! (what `rnc compile` gives and the search re-maps its final front with). Prints the median
//! ratio fast / default speed-up, Spearman's rank correlation, and the fast effort's time per
//! candidate on one thread.
//!
//! `cargo bench --bench search_fidelity` runs 200 subnets (about 30 min of CPU for the
//! default-effort side); `-- --n N` fewer; `-- --cache FILE` keeps the default-effort figures
//! in FILE (one line per subnet) and reuses them on the next run. `cargo test --all-targets`
//! runs it on 2 subnets as a smoke test; `-- --splits 8,16` (or `all`) scores fast effort with
//! other depth splits than the search's.

use rayon::prelude::*;
use rnc::api::{self, Target};
use rnc::compile::Effort;
use rnc::hardware::HwConfig;
use rnc::network::ofa::{self, Genome};
use rnc::search::{self, HwObjective, genome_ops, rng::Xoshiro256};
use std::collections::HashMap;
use std::time::Instant;

const BUDGET: usize = 168;
const INPUT: usize = 64;

fn spearman(a: &[f64], b: &[f64]) -> f64 {
    fn ranks(x: &[f64]) -> Vec<f64> {
        let mut idx: Vec<usize> = (0..x.len()).collect();
        idx.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
        let mut r = vec![0.0; x.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
                j += 1;
            }
            // Ties share their mean rank.
            for &k in &idx[i..=j] {
                r[k] = (i + j) as f64 / 2.0;
            }
            i = j + 1;
        }
        r
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

fn median(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    let n = x.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        x[n / 2]
    } else {
        (x[n / 2 - 1] + x[n / 2]) / 2.0
    }
}

fn key(g: &Genome) -> String {
    serde_json::to_string(&g.canonical()).unwrap_or_default()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let n: usize = match value("--n") {
        Some(v) => v.parse()?,
        None if full => 200,
        None => 2,
    };
    let cache_path = value("--cache").map(std::path::PathBuf::from);
    let csv_path = value("--csv").map(std::path::PathBuf::from);

    let mut rng = Xoshiro256::seed(2024);
    let genomes: Vec<Genome> = (0..n).map(|_| genome_ops::random_genome(&mut rng)).collect();
    let nets = genomes
        .iter()
        .map(|g| ofa::build(g, INPUT, 10).map_err(anyhow::Error::from))
        .collect::<anyhow::Result<Vec<_>>>()?;

    // Default effort as `rnc compile` maps them (the cache keeps these between runs).
    let mut cached: HashMap<String, f64> = HashMap::new();
    if let Some(p) = &cache_path
        && let Ok(text) = std::fs::read_to_string(p)
    {
        for line in text.lines() {
            if let Some((k, v)) = line.rsplit_once('\t') {
                cached.insert(k.to_string(), v.parse()?);
            }
        }
    }
    let mut ev = search::search_evaluator(HwConfig::embedded_default(), BUDGET, INPUT, Effort::Fast)?;
    if let Some(s) = value("--splits") {
        // Other fast-effort splits than the search's (`all` = every split), to compare.
        let splits = if s == "all" {
            None
        } else {
            Some(
                s.split(',')
                    .map(|d| d.trim().parse::<usize>())
                    .collect::<Result<Vec<_>, _>>()?,
            )
        };
        ev = ev.with_fast_splits(splits);
    }
    let target = Target::default_hardware();
    let opts = search::search_options(BUDGET, Effort::Default);
    let t = Instant::now();
    let todo: Vec<usize> = (0..n)
        .filter(|&i| !cached.contains_key(&key(&genomes[i])))
        .collect();
    let done: Vec<(usize, f64)> = todo
        .par_iter()
        .map(|&i| {
            let s = match api::map_best(&nets[i], &target, &opts) {
                Ok(c) => ev.baseline().latency_ns / c.sim.latency_ns,
                Err(_) => 0.0,
            };
            (i, s)
        })
        .collect();
    let default_secs = t.elapsed().as_secs_f64();
    for &(i, s) in &done {
        cached.insert(key(&genomes[i]), s);
    }
    if let Some(p) = &cache_path {
        let mut lines: Vec<String> = cached.iter().map(|(k, v)| format!("{k}\t{v}")).collect();
        lines.sort();
        std::fs::write(p, lines.join("\n") + "\n")?;
    }
    let default: Vec<f64> = genomes.iter().map(|g| cached[&key(g)]).collect();

    // Fast effort as the search scores candidates, timed on one thread.
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let mut fast = Vec::with_capacity(n);
    let mut times = Vec::with_capacity(n);
    one.install(|| -> anyhow::Result<()> {
        for net in &nets {
            let t = Instant::now();
            let e = HwObjective::evaluate(&ev, net)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            fast.push(e);
        }
        Ok(())
    })?;

    if let Some(p) = &csv_path {
        let mut t = String::from("genome,fast_speedup,fast_ms,default_speedup\n");
        for i in 0..n {
            t.push_str(&format!(
                "\"{}\",{},{},{}\n",
                key(&genomes[i]).replace('"', "\"\""),
                fast[i].speedup,
                times[i],
                default[i]
            ));
        }
        std::fs::write(p, t)?;
    }
    let both: Vec<(f64, f64)> = fast
        .iter()
        .zip(&default)
        .filter(|(f, d)| f.feasible && **d > 0.0)
        .map(|(f, d)| (f.speedup, *d))
        .collect();
    let (fs, ds): (Vec<f64>, Vec<f64>) = both.iter().copied().unzip();
    let ratio = median(both.iter().map(|(f, d)| f / d).collect());
    let rho = spearman(&fs, &ds);
    let mean_ms = times.iter().sum::<f64>() / times.len().max(1) as f64;
    println!(
        "search fidelity, {n} random OFA subnets at {BUDGET} crossbars ({} feasible at both efforts, {} default-effort maps in {:.0} s):",
        both.len(),
        done.len(),
        default_secs
    );
    println!(
        "  median speed-up fast / default effort: {:.3}  (median fast {:.2}x, median default {:.2}x)",
        ratio,
        median(fs.clone()),
        median(ds.clone())
    );
    println!("  Spearman rank correlation fast vs default: {rho:.3}");
    println!(
        "  fast effort per candidate (1 thread): median {:.2} ms, mean {:.2} ms, max {:.2} ms",
        median(times.clone()),
        mean_ms,
        times.iter().copied().fold(0.0, f64::max)
    );
    Ok(())
}
