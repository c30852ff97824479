//! `rnc compile --json`: the energy breakdown per component adds up, and without the buffers
//! it equals the per-inference energy reported before.

mod common {
    pub mod cli;
}
use common::cli::rnc;

#[test]
fn energy_breakdown_adds_up() {
    let (code, out, err) = rnc(&[
        "compile",
        "--model",
        "squeezenet1_1",
        "--crossbars",
        "80",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    let b = &s["energy_breakdown"];
    let parts = ["crossbar", "dac", "adc", "digital", "buffers"];
    let total = b["per_inference_nj"]["total"].as_f64().unwrap();
    let sum: f64 = parts
        .iter()
        .map(|p| b["per_inference_nj"][p].as_f64().unwrap())
        .sum();
    assert!((sum - total).abs() <= 1e-9 * total, "{sum} vs {total}");
    let buffers = b["per_inference_nj"]["buffers"].as_f64().unwrap();
    let plain = s["energy_nj"].as_f64().unwrap();
    assert!(
        ((total - buffers) - plain).abs() <= 1e-9 * plain,
        "{total} − {buffers} vs {plain}"
    );
    assert!(buffers > 0.0 && b["per_inference_nj"]["adc"].as_f64().unwrap() > 0.0);
    // Per layer: one entry per weight layer, adding up to the total.
    let layers = b["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 26);
    let by_layer: f64 = layers.iter().map(|l| l["total"].as_f64().unwrap()).sum();
    assert!((by_layer - total).abs() <= 1e-9 * total);
}
