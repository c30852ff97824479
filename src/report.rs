//! Reports: layer tables and JSON documents for people and programs.

use crate::network::{LayerKind, Network};
use crate::partition::{LayerBox, Partition};
use serde::Serialize;
use std::fmt::Write;

/// One row of `rnc inspect --json`.
#[derive(Serialize)]
pub struct LayerRow<'a> {
    pub index: usize,
    pub name: &'a str,
    pub kind: LayerKind,
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
    pub input_hw: [usize; 2],
    pub output_hw: [usize; 2],
    #[serde(rename = "box")]
    pub bx: LayerBox,
    pub tiles: usize,
}

/// The document `rnc inspect --json` prints.
#[derive(Serialize)]
pub struct Inspection<'a> {
    pub network: &'a str,
    pub input_hw: [usize; 2],
    pub xbar: String,
    pub depth_split: usize,
    pub depthwise: crate::partition::DepthwiseMapping,
    pub layers: Vec<LayerRow<'a>>,
    pub edges: &'a [(usize, usize)],
    pub tiles: usize,
    pub cells: u64,
    pub area_lower_bound: u64,
    /// Without contention rules: the area bound with tile sides rounded up (pack::bound).
    pub lower_bound: u64,
}

/// The rule-free lower bound on crossbars for one copy of every tile.
fn side_bound(part: &Partition) -> u64 {
    let it = crate::compile::one_copy_items(part);
    crate::pack::bound::dff_bound(&it, part.options.xbar).max(part.area_lower_bound())
}

pub fn inspection<'a>(net: &'a Network, part: &Partition) -> Inspection<'a> {
    let layers = net
        .layers
        .iter()
        .zip(&part.layers)
        .map(|(l, p)| LayerRow {
            index: l.index,
            name: &l.name,
            kind: l.kind,
            in_channels: l.in_channels,
            out_channels: l.out_channels,
            kernel: l.kernel,
            stride: l.stride,
            padding: l.padding,
            dilation: l.dilation,
            groups: l.groups,
            input_hw: l.input_hw,
            output_hw: l.output_hw,
            bx: p.bx,
            tiles: p.tiles.len(),
        })
        .collect();
    Inspection {
        network: &net.name,
        input_hw: net.input_hw,
        xbar: part.options.xbar.to_string(),
        depth_split: part.options.depth_split,
        depthwise: part.options.depthwise,
        layers,
        edges: &net.edges,
        tiles: part.tiles(),
        cells: part.cells(),
        area_lower_bound: part.area_lower_bound(),
        lower_bound: side_bound(part),
    }
}

/// The human-readable layer table of `rnc inspect`.
pub fn layer_table(net: &Network, part: &Partition) -> String {
    let mut s = String::new();
    let name_w = net.layers.iter().map(|l| l.name.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        s,
        "{} at {}x{} on {} crossbars, depth split {}, {:?} depthwise mapping",
        net.name,
        net.input_hw[0],
        net.input_hw[1],
        part.options.xbar,
        part.options.depth_split,
        part.options.depthwise
    );
    let _ = writeln!(
        s,
        "{:>4}  {:<name_w$}  {:<6}  {:>5} {:>5}  {:>5}  {:>3}  {:>3}  {:>9}  {:>9}  {:>6} {:>6} {:>8}  {:>5}",
        "idx", "name", "kind", "cin", "cout", "k", "s", "g", "in", "out", "rows", "cols", "cycles", "tiles"
    );
    for (l, p) in net.layers.iter().zip(&part.layers) {
        let _ = writeln!(
            s,
            "{:>4}  {:<name_w$}  {:<6}  {:>5} {:>5}  {:>5}  {:>3}  {:>3}  {:>9}  {:>9}  {:>6} {:>6} {:>8}  {:>5}",
            l.index,
            l.name,
            l.kind.to_string(),
            l.in_channels,
            l.out_channels,
            format!("{}x{}", l.kernel[0], l.kernel[1]),
            l.stride[0],
            l.groups,
            format!("{}x{}", l.input_hw[0], l.input_hw[1]),
            format!("{}x{}", l.output_hw[0], l.output_hw[1]),
            p.bx.rows,
            p.bx.cols,
            p.bx.cycles,
            p.tiles.len()
        );
    }
    let _ = writeln!(
        s,
        "total: {} layers, {} edges, {} tiles, {} cells, area lower bound {} crossbars{}",
        net.layers.len(),
        net.edges.len(),
        part.tiles(),
        part.cells(),
        part.area_lower_bound(),
        match side_bound(part) {
            b if b > part.area_lower_bound() => format!(" ({b} with tile sides rounded up)"),
            _ => String::new(),
        }
    );
    s
}

