//! Non-ideal inference of the supernet's subnets: every weight layer of the subnet (stem,
//! depthwise and pointwise convolutions, squeeze-excite, feature mix, classifier) runs on
//! RRAM crossbars as [`super::nonideal`] models them; batch norm, activations, pooling and
//! residual additions stay digital (float).
//!
//! Calibration runs the 9-bit quantized model once on the batch-norm calibration images:
//! it records each layer's input and output ranges (MNSIM's 3·std + |mean|; max |x| for the
//! network input) and the batch-norm statistics, then freezes them (NONIDEAL.md §11.3, bug B
//! fixed). Every weight layer quantizes its own input, so a residual sum feeding a layer is on
//! that layer's grid (bug A fixed). Chips are programmed per trial and reuse the calibration.

use super::data::{self, INPUT, Split};
use super::infer::{Act, HostWeights, NetIx};
use super::nonideal::{
    self, AdcMode, Device, Kind, Layer, Options, Programmed, abs_max, quantize_inputs, quantize_outputs,
    range_stat,
};
use crate::network::ofa::{BLOCKS_PER_STAGE, Genome, STAGES, make_divisible};
use rayon::prelude::*;

const BN_EPS: f32 = 1e-5;

/// A subnet's frozen calibration: its quantized weight layers in execution order, each
/// layer's (input range, output range) and the batch-norm statistics.
#[derive(Clone, Debug, Default)]
pub struct Calibration {
    pub layers: Vec<Layer>,
    pub scales: Vec<(f64, f64)>,
    bn: Vec<(Vec<f32>, Vec<f32>)>,
}

/// How weight layers compute.
#[derive(Clone, Copy)]
pub enum Mode<'a> {
    /// The 9-bit quantized model (exact integer sums).
    Quantized,
    /// A programmed chip.
    Chip {
        prog: &'a [Programmed],
        dev: &'a Device,
        adc: AdcMode,
    },
}

enum Run<'a> {
    Record,
    Replay(Mode<'a>),
}

/// How calibration sets a quantizer's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RangeRule {
    /// MNSIM's 3·std + |mean| (clips the tails).
    Mnsim,
    /// The largest magnitude seen in calibration (no clipping, coarser steps).
    Max,
}

struct Pass<'a> {
    range: RangeRule,
    w: &'a HostWeights<'a>,
    cal: Calibration,
    run: Run<'a>,
    layer: usize,
    bn_pos: usize,
}

fn hswish(x: f32) -> f32 {
    x * (x / 6.0 + 0.5).clamp(0.0, 1.0)
}

