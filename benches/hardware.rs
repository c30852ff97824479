//! Speed of the hardware model: τ per call (the search calls it per tile), a full activation
//! cost, and parsing a SimConfig.ini. Run with `cargo bench --bench hardware`.

use rnc::hardware::{DEFAULT_SIMCONFIG, HwConfig};
use std::hint::black_box;
use std::time::Instant;

/// Best of `reps` timings of `iters` calls, in ns per call.
fn ns_per_call(reps: usize, iters: u64, mut f: impl FnMut(u64) -> f64) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        let mut acc = 0.0;
        for i in 0..iters {
            acc += f(i);
        }
        black_box(acc);
        best = best.min(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    best
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this as a quick smoke test.
    let scale = if std::env::args().any(|a| a == "--bench") {
        1
    } else {
        1000
    };
    let hw = HwConfig::embedded_default();
    // Tile shapes a partition produces: rows 1..=128, cols 1..=128, 8 or 9 input bits.
    let shape = |i: u64| {
        (
            ((i * 37) % 128 + 1) as usize,
            ((i * 101) % 128 + 1) as usize,
            8 + (i % 2) as u32,
        )
    };
    let n = 10_000_000 / scale;
    let lat = ns_per_call(5, n, |i| {
        let (r, c, b) = shape(i);
        black_box(&hw).latency_ns(black_box(r), black_box(c), black_box(b))
    });
    let base = ns_per_call(5, n, |i| {
        let (r, c, b) = shape(i);
        (black_box(r) + black_box(c) + black_box(b) as usize) as f64
    });
    println!("latency_ns:  {lat:.2} ns per call ({n} calls, best of 5; loop overhead {base:.2} ns)");
    let n = 2_000_000 / scale;
    let act = ns_per_call(5, n, |i| {
        let (r, c, b) = shape(i);
        black_box(&hw)
            .activation(black_box(r), black_box(c), black_box(b))
            .map_or(0.0, |a| a.energy_nj)
    });
    println!("activation:  {act:.2} ns per call ({n} calls, best of 5)");
    let n = 2_000 / scale.min(100);
    let parse = ns_per_call(3, n, |_| {
        HwConfig::parse(black_box(DEFAULT_SIMCONFIG), "bench").map_or(0.0, |h| h.area_um2())
    });
    println!("parse SimConfig.ini: {:.1} us per file", parse / 1000.0);
}
