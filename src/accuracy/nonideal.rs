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
    let mut g = vec![0f64; digits.len()];
    let count = program_array_f64(dev, opts, trial, id, digits, &mut g);
    for (o, &v) in out.iter_mut().zip(&g) {
        *o = v as f32;
    }
    count
}

/// [`program_array`] at full precision (the bit-plane kernel keeps each array's few distinct
/// values in f64).
pub fn program_array_f64(
    dev: &Device,
    opts: &Options,
    trial: u64,
    id: ArrayId,
    digits: &[i32],
    out: &mut [f64],
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
        *o = g;
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
        let splits = self.splits(dev);
        let npol = if dev.polarity == 2 { 2 } else { 1 };
        let mut w_eff = vec![0f32; self.rows * p * cols];
        let mut stuck = StuckCount::default();
        // Per-cell variation gives every cell its own value: only the float kernel applies.
        let per_cell = dev.nvm && opts.variation && opts.variation_per_cell && dev.variation_pct > 0.0;
        let mut arrays: Vec<ArrayStates> = Vec::new();
        // Depthwise patches fit one word (k² ≤ 64 taps).
        let mut planes_ok = !per_cell && (matches!(self.kind, Kind::Dense) || self.rows <= 64);
        for split in 0..splits {
            let (r0, r1) = (split * sr, ((split + 1) * sr).min(self.rows));
            for j in 0..p {
                let (a, b) = self.slice_digits(dev, j as u32, r0, r1);
                let id = |pol| ArrayId {
                    layer,
                    split: split as u64,
                    slice: j as u64,
                    polarity: pol,
                };
                let mut ga = vec![0f64; a.len()];
                let s = program_array_f64(dev, opts, trial, id(0), &a, &mut ga);
                stuck.cells += s.cells;
                stuck.sa0 += s.sa0;
                stuck.sa1 += s.sa1;
                let mut wa: Vec<f32> = ga.iter().map(|&v| v as f32).collect();
                if planes_ok {
                    match ArrayStates::of(&ga) {
                        Some(st) => arrays.push(st),
                        None => planes_ok = false,
                    }
                }
                if !b.is_empty() {
                    let mut gb = vec![0f64; b.len()];
                    let s = program_array_f64(dev, opts, trial, id(1), &b, &mut gb);
                    stuck.cells += s.cells;
                    stuck.sa0 += s.sa0;
                    stuck.sa1 += s.sa1;
                    for (x, &y) in wa.iter_mut().zip(&gb) {
                        *x -= y as f32;
                    }
                    if planes_ok {
                        match ArrayStates::of(&gb) {
                            Some(st) => arrays.push(st),
                            None => planes_ok = false,
                        }
                    }
                }
                for (ri, row) in wa.chunks_exact(cols).enumerate() {
                    let dst = &mut w_eff[((r0 + ri) * p + j) * cols..][..cols];
                    dst.copy_from_slice(row);
                }
            }
        }
        let planes = if planes_ok {
            Some(Planes::build(&arrays, splits, p, npol, sr, cols))
        } else {
            None
        };
        Programmed { w_eff, stuck, planes }
    }

    /// The 9-bit quantized layer: exact integer sums Σ aq·wq per output, in input-step ×
    /// weight-step units.
    pub fn quantized(&self, aq: &[i16], npix: usize) -> Vec<f64> {
        let cols = self.cols;
        match self.kind {
            Kind::Dense => {
                let rows = self.rows;
                let mut out = vec![0f64; npix * cols];
                // |a·w| ≤ 255², so i32 sums are exact up to 33,000 rows.
                let narrow = rows < 33_000;
                out.par_chunks_mut(cols).enumerate().for_each_init(
                    || (vec![0i32; cols], vec![0i64; cols]),
                    |(a32, a64), (pix, o)| {
                        let x = &aq[pix * rows..(pix + 1) * rows];
                        if narrow {
                            dense_i32_dispatch(x, &self.wq, a32, o);
                        } else {
                            a64.iter_mut().for_each(|v| *v = 0);
                            for (r, &a) in x.iter().enumerate() {
                                if a == 0 {
                                    continue;
                                }
                                let a = a as i64;
                                for (y, &w) in a64.iter_mut().zip(&self.wq[r * cols..(r + 1) * cols]) {
                                    *y += a * w as i64;
                                }
                            }
                            for (o, &a) in o.iter_mut().zip(a64.iter()) {
                                *o = a as f64;
                            }
                        }
                    },
                );
                out
            }
            Kind::Depthwise { k, stride, h, w } => {
                let n = npix / (h * w);
                let (ho, wo) = out_hw(h, w, k, stride);
                let mut out = vec![0f64; n * ho * wo * cols];
                let geo = [h, w, ho, wo, k, stride];
                // At most 49 taps of 255²: i32 is exact.
                out.par_chunks_mut(cols).enumerate().for_each_init(
                    || vec![0i32; cols],
                    |acc, (opix, o)| dw_i32_dispatch(aq, &self.wq, geo, opix, acc, o),
                );
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
        if let (Kind::Dense, Some(pl)) = (self.kind, &prog.planes) {
            let k = PlaneCtx {
                pl,
                aq,
                rows: self.rows,
                cols,
                sr: self.split_rows(dev),
                splits: self.splits(dev),
                c,
                p,
                bd: bd as usize,
                inv_lsb: adc.inv_lsb,
                max_code: adc.max_code,
                cyc_w: &cyc_w,
                slice_w: &slice_w,
            };
            let mut out = vec![0f64; npix * cols];
            out.par_chunks_mut(cols)
                .enumerate()
                .with_min_len(4)
                .for_each_init(
                    || PlaneScratch {
                        x: vec![0u64; 2 * 8 * pl.words],
                        pbuf: [0.0; PLANE_TILE],
                        sbuf: [0; PLANE_TILE],
                    },
                    |scr, (pix, o)| planes_pixel_dispatch(&k, scr, pix, o),
                );
            out.iter_mut().for_each(|v| *v *= adc.lsb);
            return out;
        }
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
                if let Some(pl) = &prog.planes {
                    let ctx = PlaneCtx {
                        pl,
                        aq,
                        rows: self.rows,
                        cols,
                        sr: self.rows,
                        splits: 1,
                        c,
                        p,
                        bd: bd as usize,
                        inv_lsb: adc.inv_lsb,
                        max_code: adc.max_code,
                        cyc_w: &cyc_w,
                        slice_w: &slice_w,
                    };
                    let geo = [h, w, ho, wo, k, stride];
                    let mut out = vec![0f64; n * ho * wo * cols];
                    out.par_chunks_mut(cols)
                        .enumerate()
                        .with_min_len(4)
                        .for_each_init(
                            || DwScratch {
                                x: vec![0u64; 2 * 8 * PLANE_TILE],
                                sum: vec![0i32; 8 * PLANE_TILE],
                                ai: [0; PLANE_TILE],
                                pbuf: [0.0; PLANE_TILE],
                                sbuf: [0; PLANE_TILE],
                            },
                            |scr, (opix, o)| dw_planes_dispatch(&ctx, geo, scr, opix, o),
                        );
                    out.iter_mut().for_each(|v| *v *= adc.lsb);
                    return out;
                }
                let ctx = DwCtx {
                    w_eff: &prog.w_eff,
                    aq,
                    cols,
                    c,
                    p,
                    bd,
                    k,
                    stride,
                    h,
                    w,
                    ho,
                    wo,
                    inv_lsb: adc.inv_lsb,
                    max_code: adc.max_code,
                    lsb: adc.lsb,
                    cyc_w: &cyc_w,
                    slice_w: &slice_w,
                };
                let mut out = vec![0f64; n * ho * wo * cols];
                out.par_chunks_mut(cols)
                    .enumerate()
                    .with_min_len(4)
                    .for_each_init(
                        || (vec![0f32; c * p * DW_TILE], [0f32; DW_TILE]),
                        |(ps, digits), (opix, o)| dw_pixel_dispatch(&ctx, ps, digits, opix, o),
                    );
                out
            }
        }
    }
}

