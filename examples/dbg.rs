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
    let prob = optimize::Problem {
        part: &part,
        timings: &timings,
        budget,
        samples: 8,
        rules: pack::Rules {
            layer_threshold: 0,
            max_load: 0,
            period_ns: None,
        },
        max_stage_len: 24,
    };
    let work: f64 = timings
        .iter()
        .flat_map(|t| t.tiles.iter())
        .map(|&(tau, c)| tau * c as f64)
        .sum();
    println!("W/N {:.1} us", work / budget as f64 / 1e3);
    for p in [400e3, 300e3, 250e3, 200e3, 175e3, 150e3, 125e3, 100e3, 90e3, 80e3] {
        let pl = prob.plan(p);
        let fe = prob.feasible(p);
        println!(
            "{} plan {:?} feasible {:?}",
            p / 1e3,
            pl.as_ref()
                .map(|s| (s.len(), s.iter().map(|x| x.k).sum::<usize>())),
            fe.as_ref()
                .map(|s| (s.len(), s.iter().map(|x| x.0.k).sum::<usize>()))
        );
    }
}
