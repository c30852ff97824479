//! Conformance of the RRAM non-ideal accuracy model (NONIDEAL.md §11.7) on single layers and
//! a small classifier; plain Rust, default build.

use rnc::accuracy::nonideal::{
    AdcMode, ArrayId, Device, Kind, Layer, Options, TrialStats, program_array, quantize_inputs,
    quantize_outputs,
};
use rnc::hardware::{DEFAULT_SIMCONFIG, DEFAULT_SOURCE, HwConfig};

/// A small deterministic generator for test data.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn sym(&mut self) -> f32 {
        (self.next() * 2.0 - 1.0) as f32
    }
}

fn device() -> Device {
    Device::from_hw(&HwConfig::embedded_default()).unwrap()
}

/// The ideal limit: no faults, no variation, no on/off ratio and a 40-bit ADC.
fn ideal_device(cell_bits: u32, dac_bits: u32, polarity: u32) -> Device {
    let levels = 1usize << cell_bits;
    Device {
        levels,
        resistance: (0..levels).map(|k| 1e6 / (k as f64 + 0.01)).collect(),
        cell_bits,
        dac_bits,
        adc_bits: 40,
        xbar_rows: 64,
        dac_num: 16,
        polarity,
        variation_pct: 0.0,
        saf_pct: [0.0, 0.0],
        nvm: true,
    }
}

fn random_layer(rng: &mut Lcg, rows: usize, cols: usize, kind: Kind) -> Layer {
    let w: Vec<f32> = (0..rows * cols).map(|_| rng.sym() * rng.sym()).collect();
    Layer::new(&w, rows, cols, kind)
}

/// Inputs like post-activation data: a third exactly zero, some negative.
fn random_inputs(rng: &mut Lcg, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u = rng.next();
            if u < 0.33 { 0.0 } else { rng.sym() * 2.0 + 0.5 }
        })
        .collect()
}

/// Quantized outputs of both paths for one layer.
fn both(
    layer: &Layer,
    dev: &Device,
    opts: &Options,
    x: &[f32],
    npix: usize,
    mode: AdcMode,
) -> (Vec<f32>, Vec<f32>) {
    let s_a = rnc::accuracy::nonideal::range_stat(x) / 255.0;
    let aq = quantize_inputs(x, s_a);
    let q = layer.quantized(&aq, npix);
    let unit = layer.s_w * s_a;
    let y: Vec<f32> = q.iter().map(|&a| (a * unit) as f32).collect();
    let s_out = rnc::accuracy::nonideal::range_stat(&y);
    let prog = layer.program(dev, opts, 0, 0);
    let c = layer.crossbar(&prog, dev, mode, &aq, npix, s_a, s_out);
    (
        quantize_outputs(&q, layer.s_w, s_a, s_out),
        quantize_outputs(&c, layer.s_w, s_a, s_out),
    )
}

#[test]
fn ideal_limit_equals_the_9_bit_quantized_layer_bit_for_bit() {
    let mut rng = Lcg(7);
    // SCALE's full scale does not grow with the ADC bits (only the step shrinks); on a signed
    // crossbar with multi-bit cells MNSIM's K counts an always-empty top slice, which makes
    // partial sums clip, so that case is checked in FIX mode only.
    for (bc, bd, pol) in [(1, 1, 2), (2, 1, 2), (1, 2, 1), (4, 4, 2), (2, 8, 1)] {
        let dev = ideal_device(bc, bd, pol);
        let modes: &[AdcMode] = if pol == 1 && bc > 1 {
            &[AdcMode::Fix]
        } else {
            &[AdcMode::Scale, AdcMode::Fix]
        };
        for &mode in modes {
            // Dense with three row splits (150 rows on 64-row crossbars).
            let l = random_layer(&mut rng, 150, 20, Kind::Dense);
            let x = random_inputs(&mut rng, 30 * 150);
            let (q, c) = both(&l, &dev, &Options::ideal_cells(), &x, 30, mode);
            assert!(q.iter().any(|&v| v != 0.0));
            assert_eq!(q, c, "dense b_c={bc} b_d={bd} pol={pol} {mode:?}");
            // Depthwise 5x5 stride 2 on two 6x6 maps of 12 channels.
            let kind = Kind::Depthwise {
                k: 5,
                stride: 2,
                h: 6,
                w: 6,
            };
            let l = random_layer(&mut rng, 25, 12, kind);
            let x = random_inputs(&mut rng, 2 * 36 * 12);
            let (q, c) = both(&l, &dev, &Options::ideal_cells(), &x, 72, mode);
            assert_eq!(q.len(), 2 * 9 * 12);
            assert_eq!(q, c, "depthwise b_c={bc} b_d={bd} pol={pol} {mode:?}");
        }
    }
}

