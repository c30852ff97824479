//! The hardware objective of the search: what a candidate network achieves on the crossbar
//! budget. The search programs against [`HwObjective`]; the compiler + simulator pipeline
//! ([`crate::search::hardware::Evaluator`]) implements it.

use crate::api::{self, Budget, Target};
use crate::compile::Effort;
use crate::hardware::HwConfig;
use crate::network::{Network, Schedule};
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
    /// The candidate re-mapped at the compiler's default effort, for the final front
    /// (`pareto.json`'s `*_default` fields); `None` when the search's own figures are final.
    fn evaluate_final(&self, _net: &Network) -> anyhow::Result<Option<HwEval>> {
        Ok(None)
    }
}

/// Samples per evaluated workload (SPEC §8 default).
pub const SAMPLES: usize = 8;

/// The compile options of `rnc search`: the compiler's defaults (SPEC §15: physical rules,
/// duplicate auto, depthwise mapping and depth split chosen per candidate), `SAMPLES`
/// samples, DAG schedule, at `effort` (`Fast` keeps a candidate in milliseconds). Change the
/// rules or the layout on the result (`rules`, `layer_threshold`, `depth_split`, …).
pub fn search_options(budget: usize, effort: Effort) -> api::CompileOptions {
    api::CompileOptions {
        budget: Budget::Crossbars(budget),
        samples: SAMPLES,
        schedule: Schedule::Dag,
        effort,
        ..Default::default()
    }
}

/// The search's evaluator with the compiler's defaults ([`search_options`]) at 8 input bits.
pub fn search_evaluator(
    hw: HwConfig,
    budget: usize,
    input: usize,
    effort: Effort,
) -> anyhow::Result<Evaluator> {
    search_evaluator_with(hw, input, search_options(budget, effort))
}

/// The depth splits fast effort tries for a candidate when the depth split is auto.
/// Measured on 60 random OFA subnets at 168 crossbars (`benches/search_fidelity.rs`): all six
/// splits rank them against default effort with Spearman 0.89 (median speed-up 0.73 of
/// default effort's) in about a second each, since at large splits the fast mappers fall
/// back to the contention-aware one; D = 8 alone ranks them with Spearman 0.90 (0.44 of
/// default effort's speed-up) in milliseconds. The final front is re-mapped with all splits.
pub const FAST_SPLITS: [usize; 1] = [8];

/// The search's evaluator with the given compile options (e.g. `--rules reference`); fast
/// effort tries [`FAST_SPLITS`].
pub fn search_evaluator_with(
    hw: HwConfig,
    input: usize,
    opts: api::CompileOptions,
) -> anyhow::Result<Evaluator> {
    let target = Target::new(hw, 8).map_err(anyhow::Error::new)?;
    Ok(Evaluator::new(target, input, opts)?.with_fast_splits(Some(FAST_SPLITS.to_vec())))
}

impl HwObjective for Evaluator {
    fn evaluate(&self, net: &Network) -> anyhow::Result<HwEval> {
        Evaluator::evaluate(self, net)
    }

    fn baseline_json(&self) -> serde_json::Value {
        let mut j = serde_json::json!({
            "hardware": "rnc compile pipeline",
            "baseline": self.baseline(),
            "options": self.options(),
        });
        if let Some(s) = self.fast_splits() {
            j["fast_depth_splits"] = serde_json::json!(s);
        }
        j
    }

    fn evaluate_final(&self, net: &Network) -> anyhow::Result<Option<HwEval>> {
        if self.options().effort != Effort::Fast || !self.remaps_front() {
            return Ok(None);
        }
        self.evaluate_at(net, Effort::Default).map(Some)
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
        let bound = ev.least_crossbars(&big).unwrap();
        assert!(bound > 100);
        assert_eq!(e.crossbars_used as u64, bound);
        assert_eq!(e.latency_ns, 0.0);
        let j = ev.baseline_json();
        assert_eq!(j["baseline"]["crossbars"], 210);
        assert_eq!(j["options"]["crossbars"], 100);
        assert_eq!(j["options"]["rules"], "physical");
    }
}
