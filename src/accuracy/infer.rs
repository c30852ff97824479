//! Fast subnet inference for measured evaluation (channels-last, batch-norm folded).
//!
//! burn-flex convolves plane by plane; at this network's 2x2..8x8 maps its per-plane setup
//! dominates, so evaluating a subnet through the training graph costs ~5 ms per image. Here
//! activations are `[images·H·W, C]` matrices: 1x1 convolutions are one matrix product (burn's
//! gemm), depthwise convolutions and batch norm are loops whose inner dimension is the channel,
//! which the compiler vectorises. Every output element is computed in a fixed order, so
//! results do not depend on the thread count.

use super::data::{self, INPUT, Split};
use crate::network::ofa::{BLOCKS_PER_STAGE, Genome, STAGES, make_divisible};
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

const BN_EPS: f32 = 1e-5;

/// Activations of `n` images, `h`x`w`, `c` channels, channels-last.
#[derive(Clone, Debug)]
pub struct Act {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub v: Vec<f32>,
}

/// Host copies of the supernet parameters with their shapes, in the layout's order.
pub struct HostWeights<'a> {
    pub values: &'a [Vec<f32>],
    pub shapes: &'a [Vec<usize>],
}

/// Per-block parameter indices and fixed facts (mirrors the training graph).
#[derive(Clone, Debug)]
pub struct BlockIx {
    pub cin: usize,
    pub cout: usize,
    pub stride: usize,
    pub hswish: bool,
    pub ib: [usize; 3],
    pub dw: [usize; 3],
    pub se: Option<[usize; 4]>,
    pub pl: [usize; 3],
}

/// Parameter indices of the whole supernet.
#[derive(Clone, Debug)]
pub struct NetIx {
    pub stem: [usize; 3],
    pub b0_dw: [usize; 3],
    pub b0_pw: [usize; 3],
    pub blocks: Vec<BlockIx>,
    pub fe: [usize; 3],
    pub mix: [usize; 2],
    pub cls: [usize; 2],
}

/// Batch-norm statistics: recorded during calibration, then replayed.
pub enum Stats {
    Record(Vec<(Vec<f32>, Vec<f32>)>),
    Replay(Vec<(Vec<f32>, Vec<f32>)>, usize),
}

fn matmul(dev: &Device, a: Vec<f32>, m: usize, k: usize, b: Vec<f32>, n: usize) -> Vec<f32> {
    let ta = Tensor::<2>::from_data(TensorData::new(a, [m, k]), dev);
    let tb = Tensor::<2>::from_data(TensorData::new(b, [k, n]), dev);
    ta.matmul(tb).into_data().try_to_vec::<f32>().unwrap_or_default()
}

fn hswish(x: f32) -> f32 {
    x * (x / 6.0 + 0.5).clamp(0.0, 1.0)
}

struct Ctx<'a> {
    w: HostWeights<'a>,
    dev: Device,
    stats: Stats,
}