struct DwScratch {
    /// Per channel of the tile, the patch's magnitude bits as tap masks: [sign][t][channel].
    x: Vec<u64>,
    /// Σ digits per [t][channel].
    sum: Vec<i32>,
    ai: [i64; PLANE_TILE],
    pbuf: [f64; PLANE_TILE],
    sbuf: [i32; PLANE_TILE],
}

fn dw_planes_dispatch(k: &PlaneCtx, geo: [usize; 6], scr: &mut DwScratch, opix: usize, o: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has the features (checked above).
        unsafe { dw_planes_avx2(k, geo, scr, opix, o) };
        return;
    }
    dw_planes(k, geo, scr, opix, o)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,popcnt")]
fn dw_planes_avx2(k: &PlaneCtx, geo: [usize; 6], scr: &mut DwScratch, opix: usize, o: &mut [f64]) {
    dw_planes(k, geo, scr, opix, o)
}

/// One output pixel of a depthwise layer on bit planes: each channel's k×k patch as tap
/// masks per magnitude bit, counted against the channel's cell planes (the arrays span all
/// channels, so base and coefficients are shared and the ADC step vectorises over channels).
#[inline(always)]
fn dw_planes(k: &PlaneCtx, geo: [usize; 6], scr: &mut DwScratch, opix: usize, o: &mut [f64]) {
    let pl = k.pl;
    let [h, w, ho, wo, ks, stride] = geo;
    let (nq, npol, cols) = (pl.nq, pl.npol, k.cols);
    let tiles = cols.div_ceil(PLANE_TILE);
    const T: usize = PLANE_TILE;
    for tile in 0..tiles {
        let c0 = tile * T;
        let tw = T.min(cols - c0);
        scr.x.iter_mut().for_each(|v| *v = 0);
        let (xp, xn) = scr.x.split_at_mut(8 * T);
        for_taps(opix, h, w, ho, wo, ks, stride, |tap, ipix| {
            let bit = 1u64 << tap;
            for (c, &a) in k.aq[ipix * cols + c0..ipix * cols + c0 + tw].iter().enumerate() {
                if a == 0 {
                    continue;
                }
                let (x, mut m) = if a > 0 {
                    (&mut *xp, a as u32)
                } else {
                    (&mut *xn, (a as i32).unsigned_abs())
                };
                while m != 0 {
                    let t = m.trailing_zeros() as usize;
                    x[t * T + c] |= bit;
                    m &= m - 1;
                }
            }
        });
        let mut tmask = 0u32;
        let mut any_neg = false;
        for t in 0..8 {
            let (p, n) = (&xp[t * T..t * T + tw], &xn[t * T..t * T + tw]);
            let sum = &mut scr.sum[t * T..t * T + tw];
            let mut any = 0u64;
            for ((s, &a), &b) in sum.iter_mut().zip(p).zip(n) {
                *s = a.count_ones() as i32 - b.count_ones() as i32;
                any |= a | b;
            }
            any_neg |= n.iter().any(|&v| v != 0);
            if any != 0 {
                tmask |= 1 << t;
            }
        }
        let acc = &mut o[c0..c0 + tw];
        for i in 0..k.c {
            let (t_lo, t_hi) = (i * k.bd, ((i + 1) * k.bd).min(8));
            if t_lo >= 8 || (tmask >> t_lo) & ((1u32 << (t_hi - t_lo)) - 1) == 0 {
                continue;
            }
            let ai = &mut scr.ai[..tw];
            ai.iter_mut().for_each(|v| *v = 0);
            for t in t_lo..t_hi {
                for (v, &s) in ai.iter_mut().zip(&scr.sum[t * T..t * T + tw]) {
                    *v += (s as i64) << (t - t_lo);
                }
            }
            for j in 0..k.p {
                let arr0 = j * npol;
                let pbuf = &mut scr.pbuf[..tw];
                pbuf.iter_mut().for_each(|v| *v = 0.0);
                for pol in 0..npol {
                    let b = pl.base[arr0 + pol];
                    for (v, &a) in pbuf.iter_mut().zip(ai.iter()) {
                        *v += b * a as f64;
                    }
                }
                for pi in arr0 * nq..(arr0 + npol) * nq {
                    if !pl.nonzero[pi * tiles + tile] {
                        continue;
                    }
                    let bw = &pl.bits[pi * cols + c0..][..tw];
                    let sbuf = &mut scr.sbuf[..tw];
                    sbuf.iter_mut().for_each(|v| *v = 0);
                    for t in t_lo..t_hi {
                        let sh = (t - t_lo) as u32;
                        for ((s, &b), &x) in sbuf.iter_mut().zip(bw).zip(&xp[t * T..t * T + tw]) {
                            *s += ((x & b).count_ones() as i32) << sh;
                        }
                        if any_neg {
                            for ((s, &b), &x) in sbuf.iter_mut().zip(bw).zip(&xn[t * T..t * T + tw]) {
                                *s -= ((x & b).count_ones() as i32) << sh;
                            }
                        }
                    }
                    let cf = pl.coef[pi];
                    for (v, &s) in pbuf.iter_mut().zip(sbuf.iter()) {
                        *v += cf * s as f64;
                    }
                }
                let f = k.cyc_w[i] * k.slice_w[j];
                for (a, &v) in acc.iter_mut().zip(pbuf.iter()) {
                    let code = round_clamp(v * k.inv_lsb, k.max_code);
                    *a += code * f;
                }
            }
        }
    }
}