/// The document `summary.json` holds and `rnc compile --json` prints.
#[derive(Serialize, Clone, Debug)]
pub struct Summary {
    pub network: String,
    pub input_hw: [usize; 2],
    pub xbar: String,
    pub depth_split: usize,
    pub depthwise: crate::partition::DepthwiseMapping,
    pub duplicate: crate::duplicate::DuplicateMode,
    pub packer: crate::pack::Packer,
    /// The rule preset (`physical`, `exclusive`, `reference`); the three fields after it are
    /// the rules in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<&'static str>,
    pub layer_threshold: i64,
    pub max_load: usize,
    pub same_layer_diagonal: bool,
    pub schedule: crate::network::Schedule,
    pub effort: crate::compile::Effort,
    /// `--refine-moves`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refine_moves: Option<usize>,
    pub seed: u64,
    pub samples: usize,
    pub crossbars_budget: usize,
    pub crossbars_used: usize,
    pub area_lower_bound: u64,
    /// Strongest lower bound for one copy of every tile under the contention rules.
    pub lower_bound: u64,
    pub lower_bound_reason: &'static str,
    pub tiles: usize,
    pub tile_copies: usize,
    pub cells: u64,
    pub copies: Vec<u64>,
    pub utilization: f64,
    pub utilization_of_budget: f64,
    pub latency_ns: f64,
    pub ideal_latency_ns: f64,
    pub contention_efficiency: f64,
    pub period_ns: f64,
    /// No mapping into the budget under these rules gets its slowest layer below this
    /// (`pack::bound::period_bound`); absent without a budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_lower_bound_ns: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_lower_bound_reason: Option<&'static str>,
    /// The most of the budget that the least copies of any reachable period fill (SPEC §6's
    /// "least area at equal period"); only copies beyond those for the period fill more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilization_bound: Option<f64>,
    pub max_layer_time_ns: f64,
    pub max_crossbar_load_ns: f64,
    pub throughput_per_s: f64,
    pub baseline_crossbars: usize,
    pub baseline_latency_ns: f64,
    pub speedup: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_nj: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

pub fn summary(
    net: &Network,
    c: &crate::compile::Compiled,
    base: &crate::compile::Baseline,
    energy_nj: Option<f64>,
) -> Summary {
    let o = &c.options;
    let used = c.packing.crossbars;
    let cells = c.cells();
    let xc = o.partition.xbar.cells();
    let bound = c.lower_bound();
    let pb = (o.budget > 0 && !o.find_solution)
        .then(|| crate::pack::bound::period_bound(&c.partition, &c.timings, &o.pack.rules, o.budget));
    Summary {
        network: net.name.clone(),
        input_hw: net.input_hw,
        xbar: o.partition.xbar.to_string(),
        depth_split: o.partition.depth_split,
        depthwise: o.partition.depthwise,
        duplicate: o.duplicate,
        packer: o.pack.packer,
        rules: None,
        layer_threshold: o.pack.rules.layer_threshold,
        max_load: o.pack.rules.max_load,
        same_layer_diagonal: o.pack.rules.diagonal,
        schedule: o.schedule,
        effort: o.effort,
        refine_moves: o.refine_moves,
        seed: o.pack.seed,
        samples: o.samples,
        crossbars_budget: o.budget,
        crossbars_used: used,
        area_lower_bound: c.area_lower_bound(),
        lower_bound: bound.crossbars,
        lower_bound_reason: bound.reason,
        tiles: c.partition.tiles(),
        tile_copies: c.items.len(),
        cells,
        copies: c.copies.clone(),
        utilization: if used == 0 {
            0.0
        } else {
            cells as f64 / (used as u64 * xc) as f64
        },
        utilization_of_budget: if o.budget == 0 {
            0.0
        } else {
            cells as f64 / (o.budget as u64 * xc) as f64
        },
        latency_ns: c.sim.latency_ns,
        ideal_latency_ns: c.sim.ideal_latency_ns,
        contention_efficiency: c.sim.contention_efficiency(),
        period_ns: c.sim.period_ns,
        period_lower_bound_ns: pb.map(|b| b.period_ns),
        period_lower_bound_reason: pb.map(|b| b.reason),
        utilization_bound: pb.map(|b| (b.cells as f64 / (o.budget as u64 * xc) as f64).min(1.0)),
        max_layer_time_ns: c.sim.max_layer_time_ns,
        max_crossbar_load_ns: c.sim.max_crossbar_load_ns,
        throughput_per_s: if c.sim.period_ns > 0.0 {
            1e9 / c.sim.period_ns
        } else {
            0.0
        },
        baseline_crossbars: base.crossbars,
        baseline_latency_ns: base.latency_ns,
        speedup: if c.sim.latency_ns > 0.0 {
            base.latency_ns / c.sim.latency_ns
        } else {
            0.0
        },
        energy_nj,
        warnings: Vec::new(),
    }
}

/// Human summary of a compilation.
pub fn summary_text(s: &Summary) -> String {
    let ms = |ns: f64| format!("{:.3} ms", ns / 1e6);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{} at {}x{} on {} crossbars ({} duplication, {} packer, D={}, {:?} depthwise, {:?} schedule)",
        s.network,
        s.input_hw[0],
        s.input_hw[1],
        s.xbar,
        format!("{:?}", s.duplicate).to_lowercase(),
        format!("{:?}", s.packer).to_lowercase(),
        s.depth_split,
        s.depthwise,
        s.schedule
    );
    let _ = writeln!(
        t,
        "  crossbars      {} used of {} (lower bound {} {}{}), {} tiles, {} tile copies",
        s.crossbars_used,
        s.crossbars_budget,
        s.lower_bound,
        s.lower_bound_reason,
        if s.lower_bound > s.area_lower_bound {
            format!("; {} by area alone", s.area_lower_bound)
        } else {
            String::new()
        },
        s.tiles,
        s.tile_copies
    );
    let _ = writeln!(
        t,
        "  utilisation    {:.1}% of used crossbars, {:.1}% of the budget",
        100.0 * s.utilization,
        100.0 * s.utilization_of_budget
    );
    let _ = writeln!(
        t,
        "  latency        {} for {} samples (ideal {}, contention efficiency {:.2})",
        ms(s.latency_ns),
        s.samples,
        ms(s.ideal_latency_ns),
        s.contention_efficiency
    );
    let _ = writeln!(
        t,
        "  period         {} ({:.0} inferences/s)",
        ms(s.period_ns),
        s.throughput_per_s
    );
    if let (Some(p), Some(why), Some(u)) = (
        s.period_lower_bound_ns,
        s.period_lower_bound_reason,
        s.utilization_bound,
    ) {
        let _ = writeln!(
            t,
            "  slowest layer  {:.2} µs; no mapping of {} crossbars gets it below {:.2} µs ({}), where the least copies fill {:.1}% of the budget",
            s.max_layer_time_ns / 1e3,
            s.crossbars_budget,
            p / 1e3,
            why,
            100.0 * u
        );
    }
    let _ = writeln!(
        t,
        "  ISAAC-like     {} on {} crossbars → speed-up {:.2}×",
        ms(s.baseline_latency_ns),
        s.baseline_crossbars,
        s.speedup
    );
    if let Some(e) = s.energy_nj {
        let _ = writeln!(t, "  energy         {:.1} µJ per inference", e / 1e3);
    }
    t
}

