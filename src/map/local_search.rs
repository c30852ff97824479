//! Local search on a finished mapping, judged by the simulator.
//!
//! The other mappers in [`crate::map`] decide copies and placement from models of contention
//! (periods, stages, tiers). The simulator knows better: which layers actually queue behind
//! each other depends on the schedule. This pass starts from a mapper's result and tries small
//! changes — add a copy, drop one, move one copy's tiles elsewhere, trade a copy of one layer
//! for a copy of another, move a copy off one of the busiest crossbars, empty one crossbar and
//! refill — keeping each change whose simulated result is no worse. Every change keeps the
//! mapping inside the budget and the rules, so any prefix of the search is a valid mapping.
//! (What it gains on the zoo networks is in the README.)

use super::MapTask;
use crate::pack::{Bin, Item, Packing, Placement};
use crate::rng::SplitMix64;
use crate::simulate::{SimInput, SimResult, simulate};
// Copy-on-write parts: a move clones the state but changes a few layers and crossbars, so
// only those get copied (cloning every crossbar took about a third of the search's time).
use std::rc::Rc;

/// Ranking of a simulated mapping: lower is better. Mappings at or above the efficiency
/// floor rank by latency; below it, by efficiency (the most efficient first).
pub fn rank(sim: &SimResult, min_efficiency: f64) -> (f64, f64) {
    let eff = sim.contention_efficiency();
    if eff + 1e-12 >= min_efficiency {
        (0.0, sim.latency_ns)
    } else {
        (1.0, -eff)
    }
}

/// What the search needs besides the mapping.
pub struct LocalSearch<'a> {
    pub task: MapTask<'a>,
    pub min_efficiency: f64,
}

/// A mapping as the search edits it: per layer, per copy, one placement per tile.
#[derive(Clone)]
struct State {
    at: Vec<Rc<Vec<Vec<Placement>>>>,
    /// The crossbars as `at` fills them (their work figures may lag behind copy changes;
    /// they only steer placement).
    bins: Vec<Rc<Bin>>,
}

impl State {
    fn copies(&self) -> Vec<u64> {
        self.at.iter().map(|c| c.len() as u64).collect()
    }
}

/// How a copy's tiles choose their crossbars.
#[derive(Clone, Copy)]
enum Choose {
    /// The fitting crossbar whose layers clash least with this one's busy window.
    LeastClash,
    /// The fitting crossbar with the least work per sample.
    LeastWork,
    /// The tightest fit (keeps large free spaces for later).
    Tight,
    /// Any crossbar that fits (diversity).
    Random,
}

