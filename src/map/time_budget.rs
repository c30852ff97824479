//! Time-budgeted packing: copies for a period P on crossbars that each carry at most P of
//! work per sample, then a copies search around the best.

use super::{MapTask, Mapper, Mapping, Raw, items, run_sim};
use crate::duplicate::{self, LayerTiming};
use crate::pack::{self, Item, Packing, Rules};
use crate::rng::SplitMix64;

/// [`contention_aware`] at headroom 1.
pub struct TimeBudget;

impl Mapper for TimeBudget {
    fn name(&self) -> &'static str {
        "time budget"
    }

    fn map(&self, task: &MapTask) -> anyhow::Result<Vec<Mapping>> {
        super::to_mappings(task.part, contention_aware(task, 1.0)?)
    }
}

type Packer = fn(&[Item], crate::partition::Crossbar, &Rules, usize) -> Option<Packing>;

/// Contention-aware duplication and placement.
///
/// For a target period P every layer needs x_i(P) copies, and tiles are packed so that no
/// crossbar carries more than P of work per sample (time is a third packing dimension).
/// Latency over N samples is about Σ t_i + (N−1)·P, so beyond reaching P the spare area buys
/// more copies where they cut Σ t_i most per cell: minimising Σ c_i/x_i under Σ a_i·x_i ≤ A
/// gives x_i ∝ √(c_i/a_i), scaled by λ. The search finds the least feasible P, then for a few
/// periods above it the largest λ that still packs; every feasible mapping met is simulated
/// and the lowest simulated latency wins.
///
/// With `headroom` h > 1 every layer gets the copies of period P/h while crossbars may carry
/// P: each layer then takes at most 1/h of its crossbars' time, so a crossbar can host it
/// beside others instead of being filled in time by one layer and empty in area. Which h
/// wins differs from budget to budget, so [`super::auto`] tries several.
pub(super) fn contention_aware(task: &MapTask, headroom: f64) -> anyhow::Result<Vec<Raw>> {
    let tb = Budgeted::new(task, headroom);
    let timings = task.timings;
    let t1 = duplicate::period(timings, &vec![1; timings.len()]);
    let lo0 = duplicate::min_period(timings).max(if task.find_solution {
        0.0
    } else {
        tb.work / task.budget as f64
    });
    let mut hi = t1.max(lo0);
    let mut best: Option<Candidate> = None;
    // Find a feasible upper end: the time budget may need to exceed the slowest layer.
    for _ in 0..40 {
        if let Some(r) = tb.attempt(hi, 0.0) {
            best = Some(r);
            break;
        }
        hi *= 1.5;
    }
    let Some(mut best) = best else {
        // Contention-aware packing impossible: fall back to the plain area duplication.
        return Ok(vec![super::area::area(task)?]);
    };
    let steps = if headroom > 1.0 {
        task.steps().time_budget_headroom
    } else {
        task.steps().time_budget
    };
    // 1. Least feasible period with the least copies.
    let mut lo = lo0.min(hi);
    for _ in 0..steps.period_iterations {
        if hi - lo <= hi * 1e-3 {
            break;
        }
        let mid = 0.5 * (lo + hi);
        match tb.attempt(mid, 0.0) {
            Some(r) => {
                hi = mid;
                keep(r, &mut best);
            }
            None => lo = mid,
        }
    }
    // 2. For periods at and above it, as many extra copies as still pack.
    for &f in steps.periods {
        tb.most_copies(hi * f, steps.lambda_iterations, &mut best);
    }
    // 3. Copies-space local search from the best: one layer's copies up or down by about an
    //    eighth, one up and another down, or the time budget P nudged; each candidate is
    //    packed afresh with the winning packer variant and simulated, and kept when no
    //    slower. The bisections above move every layer at once; this finds per-layer
    //    balances they cannot express. Evaluations shrink with the square of the tile
    //    copies (packing scans every crossbar per tile), so large networks get few.
    let tile_copies: f64 = best
        .copies
        .iter()
        .zip(timings)
        .map(|(&x, t)| (x as usize * t.tiles.len()) as f64)
        .sum();
    let evals = (task.steps().tune_scale / tile_copies.powi(2)).min(task.steps().tune_cap) as usize;
    let seed = task.pack.seed ^ 0x7153_c0de_u64.wrapping_mul(headroom.to_bits());
    let tuned = tune_copies(&best, timings, evals, seed, |c: &[u64], p: f64, v: &[usize]| {
        tb.place(c, p, v)
    });
    // Both ends: the search's start often refines further (in `auto`) than its end.
    let mut out = vec![(best.copies, best.packing)];
    out.extend(tuned.map(|t| (t.copies, t.packing)));
    Ok(out)
}