/// `pack.csv`: one row per tile copy.
pub fn pack_csv(c: &crate::compile::Compiled) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["tile", "layer", "copy", "crossbar", "x", "y", "w", "h"])?;
    for (k, (it, p)) in c.items.iter().zip(&c.packing.placements).enumerate() {
        w.write_record([
            k.to_string(),
            it.layer.to_string(),
            it.copy.to_string(),
            p.crossbar.to_string(),
            p.x.to_string(),
            p.y.to_string(),
            it.cols.to_string(),
            it.rows.to_string(),
        ])?;
    }
    Ok(w.into_inner()?)
}

/// `partition.json`: per layer its box, tiles and copies.
pub fn partition_json(net: &Network, c: &crate::compile::Compiled) -> serde_json::Value {
    let layers: Vec<serde_json::Value> = net
        .layers
        .iter()
        .zip(&c.partition.layers)
        .zip(&c.copies)
        .zip(&c.layer_time_ns)
        .map(|(((l, p), &x), &t)| {
            serde_json::json!({
                "index": l.index,
                "name": l.name,
                "kind": l.kind,
                "box": p.bx,
                "tiles": p.tiles.iter().map(|t| serde_json::json!({
                    "index": t.index, "row0": t.row0, "col0": t.col0,
                    "rows": t.rows, "cols": t.cols, "cycles": t.cycles,
                })).collect::<Vec<_>>(),
                "copies": x,
                "time_ns": t,
            })
        })
        .collect();
    serde_json::json!({
        "network": net.name,
        "xbar": c.partition.options.xbar.to_string(),
        "depth_split": c.partition.options.depth_split,
        "depthwise": c.partition.options.depthwise,
        "layers": layers,
        "edges": net.edges,
    })
}

