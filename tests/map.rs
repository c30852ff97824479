//! Every mapper behind `rnc::map::Mapper` on small networks: a valid mapping (the rules,
//! the crossbar, every tile copy placed once) inside the budget with at least one copy of
//! every layer; the same result at any thread count; a cancelled run stops.

mod common {
    pub mod pipeline;
}

use common::pipeline::{PHYSICAL, tau_default};
use rnc::duplicate;
use rnc::map::{
    Effort, MapTask, Mapper, Mapping, area::Area, auto::Auto, contention_free::ContentionFreeMapper, items,
    one_copy::OneCopy, private::Private, reference::Reference, spread::Spread, stages::Stages,
    time_budget::TimeBudget,
};
use rnc::network::{Schedule, zoo};
use rnc::pack::{PackOptions, Rules, verify};
use rnc::partition::{PartitionOptions, partition};

const MAPPERS: [&(dyn Mapper + Sync); 9] = [
    &OneCopy,
    &Reference,
    &Area,
    &Private,
    &Stages,
    &Spread,
    &TimeBudget,
    &ContentionFreeMapper,
    &Auto,
];

/// Maps squeezenet1_1 at 32x32 on `budget` crossbars with `mapper`.
fn map_small(mapper: &dyn Mapper, budget: usize, rules: Rules, effort: Effort) -> Vec<(Mapping, Vec<f64>)> {
    let net = zoo::build("squeezenet1_1", 32, 10).unwrap();
    let part = partition(&net, &PartitionOptions::default()).unwrap();
    let tau = tau_default();
    let timings = duplicate::timings(&part, &tau);
    let preds = net.predecessors(Schedule::Dag);
    let task = MapTask {
        effort,
        pack: PackOptions {
            rules,
            budget: Some(budget),
            generations: effort.table().pack_generations,
            ..PackOptions::default()
        },
        ..MapTask::new(&part, &timings, &preds, budget)
    };
    let out = mapper
        .map(&task)
        .unwrap_or_else(|e| panic!("{}: {e:#}", mapper.name()));
    out.into_iter()
        .map(|m| {
            let copies = m.copies();
            assert_eq!(copies.len(), part.layers.len(), "{}", mapper.name());
            assert!(
                copies.iter().all(|&x| x >= 1),
                "{}: a layer without a copy",
                mapper.name()
            );
            let times = duplicate::times(&timings, &copies);
            let it = items(&part, &copies, &times);
            let packing = m.to_packing();
            verify(&it, &packing, &rules).unwrap_or_else(|e| panic!("{}: {e}", mapper.name()));
            assert!(
                packing.crossbars <= budget,
                "{}: {} crossbars",
                mapper.name(),
                packing.crossbars
            );
            (m, times)
        })
        .collect()
}

#[test]
fn every_mapper_gives_a_valid_mapping_within_the_budget() {
    // Rules that let every mapper apply (the private and stage mappers need threshold ≤ 0).
    let open = Rules {
        layer_threshold: 0,
        max_load: 0,
        ..Rules::default()
    };
    for mapper in MAPPERS {
        // The spread tier needs room for a copy of every dense layer on most of its crossbars.
        let budget = if mapper.name() == "spread" { 160 } else { 80 };
        let maps = map_small(mapper, budget, open, Effort::Default);
        assert!(
            !maps.is_empty(),
            "{}: no mapping on {budget} crossbars",
            mapper.name()
        );
        if mapper.name() != "one copy" {
            // 80 crossbars hold extra copies of squeezenet1_1 (area bound 45).
            let copies: u64 = maps[0].0.copies().iter().sum();
            assert!(
                copies > maps[0].0.placements.len() as u64,
                "{}: no duplication",
                mapper.name()
            );
        }
    }
    // The physical preset (block diagonal) and the reference's rules, through the portfolio.
    map_small(&Auto, 80, PHYSICAL, Effort::Fast);
    map_small(&Auto, 80, Rules::default(), Effort::Default);
}

#[test]
fn the_portfolio_does_not_depend_on_the_thread_count() {
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| map_small(&Auto, 80, PHYSICAL, Effort::Default))
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.len(), two.len());
    for (a, b) in one.iter().zip(&two) {
        assert_eq!(a.0, b.0);
    }
}

#[test]
fn a_cancelled_portfolio_stops_with_cancelled() {
    let net = zoo::build("squeezenet1_1", 32, 10).unwrap();
    let part = partition(&net, &PartitionOptions::default()).unwrap();
    let tau = tau_default();
    let timings = duplicate::timings(&part, &tau);
    let preds = net.predecessors(Schedule::Dag);
    let task = MapTask {
        effort: Effort::Max,
        cancel: &|| true,
        ..MapTask::new(&part, &timings, &preds, 80).with_rules(PHYSICAL)
    };
    let e = Auto.map(&task).unwrap_err();
    assert!(e.downcast_ref::<rnc::map::Cancelled>().is_some(), "{e:#}");
}
