//! RRAM device non-idealities for accuracy: MNSIM 2.0's accuracy model (NONIDEAL.md) on one
//! weight layer, deterministic per seed (§11).
//!
//! A layer is a weight matrix `rows × cols` (a row is one word line: an input feature in im2col
//! order; a column one output). Weights and inputs are quantized to 9 bits (sign and 8
//! magnitude bits); weights are sliced over cells of `⌊log2 Device_Level⌋` bits on a positive
//! and a negative crossbar (`Xbar_Polarity = 2`) or one signed crossbar (1); inputs enter bit
//! serially through the DAC; rows are split by the crossbar height and every (split, input
//! cycle, weight slice) partial sum passes the ADC (SCALE or FIX transfer, §6). Programming a
//! chip applies the finite on/off ratio, `Device_Variation` (one draw per array and level, as
//! MNSIM, or per cell) and `Device_SAF` (per cell). With ideal cells and a wide ADC the result
//! equals the 9-bit quantized layer ([`Layer::quantized`]).
//!
//! Where MNSIM has a bug (NONIDEAL.md §9) the intended behaviour is implemented: scales are
//! frozen after calibration (B), residual sums are quantized at the next layer's input (A),
//! SAFs can be switched off (C), runs are seeded (F). Stuck cells take the HRS/LRS conductance
//! (E); [`Options::mnsim_stuck_values`] restores MNSIM's ideal 0 and m.
//!
//! Everything is plain Rust (no burn); the supernet forward pass lives in
//! [`super::nonideal_net`] (feature `train`).

use crate::hardware::{ConfigError, HwConfig};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Weight and activation precision (MNSIM's hard-coded 9 bits: sign + 8 magnitude bits).
pub const BITS: u32 = 9;
/// Largest quantized magnitude, 2^(BITS−1) − 1.
pub const QMAX: i32 = 255;
const POINT_SHIFT: f64 = -2.0;

/// MNSIM's DAC_Choice → bits (`interface.py`).
fn dac_table(choice: i64) -> Option<u32> {
    Some(match choice {
        1 | 7 => 1,
        2 => 2,
        3 => 3,
        4 => 4,
        5 => 6,
        6 => 8,
        _ => return None,
    })
}

/// MNSIM's ADC_Choice → bits in the accuracy path (`interface.py`; choice 9 is 6 bits there).
fn adc_table(choice: i64) -> Option<u32> {
    Some(match choice {
        1 => 10,
        2 | 3 | 5 => 8,
        4 | 6 | 9 => 6,
        7 => 4,
        8 => 1,
        _ => return None,
    })
}

/// The device and interface keys the accuracy model reads, resolved and checked once.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Device {
    /// Device_Level L.
    pub levels: usize,
    /// Device_Resistance, HRS → LRS, Ω.
    pub resistance: Vec<f64>,
    /// Bits per cell b_c = ⌊log2 L⌋.
    pub cell_bits: u32,
    /// DAC bits b_d (DAC_Choice or DAC_Precision).
    pub dac_bits: u32,
    /// ADC bits (ADC_Choice or ADC_Precision).
    pub adc_bits: u32,
    /// Xbar_Size rows: the row split and FIX-mode range.
    pub xbar_rows: usize,
    /// DAC_Num: rows driven at once (adds ADC bits, §6.1).
    pub dac_num: usize,
    /// Xbar_Polarity.
    pub polarity: u32,
    /// Device_Variation, percent.
    pub variation_pct: f64,
    /// Device_SAF: percent stuck at HRS, percent stuck at LRS.
    pub saf_pct: [f64; 2],
    /// Device_Type NVM (SRAM cells have no on/off ratio or variation).
    pub nvm: bool,
}

fn bad(hw: &HwConfig, section: &str, key: &str, value: impl ToString, problem: &str) -> ConfigError {
    ConfigError::BadValue {
        file: hw.source().to_string(),
        section: section.to_string(),
        key: key.to_string(),
        value: value.to_string(),
        problem: problem.to_string(),
    }
}

