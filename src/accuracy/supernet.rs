//! The OFA MobileNetV3-small supernet trained by rnc on Fashion-MNIST (burn, flex CPU backend).
//!
//! One set of weights holds every subnet of the space (SPEC §10): elastic kernel size (a smaller
//! kernel is the centre of the 7x7 one), elastic expand ratio (the first `mid` channels of the
//! expansion, depthwise, squeeze-excite and projection weights) and elastic depth (the first
//! `d` blocks of a stage). Batch-norm layers keep no running statistics: training uses batch
//! statistics and every evaluated subnet gets its own statistics recalibrated on a fixed set of
//! training images, as OFA does.

// burn slices take one range per dimension, so `[0..c]` on a 1-D tensor is intended.
#![allow(clippy::single_range_in_vec_init)]

use super::data::{self, FashionMnist, INPUT, Split};
use super::infer;
use crate::network::ofa::{BLOCKS_PER_STAGE, DEPTHS, EXPANDS, Genome, KERNELS, STAGES, make_divisible};
use crate::rng::SplitMix64;
use anyhow::{Context, bail};
use burn::tensor::activation::{hard_sigmoid, hard_swish, log_softmax, relu, softmax};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

const STAGE_WIDTH: [usize; STAGES] = [24, 40, 48, 96];
const STAGE_STRIDE: [usize; STAGES] = [2, 2, 1, 2];
const STAGE_SE: [bool; STAGES] = [false, true, true, true];
const KMAX: usize = 7;
const FINAL: usize = 576;
const MIX: usize = 1280;
const BN_EPS: f64 = 1e-5;
const MAGIC: &[u8; 10] = b"RNCSUPER1\n";

/// How a parameter is initialised.
#[derive(Clone, Copy, Debug)]
enum Init {
    /// Kaiming normal with this fan-out.
    Conv(usize),
    /// Uniform ±1/√fan_in.
    Linear(usize),
    Ones,
    Zeros,
}

/// Parameter indices of one elastic inverted-residual block.
#[derive(Clone, Debug)]
struct Block {
    cin: usize,
    cout: usize,
    stride: usize,
    hswish: bool,
    ib: [usize; 3],
    dw: [usize; 3],
    se: Option<[usize; 4]>,
    pl: [usize; 3],
}

/// Names, shapes and roles of all supernet parameters.
#[derive(Clone, Debug)]
struct Layout {
    names: Vec<String>,
    shapes: Vec<Vec<usize>>,
    inits: Vec<Init>,
    stem: [usize; 3],
    b0_dw: [usize; 3],
    b0_pw: [usize; 3],
    blocks: Vec<Block>,
    fe: [usize; 3],
    mix: [usize; 2],
    cls: [usize; 2],
}

impl Layout {
    fn add(&mut self, name: String, shape: Vec<usize>, init: Init) -> usize {
        self.names.push(name);
        self.shapes.push(shape);
        self.inits.push(init);
        self.names.len() - 1
    }

    /// Conv weight plus BN gamma/beta.
    #[allow(clippy::too_many_arguments)]
    fn conv_bn(
        &mut self,
        name: &str,
        cout: usize,
        cin_per_group: usize,
        k: usize,
        fan_out: usize,
    ) -> [usize; 3] {
        [
            self.add(
                format!("{name}.conv.weight"),
                vec![cout, cin_per_group, k, k],
                Init::Conv(fan_out),
            ),
            self.add(format!("{name}.bn.weight"), vec![cout], Init::Ones),
            self.add(format!("{name}.bn.bias"), vec![cout], Init::Zeros),
        ]
    }