/// Channels per tile of the depthwise kernel (its partial sums, cycles × slices × tile f32,
/// stay in L1).
const DW_TILE: usize = 64;

struct DwCtx<'a> {
    w_eff: &'a [f32],
    aq: &'a [i16],
    cols: usize,
    c: usize,
    p: usize,
    bd: u32,
    k: usize,
    stride: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    inv_lsb: f64,
    max_code: f64,
    lsb: f64,
    cyc_w: &'a [f64],
    slice_w: &'a [f64],
}

fn dw_pixel_dispatch(k: &DwCtx, ps: &mut [f32], digits: &mut [f32; DW_TILE], opix: usize, o: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has the features (checked above).
        unsafe { dw_pixel_avx2(k, ps, digits, opix, o) };
        return;
    }
    dw_pixel(k, ps, digits, opix, o)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,popcnt")]
fn dw_pixel_avx2(k: &DwCtx, ps: &mut [f32], digits: &mut [f32; DW_TILE], opix: usize, o: &mut [f64]) {
    dw_pixel(k, ps, digits, opix, o)
}

/// One output pixel of a depthwise layer (each column sees its own channel's k×k patch), in
/// tiles of channels: every (input cycle, weight slice) partial sum in f32, then the ADC.
#[inline(always)]
fn dw_pixel(k: &DwCtx, ps: &mut [f32], digits: &mut [f32; DW_TILE], opix: usize, o: &mut [f64]) {
    let (c, p, cols) = (k.c, k.p, k.cols);
    let dmask = (1i32 << k.bd) - 1;
    let pc = p * cols;
    for t0 in (0..cols).step_by(DW_TILE) {
        let tw = DW_TILE.min(cols - t0);
        ps.iter_mut().for_each(|v| *v = 0.0);
        for_taps(opix, k.h, k.w, k.ho, k.wo, k.k, k.stride, |tap, ipix| {
            let inp = &k.aq[ipix * cols + t0..ipix * cols + t0 + tw];
            let wrow = &k.w_eff[tap * pc..(tap + 1) * pc];
            for i in 0..c {
                let mut any = false;
                for (d, &a) in digits[..tw].iter_mut().zip(inp) {
                    let a = a as i32;
                    let v = ((a.abs() >> (i as u32 * k.bd)) & dmask) * a.signum();
                    *d = v as f32;
                    any |= v != 0;
                }
                if !any {
                    continue;
                }
                for j in 0..p {
                    let dst = &mut ps[(i * p + j) * DW_TILE..][..tw];
                    let wj = &wrow[j * cols + t0..j * cols + t0 + tw];
                    for ((y, &wv), &d) in dst.iter_mut().zip(wj).zip(digits[..tw].iter()) {
                        *y += d * wv;
                    }
                }
            }
        });
        let acc = &mut o[t0..t0 + tw];
        for i in 0..c {
            for j in 0..p {
                let f = k.cyc_w[i] * k.slice_w[j];
                let src = &ps[(i * p + j) * DW_TILE..][..tw];
                for (a, &v) in acc.iter_mut().zip(src) {
                    let code = round_clamp(v as f64 * k.inv_lsb, k.max_code);
                    *a += code * f;
                }
            }
        }
        acc.iter_mut().for_each(|v| *v *= k.lsb);
    }
}

