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
    let prob = optimize::Problem::new(
        &part,
        &timings,
        budget,
        8,
        pack::Rules {
            layer_threshold: 0,
            max_load: 0,
            period_ns: None,
        },
        24,
        0.9,
    );
    let work: f64 = timings
        .iter()
        .flat_map(|t| t.tiles.iter())
        .map(|&(tau, c)| tau * c as f64)
        .sum();
    println!("W/N {:.1} us", work / budget as f64 / 1e3);
    for p in [400e3, 300e3, 250e3, 200e3, 175e3, 150e3, 125e3, 100e3, 90e3, 80e3] {
        if let Some(pl) = prob.plan(p) {
            let k: usize = pl.iter().map(|s| s.k).sum();
            let sum: f64 = pl.iter().map(|s| s.time_ns).sum();
            println!(
                "P={} stages {} K={} sumT={:.0} model={:.0}us",
                p / 1e3,
                pl.len(),
                k,
                sum / 1e3,
                (sum + 7.0 * p) / 1e3
            );
            for s in &pl {
                let (xs, t) = prob.stage_copies(s.a, s.b, s.k).unwrap();
                let cells: u64 = xs
                    .iter()
                    .enumerate()
                    .map(|(j, &x)| x * timings[s.a + j].cells)
                    .sum();
                let w: f64 = (s.a..=s.b)
                    .map(|i| timings[i].tiles.iter().map(|&(t, c)| t * c as f64).sum::<f64>())
                    .sum();
                println!(
                    "   {}..={} k={} T={:.0} W/k={:.0} area={:.2}",
                    s.a,
                    s.b,
                    s.k,
                    t / 1e3,
                    w / s.k as f64 / 1e3,
                    cells as f64 / (s.k as f64 * 16384.0)
                );
            }
        }
    }
}
