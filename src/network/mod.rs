//! Network representation: the weight layers of a CNN with their shapes at one input size,
//! and the dependence edges between them.
//!
//! Only weight-bearing layers (convolutions and linear layers) occupy crossbars, so they are
//! the nodes. Everything else (activations, pooling, additions, concatenations) is folded
//! into the edges: `u -> v` when data flows from `u` to `v` through no other weight layer.

pub mod ofa;
pub mod onnx;
pub mod zoo;

use serde::Serialize;
use std::fmt;

/// What kind of weight layer a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    Conv,
    Linear,
}

impl fmt::Display for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LayerKind::Conv => "conv",
            LayerKind::Linear => "linear",
        })
    }
}

/// One weight layer with its shapes at the network's input size.
///
/// Linear layers use kernel, stride and dilation `[1, 1]`, padding `[0, 0]` and spatial
/// sizes `[1, 1]`, so every layer answers the same questions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Layer {
    pub index: usize,
    pub name: String,
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
}

impl Layer {
    /// Depthwise: one input and one output channel per group.
    pub fn is_depthwise(&self) -> bool {
        self.kind == LayerKind::Conv
            && self.groups > 1
            && self.groups == self.in_channels
            && self.groups == self.out_channels
    }

    /// Output positions per channel (Hout·Wout); 1 for linear layers.
    pub fn output_positions(&self) -> u64 {
        self.output_hw[0] as u64 * self.output_hw[1] as u64
    }

    /// Number of weights (bias ignored).
    pub fn weights(&self) -> u64 {
        (self.kernel[0] * self.kernel[1]) as u64
            * (self.in_channels / self.groups.max(1)) as u64
            * self.out_channels as u64
    }
}

/// A network: weight layers in execution order plus the dependence edges (a DAG whose edges
/// always point from a lower to a higher index).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Network {
    pub name: String,
    pub input_channels: usize,
    pub input_hw: [usize; 2],
    pub layers: Vec<Layer>,
    /// `(from, to)` layer indices, sorted, without duplicates, `from < to`.
    pub edges: Vec<(usize, usize)>,
}

/// How the simulator orders layer executions of one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Precedence by the network's data dependences.
    #[default]
    Dag,
    /// Every layer waits for the previous one in execution order (the reference's model).
    Chain,
}

impl Network {
    /// Predecessors of every layer under the chosen schedule.
    pub fn predecessors(&self, schedule: Schedule) -> Vec<Vec<usize>> {
        let n = self.layers.len();
        let mut preds = vec![Vec::new(); n];
        match schedule {
            Schedule::Chain => {
                for (i, p) in preds.iter_mut().enumerate().skip(1) {
                    p.push(i - 1);
                }
            }
            Schedule::Dag => {
                for &(u, v) in &self.edges {
                    preds[v].push(u);
                }
            }
        }
        preds
    }

    /// Total weights of all layers.
    pub fn weights(&self) -> u64 {
        self.layers.iter().map(Layer::weights).sum()
    }
}

/// Errors while building a network at a given input size.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetworkError {
    #[error("input {h}x{w} is too small for {network}: layer {layer} ({name}) would have an empty output")]
    EmptyOutput {
        network: String,
        h: usize,
        w: usize,
        layer: usize,
        name: String,
    },
    #[error("input {h}x{w} is too small for {network}: {what} would have an empty output")]
    EmptyPool {
        network: String,
        h: usize,
        w: usize,
        what: String,
    },
    #[error("input size {h}x{w} is out of range: {why}")]
    InputRange { h: usize, w: usize, why: String },
    #[error("invalid layer {name}: {why}")]
    InvalidLayer { name: String, why: String },
}

/// Largest input side accepted: beyond it cycle counts stop meaning anything and
/// intermediate products could overflow.
pub const MAX_INPUT_SIDE: usize = 16_384;

/// A tensor flowing through the builder: its shape and which weight layers produced it.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub channels: usize,
    pub hw: [usize; 2],
    /// Weight layers whose outputs reach this tensor through no other weight layer.
    pub producers: Vec<usize>,
}

