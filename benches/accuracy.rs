//! Speed goals of the accuracy sources: the predictor (≤ 50 µs per genome) and, with
//! `--features train`, one measured subnet evaluation (BN recalibration + 10k test images,
//! ≤ 10 s on 2 cores). Run: `cargo bench --bench accuracy [--features train]`.

use rnc::accuracy::predictor::Predictor;
use rnc::network::ofa::{DEPTHS, EXPANDS, Genome, KERNELS};
use rnc::rng::SplitMix64;
use std::time::Instant;

fn random_genome(rng: &mut SplitMix64) -> Genome {
    let pick = |r: &mut SplitMix64, v: &[usize]| v[r.below(v.len())];
    Genome {
        ks: (0..16).map(|_| pick(rng, &KERNELS)).collect(),
        e: (0..16).map(|_| pick(rng, &EXPANDS)).collect(),
        d: (0..4).map(|_| pick(rng, &DEPTHS)).collect(),
    }
}

fn main() {
    let p = Predictor::shipped();
    let mut rng = SplitMix64::new(9);
    let genomes: Vec<Genome> = (0..10_000).map(|_| random_genome(&mut rng)).collect();
    let t = Instant::now();
    let mut sum = 0.0;
    for g in &genomes {
        sum += p.predict(g);
    }
    let per = t.elapsed().as_secs_f64() / genomes.len() as f64;
    println!(
        "predictor: {:.2} µs per genome ({} genomes, mean prediction {:.4}; goal ≤ 50 µs)",
        per * 1e6,
        genomes.len(),
        sum / genomes.len() as f64
    );
    #[cfg(feature = "train")]
    measured();
}

#[cfg(feature = "train")]
fn measured() {
    use rnc::accuracy::data::{DEFAULT_DIR, FashionMnist};
    use rnc::accuracy::supernet::{CALIBRATION_IMAGES, Supernet};
    let weights = concat!(env!("CARGO_MANIFEST_DIR"), "/weights/supernet-fmnist.bin");
    let (net, data) = match (
        Supernet::load(std::path::Path::new(weights)),
        FashionMnist::load(std::path::Path::new(DEFAULT_DIR)),
    ) {
        (Ok(n), Ok(d)) => (n, d),
        (n, d) => {
            println!("supernet evaluation: skipped ({:?} / {:?})", n.err(), d.err());
            return;
        }
    };
    for (name, g) in [("largest", Genome::largest()), ("smallest", Genome::smallest())] {
        let t = Instant::now();
        match net.evaluate(&g, &data, 10_000, CALIBRATION_IMAGES) {
            Ok(r) => println!(
                "supernet evaluation ({name}): {:.2} s for {} calibration + {} test images, accuracy {:.2}% (goal ≤ 10 s)",
                t.elapsed().as_secs_f64(),
                r.calibration_images,
                r.images,
                100.0 * r.accuracy
            ),
            Err(e) => println!("supernet evaluation ({name}): error {e:#}"),
        }
    }
}
