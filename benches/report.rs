//! Speed of the pictures and the HTML report for a mapping of over 1,000 tile copies (goal:
//! report ≤ 1 s). Run with `cargo bench --bench report`; under `cargo test --all-targets` it
//! runs once as a smoke test.

use rnc::compile::{CompileOptions, Effort, baseline, compile, run_sim};
use rnc::duplicate::DuplicateMode;
use rnc::error::write_atomic;
use rnc::hardware::HwConfig;
use rnc::network::{Schedule, zoo};
use rnc::pack::{PackOptions, Packer, Rules};
use rnc::partition::PartitionOptions;
use rnc::plots::{CompileData, Gantt, Occupancy, Periods, write_both};
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

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let reps = if full { 11 } else { 1 };
    let hw = HwConfig::embedded_default();
    let tau = |r: usize, c: usize| hw.latency_ns(r, c, 8);
    let net = zoo::build("resnet18", 64, 10).expect("zoo");
    let samples = 8;
    let base = baseline(
        &net,
        PartitionOptions::default().xbar,
        &tau,
        samples,
        Schedule::Dag,
    )
    .expect("baseline");
    let o = CompileOptions {
        partition: PartitionOptions::default(),
        budget: base.crossbars * 16 / 10,
        duplicate: DuplicateMode::Auto,
        pack: PackOptions {
            packer: Packer::Search,
            rules: Rules::default(),
            budget: None,
            seed: 1,
            generations: 0,
        },
        samples,
        schedule: Schedule::Dag,
        effort: Effort::Fast,
        min_efficiency: 0.0,
        refine_moves: None,
        fast_fill: true,
        find_solution: false,
    };
    let c = compile(&net, &tau, &o).expect("compile");
    let dir = std::env::temp_dir().join(format!("rnc-bench-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let s = rnc::report::summary(&net, &c, &base, None);
    write_atomic(
        &dir.join("summary.json"),
        serde_json::to_string_pretty(&s).expect("json").as_bytes(),
    )
    .expect("write");
    write_atomic(&dir.join("pack.csv"), &rnc::report::pack_csv(&c).expect("csv")).expect("write");
    let pj = serde_json::to_string_pretty(&rnc::report::partition_json(&net, &c)).expect("json");
    write_atomic(&dir.join("partition.json"), pj.as_bytes()).expect("write");
    let preds = net.predecessors(Schedule::Dag);
    let sim = run_sim(&c.items, &c.packing, &c.layer_time_ns, &preds, samples, true).expect("sim");
    let lc = c.packing.layer_crossbars(&c.items, c.layer_time_ns.len());
    write_atomic(
        &dir.join("trace.csv"),
        &rnc::report::trace_csv(&net, &sim.trace, &lc).expect("csv"),
    )
    .expect("write");
    println!(
        "resnet18 @{} crossbars (1.6x ISAAC-like): {} tile copies on {} crossbars, {} trace rows",
        o.budget,
        c.items.len(),
        c.packing.crossbars,
        sim.trace.len()
    );

    let t = median_ms(reps, || {
        rnc::html::write_report(&dir).expect("report");
    });
    let size = std::fs::metadata(dir.join("report.html"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "rnc report (read files + SVG + HTML, {:.1} kB): {t:8.1} ms",
        size as f64 / 1e3
    );

    let t = median_ms(reps, || {
        let d = CompileData::load(&dir).expect("load");
        write_both(&dir, "occupancy", &Occupancy { data: &d }).expect("occupancy");
        write_both(&dir, "periods", &Periods { data: &d }).expect("periods");
        let tr = d.trace.as_deref().expect("trace");
        write_both(
            &dir,
            "gantt",
            &Gantt {
                data: &d,
                trace: tr,
                samples: 4,
            },
        )
        .expect("gantt");
    });
    println!("compile --plots pictures (3 SVG + 3 PNG):        {t:8.1} ms");
    let _ = std::fs::remove_dir_all(&dir);
}
