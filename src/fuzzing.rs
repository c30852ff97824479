//! Checks shared by the cargo-fuzz targets (`fuzz/`) and `tests/fuzz_corpus.rs`.
//!
//! Each function feeds arbitrary bytes to one of rnc's file readers the way the CLI does. A
//! reader may refuse the input with an error; it must never panic, hang or allocate without
//! bound. Where the input is accepted, the next pipeline stage runs on it (at bounded sizes),
//! so the fuzzer explores more than the parser, and a few invariants are asserted: a panic in
//! here is a bug in rnc. Not part of the public API.

use crate::accuracy::predictor::{self, Predictor};
use crate::compile::{self, CompileOptions, Effort};
use crate::hardware::{DEFAULT_SIMCONFIG, DEFAULT_SOURCE, HwConfig};
use crate::network::ofa::{self, Genome};
use crate::network::onnx::{self, OnnxOptions};
use crate::network::{ConvSpec, Network, NetworkBuilder};
use crate::pack::{PackOptions, Packer};
use crate::partition::{self, Crossbar, PartitionOptions};
use crate::search::checkpoint::Checkpoint;
use std::sync::OnceLock;

/// Separates the parts of a multi-file input (no text format rnc reads contains NUL).
pub const SEP: u8 = 0;

/// Networks larger than this are only partitioned, not compiled (keeps an execution fast).
const MAX_COMPILE_TILES: u64 = 2_000;
const MAX_COMPILE_LAYERS: usize = 200;
/// Networks whose partition would exceed this many tiles are not partitioned at all.
const MAX_PARTITION_TILES: u64 = 200_000;

/// A user error is one line, as `rnc` prints it (every cause joined with ": ").
fn one_line<E: std::fmt::Display>(what: &str, e: E) {
    let msg = e.to_string();
    assert!(!msg.trim().is_empty(), "{what}: empty error message");
    assert!(!msg.contains('\n'), "{what}: multi-line error: {msg}");
}

fn one_line_chain(what: &str, e: &anyhow::Error) {
    for cause in e.chain() {
        one_line(what, cause);
    }
}

fn split(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == SEP).collect()
}

/// Invariants every imported or built network satisfies (ARCHITECTURE.md, Invariants).
fn check_network(net: &Network) {
    for (i, l) in net.layers.iter().enumerate() {
        assert_eq!(l.index, i, "layer index is not its position");
        assert!(
            l.in_channels > 0 && l.out_channels > 0,
            "layer {} has no channels",
            l.name
        );
        assert!(l.groups >= 1, "layer {} has zero groups", l.name);
    }
    for w in net.edges.windows(2) {
        assert!(w[0] < w[1], "edges not sorted and unique");
    }
    for &(u, v) in &net.edges {
        assert!(
            u < v && v < net.layers.len(),
            "edge ({u}, {v}) does not point forward"
        );
    }
}

/// Tiles the partition of `net` would have, or `None` when it overflows.
fn tile_count(net: &Network, opts: &PartitionOptions) -> Option<u64> {
    let xb = opts.xbar;
    net.layers.iter().try_fold(0u64, |acc, l| {
        let b = partition::layer_box(l, opts);
        let t = (b.rows.div_ceil(xb.rows) as u64).checked_mul(b.cols.div_ceil(xb.cols) as u64)?;
        acc.checked_add(t)
    })
}

/// Partitions `net` (bounded) and, when small, compiles it with `tau`.
fn downstream(net: &Network, xbar: Crossbar, tau: compile::TileLatency) {
    check_network(net);
    let popts = PartitionOptions {
        xbar,
        ..PartitionOptions::default()
    };
    let Some(tiles) = tile_count(net, &popts) else {
        return;
    };
    if tiles > MAX_PARTITION_TILES {
        return;
    }
    let part = partition::partition(net, &popts).expect("valid partition options");
    assert_eq!(part.layers.len(), net.layers.len());
    assert_eq!(part.tiles() as u64, tiles, "partition tile count");
    for t in part.iter_tiles() {
        assert!(
            t.rows >= 1 && t.rows <= xbar.rows && t.cols >= 1 && t.cols <= xbar.cols,
            "tile exceeds the crossbar"
        );
    }
    if tiles > MAX_COMPILE_TILES || net.layers.len() > MAX_COMPILE_LAYERS {
        return;
    }
    // The greedy packer: the genetic one costs tens of milliseconds an input.
    let opts = CompileOptions {
        partition: popts,
        find_solution: true,
        samples: 2,
        effort: Effort::Fast,
        min_efficiency: 0.0,
        refine_moves: None,
        pack: PackOptions {
            packer: Packer::Maxrects,
            generations: 0,
            ..PackOptions::default()
        },
        ..CompileOptions::default()
    };
    // Pack errors (e.g. a tile larger than any rule allows) are fine; panics are not.
    if let Ok(c) = compile::compile(net, tau, &opts) {
        let lat = c.sim.latency_ns;
        assert!(lat.is_finite() && lat >= 0.0, "simulated latency {lat}");
        assert!(
            lat + 1e-6 * lat.abs() >= c.sim.ideal_latency_ns,
            "latency {lat} below the contention-free bound {}",
            c.sim.ideal_latency_ns
        );
    }
}

