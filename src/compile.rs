//! The whole pipeline for one network: partition → duplicate → pack → simulate, plus the
//! ISAAC-like baseline (SPEC §9) that speed-ups are measured against.

use crate::duplicate::{self, DuplicateMode, LayerTiming};
use crate::network::{Network, Schedule};
use crate::pack::{self, Item, PackError, PackOptions, Packing, Rules};
use crate::partition::{DepthwiseMapping, Partition, PartitionOptions, partition};
use crate::simulate::{SimInput, SimResult, simulate};
use anyhow::Context;
use serde::Serialize;

/// Per-tile activation latency τ(rows, cols) in ns at the configured input precision.
pub type TileLatency<'a> = &'a (dyn Fn(usize, usize) -> f64 + Sync);

/// How hard the optimizer tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Effort {
    /// A few milliseconds: used inside the search.
    Fast,
    /// Well under a second.
    #[default]
    Default,
    /// Up to a minute or two: more periods, orders and depth splits, and a 100× longer local
    /// search.
    Max,
}

/// Genetic-search generations of the packer at each effort.
pub fn pack_generations(e: Effort) -> usize {
    match e {
        Effort::Fast => 0,
        Effort::Default => 40,
        Effort::Max => 200,
    }
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

/// Every tile copy for `copies`, with its layer's time.
pub fn items(part: &Partition, copies: &[u64], times: &[f64]) -> Vec<Item> {
    let mut v = Vec::new();
    for (lp, (&x, &t)) in part.layers.iter().zip(copies.iter().zip(times)) {
        for copy in 0..x as usize {
            for tile in &lp.tiles {
                v.push(Item {
                    layer: lp.layer,
                    copy,
                    tile: tile.index,
                    rows: tile.rows,
                    cols: tile.cols,
                    time_ns: t,
                });
            }
        }
    }
    v
}

/// One copy of every tile, without times: what the lower bounds look at.
pub fn one_copy_items(part: &Partition) -> Vec<Item> {
    let n = part.layers.len();
    items(part, &vec![1; n], &vec![0.0; n])
}

/// What the contention-aware mappers ([`crate::refine`], [`crate::timeline`]) work on: a
/// partition with its layers' timings and precedence, the user's rules, the budget and the
/// batch size.
#[derive(Clone, Copy)]
pub struct MapTask<'a> {
    pub part: &'a Partition,
    pub timings: &'a [LayerTiming],
    pub preds: &'a [Vec<usize>],
    pub rules: Rules,
    pub budget: usize,
    pub samples: usize,
}

impl<'a> MapTask<'a> {
    /// The task as the compile options state it.
    pub fn new(
        part: &'a Partition,
        timings: &'a [LayerTiming],
        preds: &'a [Vec<usize>],
        opts: &CompileOptions,
    ) -> Self {
        MapTask {
            part,
            timings,
            preds,
            rules: opts.pack.rules,
            budget: opts.budget,
            samples: opts.samples,
        }
    }
}

/// Compiles `net` for the options: the full pipeline up to simulation.
pub fn compile(net: &Network, tau: TileLatency, opts: &CompileOptions) -> anyhow::Result<Compiled> {
    if opts.find_solution && opts.duplicate != DuplicateMode::None {
        // Copies are sized to fill a budget; "as few crossbars as possible" has no budget.
        anyhow::bail!(
            "--find-solution finds the least crossbars without duplication; drop --duplicate or give --crossbars without --find-solution"
        );
    }
    let part = partition(net, &opts.partition)?;
    let timings = duplicate::timings(&part, tau);
    let preds = net.predecessors(opts.schedule);
    let cap = if opts.find_solution {
        None
    } else {
        Some(opts.budget)
    };
    let pack_opts = PackOptions {
        budget: cap,
        ..opts.pack
    };
    let (copies, packing) = match opts.duplicate {
        DuplicateMode::None => {
            let copies = vec![1; timings.len()];
            let times: Vec<f64> = timings.iter().map(|t| t.time(1)).collect();
            let it = items(&part, &copies, &times);
            let p = pack::pack(&it, part.options.xbar, &pack_opts)?;
            (copies, p)
        }
        DuplicateMode::Reference => reference(&part, &timings, &pack_opts, opts)?,
        DuplicateMode::Area => area(&part, &timings, &pack_opts, opts)?,
        DuplicateMode::Auto => auto(&part, &timings, &preds, opts)?,
    };
    finish(part, timings, copies, packing, &preds, opts)
}

