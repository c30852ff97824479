//! The search's hardware evaluator: the compile pipeline on a crossbar budget, speed-ups over
//! the ISAAC-like baseline of `mbv3-small`. Each candidate is partitioned once.

use crate::compile::Baseline;
use crate::compile::{CompileOptions, NEVER, baseline, compile_partition};
use crate::network::Network;
use crate::pack::PackError;
use crate::partition::partition;
use serde::Serialize;

/// Hardware evaluation of candidate networks against a fixed reference point: the
/// ISAAC-like baseline of `mbv3-small` at the same input size (what a search reports
/// speed-ups against). Cheap to share across threads.
pub struct Evaluator {
    hw: crate::hardware::HwConfig,
    input_bits: u32,
    opts: CompileOptions,
    baseline: Baseline,
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
    /// `opts.budget` is the crossbar budget; the baseline is mbv3-small at `input`.
    pub fn new(
        hw: crate::hardware::HwConfig,
        input_bits: u32,
        input: usize,
        opts: CompileOptions,
    ) -> anyhow::Result<Evaluator> {
        let net = crate::network::zoo::mbv3_small(input, 10)?;
        let tau = |r: usize, c: usize| hw.latency_ns(r, c, input_bits);
        let baseline = baseline(&net, opts.partition.xbar, &tau, opts.samples, opts.schedule)?;
        Ok(Evaluator {
            hw,
            input_bits,
            opts,
            baseline,
        })
    }

    pub fn baseline(&self) -> &Baseline {
        &self.baseline
    }

    pub fn options(&self) -> &CompileOptions {
        &self.opts
    }

    /// Compiles `net` on the budget and reports its speed-up over the baseline.
    pub fn evaluate(&self, net: &Network) -> anyhow::Result<HwEval> {
        let part = partition(net, &self.opts.partition)?;
        let bound = part.area_lower_bound();
        let infeasible = HwEval::infeasible(bound as usize);
        if bound > self.opts.budget as u64 {
            return Ok(infeasible);
        }
        let tau = |r: usize, c: usize| self.hw.latency_ns(r, c, self.input_bits);
        match compile_partition(net, part, &tau, &self.opts, NEVER) {
            Ok(c) => Ok(HwEval {
                feasible: true,
                latency_ns: c.sim.latency_ns,
                speedup: self.baseline.latency_ns / c.sim.latency_ns,
                crossbars_used: c.packing.crossbars,
                energy_nj: crate::report::energy_per_inference_nj(&c, &self.hw, self.input_bits),
            }),
            Err(e) if e.downcast_ref::<PackError>().is_some() => Ok(infeasible),
            Err(e) => Err(e),
        }
    }
}