impl Pass<'_> {
    /// One weight layer on `x` (`npix` rows of `rows` inputs, or a depthwise map): returns the
    /// quantized outputs (`out_pixels × cols`).
    fn xbar(&mut self, x: &[f32], npix: usize, build: impl FnOnce() -> Layer, first: bool) -> Vec<f32> {
        match self.run {
            Run::Record => {
                let layer = build();
                let stat = |v: &[f32]| match self.range {
                    RangeRule::Mnsim => range_stat(v),
                    RangeRule::Max => abs_max(v),
                };
                let s_in = if first { abs_max(x) } else { stat(x) };
                let s_a = s_in / nonideal::QMAX as f64;
                let aq = quantize_inputs(x, s_a);
                let acc = layer.quantized(&aq, npix);
                let unit = layer.s_w * s_a;
                let y: Vec<f32> = acc.iter().map(|&a| (a * unit) as f32).collect();
                let s_out = stat(&y);
                let out = quantize_outputs(&acc, layer.s_w, s_a, s_out);
                self.cal.layers.push(layer);
                self.cal.scales.push((s_in, s_out));
                out
            }
            Run::Replay(mode) => {
                let i = self.layer;
                self.layer += 1;
                let layer = &self.cal.layers[i];
                let (s_in, s_out) = self.cal.scales[i];
                let s_a = s_in / nonideal::QMAX as f64;
                let aq = quantize_inputs(x, s_a);
                let acc = match mode {
                    Mode::Quantized => layer.quantized(&aq, npix),
                    Mode::Chip { prog, dev, adc } => {
                        layer.crossbar(&prog[i], dev, adc, &aq, npix, s_a, s_out)
                    }
                };
                quantize_outputs(&acc, layer.s_w, s_a, s_out)
            }
        }
    }

    /// 1x1 convolution with the first `cout` filters of stored weight `i`.
    fn pointwise(&mut self, x: &Act, i: usize, cout: usize) -> Act {
        let w = self.w;
        let (cin, cmax) = (x.c, w.shapes[i][1]);
        let src = &w.values[i];
        let build = || {
            let mut m = vec![0f32; cin * cout];
            for o in 0..cout {
                for j in 0..cin {
                    m[j * cout + o] = src[o * cmax + j];
                }
            }
            Layer::new(&m, cin, cout, Kind::Dense)
        };
        let v = self.xbar(&x.v, x.n * x.h * x.w, build, false);
        Act {
            n: x.n,
            h: x.h,
            w: x.w,
            c: cout,
            v,
        }
    }

    fn depthwise(&mut self, x: &Act, i: usize, k: usize, stride: usize) -> Act {
        let c = x.c;
        let w = self.w;
        let kmax = w.shapes[i][2];
        let c0 = (kmax - k) / 2;
        let src = &w.values[i];
        let kind = Kind::Depthwise {
            k,
            stride,
            h: x.h,
            w: x.w,
        };
        let build = || {
            let mut m = vec![0f32; k * k * c];
            for ch in 0..c {
                for a in 0..k {
                    for b in 0..k {
                        m[(a * k + b) * c + ch] = src[ch * kmax * kmax + (a + c0) * kmax + b + c0];
                    }
                }
            }
            Layer::new(&m, k * k, c, kind)
        };
        let v = self.xbar(&x.v, x.n * x.h * x.w, build, false);
        let (ho, wo) = nonideal::out_hw(x.h, x.w, k, stride);
        Act {
            n: x.n,
            h: ho,
            w: wo,
            c,
            v,
        }
    }

    /// A linear layer on `n` vectors with a stored `[in, out]` weight (first `rows` × `cols`)
    /// and a bias added digitally after the output quantization.
    fn linear(&mut self, x: &[f32], n: usize, wi: usize, bi: usize, rows: usize, cols: usize) -> Vec<f32> {
        let w = self.w;
        let full = w.shapes[wi][1];
        let src = &w.values[wi];
        let build = || {
            let m: Vec<f32> = (0..rows)
                .flat_map(|a| src[a * full..a * full + cols].iter().copied())
                .collect();
            Layer::new(&m, rows, cols, Kind::Dense)
        };
        let mut y = self.xbar(x, n, build, false);
        let bias = &w.values[bi];
        for row in y.chunks_exact_mut(cols) {
            for (v, &b) in row.iter_mut().zip(bias) {
                *v += b;
            }
        }
        y
    }

    fn bn(&mut self, x: &mut Act, g: usize, b: usize, act: u8) {
        let c = x.c;
        let (mean, var) = match self.run {
            Run::Record => {
                let rows = (x.v.len() / c) as f64;
                let mut s = vec![0f64; c];
                for row in x.v.chunks_exact(c) {
                    for (a, &v) in s.iter_mut().zip(row) {
                        *a += v as f64;
                    }
                }
                let mean: Vec<f64> = s.iter().map(|a| a / rows).collect();
                let mut q = vec![0f64; c];
                for row in x.v.chunks_exact(c) {
                    for ((a, &v), m) in q.iter_mut().zip(row).zip(&mean) {
                        *a += (v as f64 - m).powi(2);
                    }
                }
                let mean: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
                let var: Vec<f32> = q.iter().map(|a| (a / rows) as f32).collect();
                self.cal.bn.push((mean.clone(), var.clone()));
                (mean, var)
            }
            Run::Replay(_) => {
                let s = self.cal.bn[self.bn_pos].clone();
                self.bn_pos += 1;
                s
            }
        };
        let gamma = &self.w.values[g];
        let beta = &self.w.values[b];
        let scale: Vec<f32> = (0..c).map(|i| gamma[i] / (var[i] + BN_EPS).sqrt()).collect();
        let shift: Vec<f32> = (0..c).map(|i| beta[i] - mean[i] * scale[i]).collect();
        x.v.par_chunks_mut(c * 64).for_each(|chunk| {
            for row in chunk.chunks_exact_mut(c) {
                for ((y, &s), &t) in row.iter_mut().zip(&scale).zip(&shift) {
                    let v = *y * s + t;
                    *y = match act {
                        1 => v.max(0.0),
                        2 => hswish(v),
                        _ => v,
                    };
                }
            }
        });
    }

    fn se(&mut self, x: &mut Act, ix: [usize; 4]) {
        let (c, hw) = (x.c, x.h * x.w);
        let r = make_divisible(c / 4, 8);
        let pooled = mean_pool(x);
        let mut s = self.linear(&pooled, x.n, ix[0], ix[1], c, r);
        s.iter_mut().for_each(|v| *v = v.max(0.0));
        let mut e = self.linear(&s, x.n, ix[2], ix[3], r, c);
        e.iter_mut().for_each(|v| *v = (*v / 6.0 + 0.5).clamp(0.0, 1.0));
        x.v.par_chunks_mut(hw * c)
            .zip(e.par_chunks(c))
            .for_each(|(img, gate)| {
                for row in img.chunks_exact_mut(c) {
                    for (y, &g) in row.iter_mut().zip(gate) {
                        *y *= g;
                    }
                }
            });
    }

    fn forward(&mut self, net: &NetIx, g: &Genome, x: Act) -> Vec<f32> {
        let (ho, wo) = (x.h / 2, x.w / 2);
        let mut cols = vec![0f32; x.n * ho * wo * 27];
        cols.par_chunks_mut(ho * wo * 27)
            .enumerate()
            .for_each(|(n, img)| {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let o = &mut img[(oy * wo + ox) * 27..][..27];
                        for ci in 0..3 {
                            for a in 0..3 {
                                for b in 0..3 {
                                    let iy = (oy * 2 + a) as isize - 1;
                                    let ix = (ox * 2 + b) as isize - 1;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < x.h && (ix as usize) < x.w {
                                        o[ci * 9 + a * 3 + b] =
                                            x.v[((n * x.h + iy as usize) * x.w + ix as usize) * 3 + ci];
                                    }
                                }
                            }
                        }
                    }
                }
            });
        let w = self.w;
        let src = &w.values[net.stem[0]];
        let build = || {
            let mut t = vec![0f32; 27 * 16];
            for o in 0..16 {
                for j in 0..27 {
                    t[j * 16 + o] = src[o * 27 + j];
                }
            }
            Layer::new(&t, 27, 16, Kind::Dense)
        };
        let v = self.xbar(&cols, x.n * ho * wo, build, true);
        let mut x = Act {
            n: x.n,
            h: ho,
            w: wo,
            c: 16,
            v,
        };
        self.bn(&mut x, net.stem[1], net.stem[2], 2);
        let mut y = self.depthwise(&x, net.b0_dw[0], 3, 1);
        self.bn(&mut y, net.b0_dw[1], net.b0_dw[2], 1);
        let mut y = self.pointwise(&y, net.b0_pw[0], 16);
        self.bn(&mut y, net.b0_pw[1], net.b0_pw[2], 0);
        add(&mut y, &x);
        let mut x = y;
        for stage in 0..STAGES {
            for pos in 0..g.d[stage] {
                let i = stage * BLOCKS_PER_STAGE + pos;
                let b = &net.blocks[i];
                let mid = make_divisible(b.cin * g.e[i], 8);
                let act = if b.hswish { 2 } else { 1 };
                let mut h = self.pointwise(&x, b.ib[0], mid);
                self.bn(&mut h, b.ib[1], b.ib[2], act);
                let mut h = self.depthwise(&h, b.dw[0], g.ks[i], b.stride);
                self.bn(&mut h, b.dw[1], b.dw[2], act);
                if let Some(se) = b.se {
                    self.se(&mut h, se);
                }
                let mut y = self.pointwise(&h, b.pl[0], b.cout);
                self.bn(&mut y, b.pl[1], b.pl[2], 0);
                if pos > 0 {
                    add(&mut y, &x);
                }
                x = y;
            }
        }
        let fe_out = self.w.shapes[net.fe[0]][0];
        let mut f = self.pointwise(&x, net.fe[0], fe_out);
        self.bn(&mut f, net.fe[1], net.fe[2], 2);
        let pooled = mean_pool(&f);
        let mix = self.w.shapes[net.mix[0]][1];
        let mut m = self.linear(&pooled, f.n, net.mix[0], net.mix[1], f.c, mix);
        m.iter_mut().for_each(|v| *v = hswish(*v));
        let classes = self.w.shapes[net.cls[0]][1];
        self.linear(&m, f.n, net.cls[0], net.cls[1], mix, classes)
    }
}

