//! The pipeline for one network: partition → map → verify → simulate, plus the ISAAC-like
//! baseline (SPEC §9) that speed-ups are measured against. The mapping itself is
//! [`crate::map`]'s; this module only picks the mapper and checks its result.

use crate::duplicate::{self, DuplicateMode, LayerTiming};
use crate::map::{Mapper, Mapping, area::Area, auto::Auto, one_copy::OneCopy, reference::Reference};
use crate::network::{Network, Schedule};
use crate::pack::{self, Item, PackOptions, Packing};
use crate::partition::{DepthwiseMapping, Partition, PartitionOptions, partition};
use crate::simulate::{SimInput, SimResult, simulate};
use serde::Serialize;

pub use crate::map::{Cancel, Effort, MapTask, NEVER, items, one_copy_items, run_sim};

/// Per-tile activation latency τ(rows, cols) in ns at the configured input precision.
pub type TileLatency<'a> = &'a (dyn Fn(usize, usize) -> f64 + Sync);

/// Genetic-search generations of the packer at each effort.
pub fn pack_generations(e: Effort) -> usize {
    e.table().pack_generations
}

/// Everything that determines a compilation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CompileOptions {
    pub partition: PartitionOptions,
    /// Crossbars available.
    pub budget: usize,
    /// Open crossbars beyond the budget to find the least number needed.
    pub find_solution: bool,
    pub duplicate: DuplicateMode,
    pub pack: PackOptions,
    pub samples: usize,
    pub schedule: Schedule,
    pub effort: Effort,
    /// `--duplicate auto` keeps the fastest mapping whose contention efficiency (ideal /
    /// simulated latency) is at least this (0 = fastest overall).
    pub min_efficiency: f64,
    /// Local-search moves per start mapping of `--duplicate auto`, instead of the count the
    /// effort sets (None). Left out of JSON when None, so older search checkpoints still match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refine_moves: Option<usize>,
    /// Fast effort also turns each mapping's spare area into copies (`map::fill_spare`). On by
    /// default; off where fast effort only ranks layouts for a longer run (the unfilled
    /// mappings rank them better). Not serialized: it changes no default-effort result.
    #[serde(skip)]
    pub fast_fill: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            partition: PartitionOptions::default(),
            budget: 0,
            find_solution: false,
            duplicate: DuplicateMode::None,
            pack: PackOptions::default(),
            samples: 8,
            schedule: Schedule::Dag,
            effort: Effort::Default,
            min_efficiency: 0.0,
            refine_moves: None,
            fast_fill: true,
        }
    }
}

/// A compiled mapping and its simulation.
#[derive(Clone, Debug, Serialize)]
pub struct Compiled {
    pub options: CompileOptions,
    pub partition: Partition,
    pub timings: Vec<LayerTiming>,
    /// Copies per layer.
    pub copies: Vec<u64>,
    /// Every tile copy, in layer, copy, tile order.
    pub items: Vec<Item>,
    pub packing: Packing,
    /// t_i per layer with its copies.
    pub layer_time_ns: Vec<f64>,
    pub sim: SimResult,
}

impl Compiled {
    pub fn area_lower_bound(&self) -> u64 {
        self.partition.area_lower_bound()
    }
    /// The strongest lower bound on the crossbars one copy of every tile needs under the
    /// user's contention rules (at least the area bound).
    pub fn lower_bound(&self) -> pack::Bound {
        let it = one_copy_items(&self.partition);
        pack::lower_bound(&it, self.partition.options.xbar, &self.options.pack.rules)
    }
    pub fn cells(&self) -> u64 {
        self.items.iter().map(Item::cells).sum()
    }
}

/// The ISAAC-like reference point: D = 1, serial depthwise mapping, no duplication, every
/// tile on its own crossbar.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Baseline {
    pub network: String,
    pub input_hw: [usize; 2],
    pub crossbars: usize,
    pub samples: usize,
    pub schedule: Schedule,
    pub latency_ns: f64,
}

