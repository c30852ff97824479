//! Heavy layers on private crossbars, light layers on their neighbours' spare cells.

use super::{MapTask, Mapper, Mapping, Raw, run_sim};
use crate::duplicate::{self, LayerTiming};
use crate::pack::{self, Item, Packing, Placement, Rules};
use crate::partition::Partition;

/// Private crossbars for heavy layers; none under a layer threshold (the neighbours could
/// not share).
pub struct Private;

impl Mapper for Private {
    fn name(&self) -> &'static str {
        "private"
    }

    fn map(&self, task: &MapTask) -> anyhow::Result<Vec<Mapping>> {
        super::to_mappings(task.part, private(task)?)
    }
}

/// The fastest simulated mapping over the effort's heavy counts, light times and caps.
pub(super) fn private(task: &MapTask) -> anyhow::Result<Option<Raw>> {
    let (part, timings, preds, opts) = (task.part, task.timings, task.preds, task);
    if opts.pack.rules.layer_threshold > 0 || opts.budget == 0 {
        return Ok(None);
    }
    let pr = PrivatePlanner {
        part,
        timings,
        budget: opts.budget,
        rules: Rules {
            layer_threshold: 0.min(opts.pack.rules.layer_threshold),
            ..opts.pack.rules
        },
    };
    let t1: Vec<f64> = timings.iter().map(|t| t.time(1)).collect();
    let mut sorted = t1.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut best: Option<(Vec<u64>, Packing, f64)> = None;
    let steps = task.steps();
    let (heavies, lights) = (steps.private_heavies, steps.private_lights);
    for &nheavy in heavies {
        // Heavy = the nheavy slowest layers.
        let heavy_ns = sorted
            .get(nheavy.min(sorted.len()) - 1)
            .copied()
            .unwrap_or(0.0)
            .max(1e-9);
        // Period caps: Σ t_i alone leaves the slowest layer slow, but latency for N samples
        // is about Σ t_i + (N − 1)·max t_i, so capping max t_i trades one for the other.
        let caps = steps.private_caps;
        let mut uncapped_max = f64::INFINITY;
        for (&light_ns, &cap) in lights.iter().flat_map(|l| caps.iter().map(move |c| (l, c))) {
            let period = if cap >= 1.0 {
                f64::INFINITY
            } else {
                cap * uncapped_max
            };
            // Largest heavy allowance that still packs with the light tiles.
            let try_nh = |nh: usize| {
                if task.cancelled() {
                    return None;
                }
                pr.copies(period, heavy_ns, nh, light_ns)
                    .and_then(|c| pr.pack(&c, heavy_ns, None).map(|p| (c, p)))
            };
            // The least heavy allowance: every heavy layer at the copies the cap needs.
            let Some(need) = duplicate::copies_for_period(timings, period) else {
                continue;
            };
            let base: usize = (0..timings.len())
                .filter(|&i| t1[i] >= heavy_ns)
                .map(|i| timings[i].tiles.len() * need[i] as usize)
                .sum();
            if base > opts.budget {
                continue;
            }
            let Some(first) = try_nh(base) else { continue };
            let (mut lo, mut hi) = (base, opts.budget);
            let mut found = Some(first);
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                match try_nh(mid) {
                    Some(r) => {
                        lo = mid;
                        found = Some(r);
                    }
                    None => hi = mid - 1,
                }
            }
            let Some((copies, (it, packing))) = found else {
                continue;
            };
            let times = duplicate::times(timings, &copies);
            if cap >= 1.0 {
                uncapped_max = times.iter().copied().fold(0.0, f64::max);
            }
            let lat = run_sim(&it, &packing, &times, preds, opts.samples, false)?.latency_ns;
            if best.as_ref().is_none_or(|b| lat < b.2) {
                best = Some((copies, packing, lat));
            }
        }
    }
    Ok(best.map(|(c, p, _)| (c, p)))
}

/// Heavy layers on private crossbars, light layers on their neighbours' spare cells.
///
/// The simulator serves waiting executions oldest first, so two slow layers sharing a
/// crossbar queue samples behind each other; a fast layer sharing with its neighbour in
/// execution order costs almost nothing (they run back to back for one sample anyway). So:
/// every tile copy of a heavy layer (t_i(1) ≥ `heavy_ns`) gets a crossbar of its own; copies
/// of heavy layers minimise Σ T_i/x_i for the crossbars given to them (x_i ∝ √(T_i/tiles_i)),
/// never above `period`; light tiles then go, largest first, to the crossbar hosting the
/// nearest layer in execution order that still has room (area and, with `period`, time).
pub struct PrivatePlanner<'a> {
    pub part: &'a Partition,
    pub timings: &'a [LayerTiming],
    pub budget: usize,
    pub rules: Rules,
}