fn finish(
    part: Partition,
    timings: Vec<LayerTiming>,
    copies: Vec<u64>,
    packing: Packing,
    preds: &[Vec<usize>],
    opts: &CompileOptions,
) -> anyhow::Result<Compiled> {
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

/// Simulates a packing.
pub fn run_sim(
    items: &[Item],
    packing: &Packing,
    times: &[f64],
    preds: &[Vec<usize>],
    samples: usize,
    trace: bool,
) -> anyhow::Result<SimResult> {
    let lc = packing.layer_crossbars(items, times.len());
    simulate(&SimInput {
        layer_time_ns: times,
        layer_crossbars: &lc,
        preds,
        crossbars: packing.crossbars,
        samples,
        trace,
    })
    .map_err(|e| crate::error::Internal(e.to_string()).into())
}

/// Packs the copies for period-derived `copies` with the area packer; None if it fails.
fn try_area(
    part: &Partition,
    timings: &[LayerTiming],
    copies: &[u64],
    pack_opts: &PackOptions,
) -> Result<Packing, PackError> {
    let times = duplicate::times(timings, copies);
    let it = items(part, copies, &times);
    if pack_opts.packer == pack::Packer::Search && pack_opts.generations == 0 {
        // Feasibility probe: the first sorted order that fits is enough.
        let cap = pack_opts.budget.unwrap_or(usize::MAX);
        for key in 0..4 {
            let order = pack::strategies::sorted_order(&it, key);
            if let Some(p) = pack::strategies::greedy(&it, part.options.xbar, &pack_opts.rules, &order, cap) {
                return Ok(p);
            }
        }
        // `pack` would only retry the same orders.
        return Err(pack::strategies::does_not_fit_by_area(
            &it,
            part.options.xbar,
            pack_opts,
        ));
    }
    pack::pack(&it, part.options.xbar, pack_opts)
}

/// The reference's duplication: margins 0.95 … 0.60 until the copies pack.
fn reference(
    part: &Partition,
    timings: &[LayerTiming],
    pack_opts: &PackOptions,
    opts: &CompileOptions,
) -> anyhow::Result<(Vec<u64>, Packing)> {
    let budget_cells = opts.budget as u64 * part.options.xbar.cells();
    let mut last_err = None;
    for k in 0..8 {
        let margin = 0.95 - 0.05 * k as f64;
        let copies = duplicate::reference_copies(timings, budget_cells, margin);
        match try_area(part, timings, &copies, pack_opts) {
            Ok(p) => return Ok((copies, p)),
            Err(e) => last_err = Some(e),
        }
    }
    let e = last_err.map_or_else(|| anyhow::anyhow!("no margin tried"), anyhow::Error::from);
    Err(e.context("reference duplication: no margin from 0.95 to 0.60 packs"))
}

/// Least period whose copies pack by area (contention ignored).
fn area(
    part: &Partition,
    timings: &[LayerTiming],
    pack_opts: &PackOptions,
    opts: &CompileOptions,
) -> anyhow::Result<(Vec<u64>, Packing)> {
    // Feasibility probes use the sorted orders of the chosen packer without its genetic
    // search: a single MaxRects order rejected periods that the search packs easily.
    let fast = PackOptions {
        generations: 0,
        ..*pack_opts
    };
    let ones = vec![1; timings.len()];
    let base = try_area(part, timings, &ones, pack_opts).context("even without duplication")?;
    let budget_cells = opts.budget as u64 * part.options.xbar.cells();
    let mut best = (duplicate::period(timings, &ones), ones, base);
    // Bisection on P between the smallest reachable period and the undulicated one.
    let (mut lo, mut hi) = (duplicate::min_period(timings), best.0);
    for _ in 0..iterations(opts.effort) {
        if hi - lo <= hi * 1e-4 {
            break;
        }
        let mid = 0.5 * (lo + hi);
        let Some(copies) = duplicate::copies_for_period(timings, mid) else {
            lo = mid;
            continue;
        };
        if duplicate::cells(timings, &copies) > budget_cells {
            lo = mid;
            continue;
        }
        match try_area(part, timings, &copies, &fast) {
            Ok(p) => {
                hi = duplicate::period(timings, &copies);
                best = (hi, copies, p);
            }
            Err(_) => lo = mid,
        }
    }
    let (_, mut copies, mut fast_p) = best;
    // The period cannot drop further (the rules or the packing stop it), but spare area still
    // buys copies that shorten the other layers: x_i ∝ √(λ·c_i/a_i), the largest λ that packs.
    let base = copies.clone();
    let with = |lambda: f64| -> Vec<u64> {
        base.iter()
            .zip(timings)
            .map(|(&x, t)| {
                let want = (lambda * t.max_copies() as f64 / t.cells.max(1) as f64)
                    .sqrt()
                    .floor() as u64;
                // Copies of one layer sit on distinct crossbars.
                let distinct = (opts.budget / t.tiles.len().max(1)) as u64;
                x.max(want.min(t.max_copies()).min(distinct))
            })
            .collect()
    };
    // Log-space bisection on λ: λ → 0 adds nothing, λ → ∞ caps every layer.
    let (mut lo, mut hi) = ((1e-6f64).ln(), (1e15f64).ln());
    for _ in 0..iterations(opts.effort) {
        let mid = 0.5 * (lo + hi);
        let c = with(mid.exp());
        let fits = duplicate::cells(timings, &c) <= budget_cells;
        match fits.then(|| try_area(part, timings, &c, &fast)) {
            Some(Ok(p)) => {
                lo = mid;
                copies = c;
                fast_p = p;
            }
            _ => hi = mid,
        }
        if hi - lo < 0.05 {
            break;
        }
    }
    // Final packing with the requested (better) packer; the fast one already succeeded.
    let p = try_area(part, timings, &copies, pack_opts).unwrap_or(fast_p);
    // Whatever area is still free takes further copies in place.
    Ok(fill_spare(
        part,
        timings,
        &copies,
        &p,
        &pack_opts.rules,
        opts.budget,
    ))
}

fn iterations(e: Effort) -> usize {
    match e {
        Effort::Fast => 10,
        Effort::Default => 24,
        Effort::Max => 40,
    }
}

/// Simulates `copies` placed by `packing` (no trace).
fn simulated(
    part: &Partition,
    timings: &[LayerTiming],
    copies: &[u64],
    packing: &Packing,
    preds: &[Vec<usize>],
    samples: usize,
) -> anyhow::Result<SimResult> {
    let times = duplicate::times(timings, copies);
    let it = items(part, copies, &times);
    run_sim(&it, packing, &times, preds, samples, false)
}

/// Copies per layer and their packing.
type Mapping = (Vec<u64>, Packing);

/// The best of the contention-aware strategies by simulated latency.
fn auto(
    part: &Partition,
    timings: &[LayerTiming],
    preds: &[Vec<usize>],
    opts: &CompileOptions,
) -> anyhow::Result<(Vec<u64>, Packing)> {
    // The mappers are independent: run them side by side (the candidates keep their order,
    // so the result does not depend on the thread count).
    let ((pr, st), (sp, ca)) = rayon::join(
        || {
            rayon::join(
                || private(part, timings, preds, opts),
                || match opts.effort {
                    Effort::Fast => Ok(None),
                    _ => staged(part, timings, preds, opts),
                },
            )
        },
        || {
            rayon::join(
                || spread(part, timings, preds, opts),
                || -> anyhow::Result<Vec<Vec<Mapping>>> {
                    use rayon::prelude::*;
                    headrooms(opts.effort)
                        .par_iter()
                        .map(|&h| contention_aware(part, timings, preds, opts, h))
                        .collect()
                },
            )
        },
    );
    let mut cands: Vec<Mapping> = [pr?, st?, sp?].into_iter().flatten().collect();
    cands.extend(ca?.into_iter().flatten());
    // A mapping without contention at all: latency = ideal latency (too slow for fast effort).
    if opts.effort != Effort::Fast {
        cands.extend(timeline(part, timings, preds, opts));
    }
    if cands.is_empty() {
        cands.extend(contention_aware(part, timings, preds, opts, 1.0)?);
    }
    // Each candidate also with its spare area turned into copies (kept only where the
    // simulation says it is faster: extra copies also add load to shared crossbars).
    if opts.effort != Effort::Fast {
        use rayon::prelude::*;
        let filled: Vec<_> = cands
            .par_iter()
            .map(|(c, p)| fill_spare(part, timings, c, p, &opts.pack.rules, opts.budget))
            .collect();
        cands.extend(filled);
    }
    // (rank, efficiency, mapping): below the efficiency floor a mapping only wins when none
    // reaches it (then the most efficient one does).
    let mut ranked: Vec<((f64, f64), f64, Mapping)> = Vec::with_capacity(cands.len());
    for (copies, packing) in cands {
        let sim = simulated(part, timings, &copies, &packing, preds, opts.samples)?;
        let eff = sim.contention_efficiency();
        ranked.push((
            crate::refine::rank(&sim, opts.min_efficiency),
            eff,
            (copies, packing),
        ));
    }
    // Stable: equal ranks keep the candidates' order.
    ranked.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if ranked.is_empty() {
        anyhow::bail!("no contention-aware mapping fits");
    }
    if opts.effort == Effort::Fast {
        return Ok(ranked.swap_remove(0).2);
    }
    // The local search starts from the two best mappings and the most efficient one: which
    // start leads furthest differs from network to network (an efficient start often ends
    // faster than the fastest start). Max effort starts from the four best: with seven
    // headrooms the candidates crowd, and the start that refines furthest is often not among
    // the first two (mbv3-small D=16 on 253 crossbars under --min-efficiency 0.8: 20.0x from
    // two starts, 25.1x from four).
    let top = if opts.effort == Effort::Max { 4 } else { 2 };
    let mut starts: Vec<usize> = (0..ranked.len().min(top)).collect();
    let most_efficient = (0..ranked.len())
        .max_by(|&a, &b| ranked[a].1.total_cmp(&ranked[b].1).then(b.cmp(&a)))
        .unwrap_or(0);
    if !starts.contains(&most_efficient) {
        starts.push(most_efficient);
    }
    let r = crate::refine::Refine {
        task: MapTask::new(part, timings, preds, opts),
        min_efficiency: opts.min_efficiency,
    };
    // Moves in inverse proportion to what one costs: a simulation of every tile copy and
    // sample plus placement scans, which grow faster than linearly (measured: 60 µs per move
    // for squeezenet1_1, 1 ms for mbv3-small at D=8), so the pass stays a fraction of a second
    // whatever the network. Sized on the best start, the same for every start.
    let per_move = (ranked[0].2.1.placements.len() * opts.samples.max(1)).max(1) as f64;
    // Max effort: 100× the moves. The search keeps finding better mappings long after the
    // default's budget (mbv3-small D=8 on 296 crossbars at efficiency ≥ 0.8: 24.4× with 10×
    // the moves, 25.8× with 40×, 26.6× with 100×, about 100 s).
    let scale = if opts.effort == Effort::Max { 100.0 } else { 1.0 };
    let moves = opts
        .refine_moves
        .unwrap_or((scale * 3.5e8 / per_move.powf(1.5)).clamp(scale * 100.0, scale * 8_000.0) as usize);
    use rayon::prelude::*;
    let refined: Vec<anyhow::Result<((f64, f64), Mapping)>> = starts
        .par_iter()
        .map(|&s| {
            let (copies, packing) = &ranked[s].2;
            let m = r.run(copies, packing, moves, opts.pack.seed.wrapping_add(s as u64));
            let sim = simulated(part, timings, &m.0, &m.1, preds, opts.samples)?;
            Ok((crate::refine::rank(&sim, opts.min_efficiency), m))
        })
        .collect();
    let mut best: Option<((f64, f64), Mapping)> = None;
    for x in refined {
        let (key, m) = x?;
        if best.as_ref().is_none_or(|b| key < b.0) {
            best = Some((key, m));
        }
    }
    best.map(|b| b.1)
        .ok_or_else(|| anyhow::anyhow!("no contention-aware mapping fits"))
}

/// Headrooms tried by [`contention_aware`] (none at fast effort: it is too slow for a search).
fn headrooms(effort: Effort) -> &'static [f64] {
    match effort {
        Effort::Fast => &[],
        Effort::Default => &[1.0, 1.25],
        Effort::Max => &[1.0, 1.1, 1.25, 1.4, 1.5, 1.75, 2.0],
    }
}