/// One output row of the quantized dense layer: Σ_r x_r · W[r, ·] in i32.
fn dense_i32_dispatch(x: &[i16], wq: &[i32], acc: &mut [i32], o: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has the features (checked above).
        unsafe { dense_i32_avx2(x, wq, acc, o) };
        return;
    }
    dense_i32(x, wq, acc, o)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,popcnt")]
fn dense_i32_avx2(x: &[i16], wq: &[i32], acc: &mut [i32], o: &mut [f64]) {
    dense_i32(x, wq, acc, o)
}

#[inline(always)]
fn dense_i32(x: &[i16], wq: &[i32], acc: &mut [i32], o: &mut [f64]) {
    let cols = acc.len();
    acc.iter_mut().for_each(|v| *v = 0);
    for (r, &a) in x.iter().enumerate() {
        if a == 0 {
            continue;
        }
        let a = a as i32;
        for (y, &w) in acc.iter_mut().zip(&wq[r * cols..(r + 1) * cols]) {
            *y += a * w;
        }
    }
    for (o, &a) in o.iter_mut().zip(acc.iter()) {
        *o = a as f64;
    }
}

/// One output pixel of the quantized depthwise layer; `geo` = [h, w, ho, wo, k, stride].
fn dw_i32_dispatch(aq: &[i16], wq: &[i32], geo: [usize; 6], opix: usize, acc: &mut [i32], o: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has the features (checked above).
        unsafe { dw_i32_avx2(aq, wq, geo, opix, acc, o) };
        return;
    }
    dw_i32(aq, wq, geo, opix, acc, o)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,popcnt")]
