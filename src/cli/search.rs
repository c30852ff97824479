use super::HwArgs;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rnc::accuracy::{AccuracySource, ExternalEvaluator, NoAccuracy};
use rnc::api::Depthwise;
use rnc::compile::Effort;
use rnc::search::{self, GenerationReport, HwObjective, Objective, Objectives, Progress, SearchConfig};
use rnc::{CompileOptions, DepthSplit};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Crossbar budget: how many crossbars the accelerator has.
    #[arg(long, value_name = "N")]
    pub budget: usize,
    /// Population size.
    #[arg(long, default_value_t = 50, value_name = "P")]
    pub population: usize,
    /// Generations after the initial population.
    #[arg(long, default_value_t = 100, value_name = "G")]
    pub generations: usize,
    /// Accuracy source: none (hardware-only, single objective), external:CMD (a command
    /// answering JSON lines, see examples/evaluator.py), predictor or supernet.
    #[arg(long, default_value = "none", value_name = "SOURCE")]
    pub accuracy: String,
    /// What to optimise, comma-separated: accuracy (needs --accuracy), speedup (always),
    /// energy (read energy per inference, minimised). Default: accuracy,speedup with an
    /// accuracy source, speedup without.
    #[arg(long, value_name = "LIST")]
    pub objectives: Option<String>,
    /// Input image side in pixels (square input).
    #[arg(long, default_value_t = 64, value_name = "PIXELS")]
    pub input: usize,
    /// Output folder (evolution.csv, pareto.json, checkpoint.json).
    #[arg(long, default_value = "rnc-search", value_name = "DIR")]
    pub out: PathBuf,
    /// Random seed: the same seed and settings give the same result.
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub seed: u64,
    /// Continue the search in --out from its checkpoint (--generations may be raised).
    #[arg(long)]
    pub resume: bool,
    /// Seconds to wait for each answer of an external evaluator.
    #[arg(long, default_value_t = 1800.0, value_name = "SECS")]
    pub eval_timeout: f64,
    /// Compiler effort per candidate (fast: about 0.1 s of one core each for mbv3-sized subnets).
    #[arg(long, value_enum, default_value_t = Effort::Fast)]
    pub effort: Effort,
    #[command(flatten)]
    pub rules: super::RulesArgs,
    /// Depthwise split factor D of every candidate, or auto (the default: chosen per
    /// candidate among 1, 2, 4, 8, 16, 32, as `rnc compile`).
    #[arg(long, value_name = "D|auto")]
    pub depth_split: Option<String>,
    /// Depthwise mapping: serial, diagonal or auto (the default, as `rnc compile`).
    #[arg(long, value_enum, value_name = "serial|diagonal|auto")]
    pub depthwise: Option<Depthwise>,
    /// Keep the search's figures for the final front instead of re-mapping it at default
    /// effort (pareto.json then has no `*_default` fields; saves seconds per front member).
    #[arg(long)]
    pub no_remap: bool,
    /// Also draw the front (pareto.svg, pareto.png) into --out.
    #[arg(long)]
    pub plots: bool,
    #[command(flatten)]
    pub hw: HwArgs,
    /// With --accuracy supernet: score candidates on simulated RRAM chips (device
    /// non-idealities of --config/--set), the mean over --nonideal-trials chips.
    #[arg(long)]
    pub nonideal: bool,
    /// Chips per candidate for --nonideal.
    #[arg(long, default_value_t = 1, value_name = "T")]
    pub nonideal_trials: u64,
}

/// Classes of the OFA search space's classifier (SPEC §10).
const CLASSES: usize = 10;