impl Device {
    /// Reads the accuracy keys of a configuration, rejecting what MNSIM's accuracy path would
    /// crash on (NONIDEAL.md §9 H) with an error naming the key.
    pub fn from_hw(hw: &HwConfig) -> Result<Device, ConfigError> {
        let p = hw.params();
        let d = &p.device;
        const DEV: &str = "Device level";
        const IFACE: &str = "Interface level";
        const PE: &str = "Process element level";
        if d.levels < 2 {
            return Err(bad(
                hw,
                DEV,
                "Device_Level",
                d.levels,
                "needs at least 2 levels to store a bit (MNSIM divides by log2 of it)",
            ));
        }
        if d.resistance.len() != d.levels as usize {
            return Err(bad(
                hw,
                DEV,
                "Device_Level",
                d.levels,
                "must equal the number of Device_Resistance entries",
            ));
        }
        let dac_bits = if p.dac_choice == -1 {
            if p.dac_precision < 1 || p.dac_precision > 16 {
                return Err(bad(
                    hw,
                    IFACE,
                    "DAC_Precision",
                    p.dac_precision,
                    "must be 1..16 bits with DAC_Choice = -1 (MNSIM divides by it)",
                ));
            }
            p.dac_precision as u32
        } else {
            dac_table(p.dac_choice)
                .ok_or_else(|| bad(hw, IFACE, "DAC_Choice", p.dac_choice, "must be -1 or 1..7"))?
        };
        let adc_bits = if p.adc_choice == -1 {
            if p.adc_precision < 1 || p.adc_precision > 48 {
                return Err(bad(
                    hw,
                    IFACE,
                    "ADC_Precision",
                    p.adc_precision,
                    "must be 1..48 bits with ADC_Choice = -1 (0 bits gives MNSIM a degenerate clamp)",
                ));
            }
            p.adc_precision as u32
        } else {
            adc_table(p.adc_choice)
                .ok_or_else(|| bad(hw, IFACE, "ADC_Choice", p.adc_choice, "must be -1 or 1..9"))?
        };
        if p.dac_num == 0 {
            return Err(bad(
                hw,
                PE,
                "DAC_Num",
                0,
                "the accuracy model needs the rows driven at once (MNSIM divides by DAC_Num here)",
            ));
        }
        let saf = d.saf_pct.clone()?;
        if saf.is_empty() || saf.len() > 2 || saf.iter().any(|x| !(0.0..=100.0).contains(x)) {
            return Err(bad(
                hw,
                DEV,
                "Device_SAF",
                saf.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","),
                "expected two percentages in 0..100: stuck at HRS, stuck at LRS",
            ));
        }
        let variation_pct = if d.is_nvm() { d.variation_pct } else { 0.0 };
        if !(0.0..=1000.0).contains(&variation_pct) {
            return Err(bad(
                hw,
                DEV,
                "Device_Variation",
                variation_pct,
                "must be a percentage of the resistance, ≥ 0",
            ));
        }
        let levels = d.levels as usize;
        Ok(Device {
            levels,
            resistance: d.resistance.clone(),
            cell_bits: 63 - (levels as u64).leading_zeros(),
            dac_bits,
            adc_bits,
            xbar_rows: p.xbar_rows,
            dac_num: p.dac_num as usize,
            polarity: p.polarity,
            variation_pct,
            saf_pct: [saf[0], saf[saf.len() - 1]],
            nvm: d.is_nvm(),
        })
    }

    /// Largest cell value m = 2^b_c − 1.
    pub fn max_cell(&self) -> u32 {
        (1 << self.cell_bits) - 1
    }

    /// Input cycles C = ⌈8 / b_d⌉.
    pub fn cycles(&self) -> u32 {
        (BITS - 1).div_ceil(self.dac_bits)
    }

    /// Weight slices P: ⌈8 / b_c⌉ on two crossbars, ⌈9 / b_c⌉ on one signed crossbar.
    pub fn slices(&self) -> u32 {
        if self.polarity == 2 {
            (BITS - 1).div_ceil(self.cell_bits)
        } else {
            BITS.div_ceil(self.cell_bits)
        }
    }

    /// Nominal conductance of digit `k` with the on/off ratio: m·R_LRS/R_k.
    pub fn conductance(&self, k: usize) -> f64 {
        let r = &self.resistance;
        self.max_cell() as f64 * r[r.len() - 1] / r[k]
    }
}

