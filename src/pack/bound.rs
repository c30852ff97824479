//! Lower bounds on the crossbars a set of tiles needs, to judge a packing against.
//!
//! The area bound ⌈Σ cells / (R·C)⌉ is weak when many tiles are just over half a crossbar
//! wide or tall: two such tiles never share a crossbar, whatever their area. Dual-feasible
//! functions (Fekete and Schepers) capture that: if f maps widths and g maps heights so that
//! any set of widths fitting side by side still fits after mapping, then every packing of
//! tiles (w, h) is also a packing of (f(w), g(h)) into f(C)×g(R), so ⌈Σ f(w)·g(h) / (f(C)·g(R))⌉
//! crossbars are needed. For mobilenetv3-small with both contention rules off this lifts the
//! bound from 102 to 103 crossbars. Contention rules add their own bounds (tiles per crossbar,
//! layers that may not share).

use super::{Item, Rules};
use crate::duplicate::{self, LayerTiming};
use crate::partition::{Crossbar, Partition};
use serde::Serialize;
use std::collections::BTreeMap;

/// A lower bound and what gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    pub crossbars: u64,
    pub reason: &'static str,
}

/// ⌈Σ cells / (R·C)⌉.
pub fn area_bound(items: &[Item], xbar: Crossbar) -> u64 {
    items
        .iter()
        .map(Item::cells)
        .sum::<u64>()
        .div_ceil(xbar.cells().max(1))
}

/// The strongest of the area, dual-feasible-function and rule bounds.
pub fn lower_bound(items: &[Item], xbar: Crossbar, rules: &Rules) -> Bound {
    let mut best = Bound {
        crossbars: area_bound(items, xbar),
        reason: "by area",
    };
    let mut raise = |crossbars: u64, reason| {
        if crossbars > best.crossbars {
            best = Bound { crossbars, reason };
        }
    };
    raise(dff_bound(items, xbar), "by area with tile sides rounded up");
    if rules.max_load > 0 {
        raise(
            (items.len() as u64).div_ceil(rules.max_load as u64),
            "by the max load",
        );
    }
    if rules.layer_threshold >= 0 {
        raise(
            threshold_bound(items, xbar, rules.layer_threshold as usize),
            "by the layer threshold",
        );
    }
    best
}

/// The dual-feasible-function bound: the best over pairs of functions, one per side.
pub fn dff_bound(items: &[Item], xbar: Crossbar) -> u64 {
    if items.is_empty() || xbar.rows == 0 || xbar.cols == 0 {
        return 0;
    }
    // Tiles grouped by shape: a network has a few dozen shapes among hundreds of tiles.
    let mut shapes: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    for it in items {
        *shapes.entry((it.cols, it.rows)).or_default() += 1;
    }
    let widths: Vec<usize> = shapes.keys().map(|&(w, _)| w).collect();
    let heights: Vec<usize> = shapes.keys().map(|&(_, h)| h).collect();
    let counts: Vec<u64> = shapes.values().copied().collect();
    let fw = functions(&widths, xbar.cols as u64);
    let fh = functions(&heights, xbar.rows as u64);
    let mut best = 0;
    for (cw, vw) in &fw {
        for (ch, vh) in &fh {
            let sum: u128 = (0..counts.len())
                .map(|i| counts[i] as u128 * vw[i] as u128 * vh[i] as u128)
                .sum();
            let cap = *cw as u128 * *ch as u128;
            best = best.max(sum.div_ceil(cap) as u64);
        }
    }
    best
}

/// Dual-feasible functions evaluated at `xs` for capacity `cap`, each as (f(cap), f(xs)),
/// scaled to integers, duplicates removed.
fn functions(xs: &[usize], cap: u64) -> Vec<(u64, Vec<u64>)> {
    let mut out: Vec<(u64, Vec<u64>)> = vec![(cap, xs.iter().map(|&x| x as u64).collect())];
    // Small sides vanish, large ones fill the crossbar: at most one side > cap − k fits
    // beside a side ≥ k.
    for k in 1..=cap / 2 {
        let v = xs
            .iter()
            .map(|&x| {
                let x = x as u64;
                if x > cap - k {
                    cap
                } else if x < k {
                    0
                } else {
                    x
                }
            })
            .collect();
        out.push((cap, v));
    }
    // Fekete–Schepers u⁽ᵏ⁾(x) = x if (k+1)·x/cap is whole, else ⌊(k+1)·x/cap⌋·cap/k; times k.
    for k in 1..=cap.min(64) {
        let v = xs
            .iter()
            .map(|&x| {
                let x = x as u64;
                if ((k + 1) * x).is_multiple_of(cap) {
                    k * x
                } else {
                    ((k + 1) * x / cap) * cap
                }
            })
            .collect();
        out.push((k * cap, v));
    }
    out.sort();
    out.dedup();
    out
}

/// Under the layer threshold the tiles of any threshold + 1 consecutive layers pairwise may
/// not share a crossbar: that many crossbars at least, each hosting one of them. The other
/// tiles' area beyond what fits beside those tiles needs further crossbars. What fits beside a
/// tile spanning a whole side is bounded by the strip it leaves (see [`beside`]); resnet18's
/// four 128x10 classifier tiles leave 118-column strips that only 64-column tiles can use,
/// which proves 684 crossbars where the area gives 682.
fn threshold_bound(items: &[Item], xbar: Crossbar, threshold: usize) -> u64 {
    let mut layers: Vec<usize> = items.iter().map(|it| it.layer).collect();
    layers.sort_unstable();
    layers.dedup();
    let cells = xbar.cells().max(1);
    let total: u64 = items.iter().map(Item::cells).sum();
    let mut best = 0;
    for &l in &layers {
        let window = |layer: usize| layer >= l && layer - l <= threshold;
        let clique: Vec<&Item> = items.iter().filter(|it| window(it.layer)).collect();
        let in_clique: u64 = clique.iter().map(|it| it.cells()).sum();
        let mut room = 0u64;
        for j in &clique {
            let fits = items
                .iter()
                .filter(|it| !window(it.layer) && it.layer.abs_diff(j.layer) > threshold);
            room += beside(j, fits, xbar);
        }
        let rest = (total - in_clique).saturating_sub(room);
        best = best.max(clique.len() as u64 + rest.div_ceil(cells));
    }
    best
}

