//! Time-dense layers spread over a shared tier of crossbars.

use super::{MapTask, Mapper, Mapping, Raw};
use crate::pack::{self, Item, Packing, Rules};

/// A tier shared by the densest layers; not at fast effort.
pub struct Spread;

impl Mapper for Spread {
    fn name(&self) -> &'static str {
        "spread"
    }

    fn map(&self, task: &MapTask) -> anyhow::Result<Vec<Mapping>> {
        super::to_mappings(task.part, spread(task)?)
    }
}

/// Time-dense layers spread over a shared tier of crossbars. Serial depthwise layers carry
/// most of the work on a few percent of the cells, so private crossbars waste their area and
/// cap their copies. Here each of the `m` densest layers (work per cell) gets a copy tile on
/// nearly every crossbar of a tier of `h`: the tier then serves every dense layer of a sample
/// in turn and its load per sample is about Σ work / h, whatever the order of service. The
/// other layers go to the remaining crossbars (one copy, then copies for the slowest while
/// they fit), spilling onto the tier's spare cells only when the budget runs out.
pub(super) fn spread(task: &MapTask) -> anyhow::Result<Option<Raw>> {
    let (timings, opts) = (task.timings, task);
    if opts.budget == 0 || !task.steps().portfolio {
        return Ok(None);
    }
    let n = timings.len();
    let work: Vec<f64> = timings
        .iter()
        .map(|t| t.tiles.iter().map(|&(tau, c)| tau * c as f64).sum())
        .collect();
    let mut dense: Vec<usize> = (0..n).collect();
    let density = |i: usize| work[i] / timings[i].cells.max(1) as f64;
    dense.sort_by(|&a, &b| density(b).total_cmp(&density(a)).then(a.cmp(&b)));
    let (ms, hs) = (task.steps().spread_layers, task.steps().spread_tiers);
    let mut best: Option<(Vec<u64>, Packing, f64)> = None;
    for &m in ms {
        let heavy: Vec<bool> = {
            let mut v = vec![false; n];
            dense.iter().take(m.min(n)).for_each(|&i| v[i] = true);
            v
        };
        for &hf in hs {
            let h = ((hf * opts.budget as f64) as usize).max(1);
            if task.cancelled() {
                break;
            }
            if let Some((copies, packing)) = spread_one(task, &heavy, h) {
                let lat = task.simulate(&copies, &packing)?.latency_ns;
                if best.as_ref().is_none_or(|b| lat < b.2) {
                    best = Some((copies, packing, lat));
                }
            }
        }
    }
    Ok(best.map(|(c, p, _)| (c, p)))
}

/// Where a tile copy went: (crossbar, x, y).
type Spot = (usize, usize, usize);
/// `[layer][copy][tile]` → spot.
type Spots = Vec<Vec<Vec<Spot>>>;