fn simple_tau(rows: usize, cols: usize) -> f64 {
    10.0 + 0.01 * (rows + cols) as f64
}

/// A three-layer network to push a fuzzed hardware configuration through the pipeline.
fn tiny_network() -> Network {
    let build = || -> Result<Network, crate::network::NetworkError> {
        let mut b = NetworkBuilder::new("fuzz-tiny", 3, [8, 8])?;
        let x = b.input();
        let y = b.conv("c1", &x, ConvSpec::square(8, 3, 1).padding(1))?;
        let z = b.conv("c2", &y, ConvSpec::square(8, 3, 2).padding(1).groups(8))?;
        let m = b.merge(&z, &z);
        let p = b.global_pool(&m);
        b.linear("fc", &p, 10);
        Ok(b.finish())
    };
    build().expect("the tiny network builds")
}

/// `SimConfig.ini` text, optionally followed by NUL-separated `KEY=VALUE` overrides (as
/// `--set` gives them). Accepted configurations must give finite, positive tile latencies.
pub fn simconfig(data: &[u8]) {
    let parts = split(data);
    let text = String::from_utf8_lossy(parts[0]);
    let sets: Vec<String> = parts[1..]
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let overrides: Vec<(&str, &str)> = sets.iter().filter_map(|s| s.split_once('=')).collect();
    for (text, source) in [(&*text, "fuzz.ini"), (DEFAULT_SIMCONFIG, DEFAULT_SOURCE)] {
        let hw = match HwConfig::parse_with_overrides(text, source, &overrides) {
            Ok(hw) => hw,
            Err(e) => {
                one_line("SimConfig.ini", e);
                continue;
            }
        };
        let xb = hw.crossbar();
        assert!(xb.rows >= 1 && xb.cols >= 1, "empty crossbar {xb:?}");
        for (r, c) in [(1, 1), (xb.rows, xb.cols), (xb.rows.div_ceil(2), 1)] {
            for bits in [1, 8] {
                let t = hw.latency_ns(r, c, bits);
                assert!(t.is_finite() && t > 0.0, "latency_ns({r}, {c}, {bits}) = {t}");
                let _ = hw.activation(r, c, bits);
            }
        }
        let _ = hw.efficiency();
        let bits = 8;
        downstream(&tiny_network(), xb, &|r, c| hw.latency_ns(r, c, bits));
    }
}

/// ONNX bytes (plain or gzip), imported with and without `--skip-unsupported`.
pub fn onnx(data: &[u8]) {
    for skip in [false, true] {
        let opts = OnnxOptions {
            input: None,
            skip_unsupported: skip,
        };
        match onnx::load_bytes("fuzz", data, None, &opts) {
            Ok(imp) => {
                if !skip {
                    assert!(imp.skipped.is_empty(), "skipped ops without --skip-unsupported");
                }
                downstream(&imp.network, Crossbar::default(), &simple_tau);
                break;
            }
            Err(e) => one_line("ONNX", e),
        }
    }
}

/// A genome as `--genome` takes it; an accepted genome builds, partitions and compiles.
pub fn genome(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let g = match Genome::from_json(text) {
        Ok(g) => g,
        Err(e) => return one_line("genome", e),
    };
    let canon = g.canonical();
    assert_eq!(canon.canonical(), canon, "canonical() is not idempotent");
    canon.validate().expect("a canonical genome is valid");
    let json = serde_json::to_string(&g).expect("genomes serialise");
    assert_eq!(
        Genome::from_json(&json).as_ref(),
        Ok(&g),
        "genome JSON round trip"
    );
    static SHIPPED: OnceLock<Predictor> = OnceLock::new();
    let p = SHIPPED.get_or_init(Predictor::shipped).predict(&g);
    assert!(p.is_finite(), "predicted accuracy {p}");
    let net = ofa::build(&g, 32, 10).expect("a valid genome builds at 32x32");
    assert_eq!(
        ofa::build(&canon, 32, 10).as_ref(),
        Ok(&net),
        "canonical genome builds the same"
    );
    downstream(&net, Crossbar::default(), &simple_tau);
}