/// A mapping without time conflicts (see [`crate::timeline`]).
fn timeline(
    part: &Partition,
    timings: &[LayerTiming],
    preds: &[Vec<usize>],
    opts: &CompileOptions,
) -> Option<Mapping> {
    if opts.budget == 0 {
        return None;
    }
    crate::timeline::Timeline {
        task: MapTask::new(part, timings, preds, opts),
        effort: opts.effort,
    }
    .map()
}

/// Heavy layers on private crossbars (see [`crate::optimize::Private`]).
fn private(
    part: &Partition,
    timings: &[LayerTiming],
    preds: &[Vec<usize>],
    opts: &CompileOptions,
) -> anyhow::Result<Option<(Vec<u64>, Packing)>> {
    if opts.pack.rules.layer_threshold > 0 || opts.budget == 0 {
        return Ok(None);
    }
    let pr = crate::optimize::Private {
        part,
        timings,
        budget: opts.budget,
        rules: Rules {
            layer_threshold: 0.min(opts.pack.rules.layer_threshold),
            ..opts.pack.rules
        },
    };
    let t1: Vec<f64> = timings.iter().map(|t| t.time(1)).collect();
    let mut sorted = t1.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut best: Option<(Vec<u64>, Packing, f64)> = None;
    let heavies: &[usize] = match opts.effort {
        Effort::Fast => &[12],
        Effort::Default => &[12, 16],
        Effort::Max => &[4, 6, 8, 10, 12, 14, 16, 18, 20, 24, 28],
    };
    let lights: &[f64] = match opts.effort {
        Effort::Fast => &[f64::INFINITY],
        Effort::Default => &[f64::INFINITY, 20e3, 5e3],
        Effort::Max => &[f64::INFINITY, 40e3, 20e3, 10e3, 5e3, 2e3],
    };
    for &nheavy in heavies {
        // Heavy = the nheavy slowest layers.
        let heavy_ns = sorted
            .get(nheavy.min(sorted.len()) - 1)
            .copied()
            .unwrap_or(0.0)
            .max(1e-9);
        // Period caps: Σ t_i alone leaves the slowest layer slow, but latency for N samples
        // is about Σ t_i + (N − 1)·max t_i, so capping max t_i trades one for the other.
        let caps: &[f64] = match opts.effort {
            Effort::Fast => &[1.0],
            _ => &[1.0, 0.85, 0.7, 0.55, 0.4, 0.3],
        };
        let mut uncapped_max = f64::INFINITY;
        for (&light_ns, &cap) in lights.iter().flat_map(|l| caps.iter().map(move |c| (l, c))) {
            let period = if cap >= 1.0 {
                f64::INFINITY
            } else {
                cap * uncapped_max
            };
            // Largest heavy allowance that still packs with the light tiles.
            let try_nh = |nh: usize| {
                pr.copies(period, heavy_ns, nh, light_ns)
                    .and_then(|c| pr.pack(&c, heavy_ns, None).map(|p| (c, p)))
            };
            // The least heavy allowance: every heavy layer at the copies the cap needs.
            let Some(need) = duplicate::copies_for_period(timings, period) else {
                continue;
            };
            let base: usize = (0..timings.len())
                .filter(|&i| t1[i] >= heavy_ns)
                .map(|i| timings[i].tiles.len() * need[i] as usize)
                .sum();
            if base > opts.budget {
                continue;
            }
            let Some(first) = try_nh(base) else { continue };
            let (mut lo, mut hi) = (base, opts.budget);
            let mut found = Some(first);
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                match try_nh(mid) {
                    Some(r) => {
                        lo = mid;
                        found = Some(r);
                    }
                    None => hi = mid - 1,
                }
            }
            let Some((copies, (it, packing))) = found else {
                continue;
            };
            let times = duplicate::times(timings, &copies);
            if cap >= 1.0 {
                uncapped_max = times.iter().copied().fold(0.0, f64::max);
            }
            let lat = run_sim(&it, &packing, &times, preds, opts.samples, false)?.latency_ns;
            if best.as_ref().is_none_or(|b| lat < b.2) {
                best = Some((copies, packing, lat));
            }
        }
    }
    Ok(best.map(|(c, p, _)| (c, p)))
}