fn mean_pool(x: &Act) -> Vec<f32> {
    let (c, hw) = (x.c, x.h * x.w);
    let mut pooled = vec![0f32; x.n * c];
    for (n, p) in pooled.chunks_exact_mut(c).enumerate() {
        for row in x.v[n * hw * c..(n + 1) * hw * c].chunks_exact(c) {
            for (a, &v) in p.iter_mut().zip(row) {
                *a += v;
            }
        }
        for a in p.iter_mut() {
            *a /= hw as f32;
        }
    }
    pooled
}

fn add(y: &mut Act, x: &Act) {
    for (a, &b) in y.v.iter_mut().zip(&x.v) {
        *a += b;
    }
}

/// Channels-last input batch of `indices`.
fn input(split: &Split, indices: &[usize]) -> Act {
    let nchw = data::batch(split, indices);
    let plane = INPUT * INPUT;
    let mut v = vec![0f32; nchw.len()];
    v.par_chunks_mut(plane * 3).enumerate().for_each(|(n, img)| {
        for c in 0..3 {
            for p in 0..plane {
                img[p * 3 + c] = nchw[(n * 3 + c) * plane + p];
            }
        }
    });
    Act {
        n: indices.len(),
        h: INPUT,
        w: INPUT,
        c: 3,
        v,
    }
}