fn accuracy_source(a: &SearchArgs) -> anyhow::Result<Box<dyn AccuracySource>> {
    let spec = a.accuracy.trim();
    if let Some(cmd) = spec.strip_prefix("external:") {
        if !(a.eval_timeout.is_finite() && a.eval_timeout > 0.0 && a.eval_timeout <= 1e9) {
            anyhow::bail!(
                "--eval-timeout must be a positive number of seconds (got {})",
                a.eval_timeout
            );
        }
        let log = Some(a.out.join("evaluator.log"));
        return Ok(Box::new(ExternalEvaluator::new(
            cmd,
            Duration::from_secs_f64(a.eval_timeout),
            log,
        )?));
    }
    if a.nonideal && spec != "supernet" {
        anyhow::bail!("--nonideal needs --accuracy supernet");
    }
    match spec {
        #[cfg(feature = "train")]
        "supernet" if a.nonideal => {
            let dev = rnc::accuracy::nonideal::Device::from_hw(&a.hw.load()?)?;
            let opts = rnc::accuracy::nonideal::Options {
                seed: a.seed,
                ..Default::default()
            };
            Ok(Box::new(rnc::accuracy::nonideal_net::NonidealSource::new(
                std::path::Path::new("weights/supernet-fmnist.bin"),
                std::path::Path::new(rnc::accuracy::data::DEFAULT_DIR),
                1000,
                dev,
                opts,
                a.nonideal_trials,
            )?))
        }
        "none" => Ok(Box::new(NoAccuracy)),
        "predictor" => Ok(Box::new(rnc::accuracy::predictor::PredictorSource::new(None)?)),
        #[cfg(feature = "train")]
        "supernet" => Ok(Box::new(rnc::accuracy::supernet::SupernetSource::new(
            std::path::Path::new("weights/supernet-fmnist.bin"),
            std::path::Path::new(rnc::accuracy::data::DEFAULT_DIR),
            1000,
        )?)),
        #[cfg(not(feature = "train"))]
        "supernet" => anyhow::bail!(
            "--accuracy supernet measures every candidate with the supernet and needs the `train` \
             feature (cargo build --release --features train); --accuracy predictor works in this build"
        ),
        _ => anyhow::bail!(
            "--accuracy '{spec}': unknown source; expected none, external:CMD, predictor or supernet"
        ),
    }
}

/// A bar over generations showing the front size and best values (hidden when stderr is
/// not a terminal).
struct Bar(ProgressBar, bool);

impl Progress for Bar {
    fn start(&mut self, done: usize, generations: usize, hardware_only: bool) {
        self.0.set_length(generations as u64 + 1);
        self.0.set_position(done as u64);
        self.0.set_prefix(format!("generation {done}/{generations}"));
        if hardware_only {
            self.0.set_message("hardware-only (no accuracy objective)");
        }
    }

    fn generation(&mut self, r: &GenerationReport) {
        let speed = r.best_speedup.map_or("-".into(), |s| format!("{s:.2}x"));
        let energy = r
            .best_energy_nj
            .map_or("-".into(), |e| format!("{:.2} uJ", e / 1e3));
        let msg = if self.1 {
            let acc = r
                .best_accuracy
                .map_or(String::new(), |a| format!(" | best accuracy {a:.4}"));
            format!(
                "front {} | best speed-up {speed}{acc} | least energy {energy}",
                r.front_size
            )
        } else if r.hardware_only {
            format!("hardware-only: best speed-up {speed}")
        } else {
            let acc = r.best_accuracy.map_or("-".into(), |a| format!("{a:.4}"));
            format!(
                "front {} | best speed-up {speed} | best accuracy {acc}",
                r.front_size
            )
        };
        self.0
            .set_prefix(format!("generation {}/{}", r.generation, r.generations));
        self.0.set_message(msg);
        self.0.set_position(r.generation as u64 + 1);
    }
}

/// The objectives of the flags: `--objectives` must name accuracy exactly when `--accuracy`
/// gives a source.
fn objectives(a: &SearchArgs) -> anyhow::Result<Objectives> {
    let has_source = a.accuracy.trim() != "none";
    let Some(text) = &a.objectives else {
        return Ok(Objectives::new(has_source, false));
    };
    let o = Objectives::parse(text)?;
    if o.has(Objective::Accuracy) && !has_source {
        anyhow::bail!(
            "--objectives {o} includes accuracy, which needs --accuracy SOURCE (external:CMD, predictor or \
             supernet); a hardware-only search takes --objectives speedup or speedup,energy"
        );
    }
    if !o.has(Objective::Accuracy) && has_source {
        anyhow::bail!(
            "--accuracy {} gives an accuracy but --objectives {o} does not include it; add accuracy to \
             --objectives or leave out --accuracy",
            a.accuracy.trim()
        );
    }
    Ok(o)
}