/// ADC transfer (NONIDEAL.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdcMode {
    /// MNSIM's default dynamic range: the layer's output range onto the ADC codes.
    Scale,
    /// The theoretical maximum column sum onto the ADC codes (`-FixRange`).
    Fix,
}

/// Which non-idealities a chip has, and the seed of its random draws.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Options {
    pub seed: u64,
    /// Finite on/off ratio: digit k conducts m·R_LRS/R_k instead of k (MNSIM's -Rratio).
    pub rratio: bool,
    /// Device_Variation (implies the on/off ratio, as in MNSIM).
    pub variation: bool,
    /// Device_SAF.
    pub saf: bool,
    pub adc: AdcMode,
    /// Variation drawn per cell (an extension); MNSIM draws one value per array and level.
    pub variation_per_cell: bool,
    /// MNSIM's quirk: stuck cells take the ideal values 0 and m (NONIDEAL.md §9 E) instead of
    /// the HRS and LRS conductances.
    pub mnsim_stuck_values: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            rratio: true,
            variation: true,
            saf: true,
            adc: AdcMode::Scale,
            variation_per_cell: false,
            mnsim_stuck_values: false,
        }
    }
}

impl Options {
    /// No device effect at all: only quantization, slicing and the ADC remain.
    pub fn ideal_cells() -> Options {
        Options {
            rratio: false,
            variation: false,
            saf: false,
            ..Options::default()
        }
    }
}

// ---------------------------------------------------------------- random numbers (§11.2)

/// SplitMix64's output function.
pub fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A key that depends only on its fields: every draw is a pure function of where it is used,
/// so the thread count and the evaluation order cannot change it.
pub fn key(seed: u64, trial: u64, fields: &[u64]) -> u64 {
    let mut h = splitmix(seed ^ splitmix(trial));
    for &f in fields {
        h = splitmix(h ^ f);
    }
    h
}