/// Stage-based contention-aware mapping (see [`crate::optimize`]); None when the rules
/// forbid neighbouring layers to share crossbars or no staging fits.
fn staged(
    part: &Partition,
    timings: &[LayerTiming],
    preds: &[Vec<usize>],
    opts: &CompileOptions,
) -> anyhow::Result<Option<(Vec<u64>, Packing)>> {
    if opts.pack.rules.layer_threshold > 0 || opts.budget == 0 {
        return Ok(None);
    }
    type Settings = (usize, usize, &'static [f64], &'static [f64], &'static [f64]);
    let (stage_len, iters, factors, fills, floats): Settings = match opts.effort {
        Effort::Fast => (12, 12, &[1.0], &[0.85], &[0.0]),
        Effort::Default => (24, 16, &[1.0, 1.3], &[0.9], &[0.0, 0.02]),
        Effort::Max => (
            64,
            30,
            &[1.0, 1.05, 1.1, 1.2, 1.3, 1.45, 1.6],
            &[0.97, 0.92, 0.85, 0.78, 0.7],
            &[0.0, 0.005, 0.01, 0.02, 0.05, 0.1],
        ),
    };
    let slowest = timings.iter().map(|t| t.time(1)).fold(0.0, f64::max);
    let combos: Vec<(f64, f64)> = fills
        .iter()
        .flat_map(|&f| floats.iter().map(move |&x| (f, x)))
        .collect();
    // Each shape is planned independently (in parallel); results are compared in shape order.
    use rayon::prelude::*;
    // Copies, packing and simulated latency of each mapping a shape yields.
    type Scored = Vec<(Vec<u64>, Packing, f64)>;
    let found: Vec<anyhow::Result<Scored>> = combos
        .par_iter()
        .map(|&(fill, float)| {
            let mut out = Vec::new();
            let rules = Rules {
                layer_threshold: 0.min(opts.pack.rules.layer_threshold),
                ..opts.pack.rules
            };
            let shape = (stage_len, fill, float * slowest);
            let prob = crate::optimize::Problem::new(part, timings, opts.budget, opts.samples, rules, shape);
            // Bisection on the planner alone (cheap); packing is checked at the end, stepping
            // the period up where the plan's area estimate was optimistic.
            let mut hi: f64 = timings.iter().map(|t| t.time(1)).sum();
            if prob.plan(hi).is_none() {
                return Ok(out);
            }
            let mut lo = duplicate::min_period(timings);
            for _ in 0..iters {
                if hi - lo <= hi * 1e-4 {
                    break;
                }
                let mid = 0.5 * (lo + hi);
                if prob.plan(mid).is_some() {
                    hi = mid
                } else {
                    lo = mid
                }
            }
            for &f in factors {
                let mut p = hi * f;
                let mut fe = None;
                for _ in 0..8 {
                    fe = prob
                        .plan_budget(p)
                        .and_then(|st| prob.pack_plan(st, p))
                        .or_else(|| prob.feasible(p));
                    if fe.is_some() {
                        break;
                    }
                    p *= 1.06;
                }
                let Some(fallback) = fe else { continue };
                let mut stages: Vec<_> = fallback.iter().map(|(s, _)| *s).collect();
                prob.spend_spare(&mut stages);
                let Some((copies, packing)) = prob.realize(&stages, &fallback) else {
                    continue;
                };
                let sim = simulated(part, timings, &copies, &packing, preds, opts.samples)?;
                out.push((copies, packing, sim.latency_ns));
            }
            Ok(out)
        })
        .collect();
    let mut best: Option<(Vec<u64>, Packing, f64)> = None;
    for r in found {
        for cand in r? {
            if best.as_ref().is_none_or(|b| cand.2 < b.2) {
                best = Some(cand);
            }
        }
    }
    Ok(best.map(|(c, p, _)| (c, p)))
}

type Packer = fn(&[Item], crate::partition::Crossbar, &Rules, usize) -> Option<Packing>;

/// Contention-aware duplication and placement.
///
/// For a target period P every layer needs x_i(P) copies, and tiles are packed so that no
/// crossbar carries more than P of work per sample (time is a third packing dimension).
/// Latency over N samples is about Σ t_i + (N−1)·P, so beyond reaching P the spare area buys
/// more copies where they cut Σ t_i most per cell: minimising Σ c_i/x_i under Σ a_i·x_i ≤ A
/// gives x_i ∝ √(c_i/a_i), scaled by λ. The search finds the least feasible P, then for a few
/// periods above it the largest λ that still packs; every feasible mapping met is simulated
/// and the lowest simulated latency wins.
///
/// With `headroom` h > 1 every layer gets the copies of period P/h while crossbars may carry
/// P: each layer then takes at most 1/h of its crossbars' time, so a crossbar can host it
/// beside others instead of being filled in time by one layer and empty in area (squeezenet1_1
/// with --same-layer-diagonal on 112 crossbars: 15.3× at h = 1, 17.3× at h = 1.25). Which h
/// wins differs from budget to budget, so [`auto`] tries several.
fn contention_aware(
    part: &Partition,
    timings: &[LayerTiming],
    preds: &[Vec<usize>],
    opts: &CompileOptions,
    headroom: f64,
) -> anyhow::Result<Vec<Mapping>> {
    let xbar = part.options.xbar;
    let cap = if opts.find_solution {
        usize::MAX
    } else {
        opts.budget
    };
    let budget_cells = opts.budget as u64 * xbar.cells();
    // Work conservation: the crossbar-time of layer i is at least Σ_tiles τ·cycles.
    let work: f64 = timings
        .iter()
        .flat_map(|t| t.tiles.iter())
        .map(|&(tau, c)| tau * c as f64)
        .sum();
    let max_cycles: Vec<f64> = timings.iter().map(|t| t.max_copies() as f64).collect();
    // The packer variants: (packer, heavy-layer exclusivity as a fraction of P, window).
    const VARIANTS: [(Packer, Option<f64>, Option<usize>); 8] = [
        (pack::strategies::local as Packer, None, None),
        (pack::timed, None, None),
        (pack::strategies::local, Some(0.3), None),
        (pack::strategies::local, None, Some(1)),
        (pack::strategies::local, None, Some(2)),
        (pack::strategies::local, None, Some(3)),
        (pack::strategies::local, None, Some(5)),
        (pack::strategies::local, None, Some(8)),
    ];
    // Packs `copies` with every crossbar carrying at most `p` per sample, with the given
    // variants; the fastest simulated packing and its variant.
    let place = |copies: &[u64], p: f64, variants: &[usize]| -> Option<(Packing, f64, usize)> {
        if !opts.find_solution && duplicate::cells(timings, copies) > budget_cells {
            return None;
        }
        let times = duplicate::times(timings, copies);
        let it = items(part, copies, &times);
        let mut best: Option<(Packing, f64, usize)> = None;
        for &v in variants {
            let (packer, excl, window) = VARIANTS[v];
            let rules = Rules {
                period_ns: Some(p),
                exclusive_ns: excl.map(|f| f * p),
                window,
                ..opts.pack.rules
            };
            let Some(packing) = packer(&it, xbar, &rules, cap) else {
                continue;
            };
            let sim = run_sim(&it, &packing, &times, preds, opts.samples, false).ok()?;
            if best.as_ref().is_none_or(|b| sim.latency_ns < b.1) {
                best = Some((packing, sim.latency_ns, v));
            }
        }
        best
    };
    let all: Vec<usize> = (0..VARIANTS.len()).collect();
    let attempt = |p: f64, lambda: f64| -> Option<Candidate> {
        let mut copies = duplicate::copies_for_period(timings, p / headroom)?;
        if lambda > 0.0 {
            for (i, x) in copies.iter_mut().enumerate() {
                let t = &timings[i];
                let want = (lambda * max_cycles[i] / t.cells.max(1) as f64).sqrt().round() as u64;
                *x = (*x).max(want.min(t.max_copies()));
                // Each copy's tiles need distinct crossbars.
                let per_copy = t.tiles.len() as u64;
                if *x * per_copy > cap as u64 {
                    *x = (cap as u64 / per_copy).max(1);
                }
            }
            if copies.iter().zip(timings).any(|(&x, t)| t.time(x) > p) {
                return None;
            }
        }
        let (packing, lat, variant) = place(&copies, p, &all)?;
        Some(Candidate {
            copies,
            packing,
            latency_ns: lat,
            period_ns: p,
            variant,
        })
    };
    let t1 = duplicate::period(timings, &vec![1; timings.len()]);
    let lo0 = duplicate::min_period(timings).max(if opts.find_solution {
        0.0
    } else {
        work / opts.budget as f64
    });
    let mut hi = t1.max(lo0);
    let mut best: Option<Candidate> = None;
    // Find a feasible upper end: the time budget may need to exceed the slowest layer.
    for _ in 0..40 {
        if let Some(r) = attempt(hi, 0.0) {
            best = Some(r);
            break;
        }
        hi *= 1.5;
    }
    let Some(mut best) = best else {
        // Contention-aware packing impossible: fall back to the plain area duplication.
        let pack_opts = PackOptions {
            budget: if opts.find_solution {
                None
            } else {
                Some(opts.budget)
            },
            ..opts.pack
        };
        return Ok(vec![area(part, timings, &pack_opts, opts)?]);
    };
    let keep = |r: Candidate, best: &mut Candidate| {
        if r.latency_ns < best.latency_ns {
            *best = r;
        }
    };
    // 1. Least feasible period with the least copies.
    let mut lo = lo0.min(hi);
    let (p_iters, l_iters, periods): (usize, usize, &[f64]) = match opts.effort {
        Effort::Fast => (8, 6, &[1.0, 1.3]),
        // The extra headroom runs lighter, to keep a default compile within a second.
        Effort::Default if headroom > 1.0 => (12, 6, &[1.0, 1.25]),
        Effort::Default => (16, 10, &[1.0, 1.1, 1.25, 1.5, 2.0]),
        Effort::Max => (24, 14, &[1.0, 1.05, 1.1, 1.2, 1.3, 1.45, 1.6, 1.8, 2.0, 2.5]),
    };
    for _ in 0..p_iters {
        if hi - lo <= hi * 1e-3 {
            break;
        }
        let mid = 0.5 * (lo + hi);
        match attempt(mid, 0.0) {
            Some(r) => {
                hi = mid;
                keep(r, &mut best);
            }
            None => lo = mid,
        }
    }
    // 2. For periods at and above it, as many extra copies as still pack.
    let p_min = hi;
    for &f in periods {
        let p = p_min * f;
        // λ such that the copies would fill the budget's area if unconstrained.
        let (mut l_lo, mut l_hi) = (0.0f64, 0.0f64);
        let mut l = 1.0f64;
        for _ in 0..60 {
            match attempt(p, l) {
                Some(r) => {
                    l_lo = l;
                    keep(r, &mut best);
                    l *= 4.0;
                }
                None => {
                    l_hi = l;
                    break;
                }
            }
        }
        if l_hi == 0.0 {
            continue;
        }
        for _ in 0..l_iters {
            let mid = if l_lo == 0.0 {
                l_hi / 4.0
            } else {
                (l_lo * l_hi).sqrt()
            };
            if l_hi / mid.max(1e-300) < 1.02 {
                break;
            }
            match attempt(p, mid) {
                Some(r) => {
                    l_lo = mid;
                    keep(r, &mut best);
                }
                None => l_hi = mid,
            }
        }
    }
    // 3. Copies-space local search from the best: one layer's copies up or down by about an
    //    eighth, one up and another down, or the time budget P nudged; each candidate is
    //    packed afresh with the winning packer variant and simulated, and kept when no
    //    slower. The bisections above move every layer at once; this finds per-layer
    //    balances they cannot express (squeezenet1_1 with --same-layer-diagonal, mean of
    //    seeds 1-4: +1 to +2 % on 64, 80 and 96 crossbars). Evaluations shrink with the
    //    square of the tile copies (packing scans every crossbar per tile), so large
    //    networks get few.
    let tile_copies: f64 = best
        .copies
        .iter()
        .zip(timings)
        .map(|(&x, t)| (x as usize * t.tiles.len()) as f64)
        .sum();
    let evals = match opts.effort {
        Effort::Fast => 0.0,
        Effort::Default => (3e7 / tile_copies.powi(2)).min(300.0),
        Effort::Max => (3e8 / tile_copies.powi(2)).min(3000.0),
    } as usize;
    let seed = opts.pack.seed ^ 0x7153_c0de_u64.wrapping_mul(headroom.to_bits());
    let tuned = tune_copies(&best, timings, evals, seed, place);
    // Both ends: the search's start often refines further (in `auto`) than its end.
    let mut out = vec![(best.copies, best.packing)];
    out.extend(tuned.map(|t| (t.copies, t.packing)));
    Ok(out)
}

/// The copies-space local search of [`contention_aware`]: `evals` random tweaks of `start`
/// (see there), each placed by `place` with the winning packer variant; the best mapping
/// found, or None when no tweak was kept.
fn tune_copies(
    start: &Candidate,
    timings: &[LayerTiming],
    evals: usize,
    seed: u64,
    place: impl Fn(&[u64], f64, &[usize]) -> Option<(Packing, f64, usize)>,
) -> Option<Candidate> {
    let mut rng = crate::rng::Rng::new(seed);
    let mut best: Option<Candidate> = None;
    for _ in 0..evals {
        let cur = best.as_ref().unwrap_or(start);
        let mut copies = cur.copies.clone();
        let mut p = cur.period_ns;
        let i = rng.below(copies.len());
        let step = (copies[i] / 8).max(1);
        match rng.below(6) {
            0 | 1 => copies[i] = (copies[i] + step).min(timings[i].max_copies()),
            2 => copies[i] = copies[i].saturating_sub(step).max(1),
            3 | 4 => {
                // A trade: this layer up, another down (roughly area-neutral).
                copies[i] = (copies[i] + step).min(timings[i].max_copies());
                let j = rng.below(copies.len());
                if j != i {
                    copies[j] = copies[j].saturating_sub((copies[j] / 8).max(1)).max(1);
                }
            }
            _ => p *= if rng.below(2) == 0 { 0.96 } else { 1.04 },
        }
        if copies == cur.copies && p == cur.period_ns {
            continue;
        }
        if let Some((packing, lat, variant)) = place(&copies, p, &[cur.variant])
            && lat <= cur.latency_ns
        {
            best = Some(Candidate {
                copies,
                packing,
                latency_ns: lat,
                period_ns: p,
                variant,
            });
        }
    }
    best
}

/// A contention-aware mapping with what made it: the per-crossbar time budget and the
/// packer variant.
struct Candidate {
    copies: Vec<u64>,
    packing: Packing,
    latency_ns: f64,
    period_ns: f64,
    variant: usize,
}

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
    /// False when the network's weights do not fit the budget.
    pub feasible: bool,
    pub latency_ns: f64,
    pub speedup: f64,
    pub crossbars_used: usize,
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
        let infeasible = HwEval {
            feasible: false,
            latency_ns: f64::INFINITY,
            speedup: 0.0,
            crossbars_used: 0,
        };
        let part = partition(net, &self.opts.partition)?;
        if part.area_lower_bound() > self.opts.budget as u64 {
            return Ok(infeasible);
        }
        let tau = |r: usize, c: usize| self.hw.latency_ns(r, c, self.input_bits);
        match compile(net, &tau, &self.opts) {
            Ok(c) => Ok(HwEval {
                feasible: true,
                latency_ns: c.sim.latency_ns,
                speedup: self.baseline.latency_ns / c.sim.latency_ns,
                crossbars_used: c.packing.crossbars,
            }),
            Err(e) if e.downcast_ref::<PackError>().is_some() => Ok(infeasible),
            Err(e) => Err(e),
        }
    }
}

