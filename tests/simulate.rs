//! The simulator against hand-computed cases and its invariants.

use proptest::prelude::*;
use rnc::simulate::{SimInput, simulate};

fn chain_preds(n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
        .collect()
}

fn run(t: &[f64], xb: &[Vec<u32>], preds: &[Vec<usize>], samples: usize) -> rnc::simulate::SimResult {
    let nx = xb.iter().flatten().copied().max().map_or(0, |m| m as usize + 1);
    simulate(&SimInput {
        layer_time_ns: t,
        layer_crossbars: xb,
        preds,
        crossbars: nx,
        samples,
        trace: true,
    })
    .unwrap()
}

#[test]
fn chain_without_sharing_is_sum_plus_bottleneck() {
    let t = [3.0, 7.0, 5.0];
    let xb = vec![vec![0], vec![1], vec![2]];
    for n in 1..10 {
        let r = run(&t, &xb, &chain_preds(3), n);
        assert_eq!(r.latency_ns, 15.0 + (n as f64 - 1.0) * 7.0, "N={n}");
        assert_eq!(r.ideal_latency_ns, r.latency_ns);
    }
}

#[test]
fn layers_on_one_crossbar_serialise() {
    // Two independent layers (no edge) forced onto crossbar 0 cannot overlap.
    let t = [4.0, 6.0];
    let xb = vec![vec![0], vec![0]];
    let r = run(&t, &xb, &[vec![], vec![]], 1);
    assert_eq!(r.latency_ns, 10.0);
    assert_eq!(r.ideal_latency_ns, 6.0);
    let (a, b) = (r.trace[0], r.trace[1]);
    assert!(a.end_ns <= b.start_ns || b.end_ns <= a.start_ns, "{a:?} {b:?}");
    // Deeper layer first on a tie of ready times.
    assert_eq!(r.trace[0].layer, 1);
}

#[test]
fn a_blocked_execution_does_not_stop_later_ones() {
    // All ready at 0; the deepest (layer 2, crossbars 0 and 1) goes first, layer 1 (crossbar 1)
    // is blocked, layer 0 (crossbar 2) starts anyway.
    let t = [3.0, 2.0, 5.0];
    let xb = vec![vec![2], vec![1], vec![0, 1]];
    let r = run(&t, &xb, &[vec![], vec![], vec![]], 1);
    let at = |l: usize| r.trace.iter().find(|e| e.layer == l).unwrap().start_ns;
    assert_eq!((at(2), at(0), at(1)), (0.0, 0.0, 5.0));
    assert_eq!(r.latency_ns, 7.0);
}

#[test]
fn paired_neighbours_behave_like_one_stage() {
    // Six layers of 10 ns, neighbours paired on crossbars: three stages of 20 ns.
    let t = [10.0; 6];
    let xb: Vec<Vec<u32>> = (0..6).map(|i| vec![(i / 2) as u32]).collect();
    let r = run(&t, &xb, &chain_preds(6), 8);
    assert_eq!(r.latency_ns, 60.0 + 7.0 * 20.0);
    assert_eq!(r.period_ns, 20.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// ideal ≤ latency; latency ≥ (N−1)·max crossbar load; crossbars never double-booked;
    /// every execution happens once, after its predecessors and its previous sample.
    #[test]
    fn invariants(
        times in prop::collection::vec(0.5f64..50.0, 1..12),
        xbar_of in prop::collection::vec(prop::collection::vec(0u32..6, 1..3), 12),
        samples in 1usize..6,
        chain in any::<bool>(),
    ) {
        let n = times.len();
        let xb: Vec<Vec<u32>> = xbar_of[..n].to_vec();
        let preds: Vec<Vec<usize>> = if chain {
            chain_preds(n)
        } else {
            (0..n).map(|i| if i == 0 { vec![] } else { vec![i / 2] }).filter(|_| true).collect::<Vec<_>>()
                .into_iter().enumerate().map(|(i, p)| if i == 0 { vec![] } else { p }).collect()
        };
        let r = run(&times, &xb, &preds, samples);
        prop_assert!(r.ideal_latency_ns <= r.latency_ns * (1.0 + 1e-12));
        prop_assert!(r.latency_ns >= (samples as f64 - 1.0) * r.max_crossbar_load_ns - 1e-9);
        prop_assert_eq!(r.trace.len(), n * samples);
        let find = |l: usize, s: usize| r.trace.iter().find(|e| e.layer == l && e.sample == s).unwrap();
        for e in &r.trace {
            for &p in &preds[e.layer] {
                prop_assert!(find(p, e.sample).end_ns <= e.start_ns + 1e-9);
            }
            if e.sample > 0 {
                prop_assert!(find(e.layer, e.sample - 1).end_ns <= e.start_ns + 1e-9);
            }
        }
        for (i, a) in r.trace.iter().enumerate() {
            for b in &r.trace[i + 1..] {
                let share = xb[a.layer].iter().any(|c| xb[b.layer].contains(c));
                let overlap = a.start_ns < b.end_ns - 1e-9 && b.start_ns < a.end_ns - 1e-9;
                prop_assert!(!(share && overlap), "{a:?} {b:?}");
            }
        }
    }
}
