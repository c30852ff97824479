//! Spare area → copies: a finished mapping's free cells take further copies in place.

use super::{Raw, items};
use crate::duplicate::{self, LayerTiming};
use crate::pack::{self, Item, Packing, Rules};
use crate::partition::Partition;

/// Spare area → more copies, without re-packing: the existing placement stays, and a copy of
/// the layer whose time falls most goes into the free space of the crossbars (and onto unused
/// crossbars of the budget) wherever the rules admit all its tiles. Repeats until no layer's
/// next copy fits. Returns the new copies and packing (items in [`items`] order).
pub fn fill_spare(
    part: &Partition,
    timings: &[LayerTiming],
    copies: &[u64],
    packing: &Packing,
    rules: &Rules,
    budget: usize,
) -> Raw {
    let xbar = packing.xbar;
    let times = duplicate::times(timings, copies);
    let old = items(part, copies, &times);
    let mut bins: Vec<pack::Bin> = (0..packing.crossbars.max(budget))
        .map(|_| pack::Bin::new(xbar.rows, xbar.cols))
        .collect();
    // [layer][copy][tile] → placement
    let mut at: Vec<Vec<Vec<pack::Placement>>> = part
        .layers
        .iter()
        .zip(copies)
        .map(|(lp, &x)| vec![Vec::with_capacity(lp.tiles.len()); x as usize])
        .collect();
    for (it, pl) in old.iter().zip(&packing.placements) {
        bins[pl.crossbar as usize].place(it, pl.x, pl.y);
        at[it.layer][it.copy].push(*pl);
    }
    let mut copies = copies.to_vec();
    let mut exhausted = vec![false; copies.len()];
    loop {
        let gain = |i: usize, x: u64| timings[i].time(x) - timings[i].time(x + 1);
        let Some(i) = (0..copies.len())
            .filter(|&i| !exhausted[i] && gain(i, copies[i]) > 0.0)
            .max_by(|&a, &b| {
                // A tile also uses one of a crossbar's `max_load` slots: charge it as cells.
                let slot = if rules.max_load > 0 {
                    xbar.cells() as f64 / rules.max_load as f64
                } else {
                    0.0
                };
                let cost = |i: usize| timings[i].cells as f64 + slot * timings[i].tiles.len() as f64;
                let per = |i: usize| gain(i, copies[i]) / cost(i).max(1.0);
                per(a).total_cmp(&per(b)).then(b.cmp(&a))
            })
        else {
            break;
        };
        // Only the crossbars this copy's tiles land on are copied (cloning all of them per
        // try was most of the cost); a failed try leaves `bins` as it was.
        let mut touched: Vec<(usize, pack::Bin)> = Vec::new();
        let mut spots = Vec::new();
        let ok = part.layers[i].tiles.iter().all(|t| {
            let it = Item::new(copies[i] as usize, t, 0.0);
            let mut choice: pack::strategies::Choice<(usize, usize, usize)> = None;
            for (b, orig) in bins.iter().enumerate() {
                let bin = touched.iter().find(|(k, _)| *k == b).map_or(orig, |(_, t)| t);
                if bin.admits(&it, rules)
                    && let Some((s, l, x, y)) = bin.best_fit(&it, rules)
                    && choice.is_none_or(|(q, ..)| (s, l, b) < q)
                {
                    choice = Some(((s, l, b), b, x, y));
                }
            }
            let Some((_, b, x, y)) = choice else {
                return false;
            };
            match touched.iter_mut().find(|(k, _)| *k == b) {
                Some((_, t)) => t.place(&it, x, y),
                None => {
                    let mut t = bins[b].clone();
                    t.place(&it, x, y);
                    touched.push((b, t));
                }
            }
            spots.push(pack::Placement {
                crossbar: b as u32,
                x,
                y,
            });
            true
        });
        if ok {
            for (b, t) in touched {
                bins[b] = t;
            }
            at[i].push(spots);
            copies[i] += 1;
        } else {
            exhausted[i] = true;
        }
    }
    let used = bins.iter().rposition(|b| b.tiles > 0).map_or(0, |b| b + 1);
    let placements = at.into_iter().flatten().flatten().collect();
    (
        copies,
        Packing {
            xbar,
            crossbars: used,
            placements,
        },
    )
}
