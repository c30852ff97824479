//! The hardware objective of the search: what a candidate network achieves on the crossbar
//! budget. The search programs against [`HwObjective`]; the compiler + simulator pipeline
//! ([`crate::search::hardware::Evaluator`]) implements it.

use crate::compile::{CompileOptions, Effort};
use crate::duplicate::DuplicateMode;
use crate::hardware::HwConfig;
use crate::network::{Network, Schedule};
use crate::pack::PackOptions;
use crate::partition::{self, PartitionOptions};
use crate::search::hardware::Evaluator;

/// Hardware result of one candidate: `feasible` (the weights fit the budget), latency of the
/// evaluated workload (N samples, ns), speed-up over the baseline (SPEC §9) and crossbars used
/// (for an infeasible candidate: the least it would need, when known, which lets the search
/// rank infeasible candidates by how far over budget they are).
pub use crate::search::hardware::HwEval;

/// Evaluates candidate networks on the hardware. Must be deterministic: the search's
/// reproducibility at any thread count rests on it.
pub trait HwObjective: Sync {
    fn evaluate(&self, net: &Network) -> anyhow::Result<HwEval>;
    /// What the speed-up is measured against (recorded in the checkpoint and compared on
    /// resume, so a changed hardware model or baseline is noticed).
    fn baseline_json(&self) -> serde_json::Value;
}

/// Samples per evaluated workload (SPEC §8 default).
pub const SAMPLES: usize = 8;

/// The compiler pipeline as the search uses it: contention-aware duplication, packing and
/// simulation at the given effort (`Fast` keeps a candidate in milliseconds), `SAMPLES`
/// samples, DAG schedule, diagonal depthwise mapping, no reference contention rules.
pub fn search_evaluator(
    hw: HwConfig,
    budget: usize,
    input: usize,
    effort: Effort,
) -> anyhow::Result<Evaluator> {
    let opts = CompileOptions {
        // Depthwise layers on the block diagonal (g channels per activation): the slow layers
        // of these networks run g times faster for g times the (few) cells they need.
        partition: PartitionOptions {
            xbar: hw.crossbar(),
            depthwise: crate::partition::DepthwiseMapping::Diagonal,
            ..PartitionOptions::default()
        },
        budget,
        find_solution: false,
        duplicate: DuplicateMode::Auto,
        pack: PackOptions {
            budget: None,
            generations: match effort {
                Effort::Fast => 0,
                Effort::Default => 40,
                Effort::Max => 200,
            },
            // Contention is handled by the contention-aware mapper (time budgets, private
            // crossbars for heavy layers), not by the reference's coarse rules.
            rules: crate::pack::Rules {
                layer_threshold: 0,
                max_load: 0,
                ..crate::pack::Rules::default()
            },
            ..PackOptions::default()
        },
        samples: SAMPLES,
        schedule: Schedule::Dag,
        effort,
        min_efficiency: 0.0,
        refine_moves: None,
    };
    Evaluator::new(hw, 8, input, opts)
}

impl HwObjective for Evaluator {
    fn evaluate(&self, net: &Network) -> anyhow::Result<HwEval> {
        let mut e = Evaluator::evaluate(self, net)?;
        if !e.feasible {
            // Not mapped: report the area lower bound so over-budget candidates are ranked by
            // how far over they are.
            let part = partition::partition(net, &self.options().partition)?;
            e.crossbars_used = e.crossbars_used.max(part.area_lower_bound() as usize);
            e.latency_ns = 0.0;
        }
        Ok(e)
    }

    fn baseline_json(&self) -> serde_json::Value {
        serde_json::json!({
            "hardware": "rnc compile pipeline",
            "baseline": self.baseline(),
            "options": self.options(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ofa::{self, Genome};

    #[test]
    fn evaluator_respects_budget() {
        let hw = HwConfig::embedded_default();
        let ev = search_evaluator(hw, 168, 64, Effort::Fast).unwrap();
        let small = ofa::build(&Genome::smallest(), 64, 10).unwrap();
        let e = HwObjective::evaluate(&ev, &small).unwrap();
        assert!(e.feasible && e.crossbars_used <= 168 && e.speedup > 1.0, "{e:?}");
        assert!((e.speedup - ev.baseline().latency_ns / e.latency_ns).abs() < 1e-9);
        // The largest subnet's weights need more crossbars than 100 by area alone (160 with
        // the diagonal depthwise mapping); infeasible candidates report that bound.
        let ev = search_evaluator(HwConfig::embedded_default(), 100, 64, Effort::Fast).unwrap();
        let big = ofa::build(&Genome::largest(), 64, 10).unwrap();
        let e = HwObjective::evaluate(&ev, &big).unwrap();
        assert!(!e.feasible);
        let bound = crate::partition::partition(&big, &ev.options().partition)
            .unwrap()
            .area_lower_bound();
        assert!(bound > 100);
        assert_eq!(e.crossbars_used as u64, bound);
        assert_eq!(e.latency_ns, 0.0);
        let j = ev.baseline_json();
        assert_eq!(j["baseline"]["crossbars"], 210);
        assert_eq!(j["options"]["budget"], 100);
    }
}