/// Computes the ISAAC-like baseline of `net` with the same simulator.
pub fn baseline(
    net: &Network,
    xbar: crate::partition::Crossbar,
    tau: TileLatency,
    samples: usize,
    schedule: Schedule,
) -> anyhow::Result<Baseline> {
    let opts = PartitionOptions {
        xbar,
        depth_split: 1,
        depthwise: DepthwiseMapping::Serial,
        bit_slices: 1,
    };
    let part = partition(net, &opts)?;
    let timings = duplicate::timings(&part, tau);
    let times: Vec<f64> = timings.iter().map(|t| t.time(1)).collect();
    let mut next = 0u32;
    let layer_crossbars: Vec<Vec<u32>> = part
        .layers
        .iter()
        .map(|lp| {
            let v: Vec<u32> = (next..next + lp.tiles.len() as u32).collect();
            next += lp.tiles.len() as u32;
            v
        })
        .collect();
    let preds = net.predecessors(schedule);
    let sim = simulate(&SimInput {
        layer_time_ns: &times,
        layer_crossbars: &layer_crossbars,
        preds: &preds,
        crossbars: next as usize,
        samples,
        trace: false,
    })
    .map_err(|e| crate::error::Internal(e.to_string()))?;
    Ok(Baseline {
        network: net.name.clone(),
        input_hw: net.input_hw,
        crossbars: next as usize,
        samples,
        schedule,
        latency_ns: sim.latency_ns,
    })
}

/// Compiles `net` for the options: the full pipeline up to simulation.
pub fn compile(net: &Network, tau: TileLatency, opts: &CompileOptions) -> anyhow::Result<Compiled> {
    compile_with(net, tau, opts, NEVER)
}

/// [`compile`] with a cancel check, polled between the mappers' candidates and moves; a
/// cancelled compile fails with [`crate::map::Cancelled`].
pub fn compile_with(
    net: &Network,
    tau: TileLatency,
    opts: &CompileOptions,
    cancel: Cancel,
) -> anyhow::Result<Compiled> {
    let part = partition(net, &opts.partition)?;
    compile_partition(net, part, tau, opts, cancel)
}

/// [`compile_with`] on `net`'s partition `part` (made with `opts.partition`).
pub fn compile_partition(
    net: &Network,
    part: Partition,
    tau: TileLatency,
    opts: &CompileOptions,
    cancel: Cancel,
) -> anyhow::Result<Compiled> {
    if opts.find_solution && opts.duplicate != DuplicateMode::None {
        // Copies are sized to fill a budget; "as few crossbars as possible" has no budget.
        anyhow::bail!(
            "`find_solution` finds the least crossbars without duplication; drop `duplicate` or give `crossbars` without `find_solution`"
        );
    }
    let timings = duplicate::timings(&part, tau);
    let preds = net.predecessors(opts.schedule);
    let task = MapTask {
        part: &part,
        timings: &timings,
        preds: &preds,
        pack: PackOptions {
            budget: (!opts.find_solution).then_some(opts.budget),
            ..opts.pack
        },
        budget: opts.budget,
        find_solution: opts.find_solution,
        samples: opts.samples,
        effort: opts.effort,
        min_efficiency: opts.min_efficiency,
        refine_moves: opts.refine_moves,
        fast_fill: opts.fast_fill,
        cancel,
    };
    let mapper: &dyn Mapper = match opts.duplicate {
        DuplicateMode::None => &OneCopy,
        DuplicateMode::Reference => &Reference,
        DuplicateMode::Area => &Area,
        DuplicateMode::Auto => &Auto,
    };
    let mapping = mapper
        .map(&task)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("{}: no mapping fits", mapper.name()))?;
    finish(part, timings, mapping, &preds, opts)
}

fn finish(
    part: Partition,
    timings: Vec<LayerTiming>,
    mapping: Mapping,
    preds: &[Vec<usize>],
    opts: &CompileOptions,
) -> anyhow::Result<Compiled> {
    let copies = mapping.copies();
    let packing = mapping.to_packing();
    let times = duplicate::times(&timings, &copies);
    let it = items(&part, &copies, &times);
    // Every mapper's result is checked against the crossbar and the user's rules: a bug in a
    // mapper must never reach a user's pack.csv.
    pack::verify(&it, &packing, &opts.pack.rules)
        .map_err(|e| crate::error::Internal(format!("invalid mapping: {e}")))?;
    if !opts.find_solution && opts.budget > 0 && packing.crossbars > opts.budget {
        return Err(crate::error::Internal(format!(
            "mapping uses {} crossbars of a budget of {}",
            packing.crossbars, opts.budget
        ))
        .into());
    }
    let sim = run_sim(&it, &packing, &times, preds, opts.samples, false)?;
    Ok(Compiled {
        options: *opts,
        partition: part,
        timings,
        copies,
        items: it,
        packing,
        layer_time_ns: times,
        sim,
    })
}
