//! Contention-aware mapping by pipeline stages (one of [`super::auto`]'s candidates).
//!
//! Consecutive layers (in execution order) are grouped into stages; a stage owns a private
//! set of K crossbars that host every copy of its layers' tiles, so stages never contend and
//! a stage's layers run one after another, as they would anyway for one sample. With stage
//! times T_s the simulated latency of N samples is at most Σ T_s + (N−1)·max T_s.
//!
//! For a target period P a dynamic programme over the layer order finds the stages using the
//! fewest crossbars with every T_s ≤ P; the least feasible P is found by bisection; spare
//! crossbars then go, one at a time, to the stage where they cut the latency most. Inside a
//! stage a layer gets as many copies as its tiles fit distinct crossbars (x_i ≤ ⌊K/tiles_i⌋)
//! and the area allows.

use super::{MapTask, Mapper, Mapping, Raw};
use crate::duplicate::{self, LayerTiming};
use crate::pack::strategies::Order;
use crate::pack::{self, Item, Packing, Placement, Rules};
use crate::partition::Partition;

/// Pipeline stages on private crossbar sets; none under a layer threshold.
pub struct Stages;

impl Mapper for Stages {
    fn name(&self) -> &'static str {
        "stages"
    }

    fn map(&self, task: &MapTask) -> anyhow::Result<Vec<Mapping>> {
        super::to_mappings(task.part, staged(task)?)
    }
}

/// Stage-based contention-aware mapping (see the module); None when the rules
/// forbid neighbouring layers to share crossbars or no staging fits.
pub(super) fn staged(task: &MapTask) -> anyhow::Result<Option<Raw>> {
    let (part, timings, opts) = (task.part, task.timings, task);
    if opts.pack.rules.layer_threshold > 0 || opts.budget == 0 {
        return Ok(None);
    }
    let steps = task.steps();
    let (stage_len, iters, factors) = (steps.stage_len, steps.stage_iterations, steps.stage_factors);
    let (fills, floats) = (steps.stage_fills, steps.stage_floats);
    let slowest = timings.iter().map(|t| t.time(1)).fold(0.0, f64::max);
    let combos: Vec<(f64, f64)> = fills
        .iter()
        .flat_map(|&f| floats.iter().map(move |&x| (f, x)))
        .collect();
    // Each shape is planned independently (in parallel); results are compared in shape order.
    use rayon::prelude::*;
    // Copies, packing and simulated latency of each mapping a shape yields.
    type Scored = Vec<(Vec<u64>, Packing, f64)>;
    let found: Vec<anyhow::Result<Scored>> = combos
        .par_iter()
        .map(|&(fill, float)| {
            let mut out = Vec::new();
            let rules = Rules {
                layer_threshold: 0.min(opts.pack.rules.layer_threshold),
                ..opts.pack.rules
            };
            let shape = (stage_len, fill, float * slowest);
            let prob = StagePlanner::new(part, timings, opts.budget, opts.samples, rules, shape);
            // Bisection on the planner alone (cheap); packing is checked at the end, stepping
            // the period up where the plan's area estimate was optimistic.
            let mut hi: f64 = timings.iter().map(|t| t.time(1)).sum();
            if prob.plan(hi).is_none() {
                return Ok(out);
            }
            let mut lo = duplicate::min_period(timings);
            for _ in 0..iters {
                if hi - lo <= hi * 1e-4 {
                    break;
                }
                let mid = 0.5 * (lo + hi);
                if prob.plan(mid).is_some() {
                    hi = mid
                } else {
                    lo = mid
                }
            }
            for &f in factors {
                if task.cancelled() {
                    break;
                }
                let mut p = hi * f;
                let mut fe = None;
                for _ in 0..8 {
                    fe = prob
                        .plan_budget(p)
                        .and_then(|st| prob.pack_plan(st, p))
                        .or_else(|| prob.feasible(p));
                    if fe.is_some() {
                        break;
                    }
                    p *= 1.06;
                }
                let Some(fallback) = fe else { continue };
                let mut stages: Vec<_> = fallback.iter().map(|(s, _)| *s).collect();
                prob.spend_spare(&mut stages);
                let Some((copies, packing)) = prob.realize(&stages, &fallback) else {
                    continue;
                };
                let sim = task.simulate(&copies, &packing)?;
                out.push((copies, packing, sim.latency_ns));
            }
            Ok(out)
        })
        .collect();
    let mut best: Option<(Vec<u64>, Packing, f64)> = None;
    for r in found {
        for cand in r? {
            if best.as_ref().is_none_or(|b| cand.2 < b.2) {
                best = Some(cand);
            }
        }
    }
    Ok(best.map(|(c, p, _)| (c, p)))
}

