use rnc::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let d: usize = args[1].parse().unwrap();
    let budget: usize = args[2].parse().unwrap();
    let len: usize = args[3].parse().unwrap();
    let net = network::zoo::build("mbv3-small", 64, 10).unwrap();
    let part = partition::partition(
        &net,
        &partition::PartitionOptions {
            depth_split: d,
            ..Default::default()
        },
    )
    .unwrap();
    let tau = |_r: usize, _c: usize| 152.77319048;
    let timings = duplicate::timings(&part, &tau);
    let prob = optimize::Problem::new(
        &part,
        &timings,
        budget,
        8,
        pack::Rules {
            layer_threshold: 0,
            max_load: 0,
            period_ns: None,
            exclusive_ns: None,
            window: None,
        },
        len,
        0.85,
        0.0,
    );
    for p in [400e3, 300e3, 250e3, 200e3, 175e3, 150e3, 125e3, 100e3] {
        let t0 = std::time::Instant::now();
        let pl = prob.plan_budget(p);
        let el = t0.elapsed();
        if let Some(pl) = pl {
            let k: usize = pl.iter().map(|s| s.k).sum();
            let sum: f64 = pl.iter().map(|s| s.time_ns).sum();
            let max: f64 = pl.iter().map(|s| s.time_ns).fold(0.0, f64::max);
            let packed = prob.pack_plan(pl.clone(), p);
            if let Some(fb) = &packed {
                let st: Vec<_> = fb.iter().map(|(s, _)| *s).collect();
                if let Some((copies, packing)) = prob.realize(&st, fb) {
                    let times: Vec<f64> = timings.iter().zip(&copies).map(|(t, &x)| t.time(x)).collect();
                    let it = compile::items(&part, &copies, &times);
                    let preds = net.predecessors(network::Schedule::Chain);
                    let sim = compile::run_sim(&it, &packing, &times, &preds, 8, false).unwrap();
                    let sumt: f64 = times.iter().sum();
                    println!(
                        "   sim {:.0}us ideal {:.0} sum t {:.0} stages {:?}",
                        sim.latency_ns / 1e3,
                        sim.ideal_latency_ns / 1e3,
                        sumt / 1e3,
                        st.iter()
                            .map(|s| (s.a, s.b, s.k, (s.time_ns / 1e3) as u64))
                            .collect::<Vec<_>>()
                    );
                }
            }
            println!(
                "P={} stages {} K={} sumT={:.0} max={:.0} model={:.0}us packs={} ({:?})",
                p / 1e3,
                pl.len(),
                k,
                sum / 1e3,
                max / 1e3,
                (sum + 7.0 * max) / 1e3,
                packed.is_some(),
                el
            );
        } else {
            println!("P={} none ({:?})", p / 1e3, el);
        }
    }
}
