//! `--duplicate auto`: a portfolio of the contention-aware mappers. Every mapper the effort
//! allows runs side by side on the rayon pool, each result also through
//! [`fill_spare`]; the candidates are ranked by simulated latency (or efficiency under a
//! floor), and the best few go through the [`local_search`](super::local_search) in
//! parallel. Candidates keep a fixed order, so the thread count never changes the result.

use super::contention_free::ContentionFree;
use super::fill_spare::fill_spare;
use super::local_search::{LocalSearch, rank};
use super::{Cancelled, MapTask, Mapper, Mapping, Raw, private, spread, stages, time_budget};
use rayon::prelude::*;

/// The portfolio.
pub struct Auto;

impl Mapper for Auto {
    fn name(&self) -> &'static str {
        "auto"
    }

    fn map(&self, task: &MapTask) -> anyhow::Result<Vec<Mapping>> {
        super::to_mappings(task.part, [auto(task)?])
    }
}

/// (rank, efficiency, mapping) of a simulated candidate.
type Ranked = ((f64, f64), f64, Raw);

/// Every mapper's candidates, in a fixed order.
fn candidates(task: &MapTask) -> anyhow::Result<Vec<Raw>> {
    let portfolio = task.steps().portfolio;
    // The mappers are independent: run them side by side (the candidates keep their order,
    // so the result does not depend on the thread count).
    // The contention-free mapper runs beside the others (it is one of the slowest).
    let free = || match portfolio && task.budget > 0 {
        true => ContentionFree { task: *task }.map(),
        false => None,
    };
    let (((pr, st), (sp, ca)), cf) = rayon::join(
        || {
            rayon::join(
                || {
                    rayon::join(
                        || private::private(task),
                        || match portfolio {
                            false => Ok(None),
                            true => stages::staged(task),
                        },
                    )
                },
                || {
                    rayon::join(
                        || spread::spread(task),
                        || -> anyhow::Result<Vec<Vec<Raw>>> {
                            task.steps()
                                .headrooms
                                .par_iter()
                                .map(|&h| time_budget::contention_aware(task, h))
                                .collect()
                        },
                    )
                },
            )
        },
        free,
    );
    let mut cands: Vec<Raw> = [pr?, st?, sp?].into_iter().flatten().collect();
    cands.extend(ca?.into_iter().flatten());
    // A mapping without contention at all: latency = ideal latency (too slow for fast effort).
    cands.extend(cf);
    if cands.is_empty() {
        cands.extend(time_budget::contention_aware(task, 1.0)?);
    }
    // Each candidate also with its spare area turned into copies (kept only where the
    // simulation says it is faster: extra copies also add load to shared crossbars). Fast
    // effort too: it costs a few milliseconds and the search's figures follow default
    // effort's far better with it (200 random OFA subnets @168: median fast/default speed-up
    // 0.42 → 0.65, Spearman 0.86 → 0.95; benches/search_fidelity.rs).
    // Not where fast effort only ranks layouts for a longer run: there the unfilled mappings'
    // ideal latencies rank them better (filled, mbv3-small @168 picks D = 16 at 48.7×
    // instead of D = 8 at 59.6×).
    if !portfolio && !task.fast_fill {
        return Ok(cands);
    }
    let filled: Vec<_> = cands
        .par_iter()
        .map(|(c, p)| fill_spare(task.part, task.timings, c, p, &task.pack.rules, task.budget))
        .collect();
    cands.extend(filled);
    Ok(cands)
}

/// The candidates simulated and sorted by rank (stable: equal ranks keep their order).
fn ranked(task: &MapTask, cands: Vec<Raw>) -> anyhow::Result<Vec<Ranked>> {
    // Below the efficiency floor a mapping only wins when none reaches it (then the most
    // efficient one does).
    let mut ranked: Vec<Ranked> = Vec::with_capacity(cands.len());
    for (copies, packing) in cands {
        let sim = task.simulate(&copies, &packing)?;
        let eff = sim.contention_efficiency();
        ranked.push((rank(&sim, task.min_efficiency), eff, (copies, packing)));
    }
    ranked.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    Ok(ranked)
}

