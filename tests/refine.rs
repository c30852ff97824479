//! The simulator-guided local search on finished mappings (`rnc::map::local_search`).

use rnc::compile::{CompileOptions, Compiled, Effort, MapTask, baseline, compile, items, run_sim};
use rnc::duplicate::DuplicateMode;
use rnc::map::local_search::{LocalSearch, rank};
use rnc::network::{Schedule, zoo};
use rnc::pack::{PackOptions, Packer, Rules, verify};
use rnc::partition::Crossbar;

mod common {
    pub mod pipeline;
}
use common::pipeline::tau_default;

fn opts(budget: usize, rules: Rules, dup: DuplicateMode, effort: Effort) -> CompileOptions {
    CompileOptions {
        budget,
        duplicate: dup,
        pack: PackOptions {
            packer: Packer::Search,
            rules,
            budget: None,
            seed: 1,
            generations: 10,
        },
        schedule: Schedule::Chain,
        effort,
        samples: 8,
        ..Default::default()
    }
}

/// The search over a compiled mapping, 8 samples, no efficiency floor.
fn refiner<'a>(c: &'a Compiled, preds: &'a [Vec<usize>], rules: Rules, budget: usize) -> LocalSearch<'a> {
    LocalSearch {
        task: MapTask::new(&c.partition, &c.timings, preds, budget).with_rules(rules),
        min_efficiency: 0.0,
    }
}

const RULES_OFF: Rules = Rules {
    layer_threshold: 0,
    max_load: 0,
    time_budget_ns: None,
    exclusive_ns: None,
    window: None,
    diagonal: false,
};

/// From area-only duplication (lots of contention to remove), under both rule sets: the
/// result packs inside the budget, obeys the rules, keeps every layer, simulates no slower,
/// and is the same for the same seed.
#[test]
fn refining_never_worsens_and_keeps_every_rule() {
    let tau = tau_default();
    let mut improved = 0;
    for (model, budget, rules) in [
        ("squeezenet1_1", 64, RULES_OFF),
        ("squeezenet1_1", 112, RULES_OFF),
        ("squeezenet1_1", 96, Rules::default()),
        ("mbv3-small", 211, Rules::default()),
    ] {
        let net = zoo::build(model, 64, 10).unwrap();
        let o = opts(budget, rules, DuplicateMode::Area, Effort::Fast);
        let c = compile(&net, &tau, &o).unwrap();
        let preds = net.predecessors(Schedule::Chain);
        let r = refiner(&c, &preds, rules, budget);
        let (copies, packing) = r.run(&c.copies, &c.packing, 300, 7);
        let times: Vec<f64> = c.timings.iter().zip(&copies).map(|(t, &x)| t.time(x)).collect();
        let it = items(&c.partition, &copies, &times);
        verify(&it, &packing, &rules).unwrap_or_else(|e| panic!("{model} @{budget}: {e}"));
        assert!(packing.crossbars <= budget, "{model} @{budget}");
        assert!(copies.iter().all(|&x| x >= 1));
        let after = run_sim(&it, &packing, &times, &preds, 8, false).unwrap();
        assert!(
            rank(&after, 0.0) <= rank(&c.sim, 0.0),
            "{model} @{budget}: {} ns after, {} ns before",
            after.latency_ns,
            c.sim.latency_ns
        );
        if after.latency_ns < c.sim.latency_ns {
            improved += 1;
        }
        let again = r.run(&c.copies, &c.packing, 300, 7);
        assert_eq!(again, (copies, packing), "{model} @{budget}: not deterministic");
    }
    assert!(improved >= 2, "the search improved only {improved} of 4 mappings");
}

/// The efficiency floor is respected by the search: it never trades a mapping at the floor
/// for a faster one below it.
#[test]
fn refining_keeps_the_efficiency_floor() {
    let tau = tau_default();
    let net = zoo::build("squeezenet1_1", 64, 10).unwrap();
    let mut o = opts(80, RULES_OFF, DuplicateMode::Auto, Effort::Default);
    o.min_efficiency = 0.9;
    let c = compile(&net, &tau, &o).unwrap();
    let eff = c.sim.contention_efficiency();
    assert!(eff >= 0.9 - 1e-9, "efficiency {eff}");
}