fn dw_i32_avx2(aq: &[i16], wq: &[i32], geo: [usize; 6], opix: usize, acc: &mut [i32], o: &mut [f64]) {
    dw_i32(aq, wq, geo, opix, acc, o)
}

#[inline(always)]
fn dw_i32(aq: &[i16], wq: &[i32], geo: [usize; 6], opix: usize, acc: &mut [i32], o: &mut [f64]) {
    let cols = acc.len();
    let [h, w, ho, wo, k, stride] = geo;
    acc.iter_mut().for_each(|v| *v = 0);
    for_taps(opix, h, w, ho, wo, k, stride, |tap, ipix| {
        let inp = &aq[ipix * cols..(ipix + 1) * cols];
        let wt = &wq[tap * cols..(tap + 1) * cols];
        for ((y, &a), &wv) in acc.iter_mut().zip(inp).zip(wt) {
            *y += a as i32 * wv;
        }
    });
    for (o, &a) in o.iter_mut().zip(acc.iter()) {
        *o = a as f64;
    }
}

/// What the bit-plane kernel needs for one layer and one chip.
struct PlaneCtx<'a> {
    pl: &'a Planes,
    aq: &'a [i16],
    rows: usize,
    cols: usize,
    sr: usize,
    splits: usize,
    c: usize,
    p: usize,
    bd: usize,
    inv_lsb: f64,
    max_code: f64,
    cyc_w: &'a [f64],
    slice_w: &'a [f64],
}

struct PlaneScratch {
    /// Input bit planes of one split: [sign: + / −][magnitude bit t][word].
    x: Vec<u64>,
    pbuf: [f64; PLANE_TILE],
    sbuf: [i32; PLANE_TILE],
}

/// Whether the CPU runs the AVX2 builds of the kernels. They give the same bits as the
/// portable build: no fast-math (no reassociation, no contraction into FMA), only wider vectors
/// and the popcnt instruction.
#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("popcnt")
}

fn planes_pixel_dispatch(k: &PlaneCtx, scr: &mut PlaneScratch, pix: usize, acc: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has the features (checked above).
        unsafe { planes_pixel_avx2(k, scr, pix, acc) };
        return;
    }
    planes_pixel(k, scr, pix, acc)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,popcnt")]
fn planes_pixel_avx2(k: &PlaneCtx, scr: &mut PlaneScratch, pix: usize, acc: &mut [f64]) {
    planes_pixel(k, scr, pix, acc)
}

