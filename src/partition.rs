//! Boxes and partition (SPEC §3–§4): every weight layer becomes a rectangle of cells
//! (rows = word-lines, columns = bit-lines) that is cut into crossbar-sized tiles.

use crate::network::{Layer, LayerKind, Network};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Crossbar dimensions in cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Crossbar {
    pub rows: usize,
    pub cols: usize,
}

impl Default for Crossbar {
    fn default() -> Self {
        Crossbar { rows: 128, cols: 128 }
    }
}

impl Crossbar {
    pub fn cells(&self) -> u64 {
        self.rows as u64 * self.cols as u64
    }
}

impl fmt::Display for Crossbar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.rows, self.cols)
    }
}

/// Largest crossbar side accepted.
pub const MAX_XBAR_SIDE: usize = 65_536;

impl FromStr for Crossbar {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not a crossbar size; expected ROWSxCOLS, e.g. 128x128");
        let (r, c) = s.split_once(['x', 'X']).ok_or_else(bad)?;
        let r: usize = r.trim().parse().map_err(|_| bad())?;
        let c: usize = c.trim().parse().map_err(|_| bad())?;
        if r == 0 || c == 0 {
            return Err(format!(
                "crossbar size '{s}' has a zero side; both sides must be at least 1"
            ));
        }
        if r > MAX_XBAR_SIDE || c > MAX_XBAR_SIDE {
            return Err(format!(
                "crossbar size '{s}' is too large; each side must be at most {MAX_XBAR_SIDE}"
            ));
        }
        Ok(Crossbar { rows: r, cols: c })
    }
}

/// How a depthwise convolution is laid out on a crossbar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum DepthwiseMapping {
    /// The reference's layout: all kernels share kh·kw rows, one channel per activation.
    #[default]
    Serial,
    /// g channels' kernels on the block diagonal: rows kh·kw·g, g channels per activation,
    /// g times more cells for g times fewer activations. g = ⌊R / (kh·kw)⌋.
    Diagonal,
}

/// Options of the partition stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PartitionOptions {
    pub xbar: Crossbar,
    /// Depthwise split factor D ≥ 1 (SPEC §4).
    pub depth_split: usize,
    pub depthwise: DepthwiseMapping,
    /// Columns per weight: ⌈weight_bits / bits_per_cell⌉ (1 = one cell per weight, the default).
    pub bit_slices: usize,
}

impl Default for PartitionOptions {
    fn default() -> Self {
        PartitionOptions {
            xbar: Crossbar::default(),
            depth_split: 1,
            depthwise: DepthwiseMapping::Serial,
            bit_slices: 1,
        }
    }
}

/// A layer as a rectangle of cells and the activations one inference needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LayerBox {
    pub rows: usize,
    pub cols: usize,
    pub cycles: u64,
}

/// One crossbar-sized piece of a layer's box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Tile {
    pub layer: usize,
    /// Position of the tile among its layer's tiles.
    pub index: usize,
    /// Offset of the tile inside the layer's box.
    pub row0: usize,
    pub col0: usize,
    pub rows: usize,
    pub cols: usize,
    /// Activations this tile performs per inference (without duplication).
    pub cycles: u64,
    /// Columns read per activation: all of them, except for depthwise layers, which read one
    /// channel (serial) or g channels (diagonal) at a time. τ is evaluated at (rows, read_cols).
    pub read_cols: usize,
}

impl Tile {
    pub fn cells(&self) -> u64 {
        self.rows as u64 * self.cols as u64
    }
}

/// A layer's box and its tiles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayerPartition {
    pub layer: usize,
    #[serde(rename = "box")]
    pub bx: LayerBox,
    pub tiles: Vec<Tile>,
}

impl LayerPartition {
    /// Largest activation count over the layer's tiles.
    pub fn max_cycles(&self) -> u64 {
        self.tiles.iter().map(|t| t.cycles).max().unwrap_or(0)
    }

    pub fn cells(&self) -> u64 {
        self.tiles.iter().map(Tile::cells).sum()
    }
}

/// The whole network cut into tiles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Partition {
    pub options: PartitionOptions,
    pub layers: Vec<LayerPartition>,
}

impl Partition {
    pub fn tiles(&self) -> usize {
        self.layers.iter().map(|l| l.tiles.len()).sum()
    }

    pub fn cells(&self) -> u64 {
        self.layers.iter().map(LayerPartition::cells).sum()
    }

    /// ⌈Σ cells / (R·C)⌉: no packing can use fewer crossbars.
    pub fn area_lower_bound(&self) -> u64 {
        self.cells().div_ceil(self.options.xbar.cells())
    }

    /// All tiles in layer order.
    pub fn iter_tiles(&self) -> impl Iterator<Item = &Tile> {
        self.layers.iter().flat_map(|l| l.tiles.iter())
    }
}