pub fn run(a: SearchArgs) -> anyhow::Result<()> {
    let objectives = objectives(&a)?;
    let energy = objectives.has(Objective::Energy);
    let mut acc = accuracy_source(&a)?;
    if !(1..=search::MAX_BUDGET).contains(&a.budget) {
        anyhow::bail!(
            "--budget must be between 1 and {} crossbars (got {})",
            search::MAX_BUDGET,
            a.budget
        );
    }
    // Every subnet shares the stem and strides, so the smallest one tells whether the input fits.
    let smallest = rnc::network::ofa::build(&rnc::network::ofa::Genome::smallest(), a.input, CLASSES)
        .map_err(|e| anyhow::anyhow!("--input {}: {e}", a.input))?;
    let opts = compile_options(&a)?;
    let hw = search::search_evaluator_with(a.hw.load()?, a.input, opts)
        .map_err(|e| match e.downcast::<rnc::Error>() {
            Ok(e) => super::compile::flag_error(e),
            Err(e) => e,
        })?
        .with_front_remap(!a.no_remap);
    if !a.resume {
        check_budget(&smallest, &hw, a.budget)?;
    }
    println!("{}", rules_line(hw.options()));
    let hardware_only = !acc.is_real();
    if hardware_only && energy {
        println!(
            "accuracy: none - hardware-only search with two objectives (speed-up, energy); no accuracy is estimated"
        );
    } else if hardware_only {
        println!(
            "accuracy: none - hardware-only search with one objective (speed-up); no accuracy is estimated"
        );
    }
    let cfg = SearchConfig {
        seed: a.seed,
        budget: a.budget,
        input: a.input,
        classes: CLASSES,
        population: a.population,
        generations: a.generations,
        out: a.out.clone(),
        resume: a.resume,
        energy,
    };
    let bar = ProgressBar::new(a.generations as u64 + 1);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:25}] {elapsed} {msg}")
            .map_err(|e| anyhow::anyhow!(rnc::error::Internal(format!("progress style: {e}"))))?
            .progress_chars("=> "),
    );
    let mut progress = Bar(bar, energy);
    let result = search::run(&cfg, &hw as &dyn HwObjective, acc.as_mut(), &mut progress);
    progress.0.finish_and_clear();
    let s = result?;
    let r = &s.last;
    let resumed = s
        .resumed_after
        .map(|g| format!(" (resumed after generation {g})"))
        .unwrap_or_default();
    println!(
        "search finished: generation {} of {}{resumed}",
        r.generation, r.generations
    );
    if hardware_only && !energy {
        println!("  accuracy: none (single objective: speed-up)");
    } else if hardware_only {
        println!("  accuracy: none (objectives: {objectives})");
    } else if energy {
        println!("  accuracy: {} (objectives: {objectives})", acc.name());
    } else {
        println!("  accuracy: {}", acc.name());
    }
    match r.best_speedup {
        None => println!(
            "  no candidate fits the budget of {} crossbars: the front is empty",
            a.budget
        ),
        Some(sp) => {
            let best_acc = r
                .best_accuracy
                .map_or(String::new(), |x| format!(", best accuracy {x:.4}"));
            let least_energy = r.best_energy_nj.map_or(String::new(), |e| {
                format!(", least energy {:.3} uJ per inference", e / 1e3)
            });
            println!(
                "  front: {} candidate(s), best speed-up {sp:.3}x at {} effort{best_acc}{least_energy}",
                r.front_size,
                effort_name(a.effort)
            );
            let show = |xs: Vec<f64>| {
                let mut t: Vec<String> = xs.iter().take(10).map(|x| format!("{x:.2}x")).collect();
                if xs.len() > 10 {
                    t.push(format!("… ({} more)", xs.len() - 10));
                }
                t.join(", ")
            };
            println!(
                "  front speed-ups at {} effort: {}",
                effort_name(a.effort),
                show(s.front.iter().map(|m| m.outcome.speedup).collect())
            );
            let finals: Vec<f64> = s.front_default.iter().flatten().map(|e| e.speedup).collect();
            if !finals.is_empty() {
                println!(
                    "  front re-mapped at default effort: {} (pareto.json: speedup_default)",
                    show(finals)
                );
            }
        }
    }
    println!(
        "  evaluations: {} hardware ({} cache hits), {} accuracy; {:.1} s",
        r.hw_evaluations,
        r.cache_hits,
        s.accuracy_evaluations,
        s.elapsed.as_secs_f64()
    );
    println!(
        "  outputs: {}/pareto.json, evolution.csv, checkpoint.json",
        s.out.display()
    );
    if a.plots {
        let d = rnc::plots::SearchData::load(&s.out)?;
        rnc::plots::write_both(&s.out, "pareto", &rnc::plots::Pareto { data: &d })?;
        println!("  pictures: pareto.svg, pareto.png");
    }
    Ok(())
}