/// One output pixel of a dense layer on bit planes: per split, the input's magnitude bits as
/// row bit masks (positive and negative inputs apart); per (input cycle, weight slice) and
/// column, the partial sum `Σ_pol base·Σ digits + Σ_q coef_q · Σ_t 2^t popcount(x_t & plane_q)`
/// through the ADC. Cycles whose input bits are all zero give a zero partial sum (code 0) and
/// are skipped.
#[inline(always)]
fn planes_pixel(k: &PlaneCtx, scr: &mut PlaneScratch, pix: usize, acc: &mut [f64]) {
    let pl = k.pl;
    let (wn, nq, npol, cols) = (pl.words, pl.nq, pl.npol, k.cols);
    let tiles = cols.div_ceil(PLANE_TILE);
    for split in 0..k.splits {
        let (r0, r1) = (split * k.sr, ((split + 1) * k.sr).min(k.rows));
        scr.x.iter_mut().for_each(|v| *v = 0);
        let (xp, xn) = scr.x.split_at_mut(8 * wn);
        for (ri, &a) in k.aq[pix * k.rows + r0..pix * k.rows + r1].iter().enumerate() {
            if a == 0 {
                continue;
            }
            let (x, mut m) = if a > 0 {
                (&mut *xp, a as u32)
            } else {
                (&mut *xn, (a as i32).unsigned_abs())
            };
            let (wi, bit) = (ri / 64, 1u64 << (ri % 64));
            while m != 0 {
                let t = m.trailing_zeros() as usize;
                x[t * wn + wi] |= bit;
                m &= m - 1;
            }
        }
        // Σ digits per magnitude bit, and which bits occur at all.
        let mut sum_t = [0i64; 8];
        let mut tmask = 0u32;
        for t in 0..8 {
            let (p, n) = (&xp[t * wn..(t + 1) * wn], &xn[t * wn..(t + 1) * wn]);
            let cp: u32 = p.iter().map(|w| w.count_ones()).sum();
            let cn: u32 = n.iter().map(|w| w.count_ones()).sum();
            sum_t[t] = cp as i64 - cn as i64;
            if cp + cn > 0 {
                tmask |= 1 << t;
            }
        }
        for i in 0..k.c {
            let (t_lo, t_hi) = (i * k.bd, ((i + 1) * k.bd).min(8));
            if t_lo >= 8 || (tmask >> t_lo) & ((1u32 << (t_hi - t_lo)) - 1) == 0 {
                continue;
            }
            let a_i: i64 = (t_lo..t_hi).map(|t| sum_t[t] << (t - t_lo)).sum();
            // The common case (one plane per array, one magnitude bit per cycle: 1-bit DAC,
            // two-level cells) in one pass per (cycle, slice): same operations in the same
            // order as the general loop below, without its intermediate buffers.
            if nq == 1 && t_hi - t_lo == 1 && wn <= 2 {
                let t = t_lo;
                let xw = [&xp[t * wn..(t + 1) * wn], &xn[t * wn..(t + 1) * wn]];
                let neg = xw[1].iter().any(|&v| v != 0);
                for j in 0..k.p {
                    let arr0 = (split * k.p + j) * npol;
                    let mut k0 = 0.0;
                    for pol in 0..npol {
                        k0 += pl.base[arr0 + pol] * a_i as f64;
                    }
                    let f = k.cyc_w[i] * k.slice_w[j];
                    match (wn, npol, neg) {
                        (1, 2, false) => fused::<1, 2, false>(k, &xw, arr0, k0, f, acc),
                        (2, 2, false) => fused::<2, 2, false>(k, &xw, arr0, k0, f, acc),
                        (1, 1, false) => fused::<1, 1, false>(k, &xw, arr0, k0, f, acc),
                        (2, 1, false) => fused::<2, 1, false>(k, &xw, arr0, k0, f, acc),
                        (1, 2, true) => fused::<1, 2, true>(k, &xw, arr0, k0, f, acc),
                        (2, 2, true) => fused::<2, 2, true>(k, &xw, arr0, k0, f, acc),
                        (1, 1, true) => fused::<1, 1, true>(k, &xw, arr0, k0, f, acc),
                        _ => fused::<2, 1, true>(k, &xw, arr0, k0, f, acc),
                    }
                }
                continue;
            }
            for tile in 0..tiles {
                let c0 = tile * PLANE_TILE;
                let tw = PLANE_TILE.min(cols - c0);
                for j in 0..k.p {
                    let arr0 = (split * k.p + j) * npol;
                    let mut k0 = 0.0;
                    for pol in 0..npol {
                        k0 += pl.base[arr0 + pol] * a_i as f64;
                    }
                    let pbuf = &mut scr.pbuf[..tw];
                    pbuf.iter_mut().for_each(|v| *v = k0);
                    for pi in arr0 * nq..(arr0 + npol) * nq {
                        if !pl.nonzero[pi * tiles + tile] {
                            continue;
                        }
                        let sbuf = &mut scr.sbuf[..tw];
                        sbuf.iter_mut().for_each(|v| *v = 0);
                        for t in t_lo..t_hi {
                            let sh = (t - t_lo) as u32;
                            for w in 0..wn {
                                let bw = &pl.bits[(pi * wn + w) * cols + c0..][..tw];
                                let xw = xp[t * wn + w];
                                if xw != 0 {
                                    for (s, &b) in sbuf.iter_mut().zip(bw) {
                                        *s += ((xw & b).count_ones() as i32) << sh;
                                    }
                                }
                                let xw = xn[t * wn + w];
                                if xw != 0 {
                                    for (s, &b) in sbuf.iter_mut().zip(bw) {
                                        *s -= ((xw & b).count_ones() as i32) << sh;
                                    }
                                }
                            }
                        }
                        let cf = pl.coef[pi];
                        for (v, &s) in pbuf.iter_mut().zip(sbuf.iter()) {
                            *v += cf * s as f64;
                        }
                    }
                    let f = k.cyc_w[i] * k.slice_w[j];
                    for (a, &v) in acc[c0..c0 + tw].iter_mut().zip(pbuf.iter()) {
                        let code = round_clamp(v * k.inv_lsb, k.max_code);
                        *a += code * f;
                    }
                }
            }
        }
    }
}