impl Ctx<'_> {
    /// `[cout, cin]` block of a stored `[cout_max, cin_max, 1, 1]` (or 2-D) weight, transposed
    /// to `[cin, cout]` for `x · Wᵀ`.
    fn pointwise_t(&self, i: usize, cout: usize, cin: usize) -> Vec<f32> {
        let cmax = self.w.shapes[i][1];
        let src = &self.w.values[i];
        let mut t = vec![0.0; cin * cout];
        for o in 0..cout {
            for j in 0..cin {
                t[j * cout + o] = src[o * cmax + j];
            }
        }
        t
    }

    fn pointwise(&self, x: &Act, i: usize, cout: usize) -> Act {
        self.pointwise_owned(x.clone(), i, cout)
    }

    fn pointwise_owned(&self, x: Act, i: usize, cout: usize) -> Act {
        let wt = self.pointwise_t(i, cout, x.c);
        let m = x.n * x.h * x.w;
        let shape = x.shape();
        let v = matmul(&self.dev, x.v, m, x.c, wt, cout);
        Act { c: cout, v, ..shape }
    }

    /// Depthwise `k`x`k` convolution (centre of the stored 7x7), padding k/2.
    fn depthwise(&self, x: &Act, i: usize, k: usize, stride: usize) -> Act {
        let c = x.c;
        let kmax = self.w.shapes[i][2];
        let c0 = (kmax - k) / 2;
        let src = &self.w.values[i];
        // Tap-major, channel-inner weights.
        let mut wk = vec![0.0f32; k * k * c];
        for ch in 0..c {
            for a in 0..k {
                for b in 0..k {
                    wk[(a * k + b) * c + ch] = src[ch * kmax * kmax + (a + c0) * kmax + b + c0];
                }
            }
        }
        let p = k / 2;
        let ho = (x.h + 2 * p - k) / stride + 1;
        let wo = (x.w + 2 * p - k) / stride + 1;
        let (h, w) = (x.h, x.w);
        let mut out = vec![0.0f32; x.n * ho * wo * c];
        out.par_chunks_mut(ho * wo * c).enumerate().for_each(|(n, o)| {
            let img = &x.v[n * h * w * c..(n + 1) * h * w * c];
            for oy in 0..ho {
                for ox in 0..wo {
                    let acc = &mut o[(oy * wo + ox) * c..(oy * wo + ox + 1) * c];
                    for a in 0..k {
                        let iy = (oy * stride + a) as isize - p as isize;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        for b in 0..k {
                            let ix = (ox * stride + b) as isize - p as isize;
                            if ix < 0 || ix >= w as isize {
                                continue;
                            }
                            let inp = &img[(iy as usize * w + ix as usize) * c..][..c];
                            let wt = &wk[(a * k + b) * c..][..c];
                            for ((y, &xv), &wv) in acc.iter_mut().zip(inp).zip(wt) {
                                *y += xv * wv;
                            }
                        }
                    }
                }
            }
        });
        Act {
            n: x.n,
            h: ho,
            w: wo,
            c,
            v: out,
        }
    }

    /// Batch norm with recorded or replayed statistics, then an optional activation
    /// (0 none, 1 relu, 2 h-swish).
    fn bn(&mut self, x: &mut Act, g: usize, b: usize, act: u8) {
        let c = x.c;
        let (mean, var) = match &mut self.stats {
            Stats::Record(list) => {
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
                list.push((mean.clone(), var.clone()));
                (mean, var)
            }
            Stats::Replay(list, pos) => {
                let s = list[*pos].clone();
                *pos += 1;
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

    fn se(&self, x: &mut Act, ix: [usize; 4]) {
        let (c, hw) = (x.c, x.h * x.w);
        let r = make_divisible(c / 4, 8);
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
        // Stored as [in, out] matrices (x · W), sliced to the active channels.
        let slice = |i: usize, rows: usize, cols: usize| -> Vec<f32> {
            let full = self.w.shapes[i][1];
            let src = &self.w.values[i];
            (0..rows)
                .flat_map(|a| src[a * full..a * full + cols].iter().copied())
                .collect()
        };
        let mut s = matmul(&self.dev, pooled, x.n, c, slice(ix[0], c, r), r);
        for row in s.chunks_exact_mut(r) {
            for (v, &b) in row.iter_mut().zip(&self.w.values[ix[1]]) {
                *v = (*v + b).max(0.0);
            }
        }
        let mut e = matmul(&self.dev, s, x.n, r, slice(ix[2], r, c), c);
        for row in e.chunks_exact_mut(c) {
            for (v, &b) in row.iter_mut().zip(&self.w.values[ix[3]]) {
                *v = ((*v + b) / 6.0 + 0.5).clamp(0.0, 1.0);
            }
        }
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
        // Stem 3x3 stride 2 as an im2col product (27 inputs per output pixel).
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
        let stem_w = {
            let src = &self.w.values[net.stem[0]];
            let mut t = vec![0f32; 27 * 16];
            for o in 0..16 {
                for j in 0..27 {
                    t[j * 16 + o] = src[o * 27 + j];
                }
            }
            t
        };
        let v = matmul(&self.dev, cols, x.n * ho * wo, 27, stem_w, 16);
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
        let mut y = self.pointwise_owned(y, net.b0_pw[0], 16);
        self.bn(&mut y, net.b0_pw[1], net.b0_pw[2], 0);
        add(&mut y, &x);
        let mut x = y;
        for stage in 0..STAGES {
            for pos in 0..g.d[stage] {
                let i = stage * BLOCKS_PER_STAGE + pos;
                let b = &net.blocks[i];
                let mid = make_divisible(b.cin * g.e[i], 8);
                let act = if b.hswish { 2 } else { 1 };
                let mut h = if pos > 0 {
                    self.pointwise(&x, b.ib[0], mid)
                } else {
                    self.pointwise_owned(std::mem::replace(&mut x, Act::empty()), b.ib[0], mid)
                };
                self.bn(&mut h, b.ib[1], b.ib[2], act);
                let mut h = self.depthwise(&h, b.dw[0], g.ks[i], b.stride);
                self.bn(&mut h, b.dw[1], b.dw[2], act);
                if let Some(se) = b.se {
                    self.se(&mut h, se);
                }
                let mut y = self.pointwise_owned(h, b.pl[0], b.cout);
                self.bn(&mut y, b.pl[1], b.pl[2], 0);
                if pos > 0 {
                    add(&mut y, &x);
                }
                x = y;
            }
        }
        let fe_out = self.w.shapes[net.fe[0]][0];
        let mut f = self.pointwise_owned(x, net.fe[0], fe_out);
        self.bn(&mut f, net.fe[1], net.fe[2], 2);
        let (c, hw) = (f.c, f.h * f.w);
        let mut pooled = vec![0f32; f.n * c];
        for (n, p) in pooled.chunks_exact_mut(c).enumerate() {
            for row in f.v[n * hw * c..(n + 1) * hw * c].chunks_exact(c) {
                for (a, &v) in p.iter_mut().zip(row) {
                    *a += v;
                }
            }
            for a in p.iter_mut() {
                *a /= hw as f32;
            }
        }
        let mix = self.w.shapes[net.mix[0]][1];
        let mut m = matmul(&self.dev, pooled, f.n, c, self.w.values[net.mix[0]].clone(), mix);
        for row in m.chunks_exact_mut(mix) {
            for (v, &b) in row.iter_mut().zip(&self.w.values[net.mix[1]]) {
                *v = hswish(*v + b);
            }
        }
        let classes = self.w.shapes[net.cls[0]][1];
        let mut out = matmul(&self.dev, m, f.n, mix, self.w.values[net.cls[0]].clone(), classes);
        for row in out.chunks_exact_mut(classes) {
            for (v, &b) in row.iter_mut().zip(&self.w.values[net.cls[1]]) {
                *v += b;
            }
        }
        out
    }
}

impl Act {
    fn empty() -> Act {
        Act {
            n: 0,
            h: 0,
            w: 0,
            c: 0,
            v: Vec::new(),
        }
    }

    fn shape(&self) -> Act {
        Act {
            n: self.n,
            h: self.h,
            w: self.w,
            c: self.c,
            v: Vec::new(),
        }
    }
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

/// Recalibrates batch norm on `calibration` (one batch) and returns the logits of `test`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    w: HostWeights,
    net: &NetIx,
    g: &Genome,
    train: &Split,
    calibration: &[usize],
    test: &Split,
    indices: &[usize],
    chunk: usize,
) -> Vec<f32> {
    let mut ctx = Ctx {
        w,
        dev: Device::flex(),
        stats: Stats::Record(Vec::new()),
    };
    let _ = ctx.forward(net, g, input(train, calibration));
    let Stats::Record(stats) = std::mem::replace(&mut ctx.stats, Stats::Record(Vec::new())) else {
        unreachable!()
    };
    let mut logits = Vec::with_capacity(indices.len() * data::CLASSES);
    for part in indices.chunks(chunk.max(1)) {
        ctx.stats = Stats::Replay(stats.clone(), 0);
        logits.extend(ctx.forward(net, g, input(test, part)));
    }
    logits
}
