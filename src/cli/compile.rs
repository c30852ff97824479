use super::{HwArgs, InputArgs, ModelArgs, PartitionArgs};
use anyhow::Context;
use clap::{Args, ValueEnum};
use rnc::compile::{CompileOptions, Effort, baseline, compile};
use rnc::duplicate::DuplicateMode;
use rnc::error::write_atomic;
use rnc::network::Schedule;
use rnc::pack::{PackOptions, Packer, Rules};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TraceFormat {
    Csv,
    Chrome,
}

#[derive(Args, Debug)]
pub struct CompileArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub partition: PartitionArgs,
    #[command(flatten)]
    pub hw: HwArgs,
    /// Input precision in bits (τ is evaluated at this many input bits).
    #[arg(long, default_value_t = 8, value_name = "BITS")]
    pub input_bits: u32,
    /// Crossbars available (the budget). Required unless --budget-sweep is given.
    #[arg(long, value_name = "N")]
    pub crossbars: Option<usize>,
    /// Duplicate layers: auto (contention-aware, the best), area, reference; bare flag = auto.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "auto", default_value = "none")]
    pub duplicate: DuplicateMode,
    /// Placement strategy.
    #[arg(long, value_enum, default_value_t = Packer::Search)]
    pub packer: Packer,
    /// Open crossbars beyond the budget to find the least number needed.
    #[arg(long)]
    pub find_solution: bool,
    /// A crossbar never holds layers whose indices differ by ≤ this (negative = off).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_name = "T")]
    pub layer_threshold: i64,
    /// At most this many tiles per crossbar (0 = off).
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub max_load: usize,
    /// With `--layer-threshold -1`: tiles of one layer share a crossbar only on disjoint rows
    /// and columns (a block diagonal), so one activation drives them together, as the simulator
    /// assumes (without it, copies side by side on one crossbar would in truth take turns)
    #[arg(long)]
    pub same_layer_diagonal: bool,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Samples simulated back to back.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub samples: usize,
    /// Precedence: dag (data dependences) or chain (execution order, as the reference).
    #[arg(long, value_enum, default_value_t = Schedule::Dag)]
    pub schedule: Schedule,
    /// With `--duplicate auto`: the fastest mapping whose contention efficiency (ideal /
    /// simulated latency) is at least E (0..1; 0 = the fastest overall).
    #[arg(long, value_name = "E", default_value_t = 0.0, value_parser = efficiency_arg)]
    pub min_efficiency: f64,
    /// Optimizer effort.
    #[arg(long, value_enum, default_value_t = Effort::Default)]
    pub effort: Effort,
    /// Local-search moves per start mapping, instead of the count --effort sets (default or
    /// max effort with --duplicate auto). The effort sizes it to the mapping (fewer moves for
    /// more tile copies): squeezenet1_1 on 112 crossbars gets about 2,500 at default and 250,000
    /// at max effort. Time grows in proportion; results stay deterministic.
    #[arg(long, value_name = "N")]
    pub refine_moves: Option<usize>,
    /// Budgets as multiples of the ISAAC-like footprint, e.g. 0.8,1.0,1.2,1.4: one row each.
    #[arg(long, value_delimiter = ',', value_name = "F,F,...")]
    pub budget_sweep: Vec<f64>,
    /// Folder for partition.json, pack.csv and summary.json.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// With --out: also write trace.csv and the pictures (occupancy, gantt, periods; SVG and
    /// PNG) into the folder; `rnc report DIR` then builds report.html.
    #[arg(long, requires = "out")]
    pub plots: bool,
    /// Write every layer execution to FILE.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Trace format: csv or chrome (chrome://tracing / Perfetto JSON).
    #[arg(long, value_enum, default_value = "csv")]
    pub trace_format: TraceFormat,
    /// Print summary.json to stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

/// Upper limits that keep a run bounded in memory and time.
const MAX_CROSSBARS: usize = 1_000_000;
const MAX_SAMPLES: usize = 1_000_000;