/// Errors of the partition stage.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PartitionError {
    #[error("depth split factor must be at least 1 (got 0)")]
    ZeroDepthSplit,
    #[error("bit slices must be at least 1 (got 0)")]
    ZeroBitSlices,
}

/// The box of one layer (SPEC §3).
pub fn layer_box(layer: &Layer, opts: &PartitionOptions) -> LayerBox {
    let hw = layer.output_positions();
    let k = layer.kernel[0] * layer.kernel[1];
    let (rows, cols, cycles) = match layer.kind {
        LayerKind::Linear => (layer.in_channels, layer.out_channels, 1),
        LayerKind::Conv if layer.is_depthwise() => {
            let c = layer.out_channels;
            let g = diagonal_group(layer, opts);
            (k * g, c, (c.div_ceil(g)) as u64 * hw)
        }
        LayerKind::Conv => {
            let g = layer.groups.max(1);
            (k * layer.in_channels / g, layer.out_channels, g as u64 * hw)
        }
    };
    LayerBox {
        rows,
        cols: cols * opts.bit_slices,
        cycles,
    }
}

/// Channels per activation of a depthwise layer: 1 for the serial mapping.
fn diagonal_group(layer: &Layer, opts: &PartitionOptions) -> usize {
    match opts.depthwise {
        DepthwiseMapping::Serial => 1,
        DepthwiseMapping::Diagonal => {
            let k = (layer.kernel[0] * layer.kernel[1]).max(1);
            (opts.xbar.rows / k).clamp(1, layer.out_channels.max(1))
        }
    }
}

/// Cuts `len` into pieces of at most `max`: `(offset, size)`.
fn cuts(len: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..len.div_ceil(max)).map(move |i| (i * max, max.min(len - i * max)))
}

/// Partitions one layer.
pub fn partition_layer(layer: &Layer, opts: &PartitionOptions) -> LayerPartition {
    let bx = layer_box(layer, opts);
    let xb = opts.xbar;
    let mut tiles = Vec::new();
    let mut push = |row0, rows, col0, cols, cycles, read_cols| {
        tiles.push(Tile {
            layer: layer.index,
            index: tiles.len(),
            row0,
            col0,
            rows,
            cols,
            cycles,
            read_cols,
        });
    };
    if layer.kind == LayerKind::Conv && layer.is_depthwise() {
        // Column groups of channels; each group keeps only its own channels' activations.
        let c = layer.out_channels;
        let g = diagonal_group(layer, opts);
        let k = layer.kernel[0] * layer.kernel[1];
        let hw = layer.output_positions();
        let group = if opts.depth_split <= 1 {
            c
        } else {
            (c / opts.depth_split).max(1)
        };
        // Channels per tile also bounded by the crossbar width.
        let max_ch = (xb.cols / opts.bit_slices).max(1);
        for (ch0, gw) in cuts(c, group) {
            for (off, w) in cuts(gw, max_ch) {
                let ch = ch0 + off;
                let rows_total = k * g.min(w);
                for (row0, rows) in cuts(rows_total, xb.rows) {
                    push(
                        row0,
                        rows,
                        ch * opts.bit_slices,
                        w * opts.bit_slices,
                        w.div_ceil(g) as u64 * hw,
                        g.min(w) * opts.bit_slices,
                    );
                }
            }
        }
    } else {
        for (col0, cols) in cuts(bx.cols, xb.cols) {
            for (row0, rows) in cuts(bx.rows, xb.rows) {
                push(row0, rows, col0, cols, bx.cycles, cols);
            }
        }
    }
    LayerPartition {
        layer: layer.index,
        bx,
        tiles,
    }
}

/// Partitions every layer of `net`.
pub fn partition(net: &Network, opts: &PartitionOptions) -> Result<Partition, PartitionError> {
    if opts.depth_split == 0 {
        return Err(PartitionError::ZeroDepthSplit);
    }
    if opts.bit_slices == 0 {
        return Err(PartitionError::ZeroBitSlices);
    }
    Ok(Partition {
        options: *opts,
        layers: net.layers.iter().map(|l| partition_layer(l, opts)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossbar_parses() {
        assert_eq!("128x64".parse::<Crossbar>(), Ok(Crossbar { rows: 128, cols: 64 }));
        assert!("0x128".parse::<Crossbar>().unwrap_err().contains("zero"));
        assert!("128".parse::<Crossbar>().unwrap_err().contains("ROWSxCOLS"));
        assert!("axb".parse::<Crossbar>().is_err());
    }

    #[test]
    fn cuts_cover() {
        let v: Vec<_> = cuts(300, 128).collect();
        assert_eq!(v, vec![(0, 128), (128, 128), (256, 44)]);
    }
}
