//! Contention-free mapping on the ideal timeline.
//!
//! For N samples the contention-free schedule C(s,i) = max(C(s,preds), C(s−1,i)) + t_i fixes
//! when every layer runs. Two layers whose runs never overlap in that schedule may share a
//! crossbar for free: the event simulation then starts every execution at its contention-free
//! time, so the latency is the ideal one. In a short batch the first layers are done before
//! the last ones start (squeezenet1_1 at 8 samples: layer 0 finishes before layer 13 begins),
//! and behind the bottleneck every layer runs at one period, so light layers also interleave
//! by phase. [`ContentionFree::map`] packs under that rule (no per-crossbar time budget is needed) and spends
//! the room it leaves on copies that lower the ideal latency.

use super::{MapTask, Mapper, Mapping};
use crate::duplicate;
use crate::pack::strategies::Order;
use crate::pack::{Packing, Rules};

/// Busy intervals [start, end) of every layer in the contention-free schedule, by sample.
pub fn busy(times: &[f64], preds: &[Vec<usize>], samples: usize) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![Vec::with_capacity(samples); times.len()];
    crate::simulate::contention_free(times, preds, samples, |i, start, end| {
        runs[i].push((start, end));
    });
    runs
}

/// Whether two layers' runs never overlap (touching ends do not: the simulator frees a
/// crossbar and starts the next execution at the same instant). Both lists are sorted.
fn apart(a: &[(f64, f64)], b: &[(f64, f64)]) -> bool {
    // Slack for the rounding of sums taken in different orders.
    const EPS: f64 = 1e-6;
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        if x.0 < y.1 - EPS && y.0 < x.1 - EPS {
            return false;
        }
        if x.1 <= y.1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    true
}

/// Which pairs of layers overlap in time (a layer never conflicts with itself: one activation
/// drives all of its tiles on a crossbar).
pub fn conflicts(times: &[f64], preds: &[Vec<usize>], samples: usize) -> Vec<Vec<bool>> {
    let runs = busy(times, preds, samples);
    let n = times.len();
    // Proving that two interleaved layers never meet costs a pass over every sample; beyond a
    // short batch only whole runs that do not overlap count (fewer pairs, never a wrong one).
    let exact = samples <= EXACT_SAMPLES;
    let span = |r: &[(f64, f64)]| [(r[0].0, r[r.len() - 1].1)];
    let mut c = vec![vec![false; n]; n];
    for i in 0..n {
        for j in i + 1..n {
            let v = if samples == 0 {
                false
            } else if exact {
                !apart(&runs[i], &runs[j])
            } else {
                !apart(&span(&runs[i]), &span(&runs[j]))
            };
            c[i][j] = v;
            c[j][i] = v;
        }
    }
    c
}

/// Batches up to this many samples get the exact conflict test (see [`conflicts`]).
pub const EXACT_SAMPLES: usize = 256;

/// Inputs of [`ContentionFree::map`].
pub struct ContentionFree<'a> {
    /// Its rules' per-crossbar time budget makes no sense here and is ignored.
    pub task: MapTask<'a>,
}

/// [`ContentionFree::map`] as a [`Mapper`]; none without a budget.
pub struct ContentionFreeMapper;

impl Mapper for ContentionFreeMapper {
    fn name(&self) -> &'static str {
        "contention free"
    }

    fn map(&self, task: &MapTask) -> anyhow::Result<Vec<Mapping>> {
        if task.budget == 0 {
            return Ok(Vec::new());
        }
        super::to_mappings(task.part, ContentionFree { task: *task }.map())
    }
}