/// At most how many cells of the tiles `others` fit on a crossbar beside `j`.
fn beside<'a>(j: &Item, others: impl Iterator<Item = &'a Item>, xbar: Crossbar) -> u64 {
    let (r, c) = (xbar.rows as u64, xbar.cols as u64);
    let free = r * c - j.cells();
    // A tile as tall as the crossbar leaves an r × w strip (likewise a full-width one). If
    // every tile that fits the strip is wider than half of it, no two sit side by side, so
    // their heights add up to at most r: they cover at most r × (the widest of them).
    let strip = |w: u64, sides: &mut dyn Iterator<Item = (u64, u64)>| -> u64 {
        if w == 0 {
            return 0; // a full tile: no need to look at the others
        }
        let fitting: Vec<u64> = sides.filter(|&(a, _)| a <= w).map(|(a, _)| a).collect();
        match fitting.iter().max() {
            None => 0,
            Some(&widest) if fitting.iter().all(|&a| 2 * a > w) => widest,
            Some(_) => w,
        }
    };
    if j.rows == xbar.rows {
        let w = c - j.cols as u64;
        r * strip(w, &mut others.map(|it| (it.cols as u64, it.rows as u64)))
    } else if j.cols == xbar.cols {
        let h = r - j.rows as u64;
        c * strip(h, &mut others.map(|it| (it.rows as u64, it.cols as u64)))
    } else {
        free
    }
}

/// Per-layer sums over one copy's tiles, for crossbar bounds that need no tiles built.
pub(crate) struct Needs<'a> {
    timings: &'a [LayerTiming],
    xbar: Crossbar,
    rules: Rules,
    /// Per layer, per copy: tiles, tiles over half a crossbar both ways, Σ rows, Σ cols.
    shape: Vec<[u64; 4]>,
    /// The same for the tiles smaller than a whole crossbar, with their cells, and the count
    /// of whole-crossbar tiles (such a tile leaves no room for any other).
    partial: Vec<([u64; 5], u64)>,
}

impl<'a> Needs<'a> {
    pub(crate) fn new(part: &Partition, timings: &'a [LayerTiming], rules: &Rules) -> Needs<'a> {
        let xbar = part.options.xbar;
        let (r, c) = (xbar.rows as u64, xbar.cols as u64);
        let shape = part
            .layers
            .iter()
            .map(|lp| {
                let big = lp
                    .tiles
                    .iter()
                    .filter(|t| 2 * t.rows as u64 > r && 2 * t.cols as u64 > c)
                    .count();
                let rows: usize = lp.tiles.iter().map(|t| t.rows).sum();
                let cols: usize = lp.tiles.iter().map(|t| t.cols).sum();
                [lp.tiles.len() as u64, big as u64, rows as u64, cols as u64]
            })
            .collect();
        let partial = part
            .layers
            .iter()
            .map(|lp| {
                let whole = |t: &&crate::partition::Tile| t.rows == xbar.rows && t.cols == xbar.cols;
                let rest: Vec<_> = lp.tiles.iter().filter(|t| !whole(t)).collect();
                let big = rest
                    .iter()
                    .filter(|t| 2 * t.rows as u64 > r && 2 * t.cols as u64 > c)
                    .count() as u64;
                let sum = |f: &dyn Fn(&crate::partition::Tile) -> u64| rest.iter().map(|t| f(t)).sum::<u64>();
                (
                    [
                        rest.len() as u64,
                        big,
                        sum(&|t| t.rows as u64),
                        sum(&|t| t.cols as u64),
                        sum(&|t| t.cells()),
                    ],
                    (lp.tiles.len() - rest.len()) as u64,
                )
            })
            .collect();
        Needs {
            timings,
            xbar,
            rules: *rules,
            shape,
            partial,
        }
    }

    /// At least how many crossbars any packing of `x` copies needs under the rules, and why:
    /// area; tiles over half a crossbar both ways (never two on one); the max load; the layer
    /// threshold (every tile of threshold + 1 consecutive layers on its own crossbar); and,
    /// with the block-diagonal rule, one layer's tiles on one crossbar using disjoint rows and
    /// columns. Every term grows with every x_i.
    pub(crate) fn crossbars(&self, x: &[u64]) -> (u64, &'static str) {
        let (r, c) = (self.xbar.rows as u64, self.xbar.cols as u64);
        let shape = &self.shape;
        let rules = &self.rules;
        let mut best = (
            duplicate::cells(self.timings, x).div_ceil(self.xbar.cells().max(1)),
            "by area",
        );
        let mut raise = |n: u64, why| {
            if n > best.0 {
                best = (n, why);
            }
        };
        raise(
            shape.iter().zip(x).map(|(s, &k)| s[1] * k).sum(),
            "by tiles over half a crossbar both ways",
        );
        if rules.max_load > 0 {
            raise(
                shape
                    .iter()
                    .zip(x)
                    .map(|(s, &k)| s[0] * k)
                    .sum::<u64>()
                    .div_ceil(rules.max_load as u64),
                "by the max load",
            );
        }
        if rules.layer_threshold >= 0 {
            // Tiles of a sliding window of threshold + 1 layers (all of them if fewer).
            let w = (rules.layer_threshold as usize + 1).min(x.len().max(1));
            let tiles = |i: usize| shape[i][0] * x[i];
            let mut sum: u64 = (0..w.min(x.len())).map(tiles).sum();
            let mut clique = sum;
            for i in w..x.len() {
                sum = sum + tiles(i) - tiles(i - w);
                clique = clique.max(sum);
            }
            raise(clique, "by the layer threshold");
        } else if rules.diagonal {
            let diag = shape
                .iter()
                .zip(x)
                .map(|(s, &k)| (s[2] * k).div_ceil(r.max(1)).max((s[3] * k).div_ceil(c.max(1))))
                .max()
                .unwrap_or(0);
            raise(diag, "by one layer's block diagonal");
        }
        best
    }

    /// At least how many distinct crossbars hold `x` copies of layer `i` (each execution of
    /// the layer holds all of them at once): its area, its tiles over half a crossbar both
    /// ways, its tiles one per crossbar under a layer threshold (a layer is within any
    /// threshold of itself), the max load, and its block diagonals.
    pub(crate) fn hosts(&self, i: usize, x: u64) -> u64 {
        let s = self.shape[i];
        self.hosts_of([s[0], s[1], s[2], s[3], self.timings[i].cells], x)
    }

    /// [`Needs::hosts`] counting only the tiles smaller than a whole crossbar.
    pub(crate) fn hosts_partial(&self, i: usize, x: u64) -> u64 {
        self.hosts_of(self.partial[i].0, x)
    }

    /// Whole-crossbar tiles of one copy of layer i.
    pub(crate) fn whole(&self, i: usize) -> u64 {
        self.partial[i].1
    }

    /// Crossbars holding `x` copies of tiles with sums `s` (tiles, big, rows, cols, cells).
    fn hosts_of(&self, s: [u64; 5], x: u64) -> u64 {
        let (r, c) = (self.xbar.rows as u64, self.xbar.cols as u64);
        let mut k = (s[4] * x).div_ceil(self.xbar.cells().max(1)).max(s[1] * x);
        if self.rules.layer_threshold >= 0 {
            k = k.max(s[0] * x);
        } else if self.rules.diagonal {
            k = k
                .max((s[2] * x).div_ceil(r.max(1)))
                .max((s[3] * x).div_ceil(c.max(1)));
        }
        if self.rules.max_load > 0 {
            k = k.max((s[0] * x).div_ceil(self.rules.max_load as u64));
        }
        k
    }
}

/// The least period any mapping into a budget can reach, and the area its least copies fill.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PeriodBound {
    /// No mapping into the budget has a slowest layer faster than this (ns).
    pub period_ns: f64,
    /// Cells of the least copies for that period: the most any mapping that keeps "least
    /// area at equal period" (SPEC §6) can fill; more only with copies that leave the period.
    pub cells: u64,
    /// What stops the period from dropping further.
    pub reason: &'static str,
}