/// A stage: layers `a..=b` on `k` private crossbars.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stage {
    pub a: usize,
    pub b: usize,
    pub k: usize,
    pub time_ns: f64,
}

/// Stage times by (first layer, last layer, crossbars).
pub type StageCache =
    std::collections::HashMap<(u32, u32, u32), f64, std::hash::BuildHasherDefault<KeyHasher>>;

/// A multiply-rotate hash for the stage cache's small integer keys: SipHash took ~7 % of a
/// default-effort compile. Lookups only, so the hash never affects results.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Inputs shared by every evaluation.
pub struct StagePlanner<'a> {
    pub part: &'a Partition,
    pub timings: &'a [LayerTiming],
    pub budget: usize,
    pub samples: usize,
    /// Rules inside a stage (threshold ≤ 0: tiles of one layer never share a crossbar).
    pub rules: Rules,
    /// Longest stage considered by the dynamic programme.
    pub max_stage_len: usize,
    /// Fraction of a stage's cells the planner may fill (tiles rarely pack to the last cell).
    pub area_fill: f64,
    /// Stage times already computed, by (a, b, k): the planner asks for the same ones often.
    pub cache: std::cell::RefCell<StageCache>,
    /// Light layers that do not belong to a stage: one copy, placed after the stages on
    /// whichever crossbar near them has room (their time still counts in their stage).
    pub floating: Vec<bool>,
    /// Per layer: t_i(1), cells of one copy (0 when floating), tiles, useful copies.
    t1: Vec<f64>,
    cells: Vec<u64>,
    ntiles: Vec<usize>,
    maxc: Vec<u64>,
}

