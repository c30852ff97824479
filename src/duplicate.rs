//! Duplication (SPEC §6): how many identical copies of each layer's tiles to make.
//!
//! Copies split a layer's activations: t_i(x) = max over tiles of τ_tile · ⌈cycles_tile / x⌉.
//! For a target period P the least copies are x_i(P) = max over tiles of
//! ⌈cycles / ⌊P / τ⌋⌉, and the area they need is monotone in P, so searching P is exact.

use crate::partition::Partition;
use serde::Serialize;

/// Which duplication to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum DuplicateMode {
    /// One copy of every layer.
    #[default]
    None,
    /// Contention-aware: least period such that copies pack with every crossbar's work per
    /// sample within the period (the best; the default of `--duplicate`).
    Auto,
    /// Least period whose copies pack by area alone (contention ignored).
    Area,
    /// The reference's formulation (one bottleneck layer's throughput under an area margin
    /// retried from 0.95 down to 0.60), with exact per-tile rates.
    Reference,
}

/// τ and activations of every tile of one layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerTiming {
    /// (τ ns, cycles) per tile.
    pub tiles: Vec<(f64, u64)>,
    /// Cells of one copy of the layer.
    pub cells: u64,
}

impl LayerTiming {
    /// t_i(x) in ns.
    pub fn time(&self, copies: u64) -> f64 {
        let x = copies.max(1);
        self.tiles
            .iter()
            .map(|&(tau, c)| tau * c.div_ceil(x) as f64)
            .fold(0.0, f64::max)
    }

    /// More copies than this change nothing (every tile is down to one activation).
    pub fn max_copies(&self) -> u64 {
        self.tiles.iter().map(|t| t.1).max().unwrap_or(1).max(1)
    }

    /// The least copies above `copies` that make the layer faster (t(x) = τ·⌈c/x⌉ has
    /// plateaus: one more copy alone often saves nothing); None when none does.
    pub fn next_faster(&self, copies: u64) -> Option<u64> {
        let now = self.time(copies);
        (copies + 1..=self.max_copies()).find(|&y| self.time(y) < now)
    }

    /// Least copies with t(x) ≤ `period`, or `None` when even one activation per tile is slower.
    pub fn copies_for(&self, period: f64) -> Option<u64> {
        let mut x = 1u64;
        for &(tau, c) in &self.tiles {
            if c == 0 {
                continue;
            }
            // Activations this tile may do within the period (guard against rounding down
            // an exact multiple).
            let q = period / tau;
            if !q.is_finite() || q >= c as f64 {
                continue; // one copy already reaches the period
            }
            let mut m = q.floor() as u64;
            if tau * (m + 1) as f64 <= period {
                m += 1;
            }
            if m == 0 {
                return None;
            }
            x = x.max(c.div_ceil(m));
        }
        Some(x)
    }
}

/// Timings of every layer of a partition under a per-tile latency function.
pub fn timings(part: &Partition, tau: &dyn Fn(usize, usize) -> f64) -> Vec<LayerTiming> {
    part.layers
        .iter()
        .map(|lp| LayerTiming {
            tiles: lp
                .tiles
                .iter()
                .map(|t| (tau(t.rows, t.read_cols), t.cycles))
                .collect(),
            cells: lp.cells(),
        })
        .collect()
}

/// Least copies of every layer for period `p` (None if some layer cannot reach it).
pub fn copies_for_period(timings: &[LayerTiming], p: f64) -> Option<Vec<u64>> {
    timings.iter().map(|t| t.copies_for(p)).collect()
}

/// t_i(x_i) of every layer.
pub fn times(timings: &[LayerTiming], copies: &[u64]) -> Vec<f64> {
    timings.iter().zip(copies).map(|(t, &x)| t.time(x)).collect()
}

/// Cells needed by `copies`.
pub fn cells(timings: &[LayerTiming], copies: &[u64]) -> u64 {
    timings.iter().zip(copies).map(|(t, &x)| t.cells * x).sum()
}

/// Period of `copies`: max_i t_i(x_i).
pub fn period(timings: &[LayerTiming], copies: &[u64]) -> f64 {
    timings
        .iter()
        .zip(copies)
        .map(|(t, &x)| t.time(x))
        .fold(0.0, f64::max)
}