/// Convolution parameters for [`NetworkBuilder::conv`].
#[derive(Clone, Copy, Debug)]
pub struct ConvSpec {
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl ConvSpec {
    /// Square kernel `k`, stride `s`, "same" padding `k/2`, no dilation, one group.
    pub fn square(out_channels: usize, k: usize, s: usize) -> Self {
        ConvSpec {
            out_channels,
            kernel: [k, k],
            stride: [s, s],
            padding: [k / 2, k / 2],
            dilation: [1, 1],
            groups: 1,
        }
    }

    pub fn padding(mut self, p: usize) -> Self {
        self.padding = [p, p];
        self
    }

    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
}

/// Output length of a convolution or pooling window along one axis, `None` when empty.
pub fn window_out(
    input: usize,
    kernel: usize,
    stride: usize,
    pad_total: usize,
    dilation: usize,
    ceil_mode: bool,
) -> Option<usize> {
    let span = dilation * (kernel.max(1) - 1) + 1;
    let padded = input + pad_total;
    if padded < span || stride == 0 {
        return None;
    }
    let n = padded - span;
    let mut out = if ceil_mode {
        n.div_ceil(stride) + 1
    } else {
        n / stride + 1
    };
    // PyTorch: the last pooling window must start inside the input or left padding.
    if ceil_mode && (out - 1) * stride >= input + pad_total / 2 {
        out -= 1;
    }
    Some(out)
}

/// Builds a [`Network`] by tracing tensors through layers; non-weight ops only merge
/// producer sets, which is how the edges arise.
pub struct NetworkBuilder {
    net: Network,
}

impl NetworkBuilder {
    pub fn new(name: &str, input_channels: usize, input_hw: [usize; 2]) -> Result<Self, NetworkError> {
        let [h, w] = input_hw;
        if h == 0 || w == 0 || h > MAX_INPUT_SIDE || w > MAX_INPUT_SIDE {
            return Err(NetworkError::InputRange {
                h,
                w,
                why: format!("each side must be between 1 and {MAX_INPUT_SIDE}"),
            });
        }
        Ok(NetworkBuilder {
            net: Network {
                name: name.to_string(),
                input_channels,
                input_hw,
                layers: Vec::new(),
                edges: Vec::new(),
            },
        })
    }

    /// The network's input tensor.
    pub fn input(&self) -> Tensor {
        Tensor {
            channels: self.net.input_channels,
            hw: self.net.input_hw,
            producers: Vec::new(),
        }
    }

    fn push(&mut self, mut layer: Layer, input: &Tensor) -> Tensor {
        let idx = self.net.layers.len();
        layer.index = idx;
        for &p in &input.producers {
            self.net.edges.push((p, idx));
        }
        let t = Tensor {
            channels: layer.out_channels,
            hw: layer.output_hw,
            producers: vec![idx],
        };
        self.net.layers.push(layer);
        t
    }

    fn empty_output(&self, name: &str) -> NetworkError {
        NetworkError::EmptyOutput {
            network: self.net.name.clone(),
            h: self.net.input_hw[0],
            w: self.net.input_hw[1],
            layer: self.net.layers.len(),
            name: name.to_string(),
        }
    }

    /// A convolution on `x`.
    pub fn conv(&mut self, name: &str, x: &Tensor, c: ConvSpec) -> Result<Tensor, NetworkError> {
        if c.groups == 0 || !x.channels.is_multiple_of(c.groups) || !c.out_channels.is_multiple_of(c.groups) {
            return Err(NetworkError::InvalidLayer {
                name: name.to_string(),
                why: format!(
                    "groups {} must divide input channels {} and output channels {}",
                    c.groups, x.channels, c.out_channels
                ),
            });
        }
        let mut out = [0; 2];
        for (a, o) in out.iter_mut().enumerate() {
            *o = window_out(
                x.hw[a],
                c.kernel[a],
                c.stride[a],
                2 * c.padding[a],
                c.dilation[a],
                false,
            )
            .filter(|&o| o > 0)
            .ok_or_else(|| self.empty_output(name))?;
        }
        let layer = Layer {
            index: 0,
            name: name.to_string(),
            kind: LayerKind::Conv,
            in_channels: x.channels,
            out_channels: c.out_channels,
            kernel: c.kernel,
            stride: c.stride,
            padding: c.padding,
            dilation: c.dilation,
            groups: c.groups,
            input_hw: x.hw,
            output_hw: out,
        };
        Ok(self.push(layer, x))
    }