impl ContentionFree<'_> {
    fn times(&self, copies: &[u64]) -> Vec<f64> {
        duplicate::times(self.task.timings, copies)
    }

    fn ideal(&self, copies: &[u64]) -> f64 {
        crate::simulate::ideal_latency(&self.times(copies), self.task.preds, self.task.samples)
    }

    /// Packs `copies` without time conflicts, trying a few orders; the first that fits.
    pub fn try_pack(&self, copies: &[u64]) -> Option<Packing> {
        if self.task.cancelled() {
            return None;
        }
        let times = self.times(copies);
        let items = super::items(self.task.part, copies, &times);
        let conflict = conflicts(&times, self.task.preds, self.task.samples);
        let rules = Rules {
            time_budget_ns: None,
            ..self.task.pack.rules
        };
        // Layers that overlap many others are the hard ones: they go first.
        let degree: Vec<usize> = conflict
            .iter()
            .map(|r| r.iter().filter(|&&c| c).count())
            .collect();
        // Sorted orders by area, rows, columns and longer side, most-conflicted first, and
        // last "scarce first".
        (0..6).find_map(|key| {
            let order = if key != 4 {
                let by = if key == 5 {
                    Order::ScarceFirst
                } else {
                    Order::ALL[key]
                };
                crate::pack::strategies::sorted_order(&items, by)
            } else {
                let mut o: Vec<usize> = (0..items.len()).collect();
                o.sort_by(|&a, &b| {
                    let (x, y) = (&items[a], &items[b]);
                    (degree[y.layer], y.cells())
                        .cmp(&(degree[x.layer], x.cells()))
                        .then(a.cmp(&b))
                });
                o
            };
            crate::pack::strategies::greedy_where(
                &items,
                self.task.part.options.xbar,
                &rules,
                &order,
                self.task.budget,
                |bin, it| !bin.layers.iter().any(|&l| conflict[l][it.layer]),
            )
        })
    }

    /// Copies of `base` raised, for every layer, to √(λ·t_i(1)/cells_i) (the split of area
    /// that minimises Σ t_i), within its useful copies.
    fn with(&self, base: &[u64], lambda: f64) -> Vec<u64> {
        base.iter()
            .zip(self.task.timings)
            .map(|(&x, t)| {
                let want = (lambda * t.time(1) / t.cells.max(1) as f64).sqrt().floor() as u64;
                x.max(want.min(t.max_copies()))
            })
            .collect()
    }

    /// The next copy count of layer i that shortens it (a copy that changes no tile's
    /// activations changes nothing).
    fn step(&self, copies: &[u64], i: usize) -> Option<Vec<u64>> {
        let mut c = copies.to_vec();
        c[i] = self.task.timings[i].next_faster(copies[i])?;
        Some(c)
    }

    /// The largest λ whose copies for period `p` pack: (ideal latency, copies, packing).
    fn best_at(&self, p: f64, iters: usize) -> Option<(f64, Vec<u64>, Packing)> {
        let base = duplicate::copies_for_period(self.task.timings, p)?;
        let mut best = None;
        // Log-space bisection: λ → 0 adds nothing to the period's copies, λ → ∞ caps them all.
        let (mut lo, mut hi) = ((1e-9f64).ln(), (1e12f64).ln());
        for _ in 0..iters {
            let mid = 0.5 * (lo + hi);
            let c = self.with(&base, mid.exp());
            match self.try_pack(&c) {
                Some(pk) => {
                    lo = mid;
                    let l = self.ideal(&c);
                    if best.as_ref().is_none_or(|b: &(f64, Vec<u64>, Packing)| l < b.0) {
                        best = Some((l, c, pk));
                    }
                }
                None => hi = mid,
            }
        }
        best
    }

    /// A contention-free mapping: the least period whose copies pack without time conflicts
    /// (bisection), then for that period and a few larger ones the most copies for the other
    /// layers that still pack, then single copies where they lower the ideal latency most per
    /// cell. Its simulated latency equals its ideal latency. None if not even one copy of
    /// every layer packs.
    pub fn map(&self) -> Option<(Vec<u64>, Packing)> {
        let ones = vec![1u64; self.task.timings.len()];
        let first = self.try_pack(&ones)?;
        let (mut lo, mut hi) = (
            duplicate::min_period(self.task.timings),
            duplicate::period(self.task.timings, &ones),
        );
        let mut best = (self.ideal(&ones), ones, first);
        while hi - lo > hi * 1e-3 {
            let mid = 0.5 * (lo + hi);
            let Some(c) = duplicate::copies_for_period(self.task.timings, mid) else {
                lo = mid;
                continue;
            };
            match self.try_pack(&c) {
                Some(p) => {
                    hi = duplicate::period(self.task.timings, &c);
                    best = (self.ideal(&c), c, p);
                }
                None => lo = mid,
            }
        }
        let steps = self.task.steps();
        let (periods, iters, width) = (steps.free_periods, steps.free_iterations, steps.free_width);
        use rayon::prelude::*;
        let at: Vec<_> = (0..periods)
            .into_par_iter()
            .map(|k| self.best_at(hi * (1.0 + 0.05 * k as f64), iters))
            .collect();
        // In order, strictly better only: the same result at any thread count.
        for b in at.into_iter().flatten() {
            if b.0 < best.0 {
                best = b;
            }
        }
        let (mut lat, mut copies, mut packing) = best;
        loop {
            let mut moves: Vec<(f64, usize, Vec<u64>)> = (0..copies.len())
                .filter_map(|i| {
                    let c = self.step(&copies, i)?;
                    let gain = lat - self.ideal(&c);
                    let cells = (self.task.timings[i].cells * (c[i] - copies[i])).max(1) as f64;
                    (gain > 1e-9).then_some((gain / cells, i, c))
                })
                .collect();
            moves.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let Some((c, p)) = moves
                .into_iter()
                .take(width)
                .find_map(|(_, _, c)| self.try_pack(&c).map(|p| (c, p)))
            else {
                break;
            };
            lat = self.ideal(&c);
            copies = c;
            packing = p;
        }
        Some((copies, packing))
    }
}