/// One spread mapping with dense layers `heavy` on a tier of `h` crossbars (None if it does
/// not fit the budget).
fn spread_one(task: &MapTask, heavy: &[bool], h: usize) -> Option<Raw> {
    let (part, timings) = (task.part, task.timings);
    let sp = Spreader {
        part,
        rules: Rules {
            // Stricter than asked is fine; copies of one layer must sit on distinct crossbars.
            layer_threshold: task.pack.rules.layer_threshold.max(0),
            ..task.pack.rules
        },
        h,
        budget: task.budget,
    };
    let n = timings.len();
    let k = |i: usize| part.layers[i].tiles.len().max(1);
    let mut copies: Vec<u64> = (0..n)
        .map(|i| {
            if heavy[i] {
                ((h / k(i)) as u64).clamp(1, timings[i].max_copies())
            } else {
                1
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..n).filter(|&i| heavy[i]).collect();
    // Larger tiles first: they are the hard ones to fit.
    order.sort_by_key(|&i| std::cmp::Reverse(part.layers[i].tiles.iter().map(|t| t.rows * t.cols).max()));
    // Place the tier; a layer whose copies do not all fit loses copies until they do.
    let mut placed = None;
    for _ in 0..12 {
        match sp.place_tier(&order, &mut copies) {
            Tier::Placed(bins, at) => {
                placed = Some((bins, at));
                break;
            }
            Tier::Retry => continue,
            Tier::GiveUp => return None,
        }
    }
    let (mut bins, mut at) = placed?;
    // The rest: one copy each on crossbars after the tier, then spare copies.
    let light: Vec<usize> = (0..n).filter(|&i| !heavy[i]).collect();
    let mut big: Vec<usize> = light.clone();
    big.sort_by_key(|&i| std::cmp::Reverse((timings[i].cells, i)));
    for &i in &big {
        let spots = sp
            .place_copy(&mut bins, i, 0, false)
            .or_else(|| sp.place_copy(&mut bins, i, 0, true))?;
        at[i].push(spots);
    }
    // Spare room: a copy for the layer whose time falls most, off the tier only.
    loop {
        let pick = light
            .iter()
            .copied()
            .filter(|&i| copies[i] < timings[i].max_copies())
            .max_by(|&a, &b| {
                let gain = |i: usize| timings[i].time(copies[i]) - timings[i].time(copies[i] + 1);
                gain(a).total_cmp(&gain(b)).then(b.cmp(&a))
            });
        let Some(i) = pick else { break };
        if timings[i].time(copies[i]) <= timings[i].time(copies[i] + 1) {
            break;
        }
        match sp.place_copy(&mut bins, i, copies[i] as usize, false) {
            Some(spots) => {
                at[i].push(spots);
                copies[i] += 1;
            }
            None => break,
        }
    }
    Some((copies, assemble(part.options.xbar, &at, &bins)))
}

/// What one try at placing the tier ended in.
enum Tier {
    Placed(Vec<pack::Bin>, Spots),
    /// A layer lost copies: try again.
    Retry,
    GiveUp,
}

/// What placing one spread mapping needs.
struct Spreader<'a> {
    part: &'a crate::partition::Partition,
    rules: Rules,
    /// Crossbars in the tier.
    h: usize,
    budget: usize,
}

impl Spreader<'_> {
    /// Every copy of the dense layers (`order`) on the tier, round robin; when a copy does
    /// not fit, its layer gets fewer copies and the caller starts again.
    fn place_tier(&self, order: &[usize], copies: &mut [u64]) -> Tier {
        let (h, rules, xbar) = (self.h, &self.rules, self.part.options.xbar);
        let mut tier: Vec<pack::Bin> = (0..h).map(|_| pack::Bin::new(xbar.rows, xbar.cols)).collect();
        let mut at: Spots = vec![Vec::new(); copies.len()];
        let mut cursor = 0usize;
        for &i in order {
            let lp = &self.part.layers[i];
            for c in 0..copies[i] as usize {
                let mut spots = Vec::with_capacity(lp.tiles.len());
                for t in &lp.tiles {
                    let it = Item::new(c, t, 0.0);
                    let found = (0..h).map(|j| (cursor + j) % h).find_map(|b| {
                        if !tier[b].admits(&it, rules) {
                            return None;
                        }
                        tier[b].best_fit(&it, rules).map(|(_, _, x, y)| (b, x, y))
                    });
                    let Some((b, x, y)) = found else {
                        // Not all copies fit: fewer copies of this layer, start again.
                        let placed = c as u64;
                        copies[i] = (placed.max(1) * 9 / 10).max(1).min(copies[i] - 1).max(1);
                        if copies[i] == 1 && placed == 0 {
                            return Tier::GiveUp;
                        }
                        return Tier::Retry;
                    };
                    tier[b].place(&it, x, y);
                    spots.push((b, x, y));
                    cursor = (b + 1) % h;
                }
                at[i].push(spots);
            }
        }
        Tier::Placed(tier, at)
    }

    /// Copy `c` of layer `i` at the best fit off the tier (or anywhere with `allow_tier`),
    /// opening crossbars up to the budget; `bins` unchanged when it does not fit.
    fn place_copy(
        &self,
        bins: &mut Vec<pack::Bin>,
        i: usize,
        c: usize,
        allow_tier: bool,
    ) -> Option<Vec<Spot>> {
        let (rules, xbar) = (&self.rules, self.part.options.xbar);
        let mut spots = Vec::new();
        let mut trial = bins.clone();
        for t in &self.part.layers[i].tiles {
            let it = Item::new(c, t, 0.0);
            let start = if allow_tier { 0 } else { self.h.min(trial.len()) };
            let mut choice: Option<((usize, usize), usize, usize, usize)> = None;
            for (b, bin) in trial.iter().enumerate().skip(start) {
                if bin.admits(&it, rules)
                    && let Some((s, l, x, y)) = bin.best_fit(&it, rules)
                    && choice.is_none_or(|(q, ..)| (s, l) < q)
                {
                    choice = Some(((s, l), b, x, y));
                }
            }
            let (b, x, y) = match choice {
                Some((_, b, x, y)) => (b, x, y),
                None if trial.len() < self.budget => {
                    trial.push(pack::Bin::new(xbar.rows, xbar.cols));
                    (trial.len() - 1, 0, 0)
                }
                None => return None,
            };
            trial[b].place(&it, x, y);
            spots.push((b, x, y));
        }
        *bins = trial;
        Some(spots)
    }
}

/// The spots as a packing in layer, copy, tile order, tier crossbars left empty dropped.
fn assemble(xbar: crate::partition::Crossbar, at: &Spots, bins: &[pack::Bin]) -> Packing {
    let mut placements = Vec::new();
    for lp_at in at {
        for copy in lp_at {
            for &(b, x, y) in copy {
                placements.push(pack::Placement {
                    crossbar: b as u32,
                    x,
                    y,
                });
            }
        }
    }
    let mut remap = vec![0u32; bins.len()];
    let mut next = 0u32;
    for (b, bin) in bins.iter().enumerate() {
        remap[b] = next;
        if bin.tiles > 0 {
            next += 1;
        }
    }
    for p in &mut placements {
        p.crossbar = remap[p.crossbar as usize];
    }
    Packing {
        xbar,
        crossbars: next as usize,
        placements,
    }
}