/// Calibrates the quantized subnet on `calibration` training images (one batch).
pub fn calibrate(
    w: &HostWeights,
    net: &NetIx,
    g: &Genome,
    train: &Split,
    calibration: &[usize],
    range: RangeRule,
) -> Calibration {
    let mut pass = Pass {
        range,
        w,
        cal: Calibration::default(),
        run: Run::Record,
        layer: 0,
        bn_pos: 0,
    };
    let _ = pass.forward(net, g, input(train, calibration));
    pass.cal
}

/// Programs every weight layer of a calibrated subnet on chip `trial`.
pub fn program(cal: &Calibration, dev: &Device, opts: &Options, trial: u64) -> Vec<Programmed> {
    cal.layers
        .par_iter()
        .enumerate()
        .map(|(i, l)| l.program(dev, opts, trial, i as u64))
        .collect()
}

/// Logits of `indices` of `split` (in chunks of `chunk` images).
#[allow(clippy::too_many_arguments)]
pub fn logits(
    w: &HostWeights,
    net: &NetIx,
    g: &Genome,
    cal: &Calibration,
    mode: Mode,
    split: &Split,
    indices: &[usize],
    chunk: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(indices.len() * data::CLASSES);
    // The pass owns its calibration only for recording; replay borrows a clone of the
    // (small) scale and statistic lists, and the layers by clone once per call.
    let mut pass = Pass {
        range: RangeRule::Mnsim,
        w,
        cal: cal.clone(),
        run: Run::Replay(mode),
        layer: 0,
        bn_pos: 0,
    };
    for part in indices.chunks(chunk.max(1)) {
        pass.layer = 0;
        pass.bn_pos = 0;
        out.extend(pass.forward(net, g, input(split, part)));
    }
    out
}

/// One subnet calibrated for non-ideal evaluation on the first `images` test images.
pub struct Runner<'a> {
    w: HostWeights<'a>,
    net: &'a NetIx,
    genome: Genome,
    pub calibration: Calibration,
    test: &'a Split,
    idx: Vec<usize>,
}