/// Lower bound on the period under the budget and the rules.
///
/// Any mapping whose slowest layer takes at most P holds at least the least copies x(P), and
/// dropping tiles keeps a packing valid, so if x(P)'s tiles need more than `budget` crossbars
/// then so does every mapping with period ≤ P. Walking the periods downward, the first whose
/// least copies fail a crossbar bound ends the walk; the period before it is the bound. The
/// crossbar bounds are per-layer sums (a few µs per period, no tiles built): area; tiles over
/// half a crossbar both ways (never two on one); the max load; the layer threshold (every tile
/// of threshold + 1 consecutive layers on its own crossbar); and, with the block-diagonal
/// rule, one layer's tiles on one crossbar using disjoint rows and columns.
pub fn period_bound(part: &Partition, timings: &[LayerTiming], rules: &Rules, budget: usize) -> PeriodBound {
    let needs = Needs::new(part, timings, rules);
    let need = |x: &[u64]| needs.crossbars(x);
    let fits = |x: &[u64]| need(x).0 <= budget as u64;
    let mut x = vec![1; timings.len()];
    let mut p = duplicate::period(timings, &x);
    if !fits(&x) {
        return PeriodBound {
            period_ns: p,
            cells: duplicate::cells(timings, &x),
            reason: need(&x).1,
        };
    }
    loop {
        // The next lower period: every layer at the current one takes its next faster count.
        let mut next = 0.0f64;
        for (t, &k) in timings.iter().zip(&x) {
            let now = t.time(k);
            if now < p {
                next = next.max(now);
                continue;
            }
            match t.next_faster(k).map(|y| t.time(y)) {
                Some(v) => next = next.max(v),
                None => {
                    return PeriodBound {
                        period_ns: p,
                        cells: duplicate::cells(timings, &x),
                        reason: "every tile of the slowest layer at one activation per copy",
                    };
                }
            }
        }
        // `next < p` always holds for a non-empty network; the guard keeps the walk finite.
        let Some(y) = duplicate::copies_for_period(timings, next).filter(|_| next < p) else {
            break;
        };
        if !fits(&y) {
            return PeriodBound {
                period_ns: p,
                cells: duplicate::cells(timings, &x),
                reason: need(&y).1,
            };
        }
        (x, p) = (y, next);
    }
    PeriodBound {
        period_ns: p,
        cells: duplicate::cells(timings, &x),
        reason: "every tile of the slowest layer at one activation per copy",
    }
}

/// A lower bound on the latency of N samples that no mapping into the budget beats.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LatencyBound {
    /// No mapping of this partition into the budget under these rules finishes the N samples
    /// sooner (ns); infinite when no mapping fits at all.
    pub ns: f64,
    /// The term that gives it (at its weakest slowest-layer time).
    pub reason: &'static str,
    /// The period bound it starts from ([`period_bound`]).
    pub period_ns: f64,
    /// The slowest-layer time at which the bound is weakest: a mapping reaching `ns` would
    /// have its slowest layer about here.
    pub at_period_ns: f64,
}