/// The smallest period any duplication can reach (every tile at one activation per copy).
pub fn min_period(timings: &[LayerTiming]) -> f64 {
    timings.iter().map(|t| t.time(t.max_copies())).fold(0.0, f64::max)
}

/// The next larger period at which some layer needs one copy fewer than at `p`.
pub fn next_breakpoint(timings: &[LayerTiming], copies: &[u64]) -> Option<f64> {
    timings
        .iter()
        .zip(copies)
        .filter(|(_, x)| **x > 1)
        .map(|(t, &x)| t.time(x - 1))
        .min_by(f64::total_cmp)
}

/// The reference's duplication, fixed: the bottleneck layer b has the largest t_i(1) from
/// exact per-tile cycles; for a throughput target x_b copies of b, every other layer gets the
/// least copies that match b's rate, x_i = ⌈x_b · t_i(1) / t_b(1)⌉ (exact rates, no rounding of
/// the ratio); x_b is the largest whose cells fit `margin · cells_budget`.
pub fn reference_copies(timings: &[LayerTiming], cells_budget: u64, margin: f64) -> Vec<u64> {
    let n = timings.len();
    let t1: Vec<f64> = timings.iter().map(|t| t.time(1)).collect();
    let Some(b) = (0..n).max_by(|&a, &c| t1[a].total_cmp(&t1[c]).then(c.cmp(&a))) else {
        return Vec::new();
    };
    let limit = (cells_budget as f64 * margin).floor() as u64;
    let copies_at = |xb: u64| -> Vec<u64> {
        (0..n)
            .map(|i| {
                let x = ((xb as f64) * t1[i] / t1[b]).ceil() as u64;
                x.clamp(1, timings[i].max_copies())
            })
            .collect()
    };
    let mut best = vec![1; n];
    let (mut lo, mut hi) = (1u64, timings[b].max_copies());
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        let c = copies_at(mid);
        if cells(timings, &c) <= limit {
            best = c;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lt(tiles: &[(f64, u64)]) -> LayerTiming {
        LayerTiming {
            tiles: tiles.to_vec(),
            cells: 100,
        }
    }

    #[test]
    fn time_uses_ceiling_not_floor() {
        let t = lt(&[(2.0, 5)]);
        assert_eq!(t.time(1), 10.0);
        assert_eq!(t.time(2), 6.0);
        // More copies than activations: still one activation, never zero time.
        assert_eq!(t.time(9), 2.0);
    }

    #[test]
    fn next_faster_steps_over_plateaus() {
        // τ·⌈9/x⌉ = 9, 5, 3, 3, 2, 2, 2, 2, 1 for x = 1…9.
        let t = lt(&[(1.0, 9)]);
        assert_eq!(t.next_faster(1), Some(2));
        assert_eq!(t.next_faster(3), Some(5));
        assert_eq!(t.next_faster(5), Some(9));
        assert_eq!(t.next_faster(9), None);
        for x in 1..9 {
            let y = t.next_faster(x).unwrap();
            assert!(t.time(y) < t.time(x) && (x + 1..y).all(|z| t.time(z) == t.time(x)));
        }
    }

    #[test]
    fn copies_for_is_the_least_reaching_the_period() {
        let t = lt(&[(3.0, 100), (1.0, 7)]);
        for p in [3.0, 4.5, 9.0, 30.0, 299.0, 300.0, 1000.0] {
            let x = t.copies_for(p).unwrap();
            assert!(t.time(x) <= p, "p={p} x={x}");
            if x > 1 {
                assert!(t.time(x - 1) > p, "p={p} x={x} not least");
            }
        }
        assert_eq!(t.copies_for(2.9), None);
    }

    #[test]
    fn breakpoints_step_up() {
        let ts = vec![lt(&[(1.0, 10)]), lt(&[(1.0, 4)])];
        let c = copies_for_period(&ts, 2.0).unwrap();
        assert_eq!(c, vec![5, 2]);
        let nb = next_breakpoint(&ts, &c).unwrap();
        assert_eq!(nb, 3.0); // 10 activations over 4 copies
    }

    #[test]
    fn reference_copies_fit_the_margin() {
        let ts = vec![lt(&[(1.0, 1000)]), lt(&[(1.0, 100)]), lt(&[(1.0, 10)])];
        let c = reference_copies(&ts, 1000, 0.9);
        assert!(cells(&ts, &c) <= 900);
        assert!(c[0] >= c[1] && c[1] >= c[2]);
    }
}