impl PrivatePlanner<'_> {
    /// Copies for a heavy-crossbar allowance `nh` with every layer at most `period`.
    /// Light layers get the least copies reaching `light_ns` (they cost only spare cells).
    pub fn copies(&self, period: f64, heavy_ns: f64, nh: usize, light_ns: f64) -> Option<Vec<u64>> {
        let mut x = crate::duplicate::copies_for_period(self.timings, period)?;
        let t1: Vec<f64> = self.timings.iter().map(|t| t.time(1)).collect();
        for (i, xi) in x.iter_mut().enumerate() {
            if t1[i] < heavy_ns
                && let Some(c) = self.timings[i].copies_for(light_ns)
            {
                // Each copy's tiles need crossbars of their own; keep within the budget.
                let cap = (self.budget / self.timings[i].tiles.len().max(1)) as u64;
                *xi = (*xi).max(c.min(cap.max(1)));
            }
        }
        let heavy: Vec<usize> = (0..x.len()).filter(|&i| t1[i] >= heavy_ns).collect();
        let tiles = |i: usize| self.timings[i].tiles.len().max(1) as u64;
        let base: u64 = heavy.iter().map(|&i| tiles(i) * x[i]).sum();
        if base > nh as u64 {
            return None;
        }
        // x_i = max(x_i(P), √(T_i/(μ·tiles_i))), μ bisected so Σ tiles·x fits nh.
        let used = |mu: f64, x: &[u64]| -> (u64, Vec<u64>) {
            let mut v = x.to_vec();
            let mut total = 0;
            for &i in &heavy {
                let want = (t1[i] / (mu * tiles(i) as f64)).sqrt().floor();
                let want = if want.is_finite() { want as u64 } else { u64::MAX };
                v[i] = v[i].max(want.min(self.timings[i].max_copies()));
                total += tiles(i) * v[i];
            }
            (total, v)
        };
        let (mut lo, mut hi) = ((1e-12f64).ln(), (1e12f64).ln());
        for _ in 0..40 {
            let mid = 0.5 * (lo + hi);
            if used(mid.exp(), &x).0 <= nh as u64 {
                hi = mid
            } else {
                lo = mid
            }
        }
        x = used(hi.exp(), &x).1;
        Some(x)
    }

    /// Packs `copies`: heavy tiles one per crossbar, light tiles near their neighbours.
    pub fn pack(&self, copies: &[u64], heavy_ns: f64, period: Option<f64>) -> Option<(Vec<Item>, Packing)> {
        let xbar = self.part.options.xbar;
        let times = crate::duplicate::times(self.timings, copies);
        let t1: Vec<f64> = self.timings.iter().map(|t| t.time(1)).collect();
        let items = super::items(self.part, copies, &times);
        let mut bins: Vec<pack::Bin> = Vec::new();
        // Crossbars by the layer they were opened for: a light tile looks at the nearest
        // layers first and stops at the first distance where some crossbar fits, which is
        // the (distance, fit, crossbar) minimum without scanning every crossbar.
        let mut by_owner: Vec<Vec<usize>> = vec![Vec::new(); self.timings.len()];
        let mut placements = vec![
            Placement {
                crossbar: 0,
                x: 0,
                y: 0
            };
            items.len()
        ];
        let rules = Rules {
            time_budget_ns: period,
            ..self.rules
        };
        let (heavy, mut light): (Vec<usize>, Vec<usize>) =
            (0..items.len()).partition(|&k| t1[items[k].layer] >= heavy_ns);
        for &k in &heavy {
            if bins.len() >= self.budget {
                return None;
            }
            let mut b = pack::Bin::new(xbar.rows, xbar.cols);
            b.place(&items[k], 0, 0);
            bins.push(b);
            by_owner[items[k].layer].push(bins.len() - 1);
            placements[k] = Placement {
                crossbar: (bins.len() - 1) as u32,
                x: 0,
                y: 0,
            };
        }
        light.sort_by_key(|&k| {
            (
                std::cmp::Reverse(items[k].cells()),
                items[k].layer,
                items[k].copy,
                items[k].tile,
            )
        });
        for &k in &light {
            let it = &items[k];
            let mut best: pack::strategies::Choice<(usize, usize, usize)> = None;
            for dist in 0..by_owner.len() {
                let below = it.layer.checked_sub(dist);
                let above = (dist > 0)
                    .then_some(it.layer + dist)
                    .filter(|&l| l < by_owner.len());
                if below.is_none() && above.is_none() {
                    break;
                }
                for l in [below, above].into_iter().flatten() {
                    for &b in &by_owner[l] {
                        let bin = &bins[b];
                        if !bin.admits(it, &rules) {
                            continue;
                        }
                        let Some((s, _, x, y)) = bin.best_fit(it, &rules) else {
                            continue;
                        };
                        let score = (dist, s, b);
                        if best.as_ref().is_none_or(|(bs, ..)| score < *bs) {
                            best = Some((score, b, x, y));
                        }
                    }
                }
                if best.is_some() {
                    break;
                }
            }
            let (b, x, y) = match best {
                Some((_, b, x, y)) => (b, x, y),
                None => {
                    if bins.len() >= self.budget {
                        return None;
                    }
                    bins.push(pack::Bin::new(xbar.rows, xbar.cols));
                    by_owner[it.layer].push(bins.len() - 1);
                    (bins.len() - 1, 0, 0)
                }
            };
            bins[b].place(it, x, y);
            placements[k] = Placement {
                crossbar: b as u32,
                x,
                y,
            };
        }
        Some((
            items,
            Packing {
                xbar,
                crossbars: bins.len(),
                placements,
            },
        ))
    }
}