/// `checkpoint.json`, optionally followed by NUL and the `evolution.csv` a resume reads.
pub fn checkpoint(data: &[u8]) {
    let parts = split(data);
    let cp = match Checkpoint::from_slice(parts[0], "checkpoint.json") {
        Ok(cp) => cp,
        Err(e) => return one_line_chain("checkpoint", &e),
    };
    assert_eq!(cp.settings.difference(&cp.settings), None);
    let bytes = serde_json::to_vec(&cp).expect("checkpoints serialise");
    let back = Checkpoint::from_slice(&bytes, "checkpoint.json").expect("a saved checkpoint loads");
    assert_eq!(back.settings.difference(&cp.settings), None);
    assert_eq!(back.population.len(), cp.population.len());
    for m in &cp.population {
        let _ = m.genome.canonical();
    }
    if let Some(ev) = parts.get(1) {
        match crate::search::evolution_rows(ev.to_vec(), "evolution.csv", &cp) {
            Ok(kept) => assert!(ev.starts_with(&kept), "resume keeps a prefix"),
            Err(e) => one_line_chain("evolution.csv", &e),
        }
    }
}

/// The remaining CLI-level readers, chosen by the first byte:
/// 0 accuracy predictor JSON (`--predictor`), 1 measured subnets JSON lines (`rnc predictor
/// fit`), 2 Fashion-MNIST IDX, 3 a compile output folder for `rnc report` (summary.json,
/// partition.json, pack.csv, trace.csv, NUL-separated), 4 a search output folder
/// (evolution.csv, pareto.json), 5 an external evaluator's answer line.
pub fn cli_files(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => predictor_json(rest),
        1 => measured(rest),
        2 => idx(rest),
        3 => report_folder(rest, &["summary.json", "partition.json", "pack.csv", "trace.csv"]),
        4 => report_folder(rest, &["evolution.csv", "pareto.json"]),
        _ => {
            if let Ok(line) = std::str::from_utf8(rest)
                && let Err(e) = crate::accuracy::external::parse_answer(line)
            {
                one_line("evaluator answer", e);
            }
        }
    }
}

fn predictor_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Predictor::from_json(text) {
        Ok(p) => {
            for g in [Genome::smallest(), Genome::largest()] {
                let _ = p.predict(&g);
            }
        }
        Err(e) => one_line_chain("predictor", &e),
    }
}

fn measured(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let samples = match predictor::parse_samples(text, "measured.jsonl") {
        Ok(s) => s,
        Err(e) => return one_line_chain("measured subnets", &e),
    };
    for s in &samples {
        assert!((0.0..=1.0).contains(&s.accuracy));
        s.genome.validate().expect("accepted samples are valid");
    }
    if samples.len() <= 64 {
        let cfg = predictor::FitConfig {
            hidden: 4,
            epochs: 3,
            holdout: 2,
            ..predictor::FitConfig::default()
        };
        if let Ok(p) = predictor::fit(&samples, &cfg, "fuzz") {
            let json = serde_json::to_string(&p).expect("predictors serialise");
            Predictor::from_json(&json).expect("a fitted predictor loads");
        }
    }
}

fn idx(data: &[u8]) {
    for rank in [1, 3] {
        match crate::accuracy::data::parse_idx(data, rank) {
            Ok(i) => {
                assert_eq!(i.dims.len(), rank);
                assert_eq!(i.data.len(), i.dims.iter().product::<usize>());
            }
            Err(e) => one_line("IDX", e),
        }
    }
}

/// Writes the parts into a fresh folder and renders its report (bounded sizes only).
fn report_folder(data: &[u8], names: &[&str]) {
    let dir = scratch_dir();
    for (name, part) in names.iter().zip(split(data)) {
        if std::fs::write(dir.join(name), part).is_err() {
            return;
        }
    }
    match crate::html::load(&dir) {
        Ok(crate::html::Folder::Compile(d)) => {
            let small = d.tiles.len() <= 4_000
                && d.crossbars() <= 512
                && d.layers.len() <= 500
                && d.trace.as_ref().is_none_or(|t| t.len() <= 4_000);
            if small {
                let _ = crate::html::compile_report(&d);
            }
        }
        Ok(crate::html::Folder::Search(d)) => {
            if d.all.len() + d.front.len() <= 4_000 {
                let _ = crate::html::search_report(&d);
            }
        }
        Ok(crate::html::Folder::Nonideal(doc)) => {
            let _ = crate::html::nonideal_report(&doc, &dir);
        }
        Err(e) => one_line_chain("report folder", &e),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// One scratch folder per process and thread, emptied before each use.
fn scratch_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rnc-fuzz-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    dir
}