/// Trace as CSV: layer, name, sample, start, end, crossbars (space-separated ids).
pub fn trace_csv(
    net: &Network,
    trace: &[crate::simulate::Execution],
    lc: &[Vec<u32>],
) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["layer", "name", "sample", "start_ns", "end_ns", "crossbars"])?;
    for e in trace {
        let xs: Vec<String> = lc[e.layer].iter().map(|c| c.to_string()).collect();
        w.write_record([
            e.layer.to_string(),
            net.layers[e.layer].name.clone(),
            e.sample.to_string(),
            format!("{}", e.start_ns),
            format!("{}", e.end_ns),
            xs.join(" "),
        ])?;
    }
    Ok(w.into_inner()?)
}

/// Trace as Chrome trace-event JSON: one complete event per execution, one track per sample.
pub fn trace_chrome(
    net: &Network,
    trace: &[crate::simulate::Execution],
    lc: &[Vec<u32>],
) -> anyhow::Result<Vec<u8>> {
    let events: Vec<serde_json::Value> = trace
        .iter()
        .map(|e| {
            serde_json::json!({
                "name": net.layers[e.layer].name,
                "cat": "layer",
                "ph": "X",
                "ts": e.start_ns / 1e3,
                "dur": (e.end_ns - e.start_ns) / 1e3,
                "pid": 1,
                "tid": e.sample,
                "args": {"layer": e.layer, "sample": e.sample, "crossbars": lc[e.layer]},
            })
        })
        .collect();
    Ok(serde_json::to_vec(
        &serde_json::json!({"traceEvents": events, "displayTimeUnit": "ns"}),
    )?)
}

/// Read energy of one inference: every tile's activations times its per-activation energy
/// (copies split activations, so duplication does not change it). None if the hardware model
/// has no energy for some tile shape.
pub fn energy_per_inference_nj(
    c: &crate::compile::Compiled,
    hw: &crate::hardware::HwConfig,
    bits: u32,
) -> Option<f64> {
    let mut total = 0.0;
    for t in c.partition.iter_tiles() {
        let a = hw.activation(t.rows, t.read_cols, bits).ok()?;
        total += a.energy_nj * t.cycles as f64;
    }
    Some(total)
}