#[test]
fn a_narrow_adc_changes_outputs() {
    // The ideal-limit test must be able to fail: at the default 8-bit ADC outputs move.
    let mut rng = Lcg(8);
    let mut dev = ideal_device(1, 1, 2);
    dev.adc_bits = 4;
    let l = random_layer(&mut rng, 150, 20, Kind::Dense);
    let x = random_inputs(&mut rng, 30 * 150);
    let (q, c) = both(&l, &dev, &Options::ideal_cells(), &x, 30, AdcMode::Scale);
    assert_ne!(q, c);
}

#[test]
fn saf_100_0_zeroes_every_weight() {
    let mut rng = Lcg(9);
    let l = random_layer(&mut rng, 100, 16, Kind::Dense);
    let mut dev = device();
    dev.saf_pct = [100.0, 0.0];
    // Stuck at HRS on both crossbars: g_HRS − g_HRS (on/off ratio on, variation off), or
    // MNSIM's ideal 0 (with variation on).
    let physical = Options {
        variation: false,
        ..Options::default()
    };
    let mnsim = Options {
        mnsim_stuck_values: true,
        ..Options::default()
    };
    for opts in [physical, mnsim] {
        let p = l.program(&dev, &opts, 3, 0);
        assert!(p.w_eff.iter().all(|&g| g == 0.0), "{opts:?}");
        assert_eq!(p.stuck.sa0, p.stuck.cells);
        let x = random_inputs(&mut rng, 10 * 100);
        let aq = quantize_inputs(&x, 0.01);
        let y = l.crossbar(&p, &dev, AdcMode::Scale, &aq, 10, 0.01, 1.0);
        assert!(y.iter().all(|&v| v == 0.0));
    }
}

#[test]
fn saf_0_0_equals_ideal() {
    let mut rng = Lcg(10);
    let l = random_layer(&mut rng, 200, 24, Kind::Dense);
    let mut dev = device();
    dev.saf_pct = [0.0, 0.0];
    let opts = Options {
        rratio: false,
        variation: false,
        ..Options::default()
    };
    let faulty = l.program(&dev, &opts, 0, 0);
    let ideal = l.program(&dev, &Options::ideal_cells(), 0, 0);
    assert_eq!(faulty.w_eff, ideal.w_eff);
    assert_eq!(faulty.stuck.sa0 + faulty.stuck.sa1, 0);
    // The default 1 %/1 % does change cells (the comparison can fail).
    let dev = device();
    let p = l.program(&dev, &opts, 0, 0);
    assert_ne!(p.w_eff, ideal.w_eff);
}

#[test]
fn default_resistances_give_cell_values_001_and_1() {
    let dev = device();
    assert_eq!(dev.resistance, vec![1e6, 1e4]);
    assert_eq!(dev.conductance(0), 0.01);
    assert_eq!(dev.conductance(1), 1.0);
    let opts = Options {
        variation: false,
        saf: false,
        ..Options::default()
    };
    let id = ArrayId {
        layer: 0,
        split: 0,
        slice: 0,
        polarity: 0,
    };
    let mut g = vec![0f32; 4];
    program_array(&dev, &opts, 0, id, &[0, 1, 1, 0], &mut g);
    assert_eq!(g, vec![0.01f32, 1.0, 1.0, 0.01]);
    // Two bits per cell: 1e7, 1e4/1, 1e4/2, 1e4/3 → ≈ (0.003, 3, 6, 9)/3·... as m·R_LRS/R_k.
    let mut d4 = dev.clone();
    d4.levels = 4;
    d4.cell_bits = 2;
    d4.resistance = vec![1e7, 10000.0, 5000.0, 3333.0];
    let g: Vec<f64> = (0..4).map(|k| d4.conductance(k)).collect();
    assert!(
        (g[0] - 0.0009999).abs() < 1e-6 && (g[1] - 0.9999).abs() < 1e-9,
        "{g:?}"
    );
    assert!((g[2] - 1.9998).abs() < 1e-9 && g[3] == 3.0, "{g:?}");
}