    fn new() -> Layout {
        let mut l = Layout {
            names: vec![],
            shapes: vec![],
            inits: vec![],
            stem: [0; 3],
            b0_dw: [0; 3],
            b0_pw: [0; 3],
            blocks: vec![],
            fe: [0; 3],
            mix: [0; 2],
            cls: [0; 2],
        };
        l.stem = l.conv_bn("first_conv", 16, 3, 3, 16 * 9);
        l.b0_dw = l.conv_bn("blocks.0.conv.depth_conv", 16, 1, 3, 9);
        l.b0_pw = l.conv_bn("blocks.0.conv.point_linear", 16, 16, 1, 16);
        let mut cin = 16;
        for stage in 0..STAGES {
            for pos in 0..BLOCKS_PER_STAGE {
                let p = format!("blocks.{}.conv", 1 + stage * BLOCKS_PER_STAGE + pos);
                let cout = STAGE_WIDTH[stage];
                let mid = mid_channels(cin, *EXPANDS.iter().max().unwrap_or(&6));
                let ib = l.conv_bn(&format!("{p}.inverted_bottleneck"), mid, cin, 1, mid);
                let dw = l.conv_bn(&format!("{p}.depth_conv"), mid, 1, KMAX, KMAX * KMAX);
                let se = STAGE_SE[stage].then(|| {
                    let r = EXPANDS
                        .iter()
                        .map(|&e| se_channels(mid_channels(cin, e)))
                        .max()
                        .unwrap_or(8);
                    [
                        l.add(
                            format!("{p}.depth_conv.se.fc.reduce.weight"),
                            vec![mid, r],
                            Init::Linear(mid),
                        ),
                        l.add(format!("{p}.depth_conv.se.fc.reduce.bias"), vec![r], Init::Zeros),
                        l.add(
                            format!("{p}.depth_conv.se.fc.expand.weight"),
                            vec![r, mid],
                            Init::Linear(r),
                        ),
                        l.add(
                            format!("{p}.depth_conv.se.fc.expand.bias"),
                            vec![mid],
                            Init::Zeros,
                        ),
                    ]
                });
                let pl = l.conv_bn(&format!("{p}.point_linear"), cout, mid, 1, cout);
                l.blocks.push(Block {
                    cin,
                    cout,
                    stride: if pos == 0 { STAGE_STRIDE[stage] } else { 1 },
                    hswish: stage > 0,
                    ib,
                    dw,
                    se,
                    pl,
                });
                cin = cout;
            }
        }
        l.fe = l.conv_bn("final_expand_layer", FINAL, cin, 1, FINAL);
        l.mix = [
            l.add(
                "feature_mix_layer.weight".into(),
                vec![FINAL, MIX],
                Init::Linear(FINAL),
            ),
            l.add("feature_mix_layer.bias".into(), vec![MIX], Init::Zeros),
        ];
        l.cls = [
            l.add(
                "classifier.linear.weight".into(),
                vec![MIX, data::CLASSES],
                Init::Linear(MIX),
            ),
            l.add("classifier.linear.bias".into(), vec![data::CLASSES], Init::Zeros),
        ];
        l
    }

    fn netix(&self) -> infer::NetIx {
        infer::NetIx {
            stem: self.stem,
            b0_dw: self.b0_dw,
            b0_pw: self.b0_pw,
            blocks: self
                .blocks
                .iter()
                .map(|b| infer::BlockIx {
                    cin: b.cin,
                    cout: b.cout,
                    stride: b.stride,
                    hswish: b.hswish,
                    ib: b.ib,
                    dw: b.dw,
                    se: b.se,
                    pl: b.pl,
                })
                .collect(),
            fe: self.fe,
            mix: self.mix,
            cls: self.cls,
        }
    }

    fn numel(&self, i: usize) -> usize {
        self.shapes[i].iter().product()
    }
}

fn mid_channels(cin: usize, e: usize) -> usize {
    make_divisible(cin * e, 8)
}

fn se_channels(mid: usize) -> usize {
    make_divisible(mid / 4, 8)
}

/// Batch-norm behaviour of a forward pass.
enum Bn {
    /// Batch statistics (training).
    Batch,
    /// Batch statistics, recorded in order (recalibration).
    Record(Vec<(Tensor<1>, Tensor<1>)>),
    /// Given statistics, consumed in order (evaluation).
    Fixed(Vec<(Tensor<1>, Tensor<1>)>, usize),
}

struct Pass<'a> {
    p: &'a [Tensor<1>],
    l: &'a Layout,
    bn: Bn,
}

