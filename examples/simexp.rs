use rnc::simulate::*;
fn run(name: &str, t: &[f64], xb: Vec<Vec<u32>>) {
    let n = t.len();
    let preds: Vec<Vec<usize>> = (0..n)
        .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
        .collect();
    let nx = xb.iter().flatten().max().unwrap() + 1;
    let r = simulate(&SimInput {
        layer_time_ns: t,
        layer_crossbars: &xb,
        preds: &preds,
        crossbars: nx as usize,
        samples: 8,
        trace: false,
    })
    .unwrap();
    println!(
        "{name:<28} lat {:>6.0} ideal {:>6.0} eff {:.2} load {:.0}",
        r.latency_ns,
        r.ideal_latency_ns,
        r.contention_efficiency(),
        r.max_crossbar_load_ns
    );
}
fn main() {
    let t = vec![10.0; 6];
    run("private", &t, (0..6).map(|i| vec![i]).collect());
    run("pairs", &t, (0..6).map(|i| vec![(i / 2) as u32]).collect());
    run("triples", &t, (0..6).map(|i| vec![(i / 3) as u32]).collect());
    run("all", &t, (0..6).map(|_| vec![0]).collect());
    run(
        "far pairs (0,3)(1,4)(2,5)",
        &t,
        (0..6).map(|i| vec![(i % 3) as u32]).collect(),
    );
    // heavy + light
    let t2 = vec![10.0, 1.0, 10.0, 1.0, 10.0, 1.0];
    run("h/l private", &t2, (0..6).map(|i| vec![i]).collect());
    run(
        "h/l pairs (h,l)",
        &t2,
        (0..6).map(|i| vec![(i / 2) as u32]).collect(),
    );
    run(
        "h/l pairs (l,h)",
        &t2,
        vec![vec![0], vec![1], vec![1], vec![2], vec![2], vec![3]],
    );
    run(
        "h/l lights on heavy0",
        &t2,
        vec![vec![0], vec![0], vec![1], vec![0], vec![2], vec![0]],
    );
    run("h/l triple", &t2, (0..6).map(|i| vec![(i / 3) as u32]).collect());
}
