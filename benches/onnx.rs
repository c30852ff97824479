//! ONNX import speed: a MobileNetV2-sized model (3.5 M weights, about 14 MB) built in memory,
//! imported from a .onnx file and from a .onnx.gz file. Goal: at most 300 ms per import.

#[path = "../tests/common/onnx_builder.rs"]
mod onnx_builder;

use rnc::network::onnx::{OnnxOptions, load};
use std::io::Write;
use std::time::Instant;

fn main() {
    // `cargo bench` passes --bench; under `cargo test --all-targets` one run is a smoke test.
    let runs = if std::env::args().any(|a| a == "--bench") {
        7
    } else {
        1
    };
    let bytes = onnx_builder::mobilenet_v2(224);
    let dir = std::env::temp_dir().join(format!("rnc-bench-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let raw = dir.join("mobilenet_v2.onnx");
    std::fs::write(&raw, &bytes).expect("write model");
    let gz = dir.join("mobilenet_v2.onnx.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&bytes).expect("gzip");
    std::fs::write(&gz, enc.finish().expect("gzip")).expect("write model");
    println!("model: MobileNetV2 224x224, {:.1} MB", bytes.len() as f64 / 1e6);

    for (what, path) in [("onnx", &raw), ("onnx.gz", &gz)] {
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let imp = load(path, &OnnxOptions::default()).expect("import");
            times.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(imp.network.layers.len(), 53);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "import {what:8} median {:7.1} ms  min {:7.1} ms  max {:7.1} ms  (goal <= 300 ms)",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
