//! Speed goal of non-ideal evaluation: the largest subnet on 1,000 test images per trial
//! (one simulated chip: programming + bit-sliced crossbar inference) ≤ 20 s on 2 cores.
//! Also times one layer kernel in the default build. Run:
//! `cargo bench --bench nonideal --features train`.

use rnc::accuracy::nonideal::{AdcMode, Device, Kind, Layer, Options, quantize_inputs};
use rnc::hardware::HwConfig;
use std::time::Instant;

fn main() {
    // One 576 → 1280 layer (the feature-mix layer) on 1,000 input vectors.
    let dev = Device::from_hw(&HwConfig::embedded_default()).expect("embedded config");
    let (rows, cols, n) = (576usize, 1280usize, 1000usize);
    let w: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 500.0)
        .collect();
    let x: Vec<f32> = (0..rows * n)
        .map(|i| ((i * 104729 % 997) as f32) / 997.0)
        .collect();
    let layer = Layer::new(&w, rows, cols, Kind::Dense);
    let aq = quantize_inputs(&x, 1.0 / 255.0);
    let t = Instant::now();
    let p = layer.program(&dev, &Options::default(), 0, 0);
    let tp = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let y = layer.crossbar(&p, &dev, AdcMode::Scale, &aq, n, 1.0 / 255.0, 10.0);
    let tc = t.elapsed().as_secs_f64();
    println!(
        "layer 576x1280, {n} vectors: program {:.3} s, crossbar {:.3} s ({:.2} GMAC/s of slice MVMs; checksum {:.3})",
        tp,
        tc,
        (rows * cols * n) as f64 * dev.cycles() as f64 * dev.slices() as f64 / tc / 1e9,
        y.iter().sum::<f64>()
    );
    #[cfg(feature = "train")]
    subnet();
}

#[cfg(feature = "train")]
fn subnet() {
    use rnc::accuracy::data::{DEFAULT_DIR, FashionMnist};
    use rnc::accuracy::nonideal_net::{RangeRule, Runner};
    use rnc::accuracy::supernet::{CALIBRATION_IMAGES, Supernet};
    use rnc::network::ofa::Genome;
    let weights = concat!(env!("CARGO_MANIFEST_DIR"), "/weights/supernet-fmnist.bin");
    let (net, data) = match (
        Supernet::load(std::path::Path::new(weights)),
        FashionMnist::load(std::path::Path::new(DEFAULT_DIR)),
    ) {
        (Ok(n), Ok(d)) => (n, d),
        (n, d) => {
            println!("non-ideal subnet: skipped ({:?} / {:?})", n.err(), d.err());
            return;
        }
    };
    let eval = net.evaluator().expect("weights");
    let dev = Device::from_hw(&HwConfig::embedded_default()).expect("embedded config");
    for (name, g) in [("largest", Genome::largest()), ("smallest", Genome::smallest())] {
        let t = Instant::now();
        let r = Runner::new(&eval, &g, &data, 1000, CALIBRATION_IMAGES, RangeRule::Max).expect("runner");
        let tcal = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let q = r.quantized_accuracy();
        let tq = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let c0 = cpu_seconds();
        let a = r.trial(&dev, &Options::default(), 0);
        let tt = t.elapsed().as_secs_f64();
        let ct = cpu_seconds() - c0;
        println!(
            "{name} subnet, 1,000 images: calibration {tcal:.2} s, quantized {tq:.2} s ({:.2}%), \
             one non-ideal trial {tt:.2} s wall, {ct:.2} CPU-s ({:.2}%; goal ≤ 20 s for the largest \
             on 2 cores)",
            100.0 * q,
            100.0 * a
        );
    }
}

/// CPU time of this process (user + system), so a figure on a shared machine can be read as
/// "wall time on cores of its own".
#[cfg(all(unix, feature = "train"))]
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return f64::NAN;
    }
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

#[cfg(all(not(unix), feature = "train"))]
fn cpu_seconds() -> f64 {
    f64::NAN
}
