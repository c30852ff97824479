//! Least period whose copies pack by area, contention ignored (`--duplicate area`); also the
//! fallback of [`super::time_budget`] when no time budget packs.

use super::fill_spare::fill_spare;
use super::{MapTask, Mapper, Mapping, Raw, items};
use crate::duplicate::{self, LayerTiming};
use crate::pack::strategies::Order;
use crate::pack::{self, PackError, PackOptions, Packing};
use crate::partition::Partition;
use anyhow::Context;

/// `--duplicate area`.
pub struct Area;

impl Mapper for Area {
    fn name(&self) -> &'static str {
        "area"
    }

    fn map(&self, task: &MapTask) -> anyhow::Result<Vec<Mapping>> {
        super::to_mappings(task.part, [area(task)?])
    }
}

/// Packs the copies for period-derived `copies` with the area packer; None if it fails.
pub(super) fn try_area(
    part: &Partition,
    timings: &[LayerTiming],
    copies: &[u64],
    pack_opts: &PackOptions,
) -> Result<Packing, PackError> {
    let times = duplicate::times(timings, copies);
    let it = items(part, copies, &times);
    if pack_opts.packer == pack::Packer::Search && pack_opts.generations == 0 {
        // Feasibility probe: the first sorted order that fits is enough.
        let cap = pack_opts.budget.unwrap_or(usize::MAX);
        for by in [Order::Area, Order::Rows, Order::Cols, Order::LongSide] {
            let order = pack::strategies::sorted_order(&it, by);
            if let Some(p) = pack::strategies::greedy(&it, part.options.xbar, &pack_opts.rules, &order, cap) {
                return Ok(p);
            }
        }
        // `pack` would only retry the same orders.
        return Err(pack::strategies::does_not_fit_by_area(
            &it,
            part.options.xbar,
            pack_opts,
        ));
    }
    pack::pack(&it, part.options.xbar, pack_opts)
}

/// Least period whose copies pack by area (contention ignored).
pub(super) fn area(task: &MapTask) -> anyhow::Result<Raw> {
    let (part, timings, opts) = (task.part, task.timings, task);
    let pack_opts = &task.pack;
    // Feasibility probes use the sorted orders of the chosen packer without its genetic
    // search: a single MaxRects order rejected periods that the search packs easily.
    let fast = PackOptions {
        generations: 0,
        ..*pack_opts
    };
    let ones = vec![1; timings.len()];
    let base = try_area(part, timings, &ones, pack_opts).context("even without duplication")?;
    let budget_cells = opts.budget as u64 * part.options.xbar.cells();
    let mut best = (duplicate::period(timings, &ones), ones, base);
    // Bisection on P between the smallest reachable period and the undulicated one.
    let (mut lo, mut hi) = (duplicate::min_period(timings), best.0);
    for _ in 0..task.steps().area_iterations {
        if hi - lo <= hi * 1e-4 {
            break;
        }
        let mid = 0.5 * (lo + hi);
        let Some(copies) = duplicate::copies_for_period(timings, mid) else {
            lo = mid;
            continue;
        };
        if duplicate::cells(timings, &copies) > budget_cells {
            lo = mid;
            continue;
        }
        match try_area(part, timings, &copies, &fast) {
            Ok(p) => {
                hi = duplicate::period(timings, &copies);
                best = (hi, copies, p);
            }
            Err(_) => lo = mid,
        }
    }
    let (_, mut copies, mut fast_p) = best;
    // The period cannot drop further (the rules or the packing stop it), but spare area still
    // buys copies that shorten the other layers: x_i ∝ √(λ·c_i/a_i), the largest λ that packs.
    let base = copies.clone();
    let with = |lambda: f64| -> Vec<u64> {
        base.iter()
            .zip(timings)
            .map(|(&x, t)| {
                let want = (lambda * t.max_copies() as f64 / t.cells.max(1) as f64)
                    .sqrt()
                    .floor() as u64;
                // Copies of one layer sit on distinct crossbars.
                let distinct = (opts.budget / t.tiles.len().max(1)) as u64;
                x.max(want.min(t.max_copies()).min(distinct))
            })
            .collect()
    };
    // Log-space bisection on λ: λ → 0 adds nothing, λ → ∞ caps every layer.
    let (mut lo, mut hi) = ((1e-6f64).ln(), (1e15f64).ln());
    for _ in 0..task.steps().area_iterations {
        let mid = 0.5 * (lo + hi);
        let c = with(mid.exp());
        let fits = duplicate::cells(timings, &c) <= budget_cells;
        match fits.then(|| try_area(part, timings, &c, &fast)) {
            Some(Ok(p)) => {
                lo = mid;
                copies = c;
                fast_p = p;
            }
            _ => hi = mid,
        }
        if hi - lo < 0.05 {
            break;
        }
    }
    // Final packing with the requested (better) packer; the fast one already succeeded.
    let p = try_area(part, timings, &copies, pack_opts).unwrap_or(fast_p);
    // Whatever area is still free takes further copies in place.
    Ok(fill_spare(
        part,
        timings,
        &copies,
        &p,
        &pack_opts.rules,
        opts.budget,
    ))
}