#[test]
fn same_seed_same_chip_at_one_and_two_threads() {
    let mut rng = Lcg(11);
    let l = random_layer(&mut rng, 300, 40, Kind::Dense);
    let x = random_inputs(&mut rng, 64 * 300);
    let dev = device();
    let opts = Options {
        variation_per_cell: true,
        ..Options::default()
    };
    let run = |threads: usize, trial: u64| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let p = l.program(&dev, &opts, trial, 5);
            let aq = quantize_inputs(&x, 0.02);
            (
                p.w_eff.clone(),
                l.crossbar(&p, &dev, AdcMode::Scale, &aq, 64, 0.02, 3.0),
            )
        })
    };
    let (w1, y1) = run(1, 0);
    let (w2, y2) = run(2, 0);
    assert_eq!(w1, w2);
    assert_eq!(y1, y2);
    // Another chip has another fault map.
    let (w3, _) = run(2, 1);
    assert_ne!(w1, w3);
}

#[test]
fn stuck_cells_per_array_follow_the_binomial_law() {
    // 400 arrays of 2,500 cells at p0 = 1 %, p1 = 2 %: per-array counts are Binomial(N, p).
    // Fixed seed; tolerances: the mean within 4 standard errors, the variance within 25 %
    // (its standard error is ≈ 7 % at 400 arrays).
    let mut dev = device();
    dev.saf_pct = [1.0, 2.0];
    let opts = Options::default();
    let n = 2500usize;
    let digits = vec![1i32; n];
    let mut g = vec![0f32; n];
    let mut sa0 = Vec::new();
    let mut sa1 = Vec::new();
    for a in 0..400u64 {
        let id = ArrayId {
            layer: a / 16,
            split: 0,
            slice: a % 8,
            polarity: (a / 8) % 2,
        };
        let c = program_array(&dev, &opts, 0, id, &digits, &mut g);
        sa0.push(c.sa0 as f64);
        sa1.push(c.sa1 as f64);
    }
    for (counts, p) in [(&sa0, 0.01), (&sa1, 0.02)] {
        let k = counts.len() as f64;
        let mean = counts.iter().sum::<f64>() / k;
        let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (k - 1.0);
        let (mu, v) = (n as f64 * p, n as f64 * p * (1.0 - p));
        assert!(
            (mean - mu).abs() < 4.0 * (v / k).sqrt(),
            "p={p}: mean {mean} vs {mu}"
        );
        assert!((var / v - 1.0).abs() < 0.25, "p={p}: variance {var} vs {v}");
    }
}

/// A 2-layer classifier on synthetic data whose labels the quantized model gets right.
fn classifier_accuracy(dev: &Device, opts: &Options, trial: u64) -> (f64, f64) {
    let mut rng = Lcg(12);
    let (d, h, k, n) = (48usize, 32usize, 6usize, 400usize);
    let l1 = random_layer(&mut rng, d, h, Kind::Dense);
    let l2 = random_layer(&mut rng, h, k, Kind::Dense);
    let x: Vec<f32> = (0..n * d).map(|_| rng.sym()).collect();
    let run = |chip: bool| -> Vec<usize> {
        let mut v = x.clone();
        for (i, l) in [&l1, &l2].into_iter().enumerate() {
            let s_a = rnc::accuracy::nonideal::abs_max(&v) / 255.0;
            let aq = quantize_inputs(&v, s_a);
            let q = l.quantized(&aq, n);
            let y: Vec<f32> = q.iter().map(|&a| (a * l.s_w * s_a) as f32).collect();
            let s_out = rnc::accuracy::nonideal::abs_max(&y);
            let acc = if chip {
                let p = l.program(dev, opts, trial, i as u64);
                l.crossbar(&p, dev, opts.adc, &aq, n, s_a, s_out)
            } else {
                q
            };
            v = quantize_outputs(&acc, l.s_w, s_a, s_out);
            if i == 0 {
                v.iter_mut().for_each(|a| *a = a.max(0.0));
            }
        }
        v.chunks_exact(k)
            .map(|r| (0..k).fold(0, |b, j| if r[j] > r[b] { j } else { b }))
            .collect()
    };
    let truth = run(false);
    let chip = run(true);
    let acc = truth.iter().zip(&chip).filter(|(a, b)| a == b).count() as f64 / n as f64;
    (1.0, acc)
}