/// Keeps `r` when it simulates faster than `best`.
fn keep(r: Candidate, best: &mut Candidate) {
    if r.latency_ns < best.latency_ns {
        *best = r;
    }
}

/// The packer variants: (packer, heavy-layer exclusivity as a fraction of P, window).
const VARIANTS: [(Packer, Option<f64>, Option<usize>); 8] = [
    (pack::strategies::local as Packer, None, None),
    (pack::timed, None, None),
    (pack::strategies::local, Some(0.3), None),
    (pack::strategies::local, None, Some(1)),
    (pack::strategies::local, None, Some(2)),
    (pack::strategies::local, None, Some(3)),
    (pack::strategies::local, None, Some(5)),
    (pack::strategies::local, None, Some(8)),
];

/// One [`contention_aware`] run: the task at a headroom, with what every attempt needs.
struct Budgeted<'a> {
    task: &'a MapTask<'a>,
    headroom: f64,
    /// Crossbars a packing may open.
    cap: usize,
    budget_cells: u64,
    /// Work conservation: the crossbar-time of all layers is at least Σ_tiles τ·cycles.
    work: f64,
    max_cycles: Vec<f64>,
}

impl<'a> Budgeted<'a> {
    fn new(task: &'a MapTask<'a>, headroom: f64) -> Self {
        let timings = task.timings;
        Budgeted {
            task,
            headroom,
            cap: if task.find_solution {
                usize::MAX
            } else {
                task.budget
            },
            budget_cells: task.budget as u64 * task.part.options.xbar.cells(),
            work: timings
                .iter()
                .flat_map(|t| t.tiles.iter())
                .map(|&(tau, c)| tau * c as f64)
                .sum(),
            max_cycles: timings.iter().map(|t| t.max_copies() as f64).collect(),
        }
    }

    /// Packs `copies` with every crossbar carrying at most `p` per sample, with the given
    /// variants; the fastest simulated packing and its variant.
    fn place(&self, copies: &[u64], p: f64, variants: &[usize]) -> Option<(Packing, f64, usize)> {
        let task = self.task;
        if task.cancelled() {
            return None;
        }
        if !task.find_solution && duplicate::cells(task.timings, copies) > self.budget_cells {
            return None;
        }
        let times = duplicate::times(task.timings, copies);
        let it = items(task.part, copies, &times);
        let mut best: Option<(Packing, f64, usize)> = None;
        for &v in variants {
            let (packer, excl, window) = VARIANTS[v];
            let rules = Rules {
                time_budget_ns: Some(p),
                exclusive_ns: excl.map(|f| f * p),
                window,
                ..task.pack.rules
            };
            let Some(packing) = packer(&it, task.part.options.xbar, &rules, self.cap) else {
                continue;
            };
            let sim = run_sim(&it, &packing, &times, task.preds, task.samples, false).ok()?;
            if best.as_ref().is_none_or(|b| sim.latency_ns < b.1) {
                best = Some((packing, sim.latency_ns, v));
            }
        }
        best
    }