impl Pass<'_> {
    fn param<const D: usize>(&self, i: usize) -> Tensor<D> {
        let s = &self.l.shapes[i];
        let mut shape = [1usize; D];
        shape.copy_from_slice(s);
        self.p[i].clone().reshape(shape)
    }

    /// Convolution with the first `cout` filters, the first `cin_pg` input channels and the
    /// centred `k`x`k` window of the stored weight.
    #[allow(clippy::too_many_arguments)]
    fn conv(
        &self,
        x: Tensor<4>,
        w: usize,
        cout: usize,
        cin_pg: usize,
        k: usize,
        stride: usize,
        groups: usize,
    ) -> Tensor<4> {
        let kmax = self.l.shapes[w][2];
        let c0 = (kmax - k) / 2;
        let mut wt = self.param::<4>(w);
        if cout != self.l.shapes[w][0] || cin_pg != self.l.shapes[w][1] || k != kmax {
            wt = wt.slice([0..cout, 0..cin_pg, c0..c0 + k, c0..c0 + k]);
        }
        conv2d(
            x,
            wt,
            None,
            ConvOptions::new([stride, stride], [k / 2, k / 2], [1, 1], groups),
        )
    }

    fn norm(&mut self, x: Tensor<4>, g: usize, b: usize) -> Tensor<4> {
        let c = x.dims()[1];
        let slice1 = |t: Tensor<1>| if t.dims()[0] == c { t } else { t.slice([0..c]) };
        let gamma = slice1(self.p[g].clone()).reshape([1, c, 1, 1]);
        let beta = slice1(self.p[b].clone()).reshape([1, c, 1, 1]);
        let (mean, var) = match &mut self.bn {
            Bn::Batch | Bn::Record(_) => {
                let mean = x.clone().mean_dims(&[0, 2, 3]);
                let var = (x.clone() - mean.clone()).square().mean_dims(&[0, 2, 3]);
                if let Bn::Record(v) = &mut self.bn {
                    v.push((mean.clone().reshape([c]), var.clone().reshape([c])));
                }
                (mean, var)
            }
            Bn::Fixed(stats, pos) => {
                let (m, v) = stats[*pos].clone();
                *pos += 1;
                (m.reshape([1, c, 1, 1]), v.reshape([1, c, 1, 1]))
            }
        };
        (x - mean) / (var + BN_EPS).sqrt() * gamma + beta
    }

    #[allow(clippy::too_many_arguments)]
    fn conv_bn(
        &mut self,
        x: Tensor<4>,
        ix: [usize; 3],
        cout: usize,
        cin_pg: usize,
        k: usize,
        s: usize,
        groups: usize,
    ) -> Tensor<4> {
        let y = self.conv(x, ix[0], cout, cin_pg, k, s, groups);
        self.norm(y, ix[1], ix[2])
    }

    fn forward(&mut self, g: &Genome, x: Tensor<4>) -> Tensor<2> {
        let l = self.l;
        let x = hard_swish(self.conv_bn(x, l.stem, 16, 3, 3, 2, 1));
        let y = relu(self.conv_bn(x.clone(), l.b0_dw, 16, 1, 3, 1, 16));
        let mut x = self.conv_bn(y, l.b0_pw, 16, 16, 1, 1, 1) + x;
        for stage in 0..STAGES {
            for pos in 0..g.d[stage] {
                let i = stage * BLOCKS_PER_STAGE + pos;
                let b = &l.blocks[i];
                let mid = mid_channels(b.cin, g.e[i]);
                let act = |t: Tensor<4>| if b.hswish { hard_swish(t) } else { relu(t) };
                let h = act(self.conv_bn(x.clone(), b.ib, mid, b.cin, 1, 1, 1));
                let mut h = act(self.conv_bn(h, b.dw, mid, 1, g.ks[i], b.stride, mid));
                if let Some([rw, rb, ew, eb]) = b.se {
                    let r = se_channels(mid);
                    let n = h.dims()[0];
                    let s = h.clone().mean_dims(&[2, 3]).reshape([n, mid]);
                    let w1 = self.param::<2>(rw).slice([0..mid, 0..r]);
                    let b1 = self.p[rb].clone().slice([0..r]).reshape([1, r]);
                    let s = relu(s.matmul(w1) + b1);
                    let w2 = self.param::<2>(ew).slice([0..r, 0..mid]);
                    let b2 = self.p[eb].clone().slice([0..mid]).reshape([1, mid]);
                    let s = hard_sigmoid(s.matmul(w2) + b2, 1.0 / 6.0, 0.5);
                    h = h * s.reshape([n, mid, 1, 1]);
                }
                let y = self.conv_bn(h, b.pl, b.cout, mid, 1, 1, 1);
                x = if pos > 0 { y + x } else { y };
            }
        }
        let x = hard_swish(self.conv_bn(x, l.fe, FINAL, STAGE_WIDTH[STAGES - 1], 1, 1, 1));
        let n = x.dims()[0];
        let x = x.mean_dims(&[2, 3]).reshape([n, FINAL]);
        let x = hard_swish(x.matmul(self.param::<2>(l.mix[0])) + self.p[l.mix[1]].clone().reshape([1, MIX]));
        x.matmul(self.param::<2>(l.cls[0])) + self.p[l.cls[1]].clone().reshape([1, data::CLASSES])
    }
}

