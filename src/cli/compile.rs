use super::{HwArgs, InputArgs, ModelArgs, PartitionArgs};
use clap::{Args, ValueEnum};

use rnc::duplicate::DuplicateMode;
use rnc::error::write_atomic;
use rnc::network::Schedule;
use rnc::pack::Packer;
use rnc::{Budget, CompileOptions, DepthSplit, Effort, Target};
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
    /// Duplicate layers: auto (contention-aware, the best; the default), area, reference, none.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "auto", default_value = "auto")]
    pub duplicate: DuplicateMode,
    /// Placement strategy.
    #[arg(long, value_enum, default_value_t = Packer::Search)]
    pub packer: Packer,
    /// Open crossbars beyond the budget to find the least number needed.
    #[arg(long)]
    pub find_solution: bool,
    #[command(flatten)]
    pub rules: super::RulesArgs,
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
    /// more tile copies): squeezenet1_1 on 112 crossbars gets about 12,000 at default and
    /// 400,000 at max effort. Time grows in proportion; results stay deterministic.
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

pub fn run(a: CompileArgs) -> anyhow::Result<()> {
    let hw = a.hw.load()?;
    let target = Target::new(hw, a.input_bits).map_err(flag_error)?;
    let opts = options(&a)?;
    // The network is read after the options are checked, so a bad flag fails fast.
    opts.validate(&target).map_err(flag_error)?;
    let net = a.model.load(&a.input)?;
    if !a.budget_sweep.is_empty() {
        return budget_sweep(&a, &net, &target, opts);
    }
    let spin = spinner(a.effort);
    let hook = |msg: &str| {
        spin.set_message(msg.to_string());
        true
    };
    let c = rnc::compile_with(&net, &target, &opts, &hook);
    spin.finish_and_clear();
    let c = c.map_err(flag_error)?;
    if let Some(dir) = &a.out {
        c.save(dir, a.plots).map_err(flag_error)?;
    }
    if let Some(path) = &a.trace {
        let bytes = match a.trace_format {
            TraceFormat::Csv => c.trace_csv(),
            TraceFormat::Chrome => c.trace_chrome(),
        }
        .map_err(flag_error)?;
        write_atomic(path, &bytes)?;
    }
    if a.json {
        println!("{}", c.summary_json());
    } else {
        print!("{}", rnc::report::summary_text(c.summary()));
    }
    Ok(())
}

/// The library's options from the flags (a sweep sets the budget per row).
fn options(a: &CompileArgs) -> anyhow::Result<CompileOptions> {
    let mut o = CompileOptions::default();
    o.budget = match (a.crossbars, a.find_solution) {
        (Some(n), _) => Budget::Crossbars(n),
        (None, true) => Budget::Least,
        (None, false) if !a.budget_sweep.is_empty() => Budget::Crossbars(1),
        (None, false) => anyhow::bail!("give --crossbars N (or --find-solution, or --budget-sweep F,F,...)"),
    };
    if let Some(x) = &a.partition.xbar {
        o.xbar = Some(x.parse().map_err(|e: String| anyhow::anyhow!("--xbar: {e}"))?);
    }
    o.depth_split = match a.partition.depth_split.as_deref() {
        None => DepthSplit::Auto,
        Some(_) if a.partition.depth_split_auto() => DepthSplit::Auto,
        Some(d) => match d.trim().parse::<usize>() {
            Ok(d) => DepthSplit::Fixed(d),
            Err(_) => anyhow::bail!("--depth-split '{d}' is not a whole number ≥ 1 or 'auto'"),
        },
    };
    o.depthwise = a.partition.depthwise.unwrap_or_default();
    o.duplicate = a.duplicate;
    o.packer = a.packer;
    a.rules.apply(&mut o);
    o.seed = a.seed;
    o.samples = a.samples;
    o.schedule = a.schedule;
    o.effort = a.effort;
    o.min_efficiency = a.min_efficiency;
    o.refine_moves = a.refine_moves;
    Ok(o)
}

/// A library error in the CLI's words: option keys become flags; rnc's own failures keep
/// exit code 1.
pub fn flag_error(e: rnc::Error) -> anyhow::Error {
    let text = e.render(&|k| match k {
        "options" => "options".to_string(),
        k => format!("--{}", k.replace('_', "-")),
    });
    if e.is_user_error() {
        anyhow::anyhow!(text)
    } else {
        rnc::error::Internal(text.trim_start_matches("internal error: ").to_string()).into()
    }
}

/// `--budget-sweep`: one row per budget factor of the ISAAC-like footprint.
fn budget_sweep(
    a: &CompileArgs,
    net: &rnc::network::Network,
    target: &Target,
    opts: CompileOptions,
) -> anyhow::Result<()> {
    for &f in &a.budget_sweep {
        if !(f > 0.0 && f.is_finite()) {
            anyhow::bail!("--budget-sweep: {f} is not a positive factor");
        }
    }
    let tau_fn = |r: usize, c: usize| target.tau_ns(r, c);
    let base = rnc::compile::baseline(net, target.crossbar(), &tau_fn, opts.samples, opts.schedule)?;
    println!(
        "{:>6} {:>8} {:>6} {:>6} {:>8} {:>9} {:>12} {:>12} {:>8} {:>6} {:>6}",
        "factor",
        "budget",
        "used",
        "bound",
        "util",
        "util_max",
        "latency_ms",
        "ideal_ms",
        "speedup",
        "eff",
        "gap"
    );
    let spin = spinner(a.effort);
    for (n, &f) in a.budget_sweep.iter().enumerate() {
        let budget = (f * base.crossbars as f64).round() as usize;
        spin.set_prefix(format!("factor {f} ({} of {}): ", n + 1, a.budget_sweep.len()));
        let mut o = opts;
        o.budget = Budget::Crossbars(budget);
        let hook = |msg: &str| {
            spin.set_message(msg.to_string());
            true
        };
        let result = rnc::compile_with(net, target, &o, &hook);
        spin.suspend(|| match result {
            Ok(c) => {
                let s = c.summary();
                println!(
                    "{:>6.2} {:>8} {:>6} {:>6} {:>7.1}% {:>8.1}% {:>12.4} {:>12.4} {:>8.2} {:>6.2} {:>6.2}",
                    f,
                    budget,
                    s.crossbars_used,
                    s.lower_bound,
                    100.0 * s.utilization_of_budget,
                    100.0 * s.utilization_bound.unwrap_or(0.0),
                    s.latency_ns / 1e6,
                    s.ideal_latency_ns / 1e6,
                    s.speedup,
                    s.contention_efficiency,
                    s.optimality_gap.unwrap_or(f64::NAN)
                );
            }
            Err(e) => println!("{f:>6.2} {budget:>8}  does not fit: {}", flag_error(e)),
        });
    }
    spin.finish_and_clear();
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

fn efficiency_arg(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a contention efficiency between 0 and 1")),
    }
}
