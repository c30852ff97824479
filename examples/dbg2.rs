use rnc::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let d: usize = args[1].parse().unwrap();
    let budget: usize = args[2].parse().unwrap();
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
    let preds = net.predecessors(network::Schedule::Chain);
    for frac in [1.0, 0.75, 0.5, 0.25] {
        let copies: Vec<u64> = timings
            .iter()
            .map(|t| ((budget as f64 * frac) as u64 / t.tiles.len() as u64).clamp(1, t.max_copies()))
            .collect();
        // light: keep 1 if cells large
        let copies: Vec<u64> = copies
            .iter()
            .zip(&timings)
            .map(|(&x, t)| if t.cells > 20000 { 1.max(x.min(1)) } else { x })
            .collect();
        let times: Vec<f64> = timings.iter().zip(&copies).map(|(t, &x)| t.time(x)).collect();
        let it = compile::items(&part, &copies, &times);
        let rules = pack::Rules {
            layer_threshold: 0,
            max_load: 0,
            period_ns: None,
        };
        let order = pack::strategies::sorted_order(&it, 0);
        let p = pack::strategies::greedy(&it, part.options.xbar, &rules, &order, budget);
        match p {
            Some(p) => {
                let sim = compile::run_sim(&it, &p, &times, &preds, 8, false).unwrap();
                println!(
                    "frac {frac} items {} used {} lat {:.3} ms speedup {:.1} eff {:.2} sumt {:.0}",
                    it.len(),
                    p.crossbars,
                    sim.latency_ns / 1e6,
                    40616891.5 / sim.latency_ns,
                    sim.contention_efficiency(),
                    times.iter().sum::<f64>() / 1e3
                );
            }
            None => println!("frac {frac} items {} does not pack", it.len()),
        }
    }
}