/// Settings of `rnc supernet train`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    /// Random subnets per step besides the largest and the smallest (sandwich rule).
    pub random_subnets: usize,
    /// Training images used per epoch (a fixed random subset; all 60,000 by default).
    pub train_images: usize,
    /// Test images for the per-epoch accuracy of the largest and smallest subnets.
    pub eval_images: usize,
    /// Steps to run before stopping (0 = all); for timing a step.
    pub max_steps: usize,
    /// Wall-clock budget in minutes (0 = none). With a budget the learning-rate schedule
    /// follows elapsed time instead of steps and training stops when the budget is spent, so
    /// the result depends on machine speed; without one a run is deterministic.
    #[serde(default)]
    pub minutes: f64,
    /// Where to save the weights after every epoch (so a long run can be stopped).
    #[serde(skip)]
    pub checkpoint: Option<std::path::PathBuf>,
    /// Weights to continue from instead of a fresh initialisation (recorded in the metadata
    /// so shipped weights say how they were made).
    #[serde(default)]
    pub init: Option<std::path::PathBuf>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 4,
            batch: 128,
            lr: 3e-3,
            seed: 1,
            random_subnets: 1,
            train_images: 60_000,
            eval_images: 10_000,
            max_steps: 0,
            minutes: 0.0,
            checkpoint: None,
            init: None,
        }
    }
}

/// Result of evaluating one subnet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    pub accuracy: f64,
    pub images: usize,
    pub correct: usize,
    pub calibration_images: usize,
}

/// Training-run facts stored with the weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Meta {
    pub config: TrainConfig,
    pub epochs_done: usize,
    pub seconds: f64,
    pub largest_accuracy: Option<f64>,
    pub smallest_accuracy: Option<f64>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    names: Vec<String>,
    shapes: Vec<Vec<usize>>,
    meta: Meta,
}

/// Supernet weights on the flex CPU device.
pub struct Supernet {
    layout: Layout,
    params: Vec<Tensor<1>>,
    device: Device,
    pub meta: Option<Meta>,
}

/// Number of training images whose batch statistics recalibrate batch norm.
pub const CALIBRATION_IMAGES: usize = 1000;
const EVAL_BATCH: usize = 250;

impl Supernet {
    /// Freshly initialised weights (deterministic in `seed`).
    pub fn init(seed: u64) -> Supernet {
        let layout = Layout::new();
        let device = Device::flex();
        let mut rng = SplitMix64::new(seed ^ 0x5eed_0001);
        let params = (0..layout.names.len())
            .map(|i| {
                let n = layout.numel(i);
                let v: Vec<f32> = match layout.inits[i] {
                    Init::Conv(fan_out) => {
                        let sd = (2.0 / fan_out as f64).sqrt();
                        (0..n).map(|_| (rng.normal() * sd) as f32).collect()
                    }
                    Init::Linear(fan_in) => {
                        let a = 1.0 / (fan_in as f64).sqrt();
                        (0..n)
                            .map(|_| ((rng.next_f64() * 2.0 - 1.0) * a) as f32)
                            .collect()
                    }
                    Init::Ones => vec![1.0; n],
                    Init::Zeros => vec![0.0; n],
                };
                Tensor::<1>::from_data(TensorData::new(v, [n]), &device)
            })
            .collect();
        Supernet {
            layout,
            params,
            device,
            meta: None,
        }
    }

    pub fn parameter_count(&self) -> usize {
        (0..self.layout.names.len()).map(|i| self.layout.numel(i)).sum()
    }