/// One (cycle, slice) of a dense layer over all columns with one plane per array: the partial
/// sum `k0 + Σ_pol coef·(popcount(x⁺ & plane) − popcount(x⁻ & plane))`, then the ADC. Planes
/// that are empty contribute `coef·0`, which leaves the sum as the general loop (which skips
/// them) has it.
#[inline(always)]
fn fused<const W: usize, const NPOL: usize, const NEG: bool>(
    k: &PlaneCtx,
    xw: &[&[u64]; 2],
    arr0: usize,
    k0: f64,
    f: f64,
    acc: &mut [f64],
) {
    let pl = k.pl;
    let cols = k.cols;
    let mut xp = [0u64; W];
    let mut xn = [0u64; W];
    xp.copy_from_slice(&xw[0][..W]);
    xn.copy_from_slice(&xw[1][..W]);
    let mut cf = [0f64; NPOL];
    let mut planes: [&[u64]; NPOL] = [&[]; NPOL];
    for pol in 0..NPOL {
        cf[pol] = pl.coef[arr0 + pol];
        planes[pol] = &pl.bits[(arr0 + pol) * W * cols..(arr0 + pol + 1) * W * cols];
    }
    for (c, a) in acc.iter_mut().enumerate() {
        let mut v = k0;
        for pol in 0..NPOL {
            let mut s = 0i32;
            for w in 0..W {
                let b = planes[pol][w * cols + c];
                s += (xp[w] & b).count_ones() as i32;
                if NEG {
                    s -= (xn[w] & b).count_ones() as i32;
                }
            }
            v += cf[pol] * s as f64;
        }
        let code = round_clamp(v * k.inv_lsb, k.max_code);
        *a += code * f;
    }
}

/// Output size of a `k×k` convolution with padding k/2.
pub fn out_hw(h: usize, w: usize, k: usize, stride: usize) -> (usize, usize) {
    let p = k / 2;
    ((h + 2 * p - k) / stride + 1, (w + 2 * p - k) / stride + 1)
}

/// Calls `f(tap, input pixel)` for the in-bounds taps of output pixel `opix` (image-major).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
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
    /// The same chip as bit planes (dense layers whose arrays hold few distinct values: every
    /// case but per-cell variation); [`Layer::crossbar`] then counts instead of multiplying.
    pub planes: Option<Planes>,
}

