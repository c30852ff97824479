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
    let xbar = part.options.xbar;
    let (r, c) = (xbar.rows as u64, xbar.cols as u64);
    // Per layer, per copy: tiles, tiles over half both ways, Σ rows, Σ cols.
    let shape: Vec<[u64; 4]> = part
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
    let need = |x: &[u64]| -> (u64, &'static str) {
        let mut best = (
            duplicate::cells(timings, x).div_ceil(xbar.cells().max(1)),
            "by area",
        );
        let mut raise = |n: u64, why| {
            if n > best.0 {
                best = (n, why);
            }
        };
        let tiles: Vec<u64> = shape.iter().zip(x).map(|(s, &k)| s[0] * k).collect();
        raise(
            shape.iter().zip(x).map(|(s, &k)| s[1] * k).sum(),
            "by tiles over half a crossbar both ways",
        );
        if rules.max_load > 0 {
            raise(
                tiles.iter().sum::<u64>().div_ceil(rules.max_load as u64),
                "by the max load",
            );
        }
        if rules.layer_threshold >= 0 {
            let w = (rules.layer_threshold as usize + 1).min(tiles.len().max(1));
            let clique = tiles.windows(w).map(|t| t.iter().sum()).max().unwrap_or(0);
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
    };
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