    /// Writes the weights: magic, u32 header length, JSON header, f32 little-endian values.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let header = Header {
            names: self.layout.names.clone(),
            shapes: self.layout.shapes.clone(),
            meta: self.meta.clone().context("supernet has no training metadata")?,
        };
        let h = serde_json::to_vec(&header)?;
        let mut out = Vec::with_capacity(self.parameter_count() * 4 + h.len() + 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(h.len() as u32).to_le_bytes());
        out.extend_from_slice(&h);
        for p in &self.params {
            let v = p
                .to_data()
                .try_to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("reading weights: {e:?}"))?;
            for x in v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        crate::error::write_atomic(path, &out)
    }

    /// Reads weights written by [`Supernet::save`].
    pub fn load(path: &Path) -> anyhow::Result<Supernet> {
        let bytes = std::fs::read(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read supernet weights {}: {e} (train them with `rnc supernet train`)",
                path.display()
            )
        })?;
        let bad = |why: &str| anyhow::anyhow!("{}: not rnc supernet weights ({why})", path.display());
        if bytes.len() < MAGIC.len() + 4 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad("bad magic"));
        }
        let hl = u32::from_le_bytes(bytes[10..14].try_into().map_err(|_| bad("header"))?) as usize;
        let hend = 14usize
            .checked_add(hl)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad("truncated header"))?;
        let header: Header = serde_json::from_slice(&bytes[14..hend]).map_err(|e| bad(&e.to_string()))?;
        let mut net = Supernet::init(0);
        if header.names != net.layout.names || header.shapes != net.layout.shapes {
            return Err(bad(
                "parameter names or shapes differ from this version's supernet",
            ));
        }
        let total: usize = net.parameter_count();
        if bytes.len() - hend != total * 4 {
            return Err(bad("weight data has the wrong length"));
        }
        let mut off = hend;
        for i in 0..net.params.len() {
            let n = net.layout.numel(i);
            let v: Vec<f32> = bytes[off..off + 4 * n]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if v.iter().any(|x| !x.is_finite()) {
                return Err(bad(&format!("non-finite value in {}", net.layout.names[i])));
            }
            off += 4 * n;
            net.params[i] = Tensor::<1>::from_data(TensorData::new(v, [n]), &net.device);
        }
        net.meta = Some(header.meta);
        Ok(net)
    }

    fn input(&self, v: Vec<f32>, n: usize) -> Tensor<4> {
        Tensor::<4>::from_data(TensorData::new(v, [n, 3, INPUT, INPUT]), &self.device)
    }

    /// Batch-norm statistics of `genome` over the fixed calibration images (the first
    /// `CALIBRATION_IMAGES` of a seeded permutation of the training set).
    fn calibrate(&self, genome: &Genome, train: &Split, images: usize) -> Vec<(Tensor<1>, Tensor<1>)> {
        let idx = calibration_indices(train.len(), images);
        let mut sums: Vec<(Tensor<1>, Tensor<1>)> = Vec::new();
        let chunks: Vec<&[usize]> = idx.chunks(EVAL_BATCH).collect();
        for chunk in &chunks {
            let x = self.input(data::batch(train, chunk), chunk.len());
            let mut pass = Pass {
                p: &self.params,
                l: &self.layout,
                bn: Bn::Record(Vec::new()),
            };
            let _ = pass.forward(genome, x);
            let Bn::Record(stats) = pass.bn else {
                unreachable!()
            };
            let w = chunk.len() as f64 / idx.len() as f64;
            if sums.is_empty() {
                sums = stats.into_iter().map(|(m, v)| (m * w, v * w)).collect();
            } else {
                for (s, (m, v)) in sums.iter_mut().zip(stats) {
                    *s = (s.0.clone() + m * w, s.1.clone() + v * w);
                }
            }
        }
        sums
    }

    /// Predicted classes of `indices` of `split` with fixed batch-norm statistics.
    fn predict(
        &self,
        genome: &Genome,
        stats: &[(Tensor<1>, Tensor<1>)],
        split: &Split,
        indices: &[usize],
    ) -> Vec<usize> {
        let mut out = Vec::with_capacity(indices.len());
        for chunk in indices.chunks(EVAL_BATCH) {
            let x = self.input(data::batch(split, chunk), chunk.len());
            let mut pass = Pass {
                p: &self.params,
                l: &self.layout,
                bn: Bn::Fixed(stats.to_vec(), 0),
            };
            let logits = pass
                .forward(genome, x)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap_or_default();
            out.extend(logits.chunks_exact(data::CLASSES).map(argmax));
        }
        out
    }

    /// Test accuracy of `genome` on the first `images` test images after recalibrating batch
    /// norm on `calibration` training images (one batch; see [`super::infer`]).
    pub fn evaluate(
        &self,
        genome: &Genome,
        data: &FashionMnist,
        images: usize,
        calibration: usize,
    ) -> anyhow::Result<EvalResult> {
        self.evaluator()?.evaluate(genome, data, images, calibration)
    }

    /// A plain-data copy of the weights for fast (and parallel) subnet evaluation.
    pub fn evaluator(&self) -> anyhow::Result<Evaluator> {
        Ok(Evaluator {
            values: self.host_weights()?,
            shapes: self.layout.shapes.clone(),
            net: self.layout.netix(),
        })
    }

    fn host_weights(&self) -> anyhow::Result<Vec<Vec<f32>>> {
        self.params
            .iter()
            .map(|p| {
                p.to_data()
                    .try_to_vec::<f32>()
                    .map_err(|e| crate::error::Internal(format!("reading weights: {e:?}")).into())
            })
            .collect()
    }

    /// [`Supernet::evaluate`] through the burn training graph (two calibration batches of
    /// `EVAL_BATCH`); slow, kept to cross-check the fast path.
    pub fn evaluate_graph(
        &self,
        genome: &Genome,
        data: &FashionMnist,
        images: usize,
        calibration: usize,
    ) -> anyhow::Result<EvalResult> {
        genome.validate()?;
        let images = images.min(data.test.len());
        if images == 0 {
            bail!("--images must be at least 1");
        }
        let calibration = calibration.clamp(1, data.train.len());
        let stats = self.calibrate(genome, &data.train, calibration);
        let idx: Vec<usize> = (0..images).collect();
        let pred = self.predict(genome, &stats, &data.test, &idx);
        if pred.len() != images {
            return Err(
                crate::error::Internal(format!("evaluated {} of {images} images", pred.len())).into(),
            );
        }
        let correct = pred
            .iter()
            .zip(&idx)
            .filter(|(p, i)| **p == data.test.labels[**i] as usize)
            .count();
        Ok(EvalResult {
            accuracy: correct as f64 / images as f64,
            images,
            correct,
            calibration_images: calibration,
        })
    }
}