/// The local search's starts: the best few and the most efficient. Which start leads
/// furthest differs from network to network (an efficient start often ends faster than the
/// fastest start).
fn starts(task: &MapTask, ranked: &[Ranked]) -> Vec<usize> {
    let mut starts: Vec<usize> = (0..ranked.len().min(task.steps().refine_top)).collect();
    let most_efficient = (0..ranked.len())
        .max_by(|&a, &b| ranked[a].1.total_cmp(&ranked[b].1).then(b.cmp(&a)))
        .unwrap_or(0);
    if !starts.contains(&most_efficient) {
        starts.push(most_efficient);
    }
    starts
}

/// Local-search moves per start: in inverse proportion to what one costs (a simulation of
/// every tile copy and sample plus placement scans, which grow faster than linearly), so the
/// pass costs about the same whatever the network. Sized on the best start, the same for
/// every start.
fn moves(task: &MapTask, best: &Raw) -> usize {
    let per_move = (best.1.placements.len() * task.samples.max(1)).max(1) as f64;
    let s = task.steps();
    let (lo, hi) = s.refine_range;
    task.refine_moves
        .unwrap_or((s.refine_work / per_move.powf(1.5)).clamp(lo, hi) as usize)
}

/// The chain schedule's precedence on `n` layers: each waits for the previous one.
fn chain_preds(n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
        .collect()
}

/// The best of the contention-aware strategies by simulated latency.
fn auto(task: &MapTask) -> anyhow::Result<Raw> {
    // Under the DAG, the chain's contention-free mapping is one more start (see below).
    let chain = chain_preds(task.preds.len());
    let chain_task = MapTask {
        preds: &chain,
        ..*task
    };
    let via_chain = task.steps().portfolio && task.budget > 0 && task.preds != chain.as_slice();
    let (cands, chain_start) = rayon::join(
        || candidates(task),
        || match via_chain {
            true => ContentionFree { task: chain_task }.map(),
            false => None,
        },
    );
    let cands = cands?;
    if task.cancelled() {
        return Err(Cancelled.into());
    }
    let mut ranked = ranked(task, cands)?;
    if ranked.is_empty() {
        anyhow::bail!("no contention-aware mapping fits");
    }
    if !task.steps().portfolio {
        return Ok(ranked.swap_remove(0).2);
    }
    let starts = starts(task, &ranked);
    let r = LocalSearch {
        task: *task,
        min_efficiency: task.min_efficiency,
    };
    let moves = moves(task, &ranked[0].2);
    // The chain's precedence only adds constraints to the DAG's, so a mapping made for the
    // chain is valid under the DAG, and the chain's contention-free mapping refined under
    // the chain often leads further than any DAG start (the chain's schedule is easier to
    // pack around). Its result is then refined under the DAG, which only keeps changes the
    // DAG simulation does not find worse. mbv3-small @168 (D = 8): 791 µs from the DAG
    // starts, 738 µs through the chain, 713 µs after the DAG pass.
    let rc = LocalSearch {
        task: chain_task,
        min_efficiency: task.min_efficiency,
    };
    let mut jobs: Vec<(&Raw, u64, bool)> = starts.iter().map(|&s| (&ranked[s].2, s as u64, false)).collect();
    jobs.extend(chain_start.iter().map(|c| (c, 0, true)));
    let refined: Vec<anyhow::Result<((f64, f64), Raw)>> = jobs
        .par_iter()
        .map(|&((copies, packing), s, via_chain)| {
            let seed = task.pack.seed.wrapping_add(s);
            let m = match via_chain {
                false => r.run(copies, packing, moves, seed),
                true => {
                    let m = rc.run(copies, packing, moves, seed);
                    r.run(&m.0, &m.1, moves, seed ^ 1)
                }
            };
            let sim = task.simulate(&m.0, &m.1)?;
            Ok((rank(&sim, task.min_efficiency), m))
        })
        .collect();
    if task.cancelled() {
        return Err(Cancelled.into());
    }
    let mut best: Option<((f64, f64), Raw)> = None;
    for x in refined {
        let (key, m) = x?;
        if best.as_ref().is_none_or(|b| key < b.0) {
            best = Some((key, m));
        }
    }
    best.map(|b| b.1)
        .ok_or_else(|| anyhow::anyhow!("no contention-aware mapping fits"))
}