/// Most distinct cell values one array may hold for the bit-plane kernel (L levels plus the
/// two ideal stuck values of `--mnsim-compat`, for L up to 16 and a little room).
const MAX_STATES: usize = 20;

/// One programmed array as its distinct values and each cell's index into them.
struct ArrayStates {
    values: Vec<f64>,
    state: Vec<u8>,
}

impl ArrayStates {
    /// None when the array holds more than [`MAX_STATES`] distinct values.
    fn of(g: &[f64]) -> Option<ArrayStates> {
        let mut values: Vec<f64> = Vec::new();
        let mut state = Vec::with_capacity(g.len());
        for &v in g {
            let i = match values.iter().position(|x| x.to_bits() == v.to_bits()) {
                Some(i) => i,
                None => {
                    if values.len() == MAX_STATES {
                        return None;
                    }
                    values.push(v);
                    values.len() - 1
                }
            };
            state.push(i as u8);
        }
        Some(ArrayStates { values, state })
    }
}

/// Columns per tile of the bit-plane kernel (a tile's planes stay in L1 across input cycles).
const PLANE_TILE: usize = 64;

/// A dense layer's chip as bit planes. Within one array (split, slice, polarity) a cell's
/// conductance is `base + Σ_q coef_q · [cell in plane q]` (plane q: the cells at the array's
/// q-th value other than its most common one, which is `base`), so a column's analog partial
/// sum for one input bit-plane is `base·Σ inputs + Σ_q coef_q · popcount(inputs & plane_q)`:
/// integer counts times the array's few values, exact in f64 where the values are integers.
#[derive(Clone, Debug)]
pub struct Planes {
    /// u64 words per column of one split (⌈split rows / 64⌉).
    words: usize,
    /// Planes per array (the most any array of the layer needs; unused ones are empty).
    nq: usize,
    npol: usize,
    /// [split][slice][pol] base value, signed (the negative crossbar subtracts).
    base: Vec<f64>,
    /// [split][slice][pol][q] coefficient, signed.
    coef: Vec<f64>,
    /// [split][slice][pol][q][word][col] cell bits.
    bits: Vec<u64>,
    /// [split][slice][pol][q][tile]: the plane has a cell in this column tile.
    nonzero: Vec<bool>,
}

impl Planes {
    fn build(arrays: &[ArrayStates], splits: usize, p: usize, npol: usize, sr: usize, cols: usize) -> Planes {
        let words = sr.div_ceil(64);
        let nq = arrays.iter().map(|a| a.values.len() - 1).max().unwrap_or(0);
        let tiles = cols.div_ceil(PLANE_TILE);
        let narr = splits * p * npol;
        debug_assert_eq!(arrays.len(), narr);
        let mut base = vec![0f64; narr];
        let mut coef = vec![0f64; narr * nq];
        let mut bits = vec![0u64; narr * nq * words * cols];
        let mut nonzero = vec![false; narr * nq * tiles];
        for (ai, arr) in arrays.iter().enumerate() {
            let sign = if ai % npol == 1 { -1.0 } else { 1.0 };
            // The most common value is the base (its cells need no plane); ties: first value.
            let mut count = vec![0usize; arr.values.len()];
            for &s in &arr.state {
                count[s as usize] += 1;
            }
            let b = (0..count.len()).fold(0, |b, i| if count[i] > count[b] { i } else { b });
            base[ai] = sign * arr.values[b];
            // Plane q ↔ value index (skipping the base).
            let mut plane_of = vec![usize::MAX; arr.values.len()];
            let mut q = 0;
            for (vi, &v) in arr.values.iter().enumerate() {
                if vi != b {
                    plane_of[vi] = q;
                    coef[ai * nq + q] = sign * (v - arr.values[b]);
                    q += 1;
                }
            }
            for (cell, &s) in arr.state.iter().enumerate() {
                let q = plane_of[s as usize];
                if q == usize::MAX {
                    continue;
                }
                let (r, c) = (cell / cols, cell % cols);
                bits[((ai * nq + q) * words + r / 64) * cols + c] |= 1u64 << (r % 64);
                nonzero[(ai * nq + q) * tiles + c / PLANE_TILE] = true;
            }
        }
        Planes {
            words,
            nq,
            npol,
            base,
            coef,
            bits,
            nonzero,
        }
    }
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