/// Supernet weights as plain data: evaluates subnets without burn's training graph; `Sync`, so
/// several subnets can be evaluated at once.
pub struct Evaluator {
    values: Vec<Vec<f32>>,
    shapes: Vec<Vec<usize>>,
    net: infer::NetIx,
}

impl Evaluator {
    /// The weights and parameter indices (for [`super::nonideal_net`]).
    pub fn host(&self) -> (infer::HostWeights<'_>, &infer::NetIx) {
        (
            infer::HostWeights {
                values: &self.values,
                shapes: &self.shapes,
            },
            &self.net,
        )
    }

    /// Test accuracy of `genome` on the first `images` test images after recalibrating batch
    /// norm on `calibration` training images (one batch; see [`super::infer`]).
    pub fn evaluate(
        &self,
        genome: &Genome,
        data: &FashionMnist,
        images: usize,
        calibration: usize,
    ) -> anyhow::Result<EvalResult> {
        genome.validate()?;
        let images = images.min(data.test.len());
        if images == 0 {
            bail!("--images must be at least 1");
        }
        let calibration = calibration.clamp(1, data.train.len());
        let calib = calibration_indices(data.train.len(), calibration);
        let idx: Vec<usize> = (0..images).collect();
        let logits = infer::run(
            infer::HostWeights {
                values: &self.values,
                shapes: &self.shapes,
            },
            &self.net,
            genome,
            &data.train,
            &calib,
            &data.test,
            &idx,
            EVAL_BATCH,
        );
        if logits.len() != images * data::CLASSES {
            return Err(crate::error::Internal(format!(
                "evaluated {} of {images} images",
                logits.len() / 10
            ))
            .into());
        }
        let correct = logits
            .chunks_exact(data::CLASSES)
            .zip(&idx)
            .filter(|(l, i)| argmax(l) == data.test.labels[**i] as usize)
            .count();
        Ok(EvalResult {
            accuracy: correct as f64 / images as f64,
            images,
            correct,
            calibration_images: calibration,
        })
    }
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// The fixed calibration subset: a permutation of the training set with a fixed seed.
pub(crate) fn calibration_indices(n: usize, images: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    SplitMix64::new(0xca1b).shuffle(&mut idx);
    idx.truncate(images.min(n));
    idx
}

/// A uniformly random subnet.
pub fn random_genome(rng: &mut SplitMix64) -> Genome {
    let pick = |rng: &mut SplitMix64, v: &[usize]| v[rng.below(v.len())];
    Genome {
        ks: (0..16).map(|_| pick(rng, &KERNELS)).collect(),
        e: (0..16).map(|_| pick(rng, &EXPANDS)).collect(),
        d: (0..STAGES).map(|_| pick(rng, &DEPTHS)).collect(),
    }
}

/// Progress of training, reported to the caller (the CLI draws the bar).
pub enum Progress<'a> {
    Start {
        steps_per_epoch: usize,
        epochs: usize,
    },
    Step {
        epoch: usize,
        step: usize,
        loss: f64,
    },
    Epoch {
        epoch: usize,
        largest: &'a EvalResult,
        smallest: &'a EvalResult,
        seconds: f64,
    },
}

