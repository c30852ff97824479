//! Packing (SPEC §7): tiles (all copies) onto R×C crossbars, without overlap or rotation.
//!
//! Every packer works on [`Item`]s and returns one [`Placement`] per item. The contention
//! rules of the reference (layer threshold, max load) and, for the contention-aware packer,
//! a per-crossbar time budget are enforced by [`Bin`], shared by all strategies.

mod bins;
pub mod bound;
pub mod strategies;

pub use bins::{Bin, Rect};
pub use bound::{Bound, lower_bound};
pub use strategies::{PackError, PackOptions, Packer, pack, timed};

use crate::partition::Crossbar;
use serde::Serialize;

/// One tile copy to place.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Item {
    pub layer: usize,
    pub copy: usize,
    /// Index of the tile within its layer.
    pub tile: usize,
    pub rows: usize,
    pub cols: usize,
    /// t_i of the item's layer (ns per sample), for the time budget.
    pub time_ns: f64,
}

impl Item {
    pub fn cells(&self) -> u64 {
        self.rows as u64 * self.cols as u64
    }
}

/// Where an item went: crossbar, column offset `x`, row offset `y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub crossbar: u32,
    pub x: usize,
    pub y: usize,
}

/// Constraints every placement respects.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rules {
    /// A crossbar never holds tiles of layers whose indices differ by ≤ this (negative = off).
    pub layer_threshold: i64,
    /// At most this many tiles per crossbar (0 = off).
    pub max_load: usize,
    /// Per-crossbar time budget: Σ t of the distinct layers hosted ≤ this (None = off).
    /// Serialized under its old name, so search checkpoints keep matching.
    #[serde(rename = "period_ns")]
    pub time_budget_ns: Option<f64>,
    /// Layers at least this slow are "heavy": a crossbar hosts at most one heavy layer, so
    /// heavy layers never queue behind each other (None = off).
    pub exclusive_ns: Option<f64>,
    /// Layers sharing a crossbar lie within this many indices of each other (None = off):
    /// neighbours of one sample run back to back, distant layers queue behind each other.
    pub window: Option<usize>,
    /// Tiles of one layer share a crossbar only on disjoint rows and columns (a block
    /// diagonal), so one activation drives them all at once, as the simulator assumes. Only
    /// matters where the layer threshold lets one layer's tiles share a crossbar (negative).
    pub diagonal: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            layer_threshold: 1,
            max_load: 6,
            time_budget_ns: None,
            exclusive_ns: None,
            window: None,
            diagonal: false,
        }
    }
}

/// A complete packing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Packing {
    pub xbar: Crossbar,
    /// Crossbars used (ids 0..crossbars).
    pub crossbars: usize,
    /// One per item, same order.
    pub placements: Vec<Placement>,
}

impl Packing {
    /// Crossbars hosting each layer, for the simulator.
    pub fn layer_crossbars(&self, items: &[Item], layers: usize) -> Vec<Vec<u32>> {
        let mut v = vec![Vec::new(); layers];
        for (it, p) in items.iter().zip(&self.placements) {
            v[it.layer].push(p.crossbar);
        }
        for x in &mut v {
            x.sort_unstable();
            x.dedup();
        }
        v
    }

    /// Cells used / cells of the used crossbars.
    pub fn utilization(&self, items: &[Item]) -> f64 {
        let cells: u64 = items.iter().map(Item::cells).sum();
        if self.crossbars == 0 {
            0.0
        } else {
            cells as f64 / (self.crossbars as u64 * self.xbar.cells()) as f64
        }
    }
}

/// Checks a packing against the crossbar size and the rules; returns the first violation.
pub fn verify(items: &[Item], packing: &Packing, rules: &Rules) -> Result<(), String> {
    if items.len() != packing.placements.len() {
        return Err(format!(
            "{} items but {} placements",
            items.len(),
            packing.placements.len()
        ));
    }
    let xb = packing.xbar;
    let mut per: Vec<Vec<usize>> = vec![Vec::new(); packing.crossbars];
    for (k, (it, p)) in items.iter().zip(&packing.placements).enumerate() {
        if p.crossbar as usize >= packing.crossbars {
            return Err(format!(
                "item {k} on crossbar {} beyond {}",
                p.crossbar, packing.crossbars
            ));
        }
        if p.x + it.cols > xb.cols || p.y + it.rows > xb.rows {
            return Err(format!(
                "item {k} ({}x{} at {},{}) leaves its crossbar",
                it.rows, it.cols, p.y, p.x
            ));
        }
        per[p.crossbar as usize].push(k);
    }
    for (c, ks) in per.iter().enumerate() {
        if rules.max_load > 0 && ks.len() > rules.max_load {
            return Err(format!(
                "crossbar {c} holds {} tiles > max load {}",
                ks.len(),
                rules.max_load
            ));
        }
        for (a, &i) in ks.iter().enumerate() {
            for &j in &ks[a + 1..] {
                let (pi, pj) = (packing.placements[i], packing.placements[j]);
                let (ii, ij) = (items[i], items[j]);
                let rect = |p: Placement, it: Item| Rect {
                    x: p.x,
                    y: p.y,
                    w: it.cols,
                    h: it.rows,
                };
                let (ri, rj) = (rect(pi, ii), rect(pj, ij));
                if ri.intersects(&rj) {
                    return Err(format!("items {i} and {j} overlap on crossbar {c}"));
                }
                if rules.diagonal && ii.layer == ij.layer && (ri.shares_rows(&rj) || ri.shares_cols(&rj)) {
                    return Err(format!(
                        "items {i} and {j} of layer {} share rows or columns on crossbar {c}",
                        ii.layer
                    ));
                }
                if rules.layer_threshold >= 0 && ii.layer.abs_diff(ij.layer) as i64 <= rules.layer_threshold {
                    return Err(format!(
                        "crossbar {c} holds layers {} and {} (threshold {})",
                        ii.layer, ij.layer, rules.layer_threshold
                    ));
                }
            }
        }
        if let Some(p) = rules.time_budget_ns {
            let mut layers: Vec<usize> = ks.iter().map(|&k| items[k].layer).collect();
            layers.sort_unstable();
            layers.dedup();
            let load: f64 = layers
                .iter()
                .map(|&l| items.iter().find(|i| i.layer == l).map_or(0.0, |i| i.time_ns))
                .sum();
            if load > p * (1.0 + 1e-9) {
                return Err(format!("crossbar {c} carries {load} ns > period {p} ns"));
            }
        }
    }
    Ok(())
}