/// Lower bound on the simulated latency of `samples` samples of any mapping of `part` into
/// `budget` crossbars under `rules`, with precedence `preds` (DAG or chain).
///
/// # Proof
///
/// Take any mapping: copies x_i ≥ 1, t_i = t_i(x_i), period P = max_i t_i, a packing of every
/// tile copy into at most B = `budget` crossbars under the rules, k_i the crossbars holding
/// layer i. Write N = `samples`, T1 = max_i t_i(1).
///
/// 1. *Copies.* P ≥ P_min ([`period_bound`]) and P ≤ T1. t_i ≤ P gives x_i ≥ x_i(P), the
///    least copies reaching P. Keeping x_i copies of layer i and x_j(P) ≤ x_j copies of every
///    other layer, the packing minus the dropped tiles still obeys every rule (each rule
///    forbids a set of tiles on one crossbar, so removing tiles cannot break it); so the
///    crossbar bound of those copies (`Needs::crossbars`, a true bound for every packing, that
///    grows with x_i) is ≤ B, i.e. x_i ≤ X_i(P), the largest such count. For P in an interval
///    [a, b], x_i(P) ≥ x_i(b) and X_i(P) ≤ X_i(b): every x_i lies in [x_i(b), X_i(b)], so
///    t_i ≥ tlow_i = t_i(X_i(b)), and Σ_i r_i·x_i ≤ capacity for each resource r of the
///    crossbar bound that is a sum: cells (B·R·C), cells with tile sides rounded by a
///    dual-feasible pair (B·f(C)·g(R): what fits one crossbar still fits after rounding),
///    tiles over half a crossbar both ways (B), tile slots under a max load (B·max load).
/// 2. *Schedule.* Layer i runs N executions one after another (an execution waits for the
///    layer's previous sample), each t_i long, the first after its predecessors' first, the
///    successors' last after its last. So for any precedence path π through i, the latency is
///    ≥ Σ_{j∈π} t_j + (N − 1)·t_i. With i the slowest layer of π: latency ≥ Σ_{π} t_j +
///    (N − 1)·max_π t_j (for the chain π holds every layer); with i a layer at P (the
///    bottleneck): latency ≥ (longest path through it) + (N − 1)·P.
/// 3. *Crossbar time.* Every execution of layer i holds all its k_i crossbars for t_i;
///    executions sharing a crossbar never overlap, and all lie in [0, latency]. Summing busy
///    time over the ≤ B crossbars used: B·latency ≥ N·Σ_i t_i·k_i, and k_i ≥ hosts_i(x_i)
///    (`Needs::hosts`: area, tiles over half both ways, one tile per crossbar under a layer
///    threshold, max load, block diagonals). A tile as large as the crossbar leaves room for
///    no other, so the F ≥ Σ_i whole_i·x_i(b) crossbars such tiles fill host nothing else: the
///    executions of the other tiles' crossbars (hosts counted over those tiles) fit the other
///    ≤ B − F crossbars, (B − F)·latency ≥ N·Σ_i t_i·hosts'_i(x_i).
/// 4. *Combination.* Cut [P_min, T1] into intervals; for every mapping with P in [a, b]:
///    - its bottleneck b (t_b = P ≥ a, so t_b(1) ≥ a) lies on a path π_b (we take, for every
///      layer that can be that slow, the longest path through it at the least copies of b);
///      by step 2, latency ≥ (N − 1)·a + Σ_{j∈π_b} t_j(x_j), and that sum is at least the
///      least Σ_{j∈π_b} t_j(x_j) over x in the boxes of step 1 under one resource's sum
///      constraint, bounded below by the linear relaxation (fractional steps along each
///      layer's lower convex hull of (copies, time), the exact optimum of this relaxed
///      multiple-choice knapsack; other constraints and integrality only raise the true
///      minimum). Not knowing b, the least over the candidates is taken;
///    - latency ≥ N/B · Σ_i min over x in its box of t_i(x)·hosts_i(x) (step 3);
///    - latency ≥ head_i + N·tlow_i + tail_i for every layer i (longest paths at tlow).
///
///    The interval's bound is the largest of the three; the latency bound is the least over
///    the intervals, refined where it is least (each half keeps at least its parent's bound,
///    which holds on it too). A mapping has one P, in some interval, so that interval's
///    bound holds for it. The result is lowered by 1e-9 relative, far above the rounding of
///    the sums, so that a mapping reaching the bound exactly is never reported below it.
///
/// The bound holds for this partition (depth split, depthwise mapping); it knows nothing of
/// which tiles actually share crossbars beyond the rules, so contention between different
/// layers appears only through step 3.
pub fn latency_bound(
    part: &Partition,
    timings: &[LayerTiming],
    preds: &[Vec<usize>],
    rules: &Rules,
    budget: usize,
    samples: usize,
) -> LatencyBound {
    let pb = period_bound(part, timings, rules, budget);
    let n = timings.len();
    if n == 0 || samples == 0 || budget == 0 {
        return LatencyBound {
            ns: 0.0,
            reason: "nothing to run",
            period_ns: pb.period_ns,
            at_period_ns: pb.period_ns,
        };
    }
    let mut ctx = Ctx::new(part, timings, preds, rules, budget, samples);
    if let Some(x) = duplicate::copies_for_period(timings, pb.period_ns) {
        ctx.round_sides(part, &x);
    }
    let t1 = timings.iter().map(|t| t.time(1)).fold(0.0, f64::max);
    let lo = pb.period_ns.min(t1);
    // Coarse intervals, then split the one with the least bound until it is narrow: the
    // least over intervals is the bound, so only where it is least does refining pay.
    let mut ivs: Vec<(f64, f64, Term)> = Vec::new();
    let mut a = lo;
    loop {
        let b = if a * 1.25 >= t1 { t1 } else { a * 1.25 };
        ivs.push((a, b, ctx.interval(a, b)));
        if b >= t1 {
            break;
        }
        a = b;
    }
    for _ in 0..REFINE_STEPS {
        let Some(k) = (0..ivs.len()).min_by(|&x, &y| ivs[x].2.ns.total_cmp(&ivs[y].2.ns)) else {
            break;
        };
        let (a, b, parent) = ivs[k];
        if !parent.ns.is_finite() || b <= a * (1.0 + 1.0 / 512.0) {
            break;
        }
        let m = (a * b).sqrt().clamp(a, b);
        // The parent's bound holds on each half too.
        let keep = |t: Term| if t.ns >= parent.ns { t } else { parent };
        ivs[k] = (a, m, keep(ctx.interval(a, m)));
        ivs.push((m, b, keep(ctx.interval(m, b))));
    }
    let best = ivs
        .iter()
        .min_by(|x, y| x.2.ns.total_cmp(&y.2.ns))
        .copied()
        .unwrap_or((lo, lo, Term::NONE));
    // A margin far above the rounding of sums of a few hundred times.
    let ns = if best.2.ns.is_finite() {
        best.2.ns * (1.0 - 1e-9)
    } else {
        f64::INFINITY
    };
    LatencyBound {
        ns,
        reason: if ns.is_finite() {
            best.2.reason
        } else {
            "no mapping fits the budget"
        },
        period_ns: pb.period_ns,
        at_period_ns: best.0,
    }
}