impl<'a> StagePlanner<'a> {
    /// `shape` = (longest stage, area fill, floating threshold in ns).
    pub fn new(
        part: &'a Partition,
        timings: &'a [LayerTiming],
        budget: usize,
        samples: usize,
        rules: Rules,
        shape: (usize, f64, f64),
    ) -> StagePlanner<'a> {
        let (max_stage_len, area_fill, float_ns) = shape;
        let floating: Vec<bool> = timings.iter().map(|t| t.time(1) < float_ns).collect();
        StagePlanner {
            floating: floating.clone(),
            part,
            timings,
            budget,
            samples,
            rules,
            max_stage_len,
            area_fill,
            cache: Default::default(),
            t1: timings.iter().map(|t| t.time(1)).collect(),
            cells: timings
                .iter()
                .zip(&floating)
                .map(|(t, &f)| if f { 0 } else { t.cells })
                .collect(),
            ntiles: timings.iter().map(|t| t.tiles.len().max(1)).collect(),
            maxc: timings.iter().map(|t| t.max_copies()).collect(),
        }
    }

    fn tiles(&self, i: usize) -> usize {
        self.ntiles[i]
    }

    /// Copies of layer i at multiplier μ (see `stage_copies`), within 1..=cap.
    fn x_at(&self, i: usize, mu: f64, cap: u64) -> u64 {
        let x = (self.t1[i] / (mu * self.cells[i].max(1) as f64)).sqrt().ceil();
        if x.is_finite() {
            (x as u64).clamp(1, cap)
        } else {
            cap
        }
    }

    /// Copies of layers a..=b on k crossbars and the stage time; None if infeasible.
    ///
    /// Minimising Σ t_i = Σ T_i/x_i under Σ a_i·x_i ≤ A gives x_i = √(T_i / (μ·a_i)); each x_i is
    /// also capped by ⌊k / tiles_i⌋ (its tiles need distinct crossbars), and μ is bisected so
    /// the area just fits. Larger k only relaxes both caps, so the time is monotone in k.
    pub fn stage_copies(&self, a: usize, b: usize, k: usize) -> Option<(Vec<u64>, f64)> {
        let cap_cells = ((k as u64 * self.part.options.xbar.cells()) as f64 * self.area_fill) as u64;
        let xmax = |i: usize| -> u64 {
            if self.floating[i] {
                1
            } else {
                ((k / self.ntiles[i]) as u64).min(self.maxc[i])
            }
        };
        if (a..=b).any(|i| xmax(i) == 0) {
            return None;
        }
        let full: u64 = (a..=b).map(|i| xmax(i) * self.cells[i]).sum();
        let copies: Vec<u64> = if full <= cap_cells {
            (a..=b).map(xmax).collect()
        } else {
            if (a..=b).map(|i| self.cells[i]).sum::<u64>() > cap_cells {
                return None;
            }
            let area = |mu: f64| -> u64 { (a..=b).map(|i| self.x_at(i, mu, xmax(i)) * self.cells[i]).sum() };
            // log-space bisection on μ between "all at the cap" and "all single".
            let hi_mu = (a..=b)
                .map(|i| self.t1[i] / self.cells[i].max(1) as f64)
                .fold(f64::MIN_POSITIVE, f64::max)
                * 4.0;
            let lo_mu = (a..=b)
                .map(|i| self.t1[i] / (self.cells[i].max(1) as f64 * (xmax(i) as f64).powi(2)))
                .fold(f64::MAX, f64::min)
                .max(1e-300)
                / 4.0;
            let (mut lo, mut hi) = (lo_mu.ln(), hi_mu.ln());
            for _ in 0..20 {
                let mid = 0.5 * (lo + hi);
                if area(mid.exp()) <= cap_cells {
                    hi = mid
                } else {
                    lo = mid
                }
            }
            let mu = hi.exp();
            (a..=b).map(|i| self.x_at(i, mu, xmax(i))).collect()
        };
        let t = copies
            .iter()
            .zip(a..=b)
            .map(|(&x, i)| self.timings[i].time(x))
            .sum();
        Some((copies, t))
    }

    /// Stage time of layers a..=b on k crossbars (infinite when infeasible), cached.
    fn stage_time(&self, a: usize, b: usize, k: usize) -> f64 {
        let key = (a as u32, b as u32, k as u32);
        if let Some(&t) = self.cache.borrow().get(&key) {
            return t;
        }
        let t = self.stage_copies(a, b, k).map_or(f64::INFINITY, |(_, t)| t);
        self.cache.borrow_mut().insert(key, t);
        t
    }

    /// Least k for which layers a..=b reach time ≤ p, searching upward from `from`.
    fn k_min(&self, a: usize, b: usize, p: f64, from: usize) -> Option<usize> {
        let ok = |k: usize| self.stage_time(a, b, k) <= p;
        if !ok(self.budget) {
            return None;
        }
        let (mut lo, mut hi) = (from.max(1), self.budget);
        if ok(lo) {
            return Some(lo);
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if ok(mid) { hi = mid } else { lo = mid }
        }
        Some(hi)
    }

    /// Fewest-crossbar stages with every stage time ≤ p.
    pub fn plan(&self, p: f64) -> Option<Vec<Stage>> {
        let n = self.timings.len();
        let mut f = vec![usize::MAX; n + 1];
        let mut from = vec![(0usize, 0usize); n + 1];
        f[0] = 0;
        for a in 0..n {
            if f[a] == usize::MAX {
                continue;
            }
            let mut k = 1;
            for b in a..n.min(a + self.max_stage_len) {
                // A longer stage never needs fewer crossbars: search upward from the last k.
                let Some(kk) = self.k_min(a, b, p, k) else { break };
                k = kk;
                let total = f[a] + k;
                if total <= self.budget && total < f[b + 1] {
                    f[b + 1] = total;
                    from[b + 1] = (a, k);
                }
            }
        }
        if f[n] == usize::MAX {
            return None;
        }
        let mut stages = Vec::new();
        let mut b = n;
        while b > 0 {
            let (a, k) = from[b];
            let (_, t) = self.stage_copies(a, b - 1, k)?;
            stages.push(Stage {
                a,
                b: b - 1,
                k,
                time_ns: t,
            });
            b = a;
        }
        stages.reverse();
        Some(stages)
    }

    /// Stages minimising Σ (T_s + λ·K_s) with every T_s ≤ p: the Lagrangian relaxation of
    /// "least Σ T_s within the budget". Returns the stages and their crossbars.
    pub fn plan_lagrange(&self, p: f64, lambda: f64) -> Option<(Vec<Stage>, usize)> {
        let n = self.timings.len();
        let mut f = vec![f64::INFINITY; n + 1];
        let mut from = vec![(0usize, 0usize, 0.0f64); n + 1];
        f[0] = 0.0;
        for a in 0..n {
            if !f[a].is_finite() {
                continue;
            }
            let mut k0 = 1;
            for b in a..n.min(a + self.max_stage_len) {
                let Some(kmin) = self.k_min(a, b, p, k0) else {
                    break;
                };
                k0 = kmin;
                // Geometric grid of crossbar counts above the least one.
                let mut k = kmin;
                loop {
                    let t = self.stage_time(a, b, k);
                    let v = f[a] + t + lambda * k as f64;
                    if v < f[b + 1] {
                        f[b + 1] = v;
                        from[b + 1] = (a, k, t);
                    }
                    if k >= self.budget {
                        break;
                    }
                    k = (k + (k / 6).max(1)).min(self.budget);
                }
            }
        }
        if !f[n].is_finite() {
            return None;
        }
        let mut stages = Vec::new();
        let mut b = n;
        while b > 0 {
            let (a, k, t) = from[b];
            stages.push(Stage {
                a,
                b: b - 1,
                k,
                time_ns: t,
            });
            b = a;
        }
        stages.reverse();
        let used = stages.iter().map(|s| s.k).sum();
        Some((stages, used))
    }

    /// Least Σ T_s within the budget for cap `p`, by bisection on λ.
    pub fn plan_budget(&self, p: f64) -> Option<Vec<Stage>> {
        // λ in ns per crossbar: from negligible to "a crossbar costs a whole period".
        let (mut lo, mut hi) = ((p * 1e-6).ln(), (p * 100.0).ln());
        let (st, used) = self.plan_lagrange(p, hi.exp())?;
        if used > self.budget {
            return None;
        }
        let mut best = st;
        for _ in 0..14 {
            let mid = 0.5 * (lo + hi);
            match self.plan_lagrange(p, mid.exp()) {
                Some((st, used)) if used <= self.budget => {
                    hi = mid;
                    best = st;
                }
                _ => lo = mid,
            }
        }
        Some(best)
    }

    fn objective(&self, stages: &[Stage]) -> f64 {
        let sum: f64 = stages.iter().map(|s| s.time_ns).sum();
        let max = stages.iter().map(|s| s.time_ns).fold(0.0, f64::max);
        sum + (self.samples.saturating_sub(1)) as f64 * max
    }

    /// Gives spare crossbars to the stages where they cut Σ T + (N−1)·max T most.
    pub fn spend_spare(&self, stages: &mut [Stage]) {
        let used: usize = stages.iter().map(|s| s.k).sum();
        let mut spare = self.budget.saturating_sub(used);
        // Larger steps first when much is spare, to keep this cheap.
        while spare > 0 {
            let step = (spare / (2 * stages.len().max(1))).max(1);
            let base = self.objective(stages);
            let mut best: Option<(f64, usize, f64)> = None;
            for (si, s) in stages.iter().enumerate() {
                let Some((_, t)) = self.stage_copies(s.a, s.b, s.k + step) else {
                    continue;
                };
                let mut trial = stages.to_vec();
                trial[si].time_ns = t;
                let gain = base - self.objective(&trial);
                if gain > 0.0 && best.is_none_or(|(g, ..)| gain > g) {
                    best = Some((gain, si, t));
                }
            }
            let Some((_, si, t)) = best else { break };
            stages[si].k += step;
            stages[si].time_ns = t;
            spare -= step;
        }
    }

    /// Packs layers a..=b with `xs` copies onto `k` crossbars. Layers whose copies need
    /// nearly every crossbar of the stage are the most constrained, so they go first; then
    /// the plain area orders.
    fn pack_stage(&self, a: usize, xs: &[u64], k: usize) -> Option<(Vec<Item>, Packing, f64)> {
        let times: Vec<f64> = xs
            .iter()
            .enumerate()
            .map(|(j, &x)| self.timings[a + j].time(x))
            .collect();
        let mut items = stage_items(self.part, a, xs, &times);
        items.retain(|it| !self.floating[it.layer]);
        let xbar = self.part.options.xbar;
        let spread = |it: &Item| xs[it.layer - a] * self.tiles(it.layer) as u64;
        let mut constrained: Vec<usize> = (0..items.len()).collect();
        constrained.sort_by(|&p, &q| {
            let (ip, iq) = (&items[p], &items[q]);
            (spread(iq), iq.cells())
                .cmp(&(spread(ip), ip.cells()))
                .then(p.cmp(&q))
        });
        let orders = [
            constrained,
            pack::strategies::sorted_order(&items, Order::Area),
            pack::strategies::sorted_order(&items, Order::LongSide),
        ];
        for order in &orders {
            if let Some(p) = pack::strategies::greedy(&items, xbar, &self.rules, order, k) {
                return Some((items, p, times.iter().sum()));
            }
        }
        None
    }

    /// Drops copies while the stage time stays within `p`, cheapest time per cell first, so
    /// the stage packs more easily.
    fn trim(&self, a: usize, mut xs: Vec<u64>, p: f64) -> (Vec<u64>, f64) {
        let time = |xs: &[u64]| -> f64 {
            xs.iter()
                .enumerate()
                .map(|(j, &x)| self.timings[a + j].time(x))
                .sum()
        };
        let mut t = time(&xs);
        loop {
            let mut best: Option<(f64, usize, u64, f64)> = None;
            for (j, &x) in xs.iter().enumerate() {
                if x <= 1 {
                    continue;
                }
                let tl = &self.timings[a + j];
                let step = (x / 8).max(1);
                let dt = tl.time(x - step) - tl.time(x);
                if t + dt > p {
                    continue;
                }
                let saved = (step * tl.cells) as f64;
                let score = saved / dt.max(1e-9);
                if best.is_none_or(|(s, ..)| score > s) {
                    best = Some((score, j, step, dt));
                }
            }
            let Some((_, j, step, dt)) = best else { break };
            xs[j] -= step;
            t += dt;
        }
        let t = time(&xs);
        (xs, t)
    }

    /// The plan for period `p` with every stage actually packed: a stage whose area estimate
    /// was optimistic gets more crossbars. None if they exceed the budget.
    pub fn feasible(&self, p: f64) -> Option<Vec<(Stage, Vec<u64>)>> {
        self.pack_plan(self.plan(p)?, p)
    }

    /// Packs every stage of a plan; a stage whose area estimate was optimistic gets more
    /// crossbars from the spare ones. None if that exceeds the budget.
    pub fn pack_plan(&self, stages: Vec<Stage>, p: f64) -> Option<Vec<(Stage, Vec<u64>)>> {
        let mut used = 0usize;
        let mut out = Vec::with_capacity(stages.len());
        let room = self.budget.saturating_sub(stages.iter().map(|s| s.k).sum());
        for s in stages {
            let mut found = None;
            // A few growing attempts: each failed packing costs a full greedy pass.
            let tries = [0usize, 1, 2, 4, 8, 16]
                .into_iter()
                .filter(|&d| d <= room)
                .map(|d| s.k + d);
            for k in tries {
                let Some((xs, t)) = self.stage_copies(s.a, s.b, k) else {
                    continue;
                };
                if t > p {
                    continue;
                }
                let (xs, t) = self.trim(s.a, xs, p);
                if self.pack_stage(s.a, &xs, k).is_some() {
                    found = Some((Stage { k, time_ns: t, ..s }, xs));
                    break;
                }
            }
            let (st, xs) = found?;
            used += st.k;
            if used > self.budget {
                return None;
            }
            out.push((st, xs));
        }
        Some(out)
    }

    /// Packs every stage; a stage given spare crossbars that then fails to pack falls back to
    /// its feasible copies (`fallback`).
    pub fn realize(&self, stages: &[Stage], fallback: &[(Stage, Vec<u64>)]) -> Option<(Vec<u64>, Packing)> {
        let xbar = self.part.options.xbar;
        let mut copies = vec![1u64; self.timings.len()];
        let mut placements: Vec<(Item, Placement)> = Vec::new();
        let mut offset = 0u32;
        for (s, (fs, fx)) in stages.iter().zip(fallback) {
            let mut got = None;
            if let Some((mut xs, _)) = self.stage_copies(s.a, s.b, s.k) {
                for _ in 0..16 {
                    if let Some(r) = self.pack_stage(s.a, &xs, s.k) {
                        got = Some((xs, s.k, r));
                        break;
                    }
                    // Drop copies of the layer holding the most cells.
                    let Some((j, _)) = xs
                        .iter()
                        .enumerate()
                        .filter(|(_, x)| **x > 1)
                        .max_by_key(|(j, x)| **x * self.timings[s.a + j].cells)
                    else {
                        break;
                    };
                    xs[j] -= (xs[j] / 8).max(1);
                }
            }
            let (xs, k, (items, p, _)) = match got {
                Some(g) => g,
                None => (fx.clone(), fs.k, self.pack_stage(fs.a, fx, fs.k)?),
            };
            for (it, pl) in items.into_iter().zip(p.placements) {
                placements.push((
                    it,
                    Placement {
                        crossbar: pl.crossbar + offset,
                        ..pl
                    },
                ));
            }
            offset += k as u32;
            for (j, &x) in xs.iter().enumerate() {
                copies[s.a + j] = x;
            }
        }
        self.place_floating(&mut placements, offset as usize)?;
        // Order placements like `map::items` (layer, copy, tile) so outputs line up.
        placements.sort_by_key(|(it, _)| (it.layer, it.copy, it.tile));
        let crossbars = placements
            .iter()
            .map(|(_, p)| p.crossbar as usize + 1)
            .max()
            .unwrap_or(0);
        Some((
            copies,
            Packing {
                xbar,
                crossbars,
                placements: placements.into_iter().map(|(_, p)| p).collect(),
            },
        ))
    }

    /// Places the floating layers' tiles, largest first, on the crossbar whose layers are
    /// nearest in execution order and that has room; new crossbars within the budget.
    fn place_floating(&self, placements: &mut Vec<(Item, Placement)>, used: usize) -> Option<()> {
        let xbar = self.part.options.xbar;
        let mut bins: Vec<pack::Bin> = (0..used).map(|_| pack::Bin::new(xbar.rows, xbar.cols)).collect();
        for (it, p) in placements.iter() {
            bins[p.crossbar as usize].place(it, p.x, p.y);
        }
        let mut items: Vec<Item> = Vec::new();
        for (i, _) in self.floating.iter().enumerate().filter(|(_, f)| **f) {
            let t = self.timings[i].time(1);
            items.extend(stage_items(self.part, i, &[1], &[t]));
        }
        items.sort_by_key(|it| (std::cmp::Reverse(it.cells()), it.layer, it.tile));
        for it in items {
            let mut best: pack::strategies::Choice<FloatScore> = None;
            for (b, bin) in bins.iter().enumerate() {
                if !bin.admits(&it, &self.rules) {
                    continue;
                }
                let Some((s, _, x, y)) = bin.best_fit(&it, &self.rules) else {
                    continue;
                };
                let dist = bin
                    .layers
                    .iter()
                    .map(|&l| l.abs_diff(it.layer))
                    .min()
                    .unwrap_or(usize::MAX);
                let score = (dist, s, b);
                if best.as_ref().is_none_or(|(bs, ..)| score < *bs) {
                    best = Some((score, b, x, y));
                }
            }
            let (b, x, y) = match best {
                Some((_, b, x, y)) => (b, x, y),
                None => {
                    if bins.len() >= self.budget {
                        return None;
                    }
                    bins.push(pack::Bin::new(xbar.rows, xbar.cols));
                    (bins.len() - 1, 0, 0)
                }
            };
            bins[b].place(&it, x, y);
            placements.push((
                it,
                Placement {
                    crossbar: b as u32,
                    x,
                    y,
                },
            ));
        }
        Some(())
    }
}

/// (distance in execution order, short-side leftover, crossbar)
type FloatScore = (usize, usize, usize);

fn stage_items(part: &Partition, a: usize, copies: &[u64], times: &[f64]) -> Vec<Item> {
    let mut v = Vec::new();
    for (j, (&x, &t)) in copies.iter().zip(times).enumerate() {
        for copy in 0..x as usize {
            v.extend(
                part.layers[a + j]
                    .tiles
                    .iter()
                    .map(|tile| Item::new(copy, tile, t)),
            );
        }
    }
    v
}