#[test]
fn accuracy_falls_as_faults_rise() {
    let mut means = Vec::new();
    for saf in [0.0, 1.0, 4.0, 15.0] {
        let mut dev = device();
        dev.saf_pct = [saf, saf];
        dev.adc_bits = 10;
        let opts = Options::default();
        let s = TrialStats::of((0..5).map(|t| classifier_accuracy(&dev, &opts, t).1).collect());
        means.push(s.mean);
    }
    assert!(means[0] > 0.9, "{means:?}");
    for w in means.windows(2) {
        assert!(w[0] > w[1], "accuracy must fall as SAF rises: {means:?}");
    }
}

#[test]
fn configs_mnsim_would_crash_on_are_errors_naming_the_key() {
    let load = |sets: &[(&str, &str)]| {
        let hw = HwConfig::parse_with_overrides(DEFAULT_SIMCONFIG, DEFAULT_SOURCE, sets);
        match hw {
            Err(e) => e.to_string(),
            Ok(hw) => Device::from_hw(&hw)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default(),
        }
    };
    let e = load(&[("DAC_Num", "0")]);
    assert!(e.contains("DAC_Num"), "{e}");
    let e = load(&[
        ("ADC_Choice", "-1"),
        ("ADC_Precision", "0"),
        ("ADC_Sample_Rate", "1"),
        ("ADC_Power", "0.001"),
        ("ADC_Area", "0.001"),
    ]);
    assert!(e.contains("ADC_Precision"), "{e}");
    let e = load(&[("Device_Level", "1"), ("Device_Resistance", "1e6")]);
    assert!(e.contains("Device_Level"), "{e}");
    let e = load(&[("Device_Level", "4")]);
    assert!(e.contains("Device_Level"), "{e}");
    let e = load(&[("Device_SAF", "120,0")]);
    assert!(e.contains("Device_SAF"), "{e}");
    assert_eq!(load(&[]), "");
}

/// The bit-plane kernel (counts × each array's few values) against the float kernel
/// (f32 sums of effective slice weights) on the same chip.
fn kernels(
    layer: &Layer,
    dev: &Device,
    opts: &Options,
    x: &[f32],
    npix: usize,
) -> (Vec<f32>, Vec<f32>, bool) {
    let s_a = rnc::accuracy::nonideal::abs_max(x) / 255.0;
    let aq = quantize_inputs(x, s_a);
    let q = layer.quantized(&aq, npix);
    let y: Vec<f32> = q.iter().map(|&a| (a * layer.s_w * s_a) as f32).collect();
    let s_out = rnc::accuracy::nonideal::abs_max(&y);
    let prog = layer.program(dev, opts, 2, 1);
    let has_planes = prog.planes.is_some();
    let planes = layer.crossbar(&prog, dev, opts.adc, &aq, npix, s_a, s_out);
    let float = rnc::accuracy::nonideal::Programmed { planes: None, ..prog };
    let reference = layer.crossbar(&float, dev, opts.adc, &aq, npix, s_a, s_out);
    (
        quantize_outputs(&planes, layer.s_w, s_a, s_out),
        quantize_outputs(&reference, layer.s_w, s_a, s_out),
        has_planes,
    )
}

