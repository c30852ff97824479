//! Speed of the pipeline stages on the issues' reference cases. Run with
//! `cargo bench --bench pipeline`; under `cargo test --all-targets` it runs once as a smoke test.

use rnc::compile::{CompileOptions, Effort, baseline, compile, run_sim};
use rnc::duplicate::DuplicateMode;
use rnc::hardware::HwConfig;
use rnc::network::{Schedule, zoo};
use rnc::pack::{PackOptions, Packer, Rules};
use rnc::partition::{Crossbar, PartitionOptions, partition};
use std::hint::black_box;
use std::time::Instant;

/// Median of `reps` runs of `f`, in milliseconds.
fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn opts(budget: usize, effort: Effort, d: usize) -> CompileOptions {
    CompileOptions {
        partition: PartitionOptions {
            depth_split: d,
            ..Default::default()
        },
        budget,
        duplicate: DuplicateMode::Auto,
        pack: PackOptions {
            packer: Packer::Search,
            rules: Rules {
                layer_threshold: 0,
                max_load: 0,
                ..Rules::default()
            },
            budget: None,
            seed: 1,
            generations: if effort == Effort::Fast { 0 } else { 40 },
        },
        samples: 8,
        schedule: Schedule::Chain,
        effort,
        find_solution: false,
        min_efficiency: 0.0,
        refine_moves: None,
        fast_fill: true,
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let reps = if full { 21 } else { 1 };
    let hw = HwConfig::embedded_default();
    let tau = |r: usize, c: usize| hw.latency_ns(r, c, 8);
    let net = zoo::build("mbv3-small", 64, 10).expect("zoo");

    let t = median_ms(reps, || {
        let n = zoo::build("mbv3-small", 64, 10).expect("zoo");
        black_box(partition(&n, &PartitionOptions::default()).expect("partition"));
    });
    println!("inspect mbv3-small (build + partition):          {t:8.3} ms");

    let t = median_ms(reps, || {
        black_box(baseline(&net, Crossbar::default(), &tau, 8, Schedule::Chain).expect("baseline"));
    });
    println!("ISAAC-like baseline mbv3-small, 8 samples:       {t:8.3} ms");

    let area = CompileOptions {
        duplicate: DuplicateMode::Area,
        ..opts(168, Effort::Fast, 1)
    };
    let t = median_ms(reps, || {
        black_box(compile(&net, &tau, &area).expect("compile"));
    });
    println!("duplicate(area)+pack+simulate @168, fast:        {t:8.3} ms");

    for (effort, budget) in [(Effort::Fast, 168), (Effort::Fast, 211), (Effort::Default, 211)] {
        let o = opts(budget, effort, 8);
        let t = median_ms(reps.min(7), || {
            black_box(compile(&net, &tau, &o).expect("compile"));
        });
        println!(
            "auto compile @{budget}, {effort:?} effort (D=8):{:>9}{t:8.3} ms",
            ""
        );
    }

    // The simulator alone on a duplicated mapping.
    let c = compile(&net, &tau, &opts(168, Effort::Fast, 8)).expect("compile");
    let preds = net.predecessors(Schedule::Chain);
    for samples in [8usize, 10_000] {
        let t = median_ms(reps.min(9), || {
            black_box(run_sim(&c.items, &c.packing, &c.layer_time_ns, &preds, samples, false).expect("sim"));
        });
        println!("simulate mbv3-small @168, {samples:>6} samples:       {t:8.3} ms");
    }
}