/// Interval splits of [`latency_bound`] (each costs two evaluations).
const REFINE_STEPS: usize = 256;

/// One interval's bound and its reason.
#[derive(Clone, Copy, Debug)]
struct Term {
    ns: f64,
    reason: &'static str,
}

impl Term {
    const NONE: Term = Term {
        ns: f64::INFINITY,
        reason: "no mapping has its slowest layer here",
    };
    fn raise(&mut self, ns: f64, reason: &'static str) {
        if ns > self.ns {
            *self = Term { ns, reason };
        }
    }
}

/// What [`latency_bound`] evaluates intervals with.
struct Ctx<'a> {
    needs: Needs<'a>,
    timings: &'a [LayerTiming],
    preds: Vec<Vec<usize>>,
    succs: Vec<Vec<usize>>,
    budget: usize,
    samples: usize,
    /// Per layer: the least copies of each distinct t_i, ascending, with that time.
    plateaus: Vec<Vec<(u64, f64)>>,
    /// t_i(1).
    t1: Vec<f64>,
    /// Cells per copy with tile sides rounded by the dual-feasible pair that proves the most
    /// crossbars for the least copies of the least period, and one crossbar's rounded cells.
    rounded: Option<(Vec<u64>, u64)>,
}

impl<'a> Ctx<'a> {
    fn new(
        part: &Partition,
        timings: &'a [LayerTiming],
        preds: &[Vec<usize>],
        rules: &Rules,
        budget: usize,
        samples: usize,
    ) -> Ctx<'a> {
        let n = timings.len();
        // Precedence points forward (the simulator rejects anything else).
        let preds: Vec<Vec<usize>> = (0..n)
            .map(|i| {
                preds
                    .get(i)
                    .map(|ps| ps.iter().copied().filter(|&p| p < i).collect())
                    .unwrap_or_default()
            })
            .collect();
        let mut succs = vec![Vec::new(); n];
        for (i, ps) in preds.iter().enumerate() {
            for &p in ps {
                succs[p].push(i);
            }
        }
        Ctx {
            needs: Needs::new(part, timings, rules),
            timings,
            preds,
            succs,
            budget,
            samples,
            plateaus: timings.iter().map(plateaus).collect(),
            t1: timings.iter().map(|t| t.time(1)).collect(),
            rounded: None,
        }
    }

    /// Picks the dual-feasible pair (see [`dff_bound`]) that needs the most crossbars for
    /// copies `x`: every packing's crossbars hold at most f(C)·g(R) rounded cells each, so
    /// Σ_i rounded_i·x_i ≤ B·f(C)·g(R) for any mapping, like the plain area.
    fn round_sides(&mut self, part: &Partition, x: &[u64]) {
        let xbar = self.needs.xbar;
        if xbar.rows == 0 || xbar.cols == 0 {
            return;
        }
        // Tile shapes with their count per copy, per layer.
        let mut shapes: BTreeMap<(usize, usize), usize> = BTreeMap::new();
        for t in part.iter_tiles() {
            let k = shapes.len();
            shapes.entry((t.cols, t.rows)).or_insert(k);
        }
        let keys: Vec<(usize, usize)> = shapes.keys().copied().collect();
        let index: BTreeMap<(usize, usize), usize> = keys.iter().enumerate().map(|(k, &s)| (s, k)).collect();
        let per_layer: Vec<Vec<(usize, u64)>> = part
            .layers
            .iter()
            .map(|lp| {
                let mut m: BTreeMap<usize, u64> = BTreeMap::new();
                for t in &lp.tiles {
                    *m.entry(index[&(t.cols, t.rows)]).or_default() += 1;
                }
                m.into_iter().collect()
            })
            .collect();
        let widths: Vec<usize> = keys.iter().map(|s| s.0).collect();
        let heights: Vec<usize> = keys.iter().map(|s| s.1).collect();
        let fw = functions(&widths, xbar.cols as u64);
        let fh = functions(&heights, xbar.rows as u64);
        let mut counts = vec![0u128; keys.len()];
        for (l, xs) in per_layer.iter().zip(x) {
            for &(k, c) in l {
                counts[k] += c as u128 * *xs as u128;
            }
        }
        // The pair with the largest Σ rounded cells per crossbar capacity (plain area first).
        let mut best: Option<(f64, usize, usize)> = None;
        for (a, (cw, vw)) in fw.iter().enumerate() {
            for (b, (ch, vh)) in fh.iter().enumerate() {
                let sum: u128 = (0..keys.len())
                    .map(|k| counts[k] * vw[k] as u128 * vh[k] as u128)
                    .sum();
                let ratio = sum as f64 / (*cw as f64 * *ch as f64);
                if best.is_none_or(|bst| ratio > bst.0) {
                    best = Some((ratio, a, b));
                }
            }
        }
        let Some((_, a, b)) = best else { return };
        let (cw, vw) = &fw[a];
        let (ch, vh) = &fh[b];
        let r = per_layer
            .iter()
            .map(|l| l.iter().map(|&(k, c)| c * vw[k] * vh[k]).sum())
            .collect();
        self.rounded = Some((r, cw.saturating_mul(*ch)));
    }

    /// Copies boxes [x_i(p), X_i(p)] (step 1), or None if no mapping has its period ≤ p.
    fn boxes(&self, p: f64) -> Option<(Vec<u64>, Vec<u64>)> {
        let lo = duplicate::copies_for_period(self.timings, p)?;
        let b = self.budget as u64;
        if self.needs.crossbars(&lo).0 > b {
            return None;
        }
        let mut x = lo.clone();
        let hi = (0..lo.len())
            .map(|i| {
                // The largest count whose crossbar bound fits (the bound grows with x_i).
                let (mut ok, mut bad) = (lo[i], self.timings[i].max_copies().max(lo[i]) + 1);
                while bad - ok > 1 {
                    let mid = ok + (bad - ok) / 2;
                    x[i] = mid;
                    if self.needs.crossbars(&x).0 <= b {
                        ok = mid;
                    } else {
                        bad = mid;
                    }
                }
                x[i] = lo[i];
                ok
            })
            .collect();
        Some((lo, hi))
    }

    /// Layer i's candidate counts in [lo, hi]: lo, then every plateau start above it up to
    /// hi (t_i is constant on a plateau and the resources grow with copies, so a least choice
    /// is always at one of these).
    fn within(&self, i: usize, lo: u64, hi: u64) -> Vec<(u64, f64)> {
        let ps = &self.plateaus[i];
        let s = ps.partition_point(|&(x, _)| x <= lo);
        let e = ps.partition_point(|&(x, _)| x <= hi).max(s);
        let mut v = Vec::with_capacity(e - s + 1);
        v.push((lo, self.timings[i].time(lo)));
        v.extend_from_slice(&ps[s..e]);
        v
    }

    /// Longest paths ending before and starting after each layer, under weights `w`.
    fn heads_tails(&self, w: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let n = w.len();
        let mut head = vec![0.0f64; n];
        for i in 0..n {
            head[i] = self.preds[i].iter().map(|&p| head[p] + w[p]).fold(0.0, f64::max);
        }
        let mut tail = vec![0.0f64; n];
        for i in (0..n).rev() {
            tail[i] = self.succs[i].iter().map(|&s| w[s] + tail[s]).fold(0.0, f64::max);
        }
        (head, tail)
    }

    /// The layers of a longest path through `b` under weights `w` (with their heads, tails).
    fn path_through(&self, b: usize, w: &[f64], head: &[f64], tail: &[f64]) -> Vec<bool> {
        let mut on = vec![false; w.len()];
        on[b] = true;
        let mut i = b;
        while let Some(&p) = self.preds[i]
            .iter()
            .max_by(|&&x, &&y| (head[x] + w[x]).total_cmp(&(head[y] + w[y])))
        {
            on[p] = true;
            i = p;
        }
        let mut i = b;
        while let Some(&s) = self.succs[i]
            .iter()
            .max_by(|&&x, &&y| (w[x] + tail[x]).total_cmp(&(w[y] + tail[y])))
        {
            on[s] = true;
            i = s;
        }
        on
    }

    /// The bound for every mapping whose slowest layer takes between `a` and `b` (step 4).
    fn interval(&self, a: f64, b: f64) -> Term {
        let Some((lo, hi)) = self.boxes(b) else {
            return Term::NONE;
        };
        let n = lo.len();
        let nf = self.samples as f64;
        let tlow: Vec<f64> = (0..n).map(|i| self.timings[i].time(hi[i])).collect();
        let (head, tail) = self.heads_tails(&tlow);
        let mut best = Term {
            ns: 0.0,
            reason: "nothing to run",
        };
        // Resources with a per-crossbar capacity: the knapsack constraints of the schedule term.
        let xbar = self.needs.xbar;
        let bud = self.budget as u64;
        let mut resources: Vec<(Vec<u64>, u64)> =
            vec![(self.timings.iter().map(|t| t.cells).collect(), bud * xbar.cells())];
        if self.needs.shape.iter().any(|s| s[1] > 0) {
            resources.push((self.needs.shape.iter().map(|s| s[1]).collect(), bud));
        }
        if let Some((r, cap)) = &self.rounded {
            resources.push((r.clone(), bud.saturating_mul(*cap)));
        }
        if self.needs.rules.max_load > 0 {
            resources.push((
                self.needs.shape.iter().map(|s| s[0]).collect(),
                bud * self.needs.rules.max_load as u64,
            ));
        }
        let slowest: Vec<f64> = (0..n).map(|i| self.timings[i].time(lo[i])).collect();
        let boxes: Vec<Vec<(u64, f64)>> = (0..n).map(|i| self.within(i, lo[i], hi[i])).collect();
        // The bottleneck b (t_b = P ≥ a) is one of the layers that can be that slow; the
        // latency is at least (N − 1)·a plus the layers of any path through it. One path per
        // candidate (the longest through it at the least copies), each distinct path once.
        let (sh, st) = self.heads_tails(&slowest);
        let mut paths: Vec<Vec<bool>> = Vec::new();
        for b in (0..n).filter(|&b| self.t1[b] >= a) {
            let on = self.path_through(b, &slowest, &sh, &st);
            if !paths.contains(&on) {
                paths.push(on);
            }
        }
        let least = paths
            .iter()
            .map(|on| {
                resources
                    .iter()
                    .map(|(r, cap)| knapsack(&boxes, on, r, *cap))
                    .fold(0.0, f64::max)
            })
            .fold(f64::INFINITY, f64::min);
        // Infinite: the least copies exceed some resource (or no layer can be that slow), so
        // no mapping has its period in this interval.
        if !least.is_finite() {
            return Term::NONE;
        }
        best.raise(
            (nf - 1.0) * a + least,
            "by the schedule: the layers of the slowest one's path plus its N − 1 further runs",
        );
        // Crossbar time.
        let work: f64 = (0..n)
            .map(|i| {
                boxes[i]
                    .iter()
                    .map(|&(x, t)| t * self.needs.hosts(i, x) as f64)
                    .fold(f64::INFINITY, f64::min)
            })
            .sum();
        best.raise(
            nf * work / self.budget as f64,
            "by crossbar time: N runs of every layer on the crossbars it needs",
        );
        // The same on the crossbars left beside whole-crossbar tiles (each fills its own).
        let whole: u64 = (0..n).map(|i| self.needs.whole(i) * lo[i]).sum();
        if whole > 0 && whole < self.budget as u64 {
            let rest: f64 = (0..n)
                .map(|i| {
                    boxes[i]
                        .iter()
                        .map(|&(x, t)| t * self.needs.hosts_partial(i, x) as f64)
                        .fold(f64::INFINITY, f64::min)
                })
                .sum();
            best.raise(
                nf * rest / (self.budget as u64 - whole) as f64,
                "by crossbar time beside whole-crossbar tiles",
            );
        }
        // One layer's N runs between its longest head and tail.
        let one = (0..n)
            .map(|i| head[i] + nf * tlow[i] + tail[i])
            .fold(0.0, f64::max);
        best.raise(one, "by one layer's N runs on its longest path");
        best
    }
}

