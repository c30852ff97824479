//! Bounded real-data check of the shipped supernet weights (needs `--features train` and the
//! Debian package `dataset-fashion-mnist`): two subnets on the first 1,000 test images.
#![cfg(feature = "train")]

use rnc::accuracy::data::{DEFAULT_DIR, FashionMnist};
use rnc::accuracy::supernet::{CALIBRATION_IMAGES, Supernet};
use rnc::network::ofa::Genome;
use std::path::Path;

#[test]
fn shipped_supernet_accuracy_on_1000_test_images() {
    let data = FashionMnist::load(Path::new(DEFAULT_DIR))
        .unwrap_or_else(|e| panic!("{e:#}\n(CI must run `apt-get install -y dataset-fashion-mnist`)"));
    let net = Supernet::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/weights/supernet-fmnist.bin"
    )))
    .unwrap();
    let eval = net.evaluator().unwrap();
    let big = eval
        .evaluate(&Genome::largest(), &data, 1000, CALIBRATION_IMAGES)
        .unwrap();
    let small = eval
        .evaluate(&Genome::smallest(), &data, 1000, CALIBRATION_IMAGES)
        .unwrap();
    assert_eq!(big.images, 1000);
    // Bands around the values measured when the weights were committed (README).
    assert!(
        (LARGEST_1000 - big.accuracy).abs() <= 0.005,
        "largest {}",
        big.accuracy
    );
    assert!(
        (SMALLEST_1000 - small.accuracy).abs() <= 0.005,
        "smallest {}",
        small.accuracy
    );
    // Evaluation is deterministic.
    assert_eq!(
        eval.evaluate(&Genome::smallest(), &data, 1000, CALIBRATION_IMAGES)
            .unwrap(),
        small
    );
}

const LARGEST_1000: f64 = 0.915;
const SMALLEST_1000: f64 = 0.913;