/// Time-dense layers spread over a shared tier of crossbars. Serial depthwise layers carry
/// most of the work on a few percent of the cells, so private crossbars waste their area and
/// cap their copies. Here each of the `m` densest layers (work per cell) gets a copy tile on
/// nearly every crossbar of a tier of `h`: the tier then serves every dense layer of a sample
/// in turn and its load per sample is about Σ work / h, whatever the order of service. The
/// other layers go to the remaining crossbars (one copy, then copies for the slowest while
/// they fit), spilling onto the tier's spare cells only when the budget runs out.
fn spread(
    part: &Partition,
    timings: &[LayerTiming],
    preds: &[Vec<usize>],
    opts: &CompileOptions,
) -> anyhow::Result<Option<(Vec<u64>, Packing)>> {
    if opts.budget == 0 || opts.effort == Effort::Fast {
        return Ok(None);
    }
    let n = timings.len();
    let work: Vec<f64> = timings
        .iter()
        .map(|t| t.tiles.iter().map(|&(tau, c)| tau * c as f64).sum())
        .collect();
    let mut dense: Vec<usize> = (0..n).collect();
    let density = |i: usize| work[i] / timings[i].cells.max(1) as f64;
    dense.sort_by(|&a, &b| density(b).total_cmp(&density(a)).then(a.cmp(&b)));
    let (ms, hs): (&[usize], &[f64]) = match opts.effort {
        Effort::Fast => (&[], &[]),
        Effort::Default => (&[8, 11, 14, 17], &[0.3, 0.4, 0.5, 0.65]),
        Effort::Max => (
            &[6, 8, 10, 11, 12, 14, 16, 20],
            &[0.35, 0.45, 0.55, 0.65, 0.75, 0.85],
        ),
    };
    let mut best: Option<(Vec<u64>, Packing, f64)> = None;
    for &m in ms {
        let heavy: Vec<bool> = {
            let mut v = vec![false; n];
            dense.iter().take(m.min(n)).for_each(|&i| v[i] = true);
            v
        };
        for &hf in hs {
            let h = ((hf * opts.budget as f64) as usize).max(1);
            if let Some((copies, packing)) = spread_one(part, timings, &heavy, h, opts) {
                let lat = simulated(part, timings, &copies, &packing, preds, opts.samples)?.latency_ns;
                if best.as_ref().is_none_or(|b| lat < b.2) {
                    best = Some((copies, packing, lat));
                }
            }
        }
    }
    Ok(best.map(|(c, p, _)| (c, p)))
}

