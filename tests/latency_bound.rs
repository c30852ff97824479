//! The latency lower bound (`pack::bound::latency_bound`): hand-computed cases, and a bound
//! no mapper beats on random small networks.

use proptest::prelude::*;
use rnc::compile::{CompileOptions, Effort, compile};
use rnc::duplicate::{DuplicateMode, timings};
use rnc::hardware::HwConfig;
use rnc::network::{ConvSpec, Network, NetworkBuilder, Schedule};
use rnc::pack::bound::latency_bound;
use rnc::pack::{PackOptions, Packer, Rules};
use rnc::partition::{Crossbar, DepthwiseMapping, PartitionOptions, partition};

/// 1x1 convolutions at 4x4 (16 activations each): `chain` of widths, or a fork from the first.
fn ones(widths: &[usize], fork: bool) -> Network {
    let mut b = NetworkBuilder::new("ones", 3, [4, 4]).unwrap();
    let x = b.input();
    let first = b.conv("c0", &x, ConvSpec::square(widths[0], 1, 1)).unwrap();
    let mut y = first.clone();
    for (i, &w) in widths.iter().enumerate().skip(1) {
        let from = if fork { &first } else { &y };
        y = b.conv(&format!("c{i}"), from, ConvSpec::square(w, 1, 1)).unwrap();
    }
    b.finish()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

/// One layer, t(x) = ⌈16/x⌉ ns, one tile per crossbar (max load 1), 3 crossbars: 3 copies at
/// 6 ns, 4 samples one after another: 24 ns, which the single-crossbar mapping reaches.
#[test]
fn one_layer_runs_its_samples_back_to_back() {
    let net = ones(&[8], false);
    let part = partition(&net, &PartitionOptions::default()).unwrap();
    let t = timings(&part, &|_, _| 1.0);
    let rules = Rules {
        layer_threshold: -1,
        max_load: 1,
        ..Rules::default()
    };
    let b = latency_bound(&part, &t, &net.predecessors(Schedule::Chain), &rules, 3, 4);
    assert!(close(b.ns, 24.0), "{b:?}");
    assert!(b.ns <= 24.0);
    assert_eq!(b.period_ns, 6.0);
}

/// Two layers in a chain on 8x8 crossbars, each t(x) = ⌈16/x⌉ ns: A is 3x8 cells, B a full
/// 8x8 crossbar; threshold 0 (a crossbar holds one layer), 4 crossbars, 2 samples.
/// The least period is 8 (copies 2 and 2; 3 and 3 need 264 cells > 4·64). At that period
/// A may reach 4 copies (its own crossbars) and B 3 (area). By plain area the relaxation
/// starts at 2·24 + 2·64 = 176 cells and spends the 80 left on A's step 2→4 (4 ns for 48
/// cells) and half of B's step 2→3 (1 of 2 ns): Σ t ≥ 11, latency ≥ 19. With sides rounded
/// (no three 3-row tiles stack in 8 rows, so A counts half a crossbar: Fekete–Schepers,
/// k = 2) the copies start at 2·½ + 2·1 = 3 crossbars and the fourth buys only A's step:
/// Σ t ≥ 16 − 4 = 12, latency ≥ (2 − 1)·8 + 12 = 20. (The true optimum is 24: copies 2 and 2,
/// 8 + 8 + 8.)
#[test]
fn two_layer_chain_by_the_area_relaxation() {
    let net = ones(&[8, 8], false);
    let popts = PartitionOptions {
        xbar: Crossbar { rows: 8, cols: 8 },
        ..Default::default()
    };
    let part = partition(&net, &popts).unwrap();
    let t = timings(&part, &|_, _| 1.0);
    let rules = Rules {
        layer_threshold: 0,
        max_load: 0,
        ..Rules::default()
    };
    let b = latency_bound(&part, &t, &net.predecessors(Schedule::Chain), &rules, 4, 2);
    assert!(close(b.ns, 20.0), "{b:?}");
    assert_eq!(b.period_ns, 8.0);
    assert!(b.reason.starts_with("by the schedule"), "{}", b.reason);
}

/// Three layers with room for every tile at one activation (t = 1 ns each): the chain pays
/// all three plus N − 1 further runs (3 + 3 = 6 ns for 4 samples); in the DAG the second and
/// third both follow the first, so the longest path is 2 (2 + 3 = 5 ns).
#[test]
fn dag_bound_follows_the_longest_path() {
    let net = ones(&[8, 8, 8], true);
    let part = partition(&net, &PartitionOptions::default()).unwrap();
    let t = timings(&part, &|_, _| 1.0);
    let rules = Rules {
        layer_threshold: -1,
        max_load: 0,
        diagonal: true,
        ..Rules::default()
    };
    let chain = latency_bound(&part, &t, &net.predecessors(Schedule::Chain), &rules, 8, 4);
    let dag = latency_bound(&part, &t, &net.predecessors(Schedule::Dag), &rules, 8, 4);
    assert!(close(chain.ns, 6.0), "{chain:?}");
    assert!(close(dag.ns, 5.0), "{dag:?}");
    assert_eq!(dag.period_ns, 1.0);
}

/// Crossbar time: two independent layers (both read the input), t(x) = ⌈16/x⌉ ns, one tile
/// each, under the reference rules (neighbours never share, so every copy is a crossbar of
/// its own), 4 crossbars, 1 sample. A mapping with copies (3, 1) has a 6 ns path, but every
/// copy count gives t·copies ≥ 16 crossbar-ns per layer: 32 over 4 crossbars is 8 ns, which
/// copies (2, 2) reach.
#[test]
fn crossbar_time_bounds_parallel_layers() {
    let mut b = NetworkBuilder::new("two", 3, [4, 4]).unwrap();
    let x = b.input();
    b.conv("b", &x, ConvSpec::square(8, 1, 1)).unwrap();
    b.conv("c", &x, ConvSpec::square(8, 1, 1)).unwrap();
    let net = b.finish();
    assert!(net.edges.is_empty());
    let part = partition(&net, &PartitionOptions::default()).unwrap();
    let t = timings(&part, &|_, _| 1.0);
    let b = latency_bound(
        &part,
        &t,
        &net.predecessors(Schedule::Dag),
        &Rules::default(),
        4,
        1,
    );
    assert!(close(b.ns, 8.0), "{b:?}");
    assert_eq!(b.period_ns, 8.0);
}

/// Whole-crossbar tiles leave the others fewer crossbars: on 8x8 crossbars a 1x1 convolution
/// 8 → 8 is one whole tile (16 activations), and a serial depthwise 1x1 on the same input one
/// 1x8 tile of 128 activations, whose copies each need a crossbar of their own (block
/// diagonal: 8 columns per copy). With 3 crossbars and 1 sample the depthwise layer's copies
/// get the 2 crossbars the whole tile leaves: 128 / 2 = 64 ns. The crossbar bounds alone allow
/// it 3 copies (43 ns); crossbar time over all 3 crossbars proves only (16 + 128) / 3 = 48.
#[test]
fn whole_crossbar_tiles_leave_the_rest_fewer_crossbars() {
    let mut b = NetworkBuilder::new("whole", 8, [4, 4]).unwrap();
    let x = b.input();
    b.conv("a", &x, ConvSpec::square(8, 1, 1)).unwrap();
    b.conv("dw", &x, ConvSpec::square(8, 1, 1).groups(8)).unwrap();
    let net = b.finish();
    let popts = PartitionOptions {
        xbar: Crossbar { rows: 8, cols: 8 },
        ..Default::default()
    };
    let part = partition(&net, &popts).unwrap();
    let t = timings(&part, &|_, _| 1.0);
    assert_eq!((t[0].time(1), t[1].time(1)), (16.0, 128.0));
    let b = latency_bound(&part, &t, &net.predecessors(Schedule::Dag), &physical(), 3, 1);
    assert!(close(b.ns, 64.0), "{b:?}");
    assert_eq!(b.period_ns, 43.0);
    assert_eq!(b.reason, "by crossbar time beside whole-crossbar tiles");
}

/// No mapping at all: 128 tiles (2048 inputs × 1024 outputs) need 128 crossbars under the
/// reference rules; with 64 the bound is infinite, with 200 one copy gives 3 samples × 1 ns.
#[test]
fn a_budget_nothing_fits_has_no_finite_bound() {
    let mut b = NetworkBuilder::new("wide", 2048, [1, 1]).unwrap();
    let x = b.input();
    b.linear("fc", &x, 1024);
    let net = b.finish();
    let part = partition(&net, &PartitionOptions::default()).unwrap();
    assert_eq!(part.tiles(), 128);
    let t = timings(&part, &|_, _| 1.0);
    let preds = net.predecessors(Schedule::Dag);
    let b200 = latency_bound(&part, &t, &preds, &Rules::default(), 200, 3);
    assert!(close(b200.ns, 3.0), "{b200:?}");
    let b64 = latency_bound(&part, &t, &preds, &Rules::default(), 64, 3);
    assert!(b64.ns.is_infinite(), "{b64:?}");
}

/// The two-layer chain's bound (20 ns) never exceeds what a mapper reaches.
#[test]
fn hand_cases_hold_against_the_mappers() {
    let net = ones(&[8, 8], false);
    let hw = |_: usize, _: usize| 1.0;
    for dup in [DuplicateMode::None, DuplicateMode::Area, DuplicateMode::Auto] {
        let o = CompileOptions {
            partition: PartitionOptions {
                xbar: Crossbar { rows: 8, cols: 8 },
                ..Default::default()
            },
            budget: 4,
            duplicate: dup,
            pack: PackOptions {
                rules: Rules {
                    layer_threshold: 0,
                    max_load: 0,
                    ..Rules::default()
                },
                ..PackOptions::default()
            },
            samples: 2,
            schedule: Schedule::Chain,
            ..Default::default()
        };
        let c = compile(&net, &hw, &o).unwrap();
        assert!(c.sim.latency_ns >= 20.0, "{dup:?}: {}", c.sim.latency_ns);
    }
}

fn physical() -> Rules {
    Rules {
        layer_threshold: -1,
        max_load: 0,
        diagonal: true,
        ..Rules::default()
    }
}

/// A random small network: 1x1/3x3 convolutions, depthwise layers, residual adds around
/// them (DAG edges that skip), a classifier.
fn random_net(widths: &[usize], kernels: &[usize], skips: &[bool], side: usize) -> Network {
    let mut b = NetworkBuilder::new("r", 3, [side, side]).unwrap();
    let mut x = b.input();
    for (i, &w) in widths.iter().enumerate() {
        let k = kernels[i % kernels.len()];
        if i % 3 == 2 {
            let y = b
                .conv(
                    &format!("dw{i}"),
                    &x,
                    ConvSpec::square(x.channels, k, 1).groups(x.channels),
                )
                .unwrap();
            x = if skips[i % skips.len()] {
                b.merge(&y, &x)
            } else {
                y
            };
        } else {
            x = b.conv(&format!("c{i}"), &x, ConvSpec::square(w, k, 1)).unwrap();
        }
    }
    let g = b.global_pool(&x);
    b.linear("fc", &g, 10);
    b.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Every mapper (duplication none/area/reference/auto at fast and default effort), under
    /// the reference and the physical rules, DAG and chain: simulated latency ≥ the bound.
    #[test]
    fn no_mapper_beats_the_bound(
        widths in prop::collection::vec(4usize..80, 2..6),
        kernels in prop::collection::vec(prop::sample::select(vec![1usize, 3]), 3),
        skips in prop::collection::vec(any::<bool>(), 2),
        side in 3usize..9,
        xside in prop::sample::select(vec![32usize, 48, 64]),
        reference in any::<bool>(),
        dag in any::<bool>(),
        diagonal in any::<bool>(),
        factor in 1.0f64..2.5,
        samples in 1usize..6,
    ) {
        let net = random_net(&widths, &kernels, &skips, side);
        let hw = HwConfig::embedded_default();
        let tau = move |r: usize, c: usize| hw.latency_ns(r, c, 8);
        let rules = if reference { Rules::default() } else { physical() };
        let schedule = if dag { Schedule::Dag } else { Schedule::Chain };
        let popts = PartitionOptions {
            xbar: Crossbar { rows: xside, cols: xside },
            depth_split: 1 + side % 2,
            depthwise: if diagonal { DepthwiseMapping::Diagonal } else { DepthwiseMapping::Serial },
            ..Default::default()
        };
        let base = CompileOptions {
            partition: popts,
            budget: 0,
            find_solution: true,
            pack: PackOptions { packer: Packer::Search, rules, budget: None, seed: 3, generations: 5 },
            samples,
            schedule,
            effort: Effort::Fast,
            ..Default::default()
        };
        let least = compile(&net, &tau, &base).unwrap().packing.crossbars;
        let budget = ((least as f64) * factor).ceil() as usize;
        let preds = net.predecessors(schedule);
        let mut checked = 0;
        for dup in [DuplicateMode::None, DuplicateMode::Area, DuplicateMode::Reference, DuplicateMode::Auto] {
            for effort in [Effort::Fast, Effort::Default] {
                let o = CompileOptions { budget, find_solution: false, duplicate: dup, effort, ..base };
                let Ok(c) = compile(&net, &tau, &o) else { continue };
                let b = latency_bound(&c.partition, &c.timings, &preds, &rules, budget, samples);
                prop_assert!(
                    c.sim.latency_ns >= b.ns,
                    "{dup:?} {effort:?}: latency {} < bound {} ({})", c.sim.latency_ns, b.ns, b.reason
                );
                checked += 1;
            }
        }
        prop_assert!(checked > 0, "no mapper fit {budget} crossbars");
    }
}