/// Test images per forward chunk (bounds the memory of the bit-sliced partial sums).
const CHUNK: usize = 100;

impl<'a> Runner<'a> {
    pub fn new(
        eval: &'a super::supernet::Evaluator,
        genome: &Genome,
        data: &'a super::data::FashionMnist,
        images: usize,
        calibration: usize,
        range: RangeRule,
    ) -> anyhow::Result<Runner<'a>> {
        genome.validate()?;
        let images = images.min(data.test.len());
        if images == 0 {
            anyhow::bail!("--images must be at least 1");
        }
        let (w, net) = eval.host();
        let calib =
            super::supernet::calibration_indices(data.train.len(), calibration.clamp(1, data.train.len()));
        let cal = calibrate(&w, net, genome, &data.train, &calib, range);
        Ok(Runner {
            w,
            net,
            genome: genome.clone(),
            calibration: cal,
            test: &data.test,
            idx: (0..images).collect(),
        })
    }

    pub fn images(&self) -> usize {
        self.idx.len()
    }

    fn accuracy(&self, mode: Mode) -> f64 {
        let l = logits(
            &self.w,
            self.net,
            &self.genome,
            &self.calibration,
            mode,
            self.test,
            &self.idx,
            CHUNK,
        );
        let correct = l
            .chunks_exact(data::CLASSES)
            .zip(&self.idx)
            .filter(|(l, i)| argmax(l) == self.test.labels[**i] as usize)
            .count();
        correct as f64 / self.idx.len() as f64
    }

    /// Accuracy of the 9-bit quantized subnet (MNSIM's "origin" accuracy).
    pub fn quantized_accuracy(&self) -> f64 {
        self.accuracy(Mode::Quantized)
    }

    /// Accuracy on chip `trial`.
    pub fn trial(&self, dev: &Device, opts: &Options, trial: u64) -> f64 {
        let prog = program(&self.calibration, dev, opts, trial);
        self.accuracy(Mode::Chip {
            prog: &prog,
            dev,
            adc: opts.adc,
        })
    }

    /// Monte-Carlo over chips 0..trials.
    pub fn trials(&self, dev: &Device, opts: &Options, trials: u64) -> nonideal::TrialStats {
        nonideal::TrialStats::of((0..trials).map(|t| self.trial(dev, opts, t)).collect())
    }
}

/// Index of the largest value, the first on ties.
fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// `--accuracy supernet --nonideal`: each candidate's mean accuracy over `trials` simulated
/// chips (the search's seed; chips 0..trials) on the first `images` test images.
pub struct NonidealSource {
    eval: super::supernet::Evaluator,
    data: super::data::FashionMnist,
    images: usize,
    dev: Device,
    opts: Options,
    trials: u64,
}

impl NonidealSource {
    pub fn new(
        weights: &std::path::Path,
        data_dir: &std::path::Path,
        images: usize,
        dev: Device,
        opts: Options,
        trials: u64,
    ) -> anyhow::Result<NonidealSource> {
        if trials == 0 {
            anyhow::bail!("--nonideal-trials must be at least 1");
        }
        Ok(NonidealSource {
            eval: super::supernet::Supernet::load(weights)?.evaluator()?,
            data: super::data::FashionMnist::load(data_dir)?,
            images,
            dev,
            opts,
            trials,
        })
    }
}

impl super::AccuracySource for NonidealSource {
    fn name(&self) -> String {
        format!("supernet-nonideal:{}", self.trials)
    }

    fn evaluate(&mut self, batch: &[super::Candidate]) -> anyhow::Result<Vec<f64>> {
        use anyhow::Context;
        // One candidate at a time: each evaluation is parallel inside, in a fixed order.
        batch
            .iter()
            .map(|c| {
                let r = Runner::new(
                    &self.eval,
                    &c.genome,
                    &self.data,
                    self.images,
                    super::supernet::CALIBRATION_IMAGES,
                    RangeRule::Max,
                )
                .with_context(|| format!("candidate {}", c.id))?;
                Ok(r.trials(&self.dev, &self.opts, self.trials).mean)
            })
            .collect()
    }
}
