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
        "total: {} layers, {} edges, {} tiles, {} cells, area lower bound {} crossbars",
        net.layers.len(),
        net.edges.len(),
        part.tiles(),
        part.cells(),
        part.area_lower_bound()
    );
    s
}