/// Uniform in [0, 1) from a key.
pub fn uniform(k: u64) -> f64 {
    (k >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Standard normal from a key (Box–Muller on two derived uniforms).
pub fn normal(k: u64) -> f64 {
    let u = uniform(splitmix(k));
    let v = uniform(splitmix(k ^ 1));
    (-2.0 * (1.0 - u).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

const STREAM_SAF: u64 = 1;
const STREAM_VAR: u64 = 2;

/// One physical array: (layer, row split, weight slice, polarity 0 = positive / 1 = negative).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayId {
    pub layer: u64,
    pub split: u64,
    pub slice: u64,
    pub polarity: u64,
}

impl ArrayId {
    fn key(&self, opts: &Options, trial: u64, stream: u64) -> u64 {
        key(
            opts.seed,
            trial,
            &[stream, self.layer, self.split, self.slice, self.polarity],
        )
    }
}

/// Counts of one programmed array (for the statistical tests and reports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StuckCount {
    pub cells: u64,
    pub sa0: u64,
    pub sa1: u64,
}

/// Programs one array: ideal digits (0..=m; negative digits only on a signed crossbar) →
/// conductances in units of the LRS conductance / m.
pub fn program_array(
    dev: &Device,
    opts: &Options,
    trial: u64,
    id: ArrayId,
    digits: &[i32],
    out: &mut [f32],
) -> StuckCount {
    let m = dev.max_cell();
    let levels = dev.levels;
    let analog = dev.nvm && (opts.rratio || opts.variation);
    let var = dev.nvm && opts.variation && dev.variation_pct > 0.0;
    let per_cell = var && opts.variation_per_cell;
    let var_key = id.key(opts, trial, STREAM_VAR);
    let r = &dev.resistance;
    let unit = m as f64 * r[levels - 1];
    // Per (array, level) conductances (MNSIM): one resistance draw per level.
    let table: Vec<f64> = (0..levels)
        .map(|k| {
            let delta = if var && !per_cell {
                normal(splitmix(var_key ^ k as u64)) * r[k] * dev.variation_pct / 100.0
            } else {
                0.0
            };
            unit / (r[k] + delta)
        })
        .collect();
    let cell_g = |k: usize, cell: u64| -> f64 {
        if per_cell {
            let z = normal(splitmix(var_key ^ (cell * levels as u64 + k as u64)));
            unit / (r[k] + z * r[k] * dev.variation_pct / 100.0)
        } else {
            table[k]
        }
    };
    let saf = opts.saf && (dev.saf_pct[0] > 0.0 || dev.saf_pct[1] > 0.0);
    let (p0, p1) = (dev.saf_pct[0] / 100.0, dev.saf_pct[1] / 100.0);
    let saf_key = id.key(opts, trial, STREAM_SAF);
    let mut count = StuckCount {
        cells: digits.len() as u64,
        ..StuckCount::default()
    };
    for (cell, (&d, o)) in digits.iter().zip(out.iter_mut()).enumerate() {
        let cell = cell as u64;
        let mut g = if analog && d >= 0 && (d as usize) < levels {
            cell_g(d as usize, cell)
        } else {
            d as f64
        };
        if saf {
            let u = uniform(splitmix(saf_key ^ cell));
            if u < p0 {
                count.sa0 += 1;
                g = if analog && !opts.mnsim_stuck_values {
                    cell_g(0, cell)
                } else {
                    0.0
                };
            }
            // The SA1 test comes second, so it wins where the two ranges overlap (as MNSIM).
            if u > 1.0 - p1 {
                count.sa1 += 1;
                g = if analog && !opts.mnsim_stuck_values {
                    cell_g(levels - 1, cell)
                } else {
                    m as f64
                };
            }
        }
        *o = g as f32;
    }
    count
}

// ---------------------------------------------------------------- quantization

/// Round half to even, then clamp to ±`max` (max < 2^51). Adding and subtracting 1.5·2^52
/// rounds to an integer in the current (nearest-even) mode, like `f64::round_ties_even`, but
/// vectorises: without SSE4.1 the library call dominates the ADC loops.
#[inline(always)]
pub fn round_clamp(x: f64, max: f64) -> f64 {
    const MAGIC: f64 = 6755399441055744.0;
    let y = x.clamp(-max - 1.0, max + 1.0);
    ((y + MAGIC) - MAGIC).clamp(-max, max)
}

/// MNSIM's quantizer on an integer grid: clamp(round_half_even(x / step), ±255).
#[inline]
pub fn quantize(x: f64, step: f64) -> i32 {
    round_clamp(x / step, QMAX as f64) as i32
}

/// The range statistic MNSIM's activation quantizer uses: 3·std + |mean| (1 if degenerate).
pub fn range_stat(v: &[f32]) -> f64 {
    if v.is_empty() {
        return 1.0;
    }
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let s = 3.0 * var.sqrt() + mean.abs();
    if s.is_finite() && s > 0.0 { s } else { 1.0 }
}

/// Largest magnitude (1 if all zero).
pub fn abs_max(v: &[f32]) -> f64 {
    let m = v.iter().fold(0f64, |a, &x| a.max((x as f64).abs()));
    if m.is_finite() && m > 0.0 { m } else { 1.0 }
}

/// Inputs of one layer on the 9-bit grid of step `s_a`.
pub fn quantize_inputs(x: &[f32], s_a: f64) -> Vec<i16> {
    x.par_iter().map(|&v| quantize(v as f64, s_a) as i16).collect()
}

/// How the rows of a layer reach its columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Every input row drives every column (conv with groups = 1 as im2col, linear).
    Dense,
    /// Depthwise `k×k` convolution: rows are the k² taps, column c sees only channel c's
    /// patch (rnc's serial depthwise mapping: one channel per activation).
    Depthwise {
        k: usize,
        stride: usize,
        h: usize,
        w: usize,
    },
}

/// One weight layer quantized for the crossbars.
#[derive(Clone, Debug)]
pub struct Layer {
    pub rows: usize,
    pub cols: usize,
    pub kind: Kind,
    /// Weight step max|W| / 255.
    pub s_w: f64,
    /// Integer weights, rows × cols.
    pub wq: Vec<i32>,
}

/// The ADC of one layer for given input and output scales.
#[derive(Clone, Copy, Debug)]
struct Adc {
    lsb: f64,
    inv_lsb: f64,
    max_code: f64,
}

impl Layer {
    /// Quantizes a `rows × cols` weight matrix (row-major).
    pub fn new(w: &[f32], rows: usize, cols: usize, kind: Kind) -> Layer {
        debug_assert_eq!(w.len(), rows * cols);
        let s_w = abs_max(w) / QMAX as f64;
        let wq = w.iter().map(|&x| quantize(x as f64, s_w)).collect();
        Layer {
            rows,
            cols,
            kind,
            s_w,
            wq,
        }
    }

    /// Rows of one crossbar split (depthwise: the taps, one split).
    fn split_rows(&self, dev: &Device) -> usize {
        match self.kind {
            Kind::Dense => dev.xbar_rows.min(self.rows).max(1),
            Kind::Depthwise { .. } => self.rows,
        }
    }

    fn splits(&self, dev: &Device) -> usize {
        self.rows.div_ceil(self.split_rows(dev))
    }

    /// Output pixels for `npix` input rows (dense) or input pixels (depthwise: `n` images of h×w).
    pub fn out_pixels(&self, npix: usize) -> usize {
        match self.kind {
            Kind::Dense => npix,
            Kind::Depthwise { k, stride, h, w } => {
                let (ho, wo) = out_hw(h, w, k, stride);
                npix / (h * w) * ho * wo
            }
        }
    }

    fn adc(&self, dev: &Device, mode: AdcMode, s_a: f64, s_out: f64) -> Adc {
        let (bd, bc) = (dev.dac_bits as i32, dev.cell_bits as i32);
        let (c, p) = (dev.cycles() as i32, dev.slices() as i32);
        let n_split = self.splits(dev) as f64;
        let ps = (POINT_SHIFT + 0.5 * n_split.log2()).floor();
        // MNSIM widens the ADC by the bits of adding ⌈rows / DAC_Num⌉ row groups (§6.1).
        let conv_rows = self.split_rows(dev) as f64;
        let e = (conv_rows / dev.dac_num as f64).log2().ceil().max(0.0);
        let q = dev.adc_bits as f64 + e;
        // Codes beyond 2^50 never occur in practice (partial sums are < 2^30 steps of a
        // 40-bit ADC); capping keeps the rounding trick exact.
        let max_code = (2f64.powf(q - 1.0) - 1.0).min(2f64.powi(50));
        let lsb = match mode {
            AdcMode::Scale => {
                let k = 2f64.powi((c - 1) * bd + (p - 1) * bc);
                s_out / (self.s_w * s_a * k * 2f64.powf(ps + q - 1.0))
            }
            AdcMode::Fix => {
                let f = ((1u64 << bd) - 1) as f64 * ((1u64 << bc) - 1) as f64 * dev.xbar_rows as f64;
                f / 2f64.powf(q - 1.0)
            }
        };
        Adc {
            lsb,
            inv_lsb: 1.0 / lsb,
            max_code,
        }
    }

    /// Cell digits of slice `j`: polarity 2 gives (positive, negative) arrays, polarity 1 one
    /// signed array (second empty).
    fn slice_digits(&self, dev: &Device, j: u32, r0: usize, r1: usize) -> (Vec<i32>, Vec<i32>) {
        let bc = dev.cell_bits;
        let mask = (1i32 << bc) - 1;
        let shift = j * bc;
        let rows = &self.wq[r0 * self.cols..r1 * self.cols];
        let digit = |w: i32| -> i32 { if shift >= 31 { 0 } else { (w.abs() >> shift) & mask } };
        if dev.polarity == 2 {
            let pos = rows.iter().map(|&w| if w > 0 { digit(w) } else { 0 }).collect();
            let neg = rows.iter().map(|&w| if w < 0 { digit(w) } else { 0 }).collect();
            (pos, neg)
        } else {
            (rows.iter().map(|&w| w.signum() * digit(w)).collect(), Vec::new())
        }
    }

    /// Programs this layer on one chip (`trial`): effective slice weights g(pos) − g(neg),
    /// laid out rows × (slices · cols).
    pub fn program(&self, dev: &Device, opts: &Options, trial: u64, layer: u64) -> Programmed {
        let p = dev.slices() as usize;
        let cols = self.cols;
        let sr = self.split_rows(dev);
        let mut w_eff = vec![0f32; self.rows * p * cols];
        let mut stuck = StuckCount::default();
        for split in 0..self.splits(dev) {
            let (r0, r1) = (split * sr, ((split + 1) * sr).min(self.rows));
            for j in 0..p {
                let (a, b) = self.slice_digits(dev, j as u32, r0, r1);
                let id = |pol| ArrayId {
                    layer,
                    split: split as u64,
                    slice: j as u64,
                    polarity: pol,
                };
                let mut ga = vec![0f32; a.len()];
                let s = program_array(dev, opts, trial, id(0), &a, &mut ga);
                stuck.cells += s.cells;
                stuck.sa0 += s.sa0;
                stuck.sa1 += s.sa1;
                if !b.is_empty() {
                    let mut gb = vec![0f32; b.len()];
                    let s = program_array(dev, opts, trial, id(1), &b, &mut gb);
                    stuck.cells += s.cells;
                    stuck.sa0 += s.sa0;
                    stuck.sa1 += s.sa1;
                    for (x, y) in ga.iter_mut().zip(&gb) {
                        *x -= *y;
                    }
                }
                for (ri, row) in ga.chunks_exact(cols).enumerate() {
                    let dst = &mut w_eff[((r0 + ri) * p + j) * cols..][..cols];
                    dst.copy_from_slice(row);
                }
            }
        }
        Programmed { w_eff, stuck }
    }

    /// The 9-bit quantized layer: exact integer sums Σ aq·wq per output, in input-step ×
    /// weight-step units.
    pub fn quantized(&self, aq: &[i16], npix: usize) -> Vec<f64> {
        let cols = self.cols;
        match self.kind {
            Kind::Dense => {
                let rows = self.rows;
                let mut out = vec![0f64; npix * cols];
                out.par_chunks_mut(cols).enumerate().for_each(|(pix, o)| {
                    let mut acc = vec![0i64; cols];
                    for (r, &a) in aq[pix * rows..(pix + 1) * rows].iter().enumerate() {
                        if a == 0 {
                            continue;
                        }
                        let a = a as i64;
                        for (y, &w) in acc.iter_mut().zip(&self.wq[r * cols..(r + 1) * cols]) {
                            *y += a * w as i64;
                        }
                    }
                    for (o, a) in o.iter_mut().zip(acc) {
                        *o = a as f64;
                    }
                });
                out
            }
            Kind::Depthwise { k, stride, h, w } => {
                let n = npix / (h * w);
                let (ho, wo) = out_hw(h, w, k, stride);
                let mut out = vec![0f64; n * ho * wo * cols];
                out.par_chunks_mut(cols).enumerate().for_each(|(opix, o)| {
                    let mut acc = vec![0i64; cols];
                    for_taps(opix, h, w, ho, wo, k, stride, |tap, ipix| {
                        let inp = &aq[ipix * cols..(ipix + 1) * cols];
                        let wt = &self.wq[tap * cols..(tap + 1) * cols];
                        for ((y, &a), &wv) in acc.iter_mut().zip(inp).zip(wt) {
                            *y += a as i64 * wv as i64;
                        }
                    });
                    for (o, a) in o.iter_mut().zip(acc) {
                        *o = a as f64;
                    }
                });
                out
            }
        }
    }

    /// The crossbar computation on a programmed chip: every (split, input cycle, weight slice)
    /// partial sum through the ADC, shifted and added digitally. Same units as
    /// [`Layer::quantized`]. `s_a` is the input step, `s_out` the output range.
    #[allow(clippy::too_many_arguments)]
    pub fn crossbar(
        &self,
        prog: &Programmed,
        dev: &Device,
        mode: AdcMode,
        aq: &[i16],
        npix: usize,
        s_a: f64,
        s_out: f64,
    ) -> Vec<f64> {
        let adc = self.adc(dev, mode, s_a, s_out);
        let (c, p) = (dev.cycles() as usize, dev.slices() as usize);
        let (bd, bc) = (dev.dac_bits, dev.cell_bits);
        let dmask = (1i32 << bd) - 1;
        let cols = self.cols;
        let pc = p * cols;
        // Weight of a code of (cycle i, slice j): 2^(i·b_d + j·b_c).
        let cyc_w: Vec<f64> = (0..c).map(|i| 2f64.powi((i as u32 * bd) as i32)).collect();
        let slice_w: Vec<f64> = (0..p).map(|j| 2f64.powi((j as u32 * bc) as i32)).collect();
        // Converts the partial sums of one pixel (c × p·cols) and adds them to `acc` (cols).
        let convert = |ps: &[f32], acc: &mut [f64]| {
            for (i, row) in ps.chunks_exact(pc).enumerate() {
                for (j, part) in row.chunks_exact(cols).enumerate() {
                    let f = cyc_w[i] * slice_w[j];
                    for (a, &v) in acc.iter_mut().zip(part) {
                        let code = round_clamp(v as f64 * adc.inv_lsb, adc.max_code);
                        *a += code * f;
                    }
                }
            }
        };
        match self.kind {
            Kind::Dense => {
                let rows = self.rows;
                let sr = self.split_rows(dev);
                let splits = self.splits(dev);
                // Pixels per task and columns per tile: one tile's partial sums of the block
                // (BLOCK × c × p × TILE floats, 32 KB at the defaults) stay in L1 while every
                // nonzero input digit adds its slice weights.
                const BLOCK: usize = 2;
                const TILE: usize = 64;
                let mut out = vec![0f64; npix * cols];
                out.par_chunks_mut(cols * BLOCK)
                    .enumerate()
                    .with_min_len(8)
                    .for_each_init(
                        || {
                            (
                                vec![0f32; BLOCK * c * p * TILE],
                                Vec::<(usize, usize, f32)>::new(),
                            )
                        },
                        |(ps, digits), (blk, o)| {
                            let nb = o.len() / cols;
                            let p0 = blk * BLOCK;
                            for split in 0..splits {
                                let (r0, r1) = (split * sr, ((split + 1) * sr).min(rows));
                                // Nonzero (row, pixel·cycle, signed digit) of this split.
                                digits.clear();
                                for r in r0..r1 {
                                    for b in 0..nb {
                                        let a = aq[(p0 + b) * rows + r] as i32;
                                        if a == 0 {
                                            continue;
                                        }
                                        let (sign, mag) = (a.signum() as f32, a.abs());
                                        for i in 0..c {
                                            let d = (mag >> (i as u32 * bd)) & dmask;
                                            if d != 0 {
                                                digits.push((r, b * c + i, sign * d as f32));
                                            }
                                        }
                                    }
                                }
                                for t0 in (0..cols).step_by(TILE) {
                                    let tw = TILE.min(cols - t0);
                                    ps.iter_mut().for_each(|v| *v = 0.0);
                                    for &(r, bi, coef) in digits.iter() {
                                        let wrow = &prog.w_eff[r * pc..(r + 1) * pc];
                                        let dst = &mut ps[bi * p * TILE..(bi + 1) * p * TILE];
                                        for j in 0..p {
                                            let d = &mut dst[j * TILE..j * TILE + tw];
                                            let wv = &wrow[j * cols + t0..j * cols + t0 + tw];
                                            for (y, &x) in d.iter_mut().zip(wv) {
                                                *y += coef * x;
                                            }
                                        }
                                    }
                                    // Convert the tile: same ADC and shifts as the whole row.
                                    for b in 0..nb {
                                        let acc = &mut o[b * cols + t0..b * cols + t0 + tw];
                                        for i in 0..c {
                                            for j in 0..p {
                                                let f = cyc_w[i] * slice_w[j];
                                                let src = &ps[((b * c + i) * p + j) * TILE..][..tw];
                                                for (a, &v) in acc.iter_mut().zip(src) {
                                                    let code =
                                                        round_clamp(v as f64 * adc.inv_lsb, adc.max_code);
                                                    *a += code * f;
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        },
                    );
                out.iter_mut().for_each(|v| *v *= adc.lsb);
                out
            }
            Kind::Depthwise { k, stride, h, w } => {
                let n = npix / (h * w);
                let (ho, wo) = out_hw(h, w, k, stride);
                let mut out = vec![0f64; n * ho * wo * cols];
                out.par_chunks_mut(cols)
                    .enumerate()
                    .with_min_len(4)
                    .for_each_init(
                        || (vec![0f32; c * pc], vec![0f32; cols]),
                        |(ps, digits), (opix, o)| {
                            ps.iter_mut().for_each(|v| *v = 0.0);
                            for_taps(opix, h, w, ho, wo, k, stride, |tap, ipix| {
                                let inp = &aq[ipix * cols..(ipix + 1) * cols];
                                let wrow = &prog.w_eff[tap * pc..(tap + 1) * pc];
                                for i in 0..c {
                                    let mut any = false;
                                    for (d, &a) in digits.iter_mut().zip(inp) {
                                        let a = a as i32;
                                        let v = ((a.abs() >> (i as u32 * bd)) & dmask) * a.signum();
                                        *d = v as f32;
                                        any |= v != 0;
                                    }
                                    if !any {
                                        continue;
                                    }
                                    let dst = &mut ps[i * pc..(i + 1) * pc];
                                    for (dj, wj) in dst.chunks_exact_mut(cols).zip(wrow.chunks_exact(cols)) {
                                        for ((y, &wv), &d) in dj.iter_mut().zip(wj).zip(digits.iter()) {
                                            *y += d * wv;
                                        }
                                    }
                                }
                            });
                            convert(ps, o);
                            o.iter_mut().for_each(|v| *v *= adc.lsb);
                        },
                    );
                out
            }
        }
    }
}

/// Output size of a `k×k` convolution with padding k/2.
pub fn out_hw(h: usize, w: usize, k: usize, stride: usize) -> (usize, usize) {
    let p = k / 2;
    ((h + 2 * p - k) / stride + 1, (w + 2 * p - k) / stride + 1)
}

/// Calls `f(tap, input pixel)` for the in-bounds taps of output pixel `opix` (image-major).
#[allow(clippy::too_many_arguments)]
#[inline]
fn for_taps(
    opix: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    k: usize,
    stride: usize,
    mut f: impl FnMut(usize, usize),
) {
    let (img, rest) = (opix / (ho * wo), opix % (ho * wo));
    let (oy, ox) = (rest / wo, rest % wo);
    let p = k / 2;
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
            f(a * k + b, (img * h + iy as usize) * w + ix as usize);
        }
    }
}

/// A layer programmed on one chip.
#[derive(Clone, Debug)]
pub struct Programmed {
    /// Effective slice weights, rows × (slices · cols).
    pub w_eff: Vec<f32>,
    pub stuck: StuckCount,
}

/// Output quantization q_act(y; S) of a layer's sums (`acc` in input-step × weight-step
/// units) onto the 9-bit grid of range `s_out`.
pub fn quantize_outputs(acc: &[f64], s_w: f64, s_a: f64, s_out: f64) -> Vec<f32> {
    let step = s_out / QMAX as f64;
    let unit = s_w * s_a;
    acc.par_iter()
        .map(|&a| (quantize(a * unit, step) as f64 * step) as f32)
        .collect()
}

/// Mean, sample standard deviation, min and max of per-trial accuracies.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrialStats {
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub max: f64,
    pub trials: Vec<f64>,
}

impl TrialStats {
    pub fn of(trials: Vec<f64>) -> TrialStats {
        let n = trials.len().max(1) as f64;
        let mean = trials.iter().sum::<f64>() / n;
        let var = if trials.len() > 1 {
            trials.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        TrialStats {
            mean,
            std: var.sqrt(),
            min: trials.iter().copied().fold(f64::INFINITY, f64::min),
            max: trials.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            trials,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Device {
        Device::from_hw(&HwConfig::embedded_default()).unwrap()
    }

    #[test]
    fn default_device_keys() {
        let d = dev();
        assert_eq!((d.levels, d.cell_bits, d.dac_bits, d.adc_bits), (2, 1, 1, 8));
        assert_eq!((d.cycles(), d.slices(), d.xbar_rows, d.dac_num), (8, 8, 128, 256));
        assert_eq!(d.saf_pct, [1.0, 1.0]);
        assert_eq!(d.variation_pct, 1.0);
    }

    #[test]
    fn rng_is_a_pure_function_of_its_fields() {
        assert_eq!(key(1, 2, &[3, 4]), key(1, 2, &[3, 4]));
        assert_ne!(key(1, 2, &[3, 4]), key(1, 3, &[3, 4]));
        assert_ne!(key(1, 2, &[3, 4]), key(1, 2, &[4, 3]));
        let u: Vec<f64> = (0..10_000).map(|i| uniform(splitmix(i))).collect();
        let mean = u.iter().sum::<f64>() / u.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }
}