impl LocalSearch<'_> {
    fn times(&self, st: &State) -> Vec<f64> {
        self.task
            .timings
            .iter()
            .zip(&st.at)
            .map(|(t, c)| t.time(c.len() as u64))
            .collect()
    }

    fn evaluate(&self, st: &State) -> Option<(f64, f64)> {
        let times = self.times(st);
        let mut lc: Vec<Vec<u32>> = st
            .at
            .iter()
            .map(|copies| copies.iter().flatten().map(|p| p.crossbar).collect())
            .collect();
        for v in &mut lc {
            v.sort_unstable();
            v.dedup();
        }
        let sim = simulate(&SimInput {
            layer_time_ns: &times,
            layer_crossbars: &lc,
            preds: self.task.preds,
            crossbars: self.task.budget,
            samples: self.task.samples,
            trace: false,
        })
        .ok()?;
        Some(rank(&sim, self.min_efficiency))
    }

    fn item(&self, layer: usize, copy: usize, tile: usize, time_ns: f64) -> Item {
        let t = &self.task.part.layers[layer].tiles[tile];
        Item {
            layer,
            copy,
            tile,
            rows: t.rows,
            cols: t.cols,
            time_ns,
        }
    }

    /// When each layer is busy in the contention-free pipeline: from the first sample's
    /// start to the last sample's end, with the slowest layer setting the pace. Layers whose
    /// windows do not overlap can share crossbars at no cost (with few samples, early and
    /// late layers never run at the same time).
    fn windows(&self, times: &[f64]) -> Vec<(f64, f64)> {
        let pace = times.iter().copied().fold(0.0, f64::max);
        let tail = pace * self.task.samples.saturating_sub(1) as f64;
        let mut start = vec![0.0f64; times.len()];
        for i in 0..times.len() {
            start[i] = self.task.preds[i]
                .iter()
                .map(|&p| start[p] + times[p])
                .fold(0.0, f64::max);
        }
        start
            .iter()
            .zip(times)
            .map(|(&s, &t)| (s, s + t + tail))
            .collect()
    }

    /// The crossbars as `at` fills them.
    fn bins(&self, at: &[Vec<Vec<Placement>>], times: &[f64]) -> Vec<Bin> {
        let x = self.task.part.options.xbar;
        let mut bins: Vec<Bin> = (0..self.task.budget).map(|_| Bin::new(x.rows, x.cols)).collect();
        for (layer, copies) in at.iter().enumerate() {
            for (copy, tiles) in copies.iter().enumerate() {
                for (tile, p) in tiles.iter().enumerate() {
                    let it = self.item(layer, copy, tile, times[layer]);
                    bins[p.crossbar as usize].place(&it, p.x, p.y);
                }
            }
        }
        bins
    }

    /// Drops the copies `(layer, copy)` (copy indices as they are now) and rebuilds the
    /// crossbars they occupied.
    fn remove(&self, st: &mut State, mut drop: Vec<(usize, usize)>) {
        // Highest copy index first so the others keep their positions.
        drop.sort_unstable_by(|a, b| b.cmp(a));
        drop.dedup();
        let mut touched: Vec<u32> = Vec::new();
        for (i, c) in drop {
            touched.extend(Rc::make_mut(&mut st.at[i]).remove(c).iter().map(|p| p.crossbar));
        }
        touched.sort_unstable();
        touched.dedup();
        let times = self.times(st);
        let x = self.task.part.options.xbar;
        for &k in &touched {
            st.bins[k as usize] = Rc::new(Bin::new(x.rows, x.cols));
        }
        for (layer, copies) in st.at.iter().enumerate() {
            for (copy, tiles) in copies.iter().enumerate() {
                for (tile, p) in tiles.iter().enumerate() {
                    if touched.binary_search(&p.crossbar).is_ok() {
                        let it = self.item(layer, copy, tile, times[layer]);
                        Rc::make_mut(&mut st.bins[p.crossbar as usize]).place(&it, p.x, p.y);
                    }
                }
            }
        }
    }

    /// Adds a copy of `layer` placed by `how`; false (and `st` unchanged) when a tile finds
    /// no room.
    fn add(&self, st: &mut State, layer: usize, how: Choose, rng: &mut SplitMix64) -> bool {
        let x = st.at[layer].len();
        let mut times = self.times(st);
        times[layer] = self.task.timings[layer].time(x as u64 + 1);
        match self.place_copy(&mut st.bins, layer, x, &times, how, rng) {
            Some(spots) => {
                Rc::make_mut(&mut st.at[layer]).push(spots);
                true
            }
            None => false,
        }
    }

    /// Places one more copy of `layer` into `bins`; None when some tile finds no crossbar.
    fn place_copy(
        &self,
        bins: &mut [Rc<Bin>],
        layer: usize,
        copy: usize,
        times: &[f64],
        how: Choose,
        rng: &mut SplitMix64,
    ) -> Option<Vec<Placement>> {
        let ntiles = self.task.part.layers[layer].tiles.len();
        let mut out: Vec<Placement> = Vec::with_capacity(ntiles);
        let mut saved: Vec<Rc<Bin>> = Vec::with_capacity(ntiles);
        let win = self.windows(times);
        // Work on a crossbar that competes with this layer: layers busy while it is.
        let clash = |bin: &Bin| -> f64 {
            bin.layers
                .iter()
                .filter(|&&j| win[j].0 < win[layer].1 && win[layer].0 < win[j].1)
                .map(|&j| times[j])
                .sum()
        };
        // Under the diagonal rule a crossbar already hosting the layer takes another of its
        // tiles on disjoint rows and columns at no extra work (one activation drives both);
        // otherwise it would run the copies one after another.
        let share = self.task.pack.rules.diagonal && self.task.pack.rules.layer_threshold < 0;
        let hosts = |bin: &Bin| bin.layers.binary_search(&layer).is_ok();
        for tile in 0..ntiles {
            let it = self.item(layer, copy, tile, times[layer]);
            let fits = bins.iter().enumerate().filter_map(|(b, bin)| {
                if (!share && hosts(bin)) || !bin.admits(&it, &self.task.pack.rules) {
                    return None;
                }
                bin.best_fit(&it, &self.task.pack.rules)
                    .map(|(s, l, x, y)| (b, s, l, x, y))
            });
            // Work the tile adds to a crossbar: none where the layer already runs.
            let added = |bin: &Bin, w: f64| if hosts(bin) { 0.0 } else { w };
            let pick = match how {
                Choose::LeastClash => fits
                    .map(|f| (added(&bins[f.0], clash(&bins[f.0])), f))
                    .min_by(|a, b| {
                        a.0.total_cmp(&b.0)
                            .then((a.1.1, a.1.2, a.1.0).cmp(&(b.1.1, b.1.2, b.1.0)))
                    })
                    .map(|(_, f)| f),
                Choose::LeastWork => fits.min_by(|a, b| {
                    // +1 ns: an idle crossbar still ranks after one already running the layer.
                    let w =
                        |f: &(usize, usize, usize, usize, usize)| added(&bins[f.0], bins[f.0].time_ns + 1.0);
                    w(a).total_cmp(&w(b)).then((a.1, a.2, a.0).cmp(&(b.1, b.2, b.0)))
                }),
                Choose::Tight => fits.min_by_key(|&(b, s, l, ..)| (s, l, b)),
                Choose::Random => {
                    let v: Vec<_> = fits.collect();
                    (!v.is_empty()).then(|| v[rng.below(v.len())])
                }
            };
            let Some((b, _, _, x, y)) = pick else {
                // Undo this copy's earlier tiles.
                for (p, old) in out.iter().zip(saved) {
                    bins[p.crossbar as usize] = old;
                }
                return None;
            };
            saved.push(bins[b].clone());
            Rc::make_mut(&mut bins[b]).place(&it, x, y);
            out.push(Placement {
                crossbar: b as u32,
                x,
                y,
            });
        }
        Some(out)
    }

    /// A layer drawn with probability ∝ its time: slow layers gain most from a copy.
    fn slow_layer(&self, st: &State, rng: &mut SplitMix64) -> usize {
        let times = self.times(st);
        let total: f64 = times.iter().sum();
        let mut r = rng.next_f64() * total;
        for (i, &t) in times.iter().enumerate() {
            if r < t {
                return i;
            }
            r -= t;
        }
        times.len() - 1
    }

    fn choose(rng: &mut SplitMix64) -> Choose {
        match rng.below(4) {
            0 => Choose::LeastClash,
            1 => Choose::Tight,
            2 => Choose::LeastWork,
            _ => Choose::Random,
        }
    }

    /// Adds up to `limit` copies while any fits: first one of `first`, then by value per
    /// cell, drawn among the best three. A copy's value is the time it saves, (N − 1) times
    /// over for the slowest layers (they set the pipeline's pace).
    fn refill(&self, st: &mut State, first: Option<usize>, limit: usize, rng: &mut SplitMix64) {
        let how = Self::choose(rng);
        let n = st.at.len();
        let mut times = self.times(st);
        let mut exhausted = vec![false; n];
        let slot = if self.task.pack.rules.max_load > 0 {
            self.task.part.options.xbar.cells() as f64 / self.task.pack.rules.max_load as f64
        } else {
            0.0
        };
        for step in 0..limit {
            let i = match (step, first) {
                (0, Some(f)) => f,
                _ => {
                    let pace = times.iter().copied().fold(0.0, f64::max);
                    let tail = self.task.samples.saturating_sub(1) as f64;
                    let mut c: Vec<(f64, usize)> = (0..n)
                        .filter(|&i| !exhausted[i])
                        .filter_map(|i| {
                            let t = &self.task.timings[i];
                            let x = st.at[i].len() as u64;
                            let w = if times[i] >= 0.999 * pace { 1.0 + tail } else { 1.0 };
                            let gain = (t.time(x) - t.time(x + 1)) * w;
                            let cost = t.cells as f64 + slot * t.tiles.len() as f64;
                            (x < t.max_copies() && gain > 0.0).then(|| (-gain / cost.max(1.0), i))
                        })
                        .collect();
                    if c.is_empty() {
                        break;
                    }
                    c.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    c[rng.below(c.len().min(3))].1
                }
            };
            let x = st.at[i].len() as u64;
            if x >= self.task.timings[i].max_copies() {
                exhausted[i] = true;
                continue;
            }
            if self.add(st, i, how, rng) {
                times[i] = self.task.timings[i].time(x + 1);
            } else {
                exhausted[i] = true;
            }
        }
    }

    /// One random change of `st`; None when it does not apply or does not fit.
    fn neighbour(&self, st: &State, rng: &mut SplitMix64) -> Option<State> {
        let n = st.at.len();
        let mut next = st.clone();
        let removable: Vec<usize> = (0..n).filter(|&i| st.at[i].len() > 1).collect();
        let any_removable = |rng: &mut SplitMix64| -> Option<(usize, usize)> {
            let &i = removable.get(rng.below(removable.len().max(1)))?;
            Some((i, rng.below(st.at[i].len())))
        };
        // Whether layer i would still gain from one more copy.
        let gains = |i: usize, x: usize| {
            let t = &self.task.timings[i];
            (x as u64) < t.max_copies() && t.time(x as u64 + 1) < t.time(x as u64)
        };
        match rng.below(6) {
            // Add a copy.
            0 => {
                let i = self.slow_layer(st, rng);
                if !gains(i, st.at[i].len()) {
                    return None;
                }
                let how = Self::choose(rng);
                self.add(&mut next, i, how, rng).then_some(next)
            }
            // Drop a copy.
            1 => {
                let d = any_removable(rng)?;
                self.remove(&mut next, vec![d]);
                Some(next)
            }
            // Move one copy of a layer.
            2 => {
                let i = rng.below(n);
                let c = rng.below(st.at[i].len());
                self.remove(&mut next, vec![(i, c)]);
                let how = Self::choose(rng);
                self.add(&mut next, i, how, rng).then_some(next)
            }
            // Trade a copy of one layer for a copy of another.
            3 => {
                let d = any_removable(rng)?;
                let i = self.slow_layer(st, rng);
                self.remove(&mut next, vec![d]);
                if !gains(i, next.at[i].len()) {
                    return None;
                }
                let how = Self::choose(rng);
                self.add(&mut next, i, how, rng).then_some(next)
            }
            // Relieve a busy crossbar: move one copy it hosts to the least busy ones.
            4 => {
                let mut busy: Vec<(f64, usize)> = st
                    .bins
                    .iter()
                    .enumerate()
                    .map(|(b, bin)| (-bin.time_ns, b))
                    .collect();
                busy.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let k = busy[rng.below(busy.len().min(4))].1 as u32;
                let hosted: Vec<(usize, usize)> = (0..n)
                    .flat_map(|i| (0..st.at[i].len()).map(move |c| (i, c)))
                    .filter(|&(i, c)| st.at[i][c].iter().any(|p| p.crossbar == k))
                    .collect();
                let &(i, c) = hosted.get(rng.below(hosted.len().max(1)))?;
                self.remove(&mut next, vec![(i, c)]);
                let how = if rng.below(2) == 0 {
                    Choose::LeastWork
                } else {
                    Choose::LeastClash
                };
                self.add(&mut next, i, how, rng).then_some(next)
            }
            // Ruin and recreate: empty one crossbar of every removable copy, give a slow layer
            // a copy first, then refill by time saved per cell.
            _ => {
                let k = rng.below(self.task.budget) as u32;
                let mut drop = Vec::new();
                for (i, copies) in st.at.iter().enumerate() {
                    let on: Vec<usize> = (0..copies.len())
                        .filter(|&c| copies[c].iter().any(|p| p.crossbar == k))
                        .collect();
                    // Every layer keeps at least one copy.
                    let keep = usize::from(on.len() == copies.len());
                    drop.extend(on.into_iter().skip(keep).map(|c| (i, c)));
                }
                // Refill about as many copies as were dropped: a full refill of a mapping
                // with much free area would cost hundreds of placements per move.
                let limit = drop.len() + 2;
                self.remove(&mut next, drop);
                let f = self.slow_layer(&next, rng);
                self.refill(&mut next, Some(f), limit, rng);
                Some(next)
            }
        }
    }

    /// Improves (`copies`, `packing`) for `moves` changes; returns the best mapping seen
    /// (the input itself when nothing helped). Deterministic for a seed.
    pub fn run(&self, copies: &[u64], packing: &Packing, moves: usize, seed: u64) -> (Vec<u64>, Packing) {
        let input = (copies.to_vec(), packing.clone());
        if self.task.budget == 0 || packing.crossbars > self.task.budget {
            return input;
        }
        let mut at: Vec<Vec<Vec<Placement>>> = copies
            .iter()
            .zip(&self.task.part.layers)
            .map(|(&x, lp)| vec![Vec::with_capacity(lp.tiles.len()); x as usize])
            .collect();
        // Placements come in layer, copy, tile order (see `map::items`).
        let mut it = packing.placements.iter();
        for (copies_of, lp) in at.iter_mut().zip(&self.task.part.layers) {
            for copy in copies_of.iter_mut() {
                for _ in &lp.tiles {
                    let Some(p) = it.next() else { return input };
                    copy.push(*p);
                }
            }
        }
        let times = crate::duplicate::times(self.task.timings, copies);
        let bins = self.bins(&at, &times);
        let mut cur = State {
            at: at.into_iter().map(Rc::new).collect(),
            bins: bins.into_iter().map(Rc::new).collect(),
        };
        let Some(mut key) = self.evaluate(&cur) else {
            return input;
        };
        let start = key;
        let mut rng = SplitMix64::new(seed ^ 0x05ee_d0f4_ef1e);
        // Descent that also accepts equal results: plateaus are wide (many placements
        // simulate alike), and drifting along them reaches further. Annealing (accepting
        // worse results early) was tried and did worse at equal move counts.
        for _ in 0..moves {
            // A cancelled run keeps the best mapping so far (the caller reports the cancel).
            if self.task.cancelled() {
                break;
            }
            let Some(next) = self.neighbour(&cur, &mut rng) else {
                continue;
            };
            let Some(k) = self.evaluate(&next) else {
                continue;
            };
            if k <= key {
                key = k;
                cur = next;
            }
        }
        self.polish(&mut cur, &mut key, &mut rng);
        if key >= start {
            return input;
        }
        (cur.copies(), self.packing(&cur))
    }

    /// Steps over plateaus of t_i: on a plateau one more copy saves nothing, so the random
    /// moves (one copy each, kept only if no slower) rarely take the two or three a layer needs
    /// to get faster. For every layer on a plateau, its next faster copy count placed each
    /// way; the best that simulates faster is kept, until none is.
    fn polish(&self, cur: &mut State, key: &mut (f64, f64), rng: &mut SplitMix64) {
        while !self.task.cancelled() {
            let mut best: Option<((f64, f64), State)> = None;
            for i in 0..cur.at.len() {
                let x = cur.at[i].len() as u64;
                let Some(y) = self.task.timings[i].next_faster(x) else {
                    continue;
                };
                if y - x < 2 || y - x > 8 {
                    continue;
                }
                for how in [Choose::LeastClash, Choose::LeastWork, Choose::Tight] {
                    let mut next = cur.clone();
                    if !(x..y).all(|_| self.add(&mut next, i, how, rng)) {
                        continue;
                    }
                    if let Some(k) = self.evaluate(&next)
                        && k < *key
                        && best.as_ref().is_none_or(|b| k < b.0)
                    {
                        best = Some((k, next));
                    }
                }
            }
            match best {
                Some((k, s)) => {
                    *key = k;
                    *cur = s;
                }
                None => return,
            }
        }
    }

    /// The state as a packing, with crossbars renumbered so the used ones come first.
    fn packing(&self, st: &State) -> Packing {
        let mut used = vec![false; self.task.budget];
        for p in st.at.iter().flat_map(|c| c.iter()).flatten() {
            used[p.crossbar as usize] = true;
        }
        let mut id = vec![0u32; self.task.budget];
        let mut next = 0u32;
        for (b, &u) in used.iter().enumerate() {
            if u {
                id[b] = next;
                next += 1;
            }
        }
        Packing {
            xbar: self.task.part.options.xbar,
            crossbars: next as usize,
            placements: st
                .at
                .iter()
                .flat_map(|c| c.iter())
                .flatten()
                .map(|p| Placement {
                    crossbar: id[p.crossbar as usize],
                    ..*p
                })
                .collect(),
        }
    }
}