/// The least copies of each distinct t(x), ascending, with the time (x where every tile at
/// the current time does one activation fewer: t(x) = max τ·⌈c/x⌉ only changes there).
fn plateaus(t: &LayerTiming) -> Vec<(u64, f64)> {
    let mut out = Vec::new();
    let mut x = 1u64;
    loop {
        let now = t.time(x);
        out.push((x, now));
        let mut next = 0u64;
        for &(tau, c) in &t.tiles {
            let q = c.div_ceil(x);
            // `now` is one of these very products, so equality is exact.
            if tau * q as f64 == now {
                if q <= 1 {
                    return out;
                }
                next = next.max(c.div_ceil(q - 1));
            }
        }
        if next <= x || t.time(next) >= now {
            return out;
        }
        x = next;
    }
}

/// Least Σ over the layers `on` of t_i(x_i), x_i among `boxes[i]` (plateau starts, the first
/// the least allowed), with Σ_i r_i·x_i ≤ cap, relaxed to a linear program: every layer
/// starts at its least copies, then steps along the lower convex hull of its (copies, time)
/// points are taken by time saved per unit of resource, the last one fractionally (the
/// exact optimum of the relaxed multiple-choice knapsack, so never above the integer one).
/// Layers off `on` keep their least copies. Infinite when even those exceed the capacity.
fn knapsack(boxes: &[Vec<(u64, f64)>], on: &[bool], r: &[u64], cap: u64) -> f64 {
    let mut used: u128 = 0;
    let mut total = 0.0f64;
    // (time saved per unit, units, time saved)
    let mut steps: Vec<(f64, f64, f64)> = Vec::new();
    for (i, pts) in boxes.iter().enumerate() {
        let Some(&(x0, t0)) = pts.first() else {
            continue; // an empty box: no mapping in it, caught by the caller's boxes
        };
        used += r[i] as u128 * x0 as u128;
        if !on[i] {
            continue;
        }
        total += t0;
        if r[i] == 0 {
            // Free copies: the fastest allowed.
            total -= t0 - pts.last().map_or(t0, |p| p.1);
            continue;
        }
        // Lower convex hull of (x, t); t falls as x grows.
        let mut hull: Vec<(u64, f64)> = Vec::new();
        for &p in pts.iter() {
            while hull.len() >= 2 {
                let (a, b) = (hull[hull.len() - 2], hull[hull.len() - 1]);
                // Drop b when it is not below the segment a–p.
                if (b.1 - a.1) * (p.0 - b.0) as f64 >= (p.1 - b.1) * (b.0 - a.0) as f64 {
                    hull.pop();
                } else {
                    break;
                }
            }
            hull.push(p);
        }
        for s in hull.windows(2) {
            let units = (r[i] * (s[1].0 - s[0].0)) as f64;
            let saved = s[0].1 - s[1].1;
            steps.push((saved / units, units, saved));
        }
    }
    if used > cap as u128 {
        return f64::INFINITY;
    }
    // Stable: one layer's steps keep their hull order at equal rates.
    steps.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut room = (cap as u128 - used) as f64;
    for (_, units, saved) in steps {
        if room <= 0.0 {
            break;
        }
        if units <= room {
            total -= saved;
            room -= units;
        } else {
            total -= saved * room / units;
            room = 0.0;
        }
    }
    total.max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(layer: usize, rows: usize, cols: usize) -> Item {
        Item {
            layer,
            copy: 0,
            tile: 0,
            rows,
            cols,
            time_ns: 1.0,
        }
    }

    const X: Crossbar = Crossbar { rows: 10, cols: 10 };

    #[test]
    fn tiles_over_half_both_ways_need_a_crossbar_each() {
        // Three 6x6 tiles: 108 cells fit two crossbars by area, but no two share one.
        let items = vec![item(0, 6, 6); 3];
        assert_eq!(area_bound(&items, X), 2);
        assert_eq!(dff_bound(&items, X), 3);
        let b = lower_bound(
            &items,
            X,
            &Rules {
                layer_threshold: -1,
                max_load: 0,
                ..Rules::default()
            },
        );
        assert_eq!(b.crossbars, 3);
    }

    #[test]
    fn thirds_round_up_to_halves() {
        // 4x10 tiles: three fit by area (120 > 100 needs 2), but two per crossbar at most,
        // so five need three crossbars; Fekete–Schepers k = 2 maps 4 → 5.
        let items = vec![item(0, 4, 10); 5];
        assert_eq!(area_bound(&items, X), 2);
        assert_eq!(dff_bound(&items, X), 3);
    }

    #[test]
    fn rules_bound_by_load_and_threshold() {
        let small: Vec<Item> = (0..7).map(|l| item(l / 2, 1, 1)).collect();
        let r = Rules {
            layer_threshold: -1,
            max_load: 2,
            ..Rules::default()
        };
        assert_eq!(lower_bound(&small, X, &r).crossbars, 4);
        // Layers 0,0,1,1,2,2,3 with threshold 1: layers 0 and 1 (or 1 and 2) give 4 tiles
        // that pairwise conflict.
        let r = Rules {
            layer_threshold: 1,
            max_load: 0,
            ..Rules::default()
        };
        assert_eq!(
            lower_bound(&small, X, &r),
            Bound {
                crossbars: 4,
                reason: "by the layer threshold"
            }
        );
    }

    #[test]
    fn strips_beside_full_height_tiles_hold_one_column_of_wide_tiles() {
        // Two 10x2 tiles of one layer need two crossbars (threshold 0) and leave 10x8 strips;
        // 5x6 tiles are wider than half a strip, so each strip stacks two of them. The fifth
        // needs a third crossbar although 190 cells fit two by area.
        let mut items = vec![item(0, 10, 2); 2];
        items.extend((1..=5).map(|l| item(2 * l, 5, 6)));
        let r = Rules {
            layer_threshold: 0,
            max_load: 0,
            ..Rules::default()
        };
        assert_eq!(area_bound(&items, X), 2);
        assert_eq!(threshold_bound(&items, X, 0), 3);
        assert_eq!(lower_bound(&items, X, &r).crossbars, 3);
        // With a 4-column tile among them the strip bound no longer applies.
        items.push(item(20, 1, 4));
        assert_eq!(threshold_bound(&items, X, 0), 2);
    }

    #[test]
    fn period_bound_of_an_empty_network_ends() {
        let part = Partition {
            options: crate::partition::PartitionOptions::default(),
            layers: Vec::new(),
        };
        let b = period_bound(&part, &[], &Rules::default(), 4);
        assert_eq!((b.period_ns, b.cells), (0.0, 0));
    }

    fn timing(tiles: &[(f64, u64)]) -> LayerTiming {
        LayerTiming {
            tiles: tiles.to_vec(),
            cells: 10,
        }
    }

    #[test]
    fn plateaus_are_every_count_where_time_drops() {
        let p = plateaus(&timing(&[(1.0, 9)]));
        assert_eq!(p, vec![(1, 9.0), (2, 5.0), (3, 3.0), (5, 2.0), (9, 1.0)]);
        // Two tiles: brute force over every count.
        for tiles in [vec![(2.0, 5), (1.0, 9)], vec![(3.0, 7), (1.0, 30), (0.5, 64)]] {
            let t = timing(&tiles);
            let want: Vec<(u64, f64)> = (1..=t.max_copies())
                .filter(|&x| x == 1 || t.time(x) < t.time(x - 1))
                .map(|x| (x, t.time(x)))
                .collect();
            assert_eq!(plateaus(&t), want, "{tiles:?}");
        }
    }

    #[test]
    fn knapsack_relaxation_never_exceeds_the_integer_optimum() {
        // Three layers, every choice enumerated: the relaxation is at most the best Σ t that
        // fits, and equals it when the capacity takes every step whole.
        let ts = [timing(&[(1.0, 12)]), timing(&[(2.0, 7)]), timing(&[(1.0, 20)])];
        let r = [3u64, 5, 2];
        let boxes: Vec<Vec<(u64, f64)>> = ts.iter().map(plateaus).collect();
        let on = [true, true, true];
        for cap in [10u64, 14, 20, 27, 40, 80, 200] {
            let mut best = f64::INFINITY;
            for a in &boxes[0] {
                for b in &boxes[1] {
                    for c in &boxes[2] {
                        if r[0] * a.0 + r[1] * b.0 + r[2] * c.0 <= cap {
                            best = best.min(a.1 + b.1 + c.1);
                        }
                    }
                }
            }
            let lp = knapsack(&boxes, &on, &r, cap);
            assert!(lp <= best + 1e-9, "cap {cap}: {lp} > {best}");
        }
        // Everything fits: the fastest of each.
        assert_eq!(knapsack(&boxes, &on, &r, 1000), 1.0 + 2.0 + 1.0);
        // Room for one copy each only: 12 + 14 + 20.
        assert_eq!(knapsack(&boxes, &on, &r, 10), 46.0);
        // Not even one copy each fits.
        assert!(knapsack(&boxes, &on, &r, 9).is_infinite());
        // A layer off the path costs resource but no time.
        assert_eq!(knapsack(&boxes, &[true, false, true], &r, 1000), 2.0);
    }

    #[test]
    fn never_below_area_and_never_above_a_packing() {
        // A perfect tiling: four 5x5 in one crossbar.
        let items = vec![item(0, 5, 5); 4];
        assert_eq!(dff_bound(&items, X), 1);
        let r = Rules {
            layer_threshold: -1,
            max_load: 0,
            ..Rules::default()
        };
        assert_eq!(lower_bound(&items, X, &r).crossbars, 1);
    }
}