    /// A linear layer on `x`, flattened.
    pub fn linear(&mut self, name: &str, x: &Tensor, out_features: usize) -> Tensor {
        let layer = Layer {
            index: 0,
            name: name.to_string(),
            kind: LayerKind::Linear,
            in_channels: x.channels * x.hw[0] * x.hw[1],
            out_channels: out_features,
            kernel: [1, 1],
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
            input_hw: [1, 1],
            output_hw: [1, 1],
        };
        self.push(layer, x)
    }

    /// Pooling window (max or average: only shapes matter here).
    pub fn pool(
        &self,
        what: &str,
        x: &Tensor,
        kernel: usize,
        stride: usize,
        padding: usize,
        ceil_mode: bool,
    ) -> Result<Tensor, NetworkError> {
        let mut hw = [0; 2];
        for (a, o) in hw.iter_mut().enumerate() {
            *o = window_out(x.hw[a], kernel, stride, 2 * padding, 1, ceil_mode)
                .filter(|&o| o > 0)
                .ok_or_else(|| NetworkError::EmptyPool {
                    network: self.net.name.clone(),
                    h: self.net.input_hw[0],
                    w: self.net.input_hw[1],
                    what: what.to_string(),
                })?;
        }
        Ok(Tensor {
            channels: x.channels,
            hw,
            producers: x.producers.clone(),
        })
    }

    /// Global average pooling to 1x1.
    pub fn global_pool(&self, x: &Tensor) -> Tensor {
        Tensor {
            channels: x.channels,
            hw: [1, 1],
            producers: x.producers.clone(),
        }
    }

    /// Element-wise combination (add, multiply): producers of both.
    pub fn merge(&self, a: &Tensor, b: &Tensor) -> Tensor {
        let mut producers = a.producers.clone();
        producers.extend(&b.producers);
        producers.sort_unstable();
        producers.dedup();
        Tensor {
            channels: a.channels,
            hw: a.hw,
            producers,
        }
    }

    /// Channel concatenation.
    pub fn concat(&self, parts: &[&Tensor]) -> Tensor {
        let mut producers: Vec<usize> = parts.iter().flat_map(|t| t.producers.iter().copied()).collect();
        producers.sort_unstable();
        producers.dedup();
        Tensor {
            channels: parts.iter().map(|t| t.channels).sum(),
            hw: parts.first().map_or([1, 1], |t| t.hw),
            producers,
        }
    }

    pub fn finish(mut self) -> Network {
        self.net.edges.sort_unstable();
        self.net.edges.dedup();
        self.net
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_matches_pytorch() {
        // conv 3x3 s2 p0 on 64 -> 31; maxpool 3 s2 ceil on 31 -> 15, 15 -> 7, 7 -> 3.
        assert_eq!(window_out(64, 3, 2, 0, 1, false), Some(31));
        assert_eq!(window_out(31, 3, 2, 0, 1, true), Some(15));
        assert_eq!(window_out(15, 3, 2, 0, 1, true), Some(7));
        assert_eq!(window_out(7, 3, 2, 0, 1, true), Some(3));
        assert_eq!(window_out(2, 3, 1, 0, 1, false), None);
        // dilation 2, k3 spans 5
        assert_eq!(window_out(8, 3, 1, 0, 2, false), Some(4));
    }

    #[test]
    fn merge_collects_edges() {
        let mut b = NetworkBuilder::new("t", 3, [8, 8]).unwrap();
        let x = b.input();
        let a = b.conv("a", &x, ConvSpec::square(4, 3, 1)).unwrap();
        let c = b.conv("c", &a, ConvSpec::square(4, 3, 1)).unwrap();
        let s = b.merge(&a, &c);
        let _d = b.conv("d", &s, ConvSpec::square(4, 1, 1)).unwrap();
        let n = b.finish();
        assert_eq!(n.edges, vec![(0, 1), (0, 2), (1, 2)]);
        assert_eq!(n.predecessors(Schedule::Chain)[2], vec![1]);
    }
}