/// One spread mapping with dense layers `heavy` on a tier of `h` crossbars (None if it does
/// not fit the budget).
fn spread_one(
    part: &Partition,
    timings: &[LayerTiming],
    heavy: &[bool],
    h: usize,
    opts: &CompileOptions,
) -> Option<(Vec<u64>, Packing)> {
    let xbar = part.options.xbar;
    let rules = Rules {
        // Stricter than asked is fine; copies of one layer must sit on distinct crossbars.
        layer_threshold: opts.pack.rules.layer_threshold.max(0),
        ..opts.pack.rules
    };
    let n = timings.len();
    let k = |i: usize| part.layers[i].tiles.len().max(1);
    let mut copies: Vec<u64> = (0..n)
        .map(|i| {
            if heavy[i] {
                ((h / k(i)) as u64).clamp(1, timings[i].max_copies())
            } else {
                1
            }
        })
        .collect();
    // Place the tier; a layer whose copies do not all fit loses copies until they do.
    let mut tier: Vec<pack::Bin>;
    let mut at: Vec<Vec<Vec<(usize, usize, usize)>>>; // [layer][copy][tile] → (bin, x, y)
    let mut order: Vec<usize> = (0..n).filter(|&i| heavy[i]).collect();
    // Larger tiles first: they are the hard ones to fit.
    order.sort_by_key(|&i| std::cmp::Reverse(part.layers[i].tiles.iter().map(|t| t.rows * t.cols).max()));
    'retry: for _ in 0..12 {
        tier = (0..h).map(|_| pack::Bin::new(xbar.rows, xbar.cols)).collect();
        at = vec![Vec::new(); n];
        let mut cursor = 0usize;
        for &i in &order {
            let lp = &part.layers[i];
            for c in 0..copies[i] as usize {
                let mut spots = Vec::with_capacity(lp.tiles.len());
                for t in &lp.tiles {
                    let it = Item {
                        layer: i,
                        copy: c,
                        tile: t.index,
                        rows: t.rows,
                        cols: t.cols,
                        time_ns: 0.0,
                    };
                    let found = (0..h).map(|j| (cursor + j) % h).find_map(|b| {
                        if !tier[b].admits(&it, &rules) {
                            return None;
                        }
                        tier[b].best_fit(&it, &rules).map(|(_, _, x, y)| (b, x, y))
                    });
                    let Some((b, x, y)) = found else {
                        // Not all copies fit: fewer copies of this layer, start again.
                        let placed = c as u64;
                        copies[i] = (placed.max(1) * 9 / 10).max(1).min(copies[i] - 1).max(1);
                        if copies[i] == 1 && placed == 0 {
                            return None;
                        }
                        continue 'retry;
                    };
                    tier[b].place(&it, x, y);
                    spots.push((b, x, y));
                    cursor = (b + 1) % h;
                }
                at[i].push(spots);
            }
        }
        // The rest: one copy each on crossbars after the tier, then spare copies.
        let mut bins = tier;
        let light: Vec<usize> = (0..n).filter(|&i| !heavy[i]).collect();
        let place_copy = |bins: &mut Vec<pack::Bin>, i: usize, c: usize, allow_tier: bool| {
            let lp = &part.layers[i];
            let mut spots = Vec::new();
            let mut trial = bins.clone();
            for t in &lp.tiles {
                let it = Item {
                    layer: i,
                    copy: c,
                    tile: t.index,
                    rows: t.rows,
                    cols: t.cols,
                    time_ns: 0.0,
                };
                let start = if allow_tier { 0 } else { h.min(trial.len()) };
                let mut choice: Option<((usize, usize), usize, usize, usize)> = None;
                for (b, bin) in trial.iter().enumerate().skip(start) {
                    if bin.admits(&it, &rules)
                        && let Some((s, l, x, y)) = bin.best_fit(&it, &rules)
                        && choice.is_none_or(|(q, ..)| (s, l) < q)
                    {
                        choice = Some(((s, l), b, x, y));
                    }
                }
                let (b, x, y) = match choice {
                    Some((_, b, x, y)) => (b, x, y),
                    None if trial.len() < opts.budget => {
                        trial.push(pack::Bin::new(xbar.rows, xbar.cols));
                        (trial.len() - 1, 0, 0)
                    }
                    None => return None,
                };
                trial[b].place(&it, x, y);
                spots.push((b, x, y));
            }
            *bins = trial;
            Some(spots)
        };
        let mut big: Vec<usize> = light.clone();
        big.sort_by_key(|&i| std::cmp::Reverse((timings[i].cells, i)));
        for &i in &big {
            let spots = place_copy(&mut bins, i, 0, false).or_else(|| place_copy(&mut bins, i, 0, true))?;
            at[i].push(spots);
        }
        // Spare room: a copy for the layer whose time falls most, off the tier only.
        loop {
            let pick = light
                .iter()
                .copied()
                .filter(|&i| copies[i] < timings[i].max_copies())
                .max_by(|&a, &b| {
                    let gain = |i: usize| timings[i].time(copies[i]) - timings[i].time(copies[i] + 1);
                    gain(a).total_cmp(&gain(b)).then(b.cmp(&a))
                });
            let Some(i) = pick else { break };
            if timings[i].time(copies[i]) <= timings[i].time(copies[i] + 1) {
                break;
            }
            match place_copy(&mut bins, i, copies[i] as usize, false) {
                Some(spots) => {
                    at[i].push(spots);
                    copies[i] += 1;
                }
                None => break,
            }
        }
        let mut placements = Vec::new();
        for lp_at in &at {
            for copy in lp_at {
                for &(b, x, y) in copy {
                    placements.push(pack::Placement {
                        crossbar: b as u32,
                        x,
                        y,
                    });
                }
            }
        }
        // Drop tier crossbars left empty and renumber.
        let used: Vec<bool> = bins.iter().map(|b| b.tiles > 0).collect();
        let mut remap = vec![0u32; bins.len()];
        let mut next = 0u32;
        for (b, &u) in used.iter().enumerate() {
            remap[b] = next;
            if u {
                next += 1;
            }
        }
        for p in &mut placements {
            p.crossbar = remap[p.crossbar as usize];
        }
        return Some((
            copies,
            Packing {
                xbar,
                crossbars: next as usize,
                placements,
            },
        ));
    }
    None
}

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
) -> (Vec<u64>, Packing) {
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
        let mut trial = bins.clone();
        let mut spots = Vec::new();
        let ok = part.layers[i].tiles.iter().all(|t| {
            let it = Item {
                layer: i,
                copy: copies[i] as usize,
                tile: t.index,
                rows: t.rows,
                cols: t.cols,
                time_ns: 0.0,
            };
            let mut choice: pack::strategies::Choice<(usize, usize, usize)> = None;
            for (b, bin) in trial.iter().enumerate() {
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
            trial[b].place(&it, x, y);
            spots.push(pack::Placement {
                crossbar: b as u32,
                x,
                y,
            });
            true
        });
        if ok {
            bins = trial;
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