#[test]
fn bit_plane_kernel_equals_the_float_kernel_on_integer_cells() {
    // Integer cell values (no on/off ratio, no variation; SAFs at 0 and m): both kernels sum
    // exact integers, so every ADC code and output is the same bit for bit.
    let mut rng = Lcg(13);
    for (bc, bd, pol, adc) in [
        (1, 1, 2, 6),
        (2, 1, 2, 8),
        (1, 2, 1, 5),
        (4, 4, 2, 7),
        (2, 8, 1, 9),
    ] {
        let mut dev = ideal_device(bc, bd, pol);
        dev.adc_bits = adc;
        dev.saf_pct = [2.0, 3.0];
        let opts = Options {
            rratio: false,
            variation: false,
            ..Options::default()
        };
        for mode in [AdcMode::Scale, AdcMode::Fix] {
            let opts = Options {
                adc: mode,
                ..opts.clone()
            };
            // 150 rows on 64-row crossbars: three splits, the last one partial; 70 columns:
            // two column tiles.
            let l = random_layer(&mut rng, 150, 70, Kind::Dense);
            let x = random_inputs(&mut rng, 30 * 150);
            let (a, b, planes) = kernels(&l, &dev, &opts, &x, 30);
            assert!(planes);
            assert!(a.iter().any(|&v| v != 0.0));
            assert_eq!(a, b, "b_c={bc} b_d={bd} pol={pol} adc={adc} {mode:?}");
            // Depthwise 7x7 stride 1 on two 5x5 maps of 70 channels (two channel tiles).
            let kind = Kind::Depthwise {
                k: 7,
                stride: 1,
                h: 5,
                w: 5,
            };
            let l = random_layer(&mut rng, 49, 70, kind);
            let x = random_inputs(&mut rng, 2 * 25 * 70);
            let (a, b, planes) = kernels(&l, &dev, &opts, &x, 50);
            assert!(planes);
            assert!(a.iter().any(|&v| v != 0.0));
            assert_eq!(a, b, "depthwise b_c={bc} b_d={bd} pol={pol} adc={adc} {mode:?}");
        }
    }
}

#[test]
fn bit_plane_kernel_matches_the_float_kernel_on_analog_cells() {
    // Variation per array and level, on/off ratio, SAFs (physical or MNSIM's stuck values):
    // every array still holds few values; the kernels differ only by the f32 rounding of the
    // float kernel's sums, which moves a partial sum across an ADC step rarely.
    let mut rng = Lcg(14);
    let mut dev = device();
    dev.variation_pct = 5.0;
    dev.saf_pct = [1.0, 1.0];
    dev.xbar_rows = 64;
    for opts in [
        Options::default(),
        Options {
            mnsim_stuck_values: true,
            ..Options::default()
        },
    ] {
        let l = random_layer(&mut rng, 200, 90, Kind::Dense);
        let x = random_inputs(&mut rng, 40 * 200);
        let (a, b, planes) = kernels(&l, &dev, &opts, &x, 40);
        assert!(planes);
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        assert!(same * 100 >= a.len() * 99, "{same} of {} outputs equal", a.len());
        let step = a.iter().chain(&b).fold(0f32, |m, v| m.max(v.abs())) / 255.0;
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 2.0 * step + 1e-6, "{x} vs {y}");
        }
        let kind = Kind::Depthwise {
            k: 5,
            stride: 2,
            h: 8,
            w: 8,
        };
        let l = random_layer(&mut rng, 25, 40, kind);
        let x = random_inputs(&mut rng, 3 * 64 * 40);
        let (a, b, planes) = kernels(&l, &dev, &opts, &x, 3 * 64);
        assert!(planes);
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        assert!(
            same * 100 >= a.len() * 99,
            "depthwise: {same} of {} outputs equal",
            a.len()
        );
    }
    // Per-cell variation gives every cell its own value: the float kernel runs.
    let opts = Options {
        variation_per_cell: true,
        ..Options::default()
    };
    let l = random_layer(&mut rng, 100, 20, Kind::Dense);
    assert!(l.program(&dev, &opts, 0, 0).planes.is_none());
}