pub fn run(a: CompileArgs) -> anyhow::Result<()> {
    let hw = a.hw.load()?;
    let popts = a.partition.options(hw.crossbar())?;
    if popts.xbar != hw.crossbar() {
        anyhow::bail!(
            "--xbar {} differs from the hardware configuration's Xbar_Size {}; drop --xbar or change the \
             configuration (--set Xbar_Size={},{})",
            popts.xbar,
            hw.crossbar(),
            popts.xbar.rows,
            popts.xbar.cols
        );
    }
    if a.input_bits == 0 || a.input_bits > 32 {
        anyhow::bail!("--input-bits must be between 1 and 32 (got {})", a.input_bits);
    }
    if a.same_layer_diagonal && a.layer_threshold >= 0 {
        anyhow::bail!(
            "--same-layer-diagonal needs --layer-threshold -1: with threshold {} tiles of one layer never share a crossbar",
            a.layer_threshold
        );
    }
    if let Some(m) = a.refine_moves {
        if a.duplicate != DuplicateMode::Auto {
            anyhow::bail!("--refine-moves applies to --duplicate auto (the local search runs only there)");
        }
        if a.effort == Effort::Fast {
            anyhow::bail!("--refine-moves needs --effort default or max (fast effort runs no local search)");
        }
        if m == 0 {
            anyhow::bail!("--refine-moves must be at least 1 (got 0)");
        }
    }
    let net = a.model.load(&a.input)?;
    if a.samples == 0 || a.samples > MAX_SAMPLES {
        anyhow::bail!(
            "--samples must be between 1 and {MAX_SAMPLES} (got {})",
            a.samples
        );
    }
    let bits = a.input_bits;
    let tau_fn = |r: usize, c: usize| hw.latency_ns(r, c, bits);
    let tau: rnc::compile::TileLatency = &tau_fn;
    let base = baseline(&net, popts.xbar, tau, a.samples, a.schedule)?;
    let mk = |budget: usize| CompileOptions {
        partition: popts,
        budget,
        find_solution: a.find_solution,
        duplicate: a.duplicate,
        pack: PackOptions {
            packer: a.packer,
            rules: Rules {
                layer_threshold: a.layer_threshold,
                max_load: a.max_load,
                period_ns: None,
                exclusive_ns: None,
                window: None,
                diagonal: a.same_layer_diagonal,
            },
            budget: None,
            seed: a.seed,
            generations: match a.effort {
                Effort::Fast => 0,
                Effort::Default => 40,
                Effort::Max => 200,
            },
        },
        samples: a.samples,
        schedule: a.schedule,
        effort: a.effort,
        min_efficiency: a.min_efficiency,
        refine_moves: a.refine_moves,
    };
    if !a.budget_sweep.is_empty() {
        println!(
            "{:>6} {:>8} {:>6} {:>6} {:>8} {:>9} {:>12} {:>12} {:>8} {:>6}",
            "factor",
            "budget",
            "used",
            "bound",
            "util",
            "util_max",
            "latency_ms",
            "ideal_ms",
            "speedup",
            "eff"
        );
        let spin = spinner(a.effort);
        for (n, &f) in a.budget_sweep.iter().enumerate() {
            if !(f > 0.0 && f.is_finite()) {
                anyhow::bail!("--budget-sweep: {f} is not a positive factor");
            }
            let budget = (f * base.crossbars as f64).round() as usize;
            spin.set_prefix(format!("factor {f} ({} of {}): ", n + 1, a.budget_sweep.len()));
            let result = compile_split(&net, tau, &mk(budget), a.partition.depth_split_auto(), &spin);
            spin.suspend(|| match result {
                Ok(c) => {
                    let s = rnc::report::summary(&net, &c, &base, None);
                    println!(
                        "{:>6.2} {:>8} {:>6} {:>6} {:>7.1}% {:>8.1}% {:>12.4} {:>12.4} {:>8.2} {:>6.2}",
                        f,
                        budget,
                        s.crossbars_used,
                        s.lower_bound,
                        100.0 * s.utilization_of_budget,
                        100.0 * s.utilization_bound.unwrap_or(0.0),
                        s.latency_ns / 1e6,
                        s.ideal_latency_ns / 1e6,
                        s.speedup,
                        s.contention_efficiency
                    );
                }
                Err(e) => println!("{f:>6.2} {budget:>8}  does not fit: {e}"),
            });
        }
        spin.finish_and_clear();
        return Ok(());
    }
    let budget = match (a.crossbars, a.find_solution) {
        (Some(n), _) if n == 0 || n > MAX_CROSSBARS => {
            anyhow::bail!("--crossbars must be between 1 and {MAX_CROSSBARS} (got {n})")
        }
        (Some(n), _) => n,
        (None, true) => 0,
        (None, false) => anyhow::bail!("give --crossbars N (or --find-solution, or --budget-sweep F,F,...)"),
    };
    let spin = spinner(a.effort);
    let c = compile_split(&net, tau, &mk(budget), a.partition.depth_split_auto(), &spin);
    spin.finish_and_clear();
    let c = c?;
    let energy = rnc::report::energy_per_inference_nj(&c, &hw, bits);
    let mut s = rnc::report::summary(&net, &c, &base, energy);
    s.energy_breakdown = rnc::report::energy_breakdown(&net, &c, &hw, bits);
    let summary_json = serde_json::to_string_pretty(&s)?;
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create --out folder {}", dir.display()))?;
        write_atomic(&dir.join("summary.json"), summary_json.as_bytes())?;
        write_atomic(&dir.join("pack.csv"), &rnc::report::pack_csv(&c)?)?;
        let pj = serde_json::to_string_pretty(&rnc::report::partition_json(&net, &c))?;
        write_atomic(&dir.join("partition.json"), pj.as_bytes())?;
        if a.plots {
            let preds = net.predecessors(a.schedule);
            let sim = rnc::compile::run_sim(&c.items, &c.packing, &c.layer_time_ns, &preds, a.samples, true)?;
            let lc = c.packing.layer_crossbars(&c.items, c.layer_time_ns.len());
            write_atomic(
                &dir.join("trace.csv"),
                &rnc::report::trace_csv(&net, &sim.trace, &lc)?,
            )?;
            write_compile_plots(dir)?;
        }
    }
    if let Some(path) = &a.trace {
        let preds = net.predecessors(a.schedule);
        let sim = rnc::compile::run_sim(&c.items, &c.packing, &c.layer_time_ns, &preds, a.samples, true)?;
        let lc = c.packing.layer_crossbars(&c.items, c.layer_time_ns.len());
        let bytes = match a.trace_format {
            TraceFormat::Csv => rnc::report::trace_csv(&net, &sim.trace, &lc)?,
            TraceFormat::Chrome => rnc::report::trace_chrome(&net, &sim.trace, &lc)?,
        };
        write_atomic(path, &bytes)?;
    }
    if a.json {
        println!("{summary_json}");
    } else {
        print!("{}", rnc::report::summary_text(&s));
    }
    Ok(())
}

