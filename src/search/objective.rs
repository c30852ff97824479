//! The hardware objective of the search: what a candidate network achieves on the crossbar
//! budget. The search programs against [`HwObjective`]; the compiler + simulator pipeline
//! implements it, and [`PartitionStandIn`] is a cheap stand-in until that lands.

use crate::network::{Network, zoo};
use crate::partition::{self, PartitionOptions};

/// Hardware result of one candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct HwEval {
    /// False when the network's weights do not fit the crossbar budget.
    pub feasible: bool,
    /// Latency of the evaluated workload (N samples) in ns.
    pub latency_ns: f64,
    /// Baseline latency / this latency (SPEC §9).
    pub speedup: f64,
    /// Crossbars the mapping uses (for an infeasible candidate: the least it would need, when
    /// known; the search uses it to rank infeasible candidates by how far over budget they are).
    pub crossbars_used: usize,
}

/// Evaluates candidate networks on the hardware. Must be deterministic: the search's
/// reproducibility at any thread count rests on it.
pub trait HwObjective: Sync {
    fn evaluate(&self, net: &Network) -> anyhow::Result<HwEval>;
    /// What the speed-up is measured against (recorded in the checkpoint and compared on
    /// resume, so a changed hardware model or baseline is noticed).
    fn baseline_json(&self) -> serde_json::Value;
}

/// STAND-IN hardware objective, used until the compiler/simulator is available: every tile on
/// its own crossbar (no packing), spare crossbars given greedily as extra copies of the
/// bottleneck layer, a fixed per-activation latency τ and a contention-free chain pipeline.
/// Its numbers are indicative only; they are labelled as such in every output.
pub struct PartitionStandIn {
    budget: usize,
    opts: PartitionOptions,
    samples: u64,
    baseline_ns: f64,
    baseline_crossbars: usize,
    input: usize,
}

/// τ of a 128×128 tile at 8 input bits with the default hardware configuration (SPEC §5).
const TAU_NS: f64 = 152.773_190_48;

impl PartitionStandIn {
    /// Baseline: mbv3-small at `input`, one crossbar per tile, no duplication.
    pub fn new(budget: usize, input: usize) -> anyhow::Result<PartitionStandIn> {
        let opts = PartitionOptions::default();
        let base = zoo::build("mbv3-small", input, 10)?;
        let part = partition::partition(&base, &opts)?;
        let samples = 8;
        let times: Vec<f64> = part
            .layers
            .iter()
            .map(|l| TAU_NS * l.max_cycles() as f64)
            .collect();
        Ok(PartitionStandIn {
            budget,
            opts,
            samples,
            baseline_ns: chain_latency(&times, samples),
            baseline_crossbars: part.tiles(),
            input,
        })
    }
}

/// Contention-free flow-shop latency of a chain for `n` samples: Σ t + (n − 1)·max t.
fn chain_latency(times: &[f64], n: u64) -> f64 {
    let sum: f64 = times.iter().sum();
    let max = times.iter().copied().fold(0.0, f64::max);
    sum + (n.saturating_sub(1)) as f64 * max
}

impl HwObjective for PartitionStandIn {
    fn evaluate(&self, net: &Network) -> anyhow::Result<HwEval> {
        let part = partition::partition(net, &self.opts)?;
        let tiles = part.tiles();
        if tiles > self.budget {
            return Ok(HwEval {
                feasible: false,
                latency_ns: 0.0,
                speedup: 0.0,
                crossbars_used: tiles,
            });
        }
        let cycles: Vec<u64> = part.layers.iter().map(|l| l.max_cycles()).collect();
        let sizes: Vec<usize> = part.layers.iter().map(|l| l.tiles.len()).collect();
        let mut copies = vec![1u64; cycles.len()];
        let mut used = tiles;
        let time = |i: usize, c: &[u64]| cycles[i].div_ceil(c[i]);
        // Bottleneck: the slowest layer (lowest index on ties).
        let bottleneck =
            |c: &[u64]| (0..cycles.len()).max_by(|&x, &y| time(x, c).cmp(&time(y, c)).then(y.cmp(&x)));
        while let Some(b) = bottleneck(&copies) {
            if used + sizes[b] > self.budget || copies[b] >= cycles[b] {
                break;
            }
            copies[b] += 1;
            used += sizes[b];
        }
        let times: Vec<f64> = (0..cycles.len())
            .map(|i| TAU_NS * time(i, &copies) as f64)
            .collect();
        let latency_ns = chain_latency(&times, self.samples);
        Ok(HwEval {
            feasible: true,
            latency_ns,
            speedup: self.baseline_ns / latency_ns,
            crossbars_used: used,
        })
    }

    fn baseline_json(&self) -> serde_json::Value {
        serde_json::json!({
            "hardware": "partition stand-in (no packing, no contention, fixed tau) - indicative only",
            "model": "mbv3-small",
            "input": self.input,
            "samples": self.samples,
            "crossbar": self.opts.xbar.to_string(),
            "crossbars": self.baseline_crossbars,
            "latency_ns": self.baseline_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ofa::{self, Genome};

    #[test]
    fn stand_in_respects_budget_and_rewards_spare_crossbars() {
        let small = ofa::build(&Genome::smallest(), 64, 10).unwrap();
        let tight = PartitionStandIn::new(124, 64).unwrap().evaluate(&small).unwrap();
        let roomy = PartitionStandIn::new(400, 64).unwrap().evaluate(&small).unwrap();
        assert!(tight.feasible && roomy.feasible);
        assert_eq!(tight.crossbars_used, 124);
        assert!(roomy.crossbars_used <= 400 && roomy.crossbars_used > 124);
        assert!(roomy.speedup > tight.speedup);
        let big = ofa::build(&Genome::largest(), 64, 10).unwrap();
        let e = PartitionStandIn::new(168, 64).unwrap().evaluate(&big).unwrap();
        assert!(!e.feasible);
        assert_eq!(e.crossbars_used, 304);
    }

    #[test]
    fn baseline_on_its_own_budget_is_speedup_one() {
        let hw = PartitionStandIn::new(210, 64).unwrap();
        let net = zoo::build("mbv3-small", 64, 10).unwrap();
        let e = hw.evaluate(&net).unwrap();
        assert!(e.feasible);
        assert!((e.speedup - 1.0).abs() < 1e-12, "{}", e.speedup);
        assert_eq!(hw.baseline_json()["crossbars"], 210);
    }
}
