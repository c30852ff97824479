//! The search's hardware evaluator: the compiler's façade ([`crate::api::map_best`]) on a
//! crossbar budget, speed-ups over the ISAAC-like baseline of `mbv3-small`. A candidate is
//! mapped exactly as `rnc compile` would map it with the same options (rules preset,
//! depthwise mapping and depth split chosen per candidate), at the search's effort.

use crate::api::{self, Budget, Target};
use crate::compile::{Baseline, Effort, baseline};
use crate::network::Network;
use crate::partition::{PartitionOptions, partition};
use serde::Serialize;

/// Hardware evaluation of candidate networks against a fixed reference point: the
/// ISAAC-like baseline of `mbv3-small` at the same input size (what a search reports
/// speed-ups against). Cheap to share across threads.
pub struct Evaluator {
    target: Target,
    opts: api::CompileOptions,
    budget: usize,
    baseline: Baseline,
    fast_splits: Option<Vec<usize>>,
    remap_front: bool,
}

/// Result of [`Evaluator::evaluate`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HwEval {
    /// False when the network's weights do not fit the budget (see [`HwEval::infeasible`]).
    pub feasible: bool,
    pub latency_ns: f64,
    pub speedup: f64,
    pub crossbars_used: usize,
    /// Read energy per inference (nJ) of the compiled mapping (the compile summary's
    /// `energy_nj`); `None` when infeasible or when the hardware model has no energy for some
    /// tile. Used only when energy is an objective.
    pub energy_nj: Option<f64>,
}

impl HwEval {
    /// The one representation of a candidate that does not fit: no latency, no speed-up, and
    /// the least crossbars it needs by area, so over-budget candidates rank by how far over
    /// they are.
    pub fn infeasible(least_crossbars: usize) -> HwEval {
        HwEval {
            feasible: false,
            latency_ns: 0.0,
            speedup: 0.0,
            crossbars_used: least_crossbars,
            energy_nj: None,
        }
    }
}

impl Evaluator {
    /// `opts.budget` must be a crossbar count; the baseline is mbv3-small at `input`, with
    /// `opts`' samples and schedule.
    pub fn new(target: Target, input: usize, opts: api::CompileOptions) -> anyhow::Result<Evaluator> {
        let Budget::Crossbars(budget) = opts.budget else {
            anyhow::bail!("the search needs a crossbar budget, not the least crossbars");
        };
        opts.validate(&target).map_err(anyhow::Error::new)?;
        let net = crate::network::zoo::mbv3_small(input, 10)?;
        let tau = |r: usize, c: usize| target.tau_ns(r, c);
        let baseline = baseline(&net, target.crossbar(), &tau, opts.samples, opts.schedule)?;
        Ok(Evaluator {
            target,
            opts,
            budget,
            baseline,
            fast_splits: None,
            remap_front: true,
        })
    }

    /// At fast effort with `depth_split` auto, try only these depth splits (None: all of
    /// the compiler's). Fewer layouts make a candidate cheaper; the final front's re-mapping at
    /// default effort tries them all.
    pub fn with_fast_splits(mut self, splits: Option<Vec<usize>>) -> Evaluator {
        self.fast_splits = splits;
        self
    }

    /// Whether the final front is re-mapped at default effort (on by default; off keeps the
    /// search's figures only, e.g. where seconds per front member matter more).
    pub fn with_front_remap(mut self, on: bool) -> Evaluator {
        self.remap_front = on;
        self
    }

    /// See [`Evaluator::with_front_remap`].
    pub fn remaps_front(&self) -> bool {
        self.remap_front
    }

    /// The depth splits fast effort is limited to, if any.
    pub fn fast_splits(&self) -> Option<&[usize]> {
        self.fast_splits.as_deref()
    }

    pub fn baseline(&self) -> &Baseline {
        &self.baseline
    }

    /// The compile options every candidate is mapped with (effort: the search's).
    pub fn options(&self) -> &api::CompileOptions {
        &self.opts
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    /// The least crossbars `net`'s weights need by area, over the layouts a compile tries
    /// (a proof: no mapping into fewer exists).
    pub fn least_crossbars(&self, net: &Network) -> anyhow::Result<u64> {
        let mut least = u64::MAX;
        for (depthwise, depth_split) in api::layout_choices(net, &self.opts) {
            let popts = PartitionOptions {
                xbar: self.target.crossbar(),
                depth_split,
                depthwise,
                bit_slices: 1,
            };
            least = least.min(partition(net, &popts)?.area_lower_bound());
        }
        Ok(least)
    }

    /// Compiles `net` on the budget at the search's effort and reports its speed-up over the
    /// baseline.
    pub fn evaluate(&self, net: &Network) -> anyhow::Result<HwEval> {
        self.evaluate_at(net, self.opts.effort)
    }

    /// [`Evaluator::evaluate`] at another effort (the final front is re-mapped at default).
    pub fn evaluate_at(&self, net: &Network, effort: Effort) -> anyhow::Result<HwEval> {
        let least = self.least_crossbars(net)?;
        let infeasible = HwEval::infeasible(usize::try_from(least).unwrap_or(usize::MAX));
        if least > self.budget as u64 {
            return Ok(infeasible);
        }
        let mut opts = self.opts;
        if effort != opts.effort {
            opts.effort = effort;
            opts.refine_moves = None;
        }
        let splits = match effort {
            Effort::Fast => self.fast_splits.as_deref(),
            _ => None,
        };
        let mut result = api::map_best_of(net, &self.target, &opts, splits);
        if splits.is_some() && matches!(result, Err(api::Error::DoesNotFit { .. })) {
            // Near the budget another split may still fit: try them all.
            result = api::map_best(net, &self.target, &opts);
        }
        match result {
            Ok(c) => Ok(HwEval {
                feasible: true,
                latency_ns: c.sim.latency_ns,
                speedup: self.baseline.latency_ns / c.sim.latency_ns,
                crossbars_used: c.packing.crossbars,
                energy_nj: crate::report::energy_per_inference_nj(
                    &c,
                    self.target.hardware(),
                    self.target.input_bits(),
                ),
            }),
            Err(api::Error::DoesNotFit { .. }) => Ok(infeasible),
            Err(api::Error::Internal(m)) => Err(crate::error::Internal(m).into()),
            Err(e) => Err(anyhow::Error::new(e)),
        }
    }
}