/// Draws the pictures of a compile folder from its files (what `rnc report` shows).
fn write_compile_plots(dir: &std::path::Path) -> anyhow::Result<()> {
    use rnc::plots::{CompileData, Gantt, Occupancy, Periods, write_both};
    let d = CompileData::load(dir)?;
    write_both(dir, "occupancy", &Occupancy { data: &d })?;
    write_both(dir, "periods", &Periods { data: &d })?;
    if let Some(tr) = &d.trace {
        let samples = tr
            .iter()
            .map(|e| e.sample + 1)
            .max()
            .unwrap_or(0)
            .min(rnc::html::GANTT_SAMPLES);
        write_both(
            dir,
            "gantt",
            &Gantt {
                data: &d,
                trace: tr,
                samples,
            },
        )?;
    }
    Ok(())
}

/// Elapsed time and what is being mapped, on stderr while a default- or max-effort compile
/// runs (seconds to minutes); fast effort needs none. Hidden when stderr is not a terminal.
fn spinner(effort: Effort) -> indicatif::ProgressBar {
    if effort == Effort::Fast {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {elapsed} {prefix}{msg}") {
        bar.set_style(style);
    }
    bar.set_message(format!("mapping at {effort:?} effort").to_lowercase());
    bar.enable_steady_tick(std::time::Duration::from_millis(150));
    bar
}

/// Compiles with the given D, or with each candidate D when `auto`, keeping the lowest
/// simulated latency (ties: the smaller D).
fn compile_split(
    net: &rnc::network::Network,
    tau: rnc::compile::TileLatency,
    opts: &CompileOptions,
    auto: bool,
    spin: &indicatif::ProgressBar,
) -> anyhow::Result<rnc::compile::Compiled> {
    if !auto {
        return compile(net, tau, opts);
    }
    // The same ranking as inside one compile: fastest at or above the efficiency floor, else
    // the most efficient.
    let key = |c: &rnc::compile::Compiled| rnc::refine::rank(&c.sim, opts.min_efficiency);
    let mut best: Option<rnc::compile::Compiled> = None;
    let mut last_err = None;
    const SPLITS: [usize; 6] = [1, 2, 4, 8, 16, 32];
    for (n, d) in SPLITS.into_iter().enumerate() {
        spin.set_message(format!("depth split {d} ({} of {})", n + 1, SPLITS.len()));
        let mut o = *opts;
        o.partition.depth_split = d;
        match compile(net, tau, &o) {
            Ok(c) => {
                if best.as_ref().is_none_or(|b| key(&c) < key(b)) {
                    best = Some(c);
                }
            }
            Err(e) => last_err = Some(e),
        }
    }
    match (best, last_err) {
        (Some(c), _) => Ok(c),
        (None, Some(e)) => Err(e),
        (None, None) => anyhow::bail!("no depth split was tried"),
    }
}

fn efficiency_arg(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a contention efficiency between 0 and 1")),
    }
}