/// Trains the supernet with the sandwich rule: each step sums the losses of the largest
/// subnet (on labels), the smallest and `random_subnets` random ones (on labels and on the
/// largest's soft predictions, in-place distillation) and takes one Adam step with a cosine
/// learning rate.
pub fn train(
    data: &FashionMnist,
    cfg: &TrainConfig,
    mut progress: impl FnMut(Progress),
) -> anyhow::Result<Supernet> {
    if cfg.batch == 0 || cfg.epochs == 0 {
        bail!("--epochs and --batch must be at least 1");
    }
    let start = std::time::Instant::now();
    let mut net = match &cfg.init {
        Some(path) => Supernet::load(path)?,
        None => Supernet::init(cfg.seed),
    };
    let mut rng = SplitMix64::new(cfg.seed);
    let mut order: Vec<usize> = (0..data.train.len()).collect();
    rng.shuffle(&mut order);
    order.truncate(cfg.train_images.clamp(cfg.batch, data.train.len()));
    let steps_per_epoch = order.len() / cfg.batch;
    let total = steps_per_epoch * cfg.epochs;
    progress(Progress::Start {
        steps_per_epoch,
        epochs: cfg.epochs,
    });
    let zeros: Vec<Tensor<1>> = net.params.iter().map(|p| p.zeros_like()).collect();
    let (mut m, mut v) = (zeros.clone(), zeros);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
    let mut t = 0usize;
    let mut last = (None, None);
    let mut stopped_early = false;
    'outer: for epoch in 0..cfg.epochs {
        rng.shuffle(&mut order);
        for step in 0..steps_per_epoch {
            let idx = &order[step * cfg.batch..(step + 1) * cfg.batch];
            let mut xs = Vec::with_capacity(idx.len() * 3 * INPUT * INPUT);
            let mut onehot = vec![0f32; idx.len() * data::CLASSES];
            for (j, &i) in idx.iter().enumerate() {
                // Mirror augmentation only: runs are a few epochs long, shifts slowed convergence.
                data::push_image(&mut xs, data.train.image(i), (2, 2), rng.below(2) == 1);
                onehot[j * data::CLASSES + data.train.labels[i] as usize] = 1.0;
            }
            let n = idx.len();
            let x = net.input(xs, n).autodiff();
            let y =
                Tensor::<2>::from_data(TensorData::new(onehot, [n, data::CLASSES]), &net.device).autodiff();
            let leaves: Vec<Tensor<1>> = net
                .params
                .iter()
                .map(|p| p.clone().autodiff().require_grad())
                .collect();
            let mut pass = Pass {
                p: &leaves,
                l: &net.layout,
                bn: Bn::Batch,
            };
            let ce = |logits: Tensor<2>, target: Tensor<2>| -> Tensor<1> {
                (log_softmax(logits, 1) * target).sum().neg() / n as f64
            };
            let big = pass.forward(&Genome::largest(), x.clone());
            let soft = softmax(big.clone(), 1).detach();
            let mut loss = ce(big, y.clone());
            let mut subnets = vec![Genome::smallest()];
            subnets.extend((0..cfg.random_subnets).map(|_| random_genome(&mut rng)));
            for g in &subnets {
                let out = pass.forward(g, x.clone());
                loss = loss + ce(out.clone(), y.clone()) * 0.5 + ce(out, soft.clone()) * 0.5;
            }
            let loss_value = loss.clone().into_scalar::<f32>() as f64;
            if !loss_value.is_finite() {
                bail!(
                    "training diverged (loss {loss_value}) at epoch {epoch} step {step}; try a smaller --lr"
                );
            }
            let grads = loss.backward();
            t += 1;
            let budget = cfg.minutes * 60.0;
            let frac = if budget > 0.0 {
                (start.elapsed().as_secs_f64() / budget).min(1.0)
            } else {
                (t - 1) as f64 / total as f64
            };
            let lr = cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos());
            let lr_t = lr * (1.0 - b2.powi(t as i32)).sqrt() / (1.0 - b1.powi(t as i32));
            for (i, leaf) in leaves.iter().enumerate() {
                let Some(g) = leaf.grad(&grads) else { continue };
                m[i] = m[i].clone() * b1 + g.clone() * (1.0 - b1);
                v[i] = v[i].clone() * b2 + g.square() * (1.0 - b2);
                net.params[i] = net.params[i].clone() - m[i].clone() / (v[i].clone().sqrt() + eps) * lr_t;
            }
            progress(Progress::Step {
                epoch,
                step,
                loss: loss_value,
            });
            if cfg.max_steps > 0 && t >= cfg.max_steps {
                break 'outer;
            }
            if budget > 0.0 && start.elapsed().as_secs_f64() >= budget {
                stopped_early = true;
                break;
            }
        }
        let e0 = std::time::Instant::now();
        let large = net.evaluate(&Genome::largest(), data, cfg.eval_images, CALIBRATION_IMAGES)?;
        let small = net.evaluate(&Genome::smallest(), data, cfg.eval_images, CALIBRATION_IMAGES)?;
        let _ = e0;
        progress(Progress::Epoch {
            epoch,
            largest: &large,
            smallest: &small,
            seconds: start.elapsed().as_secs_f64(),
        });
        last = (Some(large.accuracy), Some(small.accuracy));
        net.meta = Some(Meta {
            config: cfg.clone(),
            epochs_done: epoch + 1,
            seconds: start.elapsed().as_secs_f64(),
            largest_accuracy: last.0,
            smallest_accuracy: last.1,
        });
        if let Some(path) = &cfg.checkpoint {
            net.save(path)?;
        }
        if stopped_early {
            break;
        }
    }
    net.meta = Some(Meta {
        config: cfg.clone(),
        epochs_done: net.meta.as_ref().map_or(0, |m| m.epochs_done),
        seconds: start.elapsed().as_secs_f64(),
        largest_accuracy: last.0,
        smallest_accuracy: last.1,
    });
    Ok(net)
}