    /// The copies of period p / headroom, raised to √(λ·c_i/a_i), placed by every variant.
    fn attempt(&self, p: f64, lambda: f64) -> Option<Candidate> {
        let timings = self.task.timings;
        let mut copies = duplicate::copies_for_period(timings, p / self.headroom)?;
        if lambda > 0.0 {
            for (i, x) in copies.iter_mut().enumerate() {
                let t = &timings[i];
                let want = (lambda * self.max_cycles[i] / t.cells.max(1) as f64)
                    .sqrt()
                    .round() as u64;
                *x = (*x).max(want.min(t.max_copies()));
                // Each copy's tiles need distinct crossbars.
                let per_copy = t.tiles.len() as u64;
                if *x * per_copy > self.cap as u64 {
                    *x = (self.cap as u64 / per_copy).max(1);
                }
            }
            if copies.iter().zip(timings).any(|(&x, t)| t.time(x) > p) {
                return None;
            }
        }
        let all: Vec<usize> = (0..VARIANTS.len()).collect();
        let (packing, lat, variant) = self.place(&copies, p, &all)?;
        Some(Candidate {
            copies,
            packing,
            latency_ns: lat,
            time_budget_ns: p,
            variant,
        })
    }

    /// At period `p`, the largest λ whose copies still pack (λ grown ×4, then bisected in
    /// log space); every mapping met is kept in `best` when faster.
    fn most_copies(&self, p: f64, iterations: usize, best: &mut Candidate) {
        // λ such that the copies would fill the budget's area if unconstrained.
        let (mut l_lo, mut l_hi) = (0.0f64, 0.0f64);
        let mut l = 1.0f64;
        for _ in 0..60 {
            match self.attempt(p, l) {
                Some(r) => {
                    l_lo = l;
                    keep(r, best);
                    l *= 4.0;
                }
                None => {
                    l_hi = l;
                    break;
                }
            }
        }
        if l_hi == 0.0 {
            return;
        }
        for _ in 0..iterations {
            let mid = if l_lo == 0.0 {
                l_hi / 4.0
            } else {
                (l_lo * l_hi).sqrt()
            };
            if l_hi / mid.max(1e-300) < 1.02 {
                break;
            }
            match self.attempt(p, mid) {
                Some(r) => {
                    l_lo = mid;
                    keep(r, best);
                }
                None => l_hi = mid,
            }
        }
    }
}

/// The copies-space local search of [`contention_aware`]: `evals` random tweaks of `start`
/// (see there), each placed by `place` with the winning packer variant; the best mapping
/// found, or None when no tweak was kept.
fn tune_copies(
    start: &Candidate,
    timings: &[LayerTiming],
    evals: usize,
    seed: u64,
    place: impl Fn(&[u64], f64, &[usize]) -> Option<(Packing, f64, usize)>,
) -> Option<Candidate> {
    let mut rng = SplitMix64::new(seed);
    let mut best: Option<Candidate> = None;
    for _ in 0..evals {
        let cur = best.as_ref().unwrap_or(start);
        let mut copies = cur.copies.clone();
        let mut p = cur.time_budget_ns;
        let i = rng.below(copies.len());
        let step = (copies[i] / 8).max(1);
        match rng.below(6) {
            0 | 1 => copies[i] = (copies[i] + step).min(timings[i].max_copies()),
            2 => copies[i] = copies[i].saturating_sub(step).max(1),
            3 | 4 => {
                // A trade: this layer up, another down (roughly area-neutral).
                copies[i] = (copies[i] + step).min(timings[i].max_copies());
                let j = rng.below(copies.len());
                if j != i {
                    copies[j] = copies[j].saturating_sub((copies[j] / 8).max(1)).max(1);
                }
            }
            _ => p *= if rng.below(2) == 0 { 0.96 } else { 1.04 },
        }
        if copies == cur.copies && p == cur.time_budget_ns {
            continue;
        }
        if let Some((packing, lat, variant)) = place(&copies, p, &[cur.variant])
            && lat <= cur.latency_ns
        {
            best = Some(Candidate {
                copies,
                packing,
                latency_ns: lat,
                time_budget_ns: p,
                variant,
            });
        }
    }
    best
}

/// A contention-aware mapping with what made it: the per-crossbar time budget and the
/// packer variant.
struct Candidate {
    copies: Vec<u64>,
    packing: Packing,
    latency_ns: f64,
    time_budget_ns: f64,
    variant: usize,
}