fn effort_name(e: Effort) -> &'static str {
    match e {
        Effort::Fast => "fast",
        Effort::Default => "default",
        Effort::Max => "max",
    }
}

/// The compile options candidates are mapped with: `rnc compile`'s defaults and flags.
fn compile_options(a: &SearchArgs) -> anyhow::Result<CompileOptions> {
    let mut o = search::search_options(a.budget, a.effort);
    a.rules.apply(&mut o);
    o.depthwise = a.depthwise.unwrap_or_default();
    o.depth_split = match a.depth_split.as_deref().map(str::trim) {
        None => DepthSplit::Auto,
        Some(d) if d.eq_ignore_ascii_case("auto") => DepthSplit::Auto,
        Some(d) => match d.parse::<usize>() {
            Ok(0) => anyhow::bail!("--depth-split must be at least 1 (got 0)"),
            Ok(d) => DepthSplit::Fixed(d),
            Err(_) => anyhow::bail!("--depth-split '{d}' is not a whole number ≥ 1 or 'auto'"),
        },
    };
    Ok(o)
}

/// The rules and layout in force, as the run records them.
fn rules_line(o: &CompileOptions) -> String {
    let r = o.effective_rules();
    let split = match o.depth_split {
        DepthSplit::Auto => "auto".to_string(),
        DepthSplit::Fixed(d) => d.to_string(),
    };
    let dw = match o.depthwise {
        Depthwise::Serial => "serial",
        Depthwise::Diagonal => "diagonal",
        Depthwise::Auto => "auto",
    };
    format!(
        "rules: {} (layer threshold {}, max load {}, same-layer block diagonal {}); depthwise {dw}, \
         depth split {split}",
        o.rules.name(),
        r.layer_threshold,
        r.max_load,
        if r.diagonal { "on" } else { "off" }
    )
}

/// A budget below what the smallest subnet needs under the search's rules would leave every
/// candidate infeasible: refuse it before the run, naming the least crossbars. Every subnet
/// holds at least the smallest one's layers, and a depth split only adds tiles, so the least
/// bound over the layouts is a bound for the whole space.
fn check_budget(
    smallest: &rnc::network::Network,
    hw: &search::hardware::Evaluator,
    budget: usize,
) -> anyhow::Result<()> {
    let opts = hw.options();
    let rules = opts.effective_rules();
    let mut least = u64::MAX;
    for (depthwise, depth_split) in rnc::api::layout_choices(smallest, opts) {
        let popts = rnc::partition::PartitionOptions {
            xbar: hw.target().crossbar(),
            depth_split,
            depthwise,
            bit_slices: 1,
        };
        let part = rnc::partition::partition(smallest, &popts)?;
        let items = rnc::compile::one_copy_items(&part);
        let b = rnc::pack::lower_bound(&items, popts.xbar, &rules);
        least = least.min(b.crossbars);
    }
    if (budget as u64) < least {
        anyhow::bail!(
            "--budget {budget}: no subnet of the search space fits; the smallest needs at least {least} crossbars"
        );
    }
    Ok(())
}