/// Writes one JSON line per measured subnet (for `rnc predictor train`).
pub fn measure_line(out: &mut impl Write, genome: &Genome, r: &EvalResult) -> std::io::Result<()> {
    writeln!(
        out,
        "{{\"genome\":{genome},\"accuracy\":{},\"images\":{}}}",
        r.accuracy, r.images
    )
}

/// `--accuracy supernet`: each candidate measured on the supernet (recalibrated batch norm,
/// the first `images` test images).
pub struct SupernetSource {
    eval: Evaluator,
    data: FashionMnist,
    images: usize,
}

impl SupernetSource {
    pub fn new(weights: &Path, data_dir: &Path, images: usize) -> anyhow::Result<SupernetSource> {
        Ok(SupernetSource {
            eval: Supernet::load(weights)?.evaluator()?,
            data: FashionMnist::load(data_dir)?,
            images,
        })
    }
}

impl super::AccuracySource for SupernetSource {
    fn name(&self) -> String {
        "supernet".into()
    }

    fn evaluate(&mut self, batch: &[super::Candidate]) -> anyhow::Result<Vec<f64>> {
        use rayon::prelude::*;
        // Candidates are independent, so evaluating them in parallel keeps results identical.
        batch
            .par_iter()
            .map(|c| {
                self.eval
                    .evaluate(&c.genome, &self.data, self.images, CALIBRATION_IMAGES)
                    .map(|r| r.accuracy)
                    .with_context(|| format!("candidate {}", c.id))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic(n_train: usize, n_test: usize) -> FashionMnist {
        let mut rng = SplitMix64::new(11);
        let mut split = |n: usize| Split {
            images: (0..n * data::PIXELS).map(|_| rng.below(256) as u8).collect(),
            labels: (0..n).map(|_| rng.below(10) as u8).collect(),
        };
        FashionMnist {
            train: split(n_train),
            test: split(n_test),
        }
    }

    #[test]
    fn fast_evaluation_matches_the_training_graph() {
        // Random weights give varied predictions; both paths calibrate on one batch of 200.
        let net = Supernet::init(3);
        let data = synthetic(300, 120);
        let mut rng = SplitMix64::new(4);
        for g in [Genome::largest(), random_genome(&mut rng)] {
            let fast = net.evaluate(&g, &data, 120, 200).unwrap();
            let slow = net.evaluate_graph(&g, &data, 120, 200).unwrap();
            assert!(
                (fast.correct as i64 - slow.correct as i64).abs() <= 2,
                "{g}: fast {} graph {}",
                fast.correct,
                slow.correct
            );
        }
    }

    #[test]
    fn weights_round_trip_and_corruption_is_reported() {
        let mut net = Supernet::init(5);
        net.meta = Some(Meta {
            config: TrainConfig::default(),
            epochs_done: 0,
            seconds: 0.0,
            largest_accuracy: None,
            smallest_accuracy: None,
        });
        let dir = std::env::temp_dir().join(format!("rnc-sn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("w.bin");
        net.save(&p).unwrap();
        let back = Supernet::load(&p).unwrap();
        assert_eq!(back.host_weights().unwrap(), net.host_weights().unwrap());
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.truncate(bytes.len() - 4);
        std::fs::write(&p, &bytes).unwrap();
        let e = Supernet::load(&p).err().unwrap().to_string();
        assert!(e.contains("wrong length"), "{e}");
        std::fs::write(&p, b"nonsense").unwrap();
        assert!(Supernet::load(&p).err().unwrap().to_string().contains("magic"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