/// squeezenet1_1 (64x64, serial, chain, rules off, default effort): what the mapper reaches
/// now. The goals (9.0 / 20.4×) are not met; these floors guard the progress.
#[test]
fn squeezenet_speedups_do_not_regress() {
    let tau = tau_default();
    let net = zoo::build("squeezenet1_1", 64, 10).unwrap();
    let base = baseline(&net, Crossbar::default(), &tau, 8, Schedule::Chain).unwrap();
    for (budget, floor) in [(64, 6.5), (80, 9.0), (112, 12.5)] {
        let o = opts(budget, RULES_OFF, DuplicateMode::Auto, Effort::Default);
        let c = compile(&net, &tau, &o).unwrap();
        verify(&c.items, &c.packing, &RULES_OFF).unwrap();
        let s = base.latency_ns / c.sim.latency_ns;
        assert!(s >= floor, "budget {budget}: {s:.2}x < {floor}x");
    }
}

/// One 1x1 convolution, 3 → 16 channels, on a side × side input: one 3x16 tile doing side²
/// activations.
fn one_conv(side: usize) -> rnc::network::Network {
    use rnc::network::{ConvSpec, NetworkBuilder};
    let mut b = NetworkBuilder::new("one", 3, [side, side]).unwrap();
    let x = b.input();
    b.conv("c", &x, ConvSpec::square(16, 1, 1)).unwrap();
    b.finish()
}

/// Under the block-diagonal rule a crossbar already running a layer takes more of its copies
/// on disjoint rows and columns, at no extra work per sample: on a single crossbar the search
/// can only speed a layer up that way.
#[test]
fn refining_stacks_copies_on_the_block_diagonal() {
    let net = one_conv(12);
    let tau = tau_default();
    let rules = Rules {
        layer_threshold: -1,
        max_load: 0,
        diagonal: true,
        ..Rules::default()
    };
    let c = compile(&net, &tau, &opts(1, rules, DuplicateMode::None, Effort::Fast)).unwrap();
    assert_eq!(c.copies, vec![1]);
    let preds = net.predecessors(Schedule::Chain);
    let r = refiner(&c, &preds, rules, 1);
    let (copies, packing) = r.run(&c.copies, &c.packing, 200, 1);
    // A 3x16 tile: eight fit the 128-column diagonal of one crossbar.
    assert!(copies[0] >= 4, "copies {copies:?}");
    assert_eq!(packing.crossbars, 1);
    let times: Vec<f64> = c.timings.iter().zip(&copies).map(|(t, &x)| t.time(x)).collect();
    let it = items(&c.partition, &copies, &times);
    verify(&it, &packing, &rules).unwrap();
    let after = run_sim(&it, &packing, &times, &preds, 8, false).unwrap();
    assert!(after.latency_ns < c.sim.latency_ns / 3.0);
}

/// Copies on a plateau: 9 activations per tile give t(x) = τ·⌈9/x⌉ = 9, 5, 3, 3, 2, 2, 2, 2, 1
/// for x = 1…9, so from 3 copies a 4th alone saves nothing. With no random moves at all, the
/// final polish still steps over both plateaus (3 → 5 → 9 copies, one per crossbar).
#[test]
fn refining_steps_over_copy_plateaus() {
    use rnc::pack::{Packing, Placement};
    let net = one_conv(3);
    let tau = tau_default();
    let rules = Rules::default();
    let c = compile(&net, &tau, &opts(9, rules, DuplicateMode::None, Effort::Fast)).unwrap();
    assert_eq!(c.partition.layers[0].tiles[0].cycles, 9);
    let three = Packing {
        xbar: c.packing.xbar,
        crossbars: 3,
        placements: (0..3)
            .map(|k| Placement {
                crossbar: k,
                x: 0,
                y: 0,
            })
            .collect(),
    };
    let preds = net.predecessors(Schedule::Chain);
    let r = refiner(&c, &preds, rules, 9);
    let (copies, packing) = r.run(&[3], &three, 0, 1);
    assert_eq!(copies, vec![9]);
    let times: Vec<f64> = c.timings.iter().zip(&copies).map(|(t, &x)| t.time(x)).collect();
    let it = items(&c.partition, &copies, &times);
    verify(&it, &packing, &rules).unwrap();
    assert_eq!(packing.crossbars, 9);
}
