//! `rnc supernet …`: train the Fashion-MNIST supernet, evaluate subnets, measure random
//! subnets for the predictor. Needs the `train` cargo feature (burn).

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Where the shipped supernet weights live in the repository.
pub const DEFAULT_WEIGHTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/weights/supernet-fmnist.bin");

#[derive(Args, Debug)]
pub struct SupernetArgs {
    #[command(subcommand)]
    pub command: SupernetCommand,
}

#[derive(Subcommand, Debug)]
pub enum SupernetCommand {
    /// Train the OFA MobileNetV3-small supernet on Fashion-MNIST (sandwich rule).
    Train(TrainArgs),
    /// Measure one subnet's test accuracy (batch-norm recalibration, then the test set).
    Eval(EvalArgs),
    /// Measure random subnets and write JSON lines for `rnc predictor train`.
    Measure(MeasureArgs),
}

/// Data and weights locations.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Fashion-MNIST directory (gzip IDX files); default: the Debian package's.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Training epochs.
    #[arg(long, default_value_t = 4)]
    pub epochs: usize,
    /// Output weights file.
    #[arg(long, default_value = DEFAULT_WEIGHTS, value_name = "FILE")]
    pub out: PathBuf,
    /// Images per step.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Peak learning rate (Adam, cosine decay).
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Random subnets per step besides the largest and smallest.
    #[arg(long, default_value_t = 1)]
    pub random_subnets: usize,
    /// Training images used (a fixed random subset of the 60,000).
    #[arg(long, default_value_t = 60_000)]
    pub train_images: usize,
    /// Test images for the per-epoch accuracy of the largest and smallest subnets.
    #[arg(long, default_value_t = 10_000)]
    pub eval_images: usize,
    /// Wall-clock budget in minutes (0 = none): the learning rate follows elapsed time and
    /// training stops when the budget is spent (results then depend on machine speed).
    #[arg(long, default_value_t = 0.0)]
    pub minutes: f64,
    /// Stop after this many steps (0 = train fully); for timing.
    #[arg(long, default_value_t = 0)]
    pub max_steps: usize,
    /// Continue from these weights instead of a fresh initialisation.
    #[arg(long, value_name = "FILE")]
    pub init: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Subnet: a JSON file or inline JSON {"ks":[16],"e":[16],"d":[4]}; also `largest`, `smallest`.
    #[arg(long, value_name = "FILE_OR_JSON")]
    pub genome: String,
    /// Test images (the first N of the 10,000).
    #[arg(long, default_value_t = 10_000)]
    pub images: usize,
    /// Training images for batch-norm recalibration.
    #[arg(long, default_value_t = rnc_calibration_default())]
    pub calibration: usize,
    /// Supernet weights.
    #[arg(long, default_value = DEFAULT_WEIGHTS, value_name = "FILE")]
    pub weights: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub nonideal: NonidealArgs,
}

/// RRAM device non-idealities (MNSIM 2.0's accuracy model, NONIDEAL.md).
#[derive(Args, Debug, Clone)]
pub struct NonidealArgs {
    /// Also run the subnet on simulated RRAM crossbars: 9-bit weights sliced over cells,
    /// bit-serial inputs, ADC, on/off ratio, Device_Variation and Device_SAF from the
    /// configuration (--config, --set).
    #[arg(long)]
    pub nonideal: bool,
    #[command(flatten)]
    pub hw: super::HwArgs,
    /// Simulated chips (Monte-Carlo trials; mean, std, min, max).
    #[arg(long, default_value_t = 5, value_name = "T")]
    pub trials: u64,
    /// Seed of the chips' faults and variation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// ADC transfer: scale (MNSIM's default dynamic range) or fix (-FixRange).
    #[arg(long, value_enum, default_value_t = AdcArg::Scale)]
    pub adc_mode: AdcArg,
    /// Cells without on/off ratio (digit k conducts exactly k) unless variation needs it.
    #[arg(long)]
    pub no_rratio: bool,
    /// Draw Device_Variation per cell instead of per array and level (MNSIM).
    #[arg(long)]
    pub variation_per_cell: bool,
    /// MNSIM's quirk: stuck cells read the ideal 0 and m, ignoring the on/off ratio.
    #[arg(long)]
    pub mnsim_compat: bool,
    /// Quantizer ranges from calibration: max (largest magnitude; the default, for weights
    /// trained in float) or mnsim (MNSIM's 3·std + |mean|, made for its QAT checkpoints: it
    /// clips tails and costs the float-trained supernet ~5 points at 9 bits).
    #[arg(long, value_enum, default_value_t = RangeArg::Max)]
    pub range: RangeArg,
    /// Sweep one configuration key, e.g. Device_Variation=0,5,10,20 (Device_SAF=0,1,2 sets
    /// both percentages to each value; Device_Level also sets Device_Resistance to linear
    /// conductance steps).
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub sweep: Option<String>,
    /// Output folder for a sweep: nonideal.json, nonideal_sweep.svg and .png.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeArg {
    Mnsim,
    Max,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdcArg {
    Scale,
    Fix,
}

#[derive(Args, Debug)]
pub struct MeasureArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of random subnets.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Test images per subnet.
    #[arg(long, default_value_t = 2000)]
    pub images: usize,
    /// Seed for the random subnets.
    #[arg(long, default_value_t = 2)]
    pub seed: u64,
    /// Supernet weights.
    #[arg(long, default_value = DEFAULT_WEIGHTS, value_name = "FILE")]
    pub weights: PathBuf,
    /// Output JSON-lines file (appended to, so an interrupted run can go on with --skip).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Skip the first N subnets of the sequence (resume).
    #[arg(long, default_value_t = 0)]
    pub skip: usize,
}

const fn rnc_calibration_default() -> usize {
    1000
}

pub fn genome_arg(s: &str) -> anyhow::Result<rnc::network::ofa::Genome> {
    use rnc::network::ofa::Genome;
    match s {
        "largest" => Ok(Genome::largest()),
        "smallest" => Ok(Genome::smallest()),
        _ => super::read_genome(s),
    }
}

#[cfg(not(feature = "train"))]
pub fn run(_a: SupernetArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "`rnc supernet` needs burn: rebuild with `cargo build --release --features train` \
         (`rnc search --accuracy predictor` works without it)"
    )
}

#[cfg(feature = "train")]
pub fn run(a: SupernetArgs) -> anyhow::Result<()> {
    match a.command {
        SupernetCommand::Train(t) => train(t),
        SupernetCommand::Eval(e) => eval(e),
        SupernetCommand::Measure(m) => measure(m),
    }
}

#[cfg(feature = "train")]
fn train(a: TrainArgs) -> anyhow::Result<()> {
    use indicatif::{ProgressBar, ProgressStyle};
    use rnc::accuracy::data::{FashionMnist, data_dir};
    use rnc::accuracy::supernet::{self, Progress, TrainConfig};
    let data = FashionMnist::load(&data_dir(a.data.data.as_deref()))?;
    let cfg = TrainConfig {
        epochs: a.epochs,
        batch: a.batch,
        lr: a.lr,
        seed: a.seed,
        random_subnets: a.random_subnets,
        train_images: a.train_images,
        eval_images: a.eval_images,
        max_steps: a.max_steps,
        minutes: a.minutes,
        checkpoint: Some(a.out.clone()),
        init: a.init.clone(),
    };
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("--out: cannot create {}: {e}", dir.display()))?;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} steps {per_sec} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let mut avg = None::<f64>;
    let net = supernet::train(&data, &cfg, |p| match p {
        Progress::Start {
            steps_per_epoch,
            epochs,
        } => {
            bar.set_length((steps_per_epoch * epochs) as u64);
            bar.set_prefix(format!("1/{epochs}"));
        }
        Progress::Step { epoch, loss, step } => {
            let a = avg.map_or(loss, |x| 0.98 * x + 0.02 * loss);
            avg = Some(a);
            bar.set_prefix(format!("{}/{}", epoch + 1, cfg.epochs));
            bar.set_message(format!("loss {a:.3}"));
            bar.inc(1);
            if step % 50 == 0 && !bar.is_hidden() {
            } else if step % 50 == 0 {
                eprintln!(
                    "epoch {} step {step} loss {a:.4} {:.1}s",
                    epoch + 1,
                    started.elapsed().as_secs_f64()
                );
            }
        }
        Progress::Epoch {
            epoch,
            largest,
            smallest,
            seconds,
        } => {
            bar.println(format!(
                "epoch {}: largest {:.2}% smallest {:.2}% on {} test images ({seconds:.0} s)",
                epoch + 1,
                100.0 * largest.accuracy,
                100.0 * smallest.accuracy,
                largest.images
            ));
            if bar.is_hidden() {
                eprintln!(
                    "epoch {}: largest {:.2}% smallest {:.2}% on {} test images ({seconds:.0} s)",
                    epoch + 1,
                    100.0 * largest.accuracy,
                    100.0 * smallest.accuracy,
                    largest.images
                );
            }
        }
    })?;
    bar.finish_and_clear();
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("--out: cannot create {}: {e}", dir.display()))?;
    }
    net.save(&a.out)?;
    println!(
        "wrote {} ({} parameters, {:.0} s)",
        a.out.display(),
        net.parameter_count(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(feature = "train")]
fn eval(a: EvalArgs) -> anyhow::Result<()> {
    use rnc::accuracy::data::{FashionMnist, data_dir};
    use rnc::accuracy::supernet::Supernet;
    let genome = genome_arg(&a.genome)?;
    if a.images == 0 {
        anyhow::bail!("--images must be at least 1");
    }
    if a.calibration == 0 {
        anyhow::bail!("--calibration must be at least 1");
    }
    let ni = &a.nonideal;
    if !ni.nonideal
        && (ni.sweep.is_some() || ni.out.is_some() || ni.hw.config.is_some() || !ni.hw.set.is_empty())
    {
        anyhow::bail!("--sweep, --out, --config and --set need --nonideal");
    }
    if ni.nonideal {
        return nonideal_eval(&a, &genome);
    }
    let net = Supernet::load(&a.weights)?;
    let data = FashionMnist::load(&data_dir(a.data.data.as_deref()))?;
    let t = std::time::Instant::now();
    let r = net.evaluate(&genome, &data, a.images, a.calibration)?;
    let secs = t.elapsed().as_secs_f64();
    if a.json {
        let doc = serde_json::json!({
            "accuracy": r.accuracy,
            "images": r.images,
            "correct": r.correct,
            "calibration_images": r.calibration_images,
            "seconds": secs,
            "genome": genome,
            "weights": a.weights.display().to_string(),
        });
        println!("{doc}");
    } else {
        println!(
            "accuracy {:.2}% ({} of {} test images; batch norm recalibrated on {} training images; {secs:.1} s)",
            100.0 * r.accuracy,
            r.correct,
            r.images,
            r.calibration_images
        );
    }
    Ok(())
}

#[cfg(feature = "train")]
/// Linear conductance steps between the configuration's HRS and LRS for `levels` levels (a
/// Device_Level sweep needs as many resistances as levels).
pub fn linear_resistances(r_hrs: f64, r_lrs: f64, levels: usize) -> String {
    let (g0, g1) = (1.0 / r_hrs, 1.0 / r_lrs);
    (0..levels)
        .map(|k| {
            let g = g0 + (g1 - g0) * k as f64 / (levels.max(2) - 1) as f64;
            format!("{:.6e}", 1.0 / g)
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(feature = "train")]
fn nonideal_eval(a: &EvalArgs, genome: &rnc::network::ofa::Genome) -> anyhow::Result<()> {
    use rnc::accuracy::data::{FashionMnist, data_dir};
    use rnc::accuracy::nonideal::{AdcMode, Device, Options};
    use rnc::accuracy::nonideal_net::Runner;
    use rnc::accuracy::supernet::Supernet;
    let ni = &a.nonideal;
    if ni.trials == 0 {
        anyhow::bail!("--trials must be at least 1");
    }
    if a.images == 0 {
        anyhow::bail!("--images must be at least 1");
    }
    if a.calibration == 0 {
        anyhow::bail!("--calibration must be at least 1");
    }
    let opts = Options {
        seed: ni.seed,
        rratio: !ni.no_rratio,
        variation: true,
        saf: true,
        adc: match ni.adc_mode {
            AdcArg::Scale => AdcMode::Scale,
            AdcArg::Fix => AdcMode::Fix,
        },
        variation_per_cell: ni.variation_per_cell,
        mnsim_stuck_values: ni.mnsim_compat,
    };
    // The sweep's values, checked before any work.
    let sweep: Option<(String, Vec<String>)> = match &ni.sweep {
        None => None,
        Some(s) => {
            let (k, v) = s.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("--sweep '{s}': expected KEY=V1,V2,..., e.g. Device_Variation=0,5,10")
            })?;
            let vals: Vec<String> = v
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect();
            if k.trim().is_empty() || vals.is_empty() {
                anyhow::bail!("--sweep '{s}': expected KEY=V1,V2,..., e.g. Device_Variation=0,5,10");
            }
            Some((k.trim().to_string(), vals))
        }
    };
    let base_hw = ni.hw.load()?;
    let base_dev = Device::from_hw(&base_hw)?;
    // Every sweep point's configuration, parsed (and rejected) before the evaluation starts.
    let mut points = Vec::new();
    if let Some((key, vals)) = &sweep {
        for v in vals {
            let mut hw = ni.hw.clone();
            let bare = key.rsplit('/').next().unwrap_or(key);
            if bare.eq_ignore_ascii_case("Device_SAF") {
                // One value per point: the same percentage stuck at HRS and at LRS.
                hw.set.push(format!("{key}={v},{v}"));
            } else {
                hw.set.push(format!("{key}={v}"));
            }
            let level_key = key
                .rsplit('/')
                .next()
                .unwrap_or(key)
                .eq_ignore_ascii_case("Device_Level");
            if level_key
                && !ni
                    .hw
                    .set
                    .iter()
                    .any(|s| s.to_ascii_lowercase().contains("device_resistance"))
            {
                let levels: usize = v
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--sweep {key}={v}: not a level count"))?;
                let r = &base_dev.resistance;
                hw.set.push(format!(
                    "Device_Resistance={}",
                    linear_resistances(r[0], r[r.len() - 1], levels.max(1))
                ));
            }
            let cfg = hw.load().map_err(|e| anyhow::anyhow!("--sweep {key}={v}: {e}"))?;
            let dev = Device::from_hw(&cfg).map_err(|e| anyhow::anyhow!("--sweep {key}={v}: {e}"))?;
            let x: f64 = v
                .split(',')
                .next()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(points.len() as f64);
            points.push((v.clone(), x, dev));
        }
    }
    if let Some(dir) = &ni.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("--out: cannot create {}: {e}", dir.display()))?;
    }
    let net = Supernet::load(&a.weights)?;
    let data = FashionMnist::load(&data_dir(a.data.data.as_deref()))?;
    let eval = net.evaluator()?;
    let t0 = std::time::Instant::now();
    let float = eval.evaluate(genome, &data, a.images, a.calibration)?;
    let range = match ni.range {
        RangeArg::Mnsim => rnc::accuracy::nonideal_net::RangeRule::Mnsim,
        RangeArg::Max => rnc::accuracy::nonideal_net::RangeRule::Max,
    };
    let runner = Runner::new(&eval, genome, &data, a.images, a.calibration, range)?;
    let quantized = runner.quantized_accuracy();
    let t1 = std::time::Instant::now();
    // A sweep evaluates its points only (the base configuration is not one of them unless
    // listed).
    let stats = sweep
        .is_none()
        .then(|| runner.trials(&base_dev, &opts, ni.trials));
    let mut sweep_doc = Vec::new();
    for (v, x, dev) in &points {
        let s = runner.trials(dev, &opts, ni.trials);
        if !a.json {
            eprintln!(
                "{} = {v}: {:.2}% ± {:.2}% (min {:.2}%, max {:.2}%)",
                sweep.as_ref().map_or("", |s| s.0.as_str()),
                100.0 * s.mean,
                100.0 * s.std,
                100.0 * s.min,
                100.0 * s.max
            );
        }
        sweep_doc.push(serde_json::json!({"value": v, "x": x, "device": dev, "nonideal": s}));
    }
    let runs = if points.is_empty() { 1 } else { points.len() };
    let per_trial = t1.elapsed().as_secs_f64() / (ni.trials as usize * runs) as f64;
    let secs = t0.elapsed().as_secs_f64();
    let doc = serde_json::json!({
        "genome": genome,
        "images": runner.images(),
        "calibration_images": a.calibration,
        "weights": a.weights.display().to_string(),
        "config": base_hw.source(),
        "set": ni.hw.set,
        "device": base_dev,
        "options": opts,
        "range": range,
        "float_accuracy": float.accuracy,
        "quantized_accuracy": quantized,
        "nonideal": stats,
        "seconds_per_trial": per_trial,
        "sweep": sweep.as_ref().map(|(k, _)| serde_json::json!({"key": k, "points": sweep_doc})),
        "seconds": secs,
    });
    if let Some(dir) = &ni.out {
        rnc::error::write_atomic(
            &dir.join("nonideal.json"),
            serde_json::to_string_pretty(&doc)?.as_bytes(),
        )?;
        if let Some((key, _)) = &sweep {
            let series = vec![rnc::plots::SweepSeries {
                label: short_genome(&a.genome),
                points: points
                    .iter()
                    .zip(&sweep_doc)
                    .map(|((_, x, _), d)| {
                        let m = d["nonideal"]["mean"].as_f64().unwrap_or(0.0);
                        let s = d["nonideal"]["std"].as_f64().unwrap_or(0.0);
                        (*x, m, s)
                    })
                    .collect(),
                quantized: Some(quantized),
            }];
            rnc::plots::write_both(
                dir,
                "nonideal_sweep",
                &rnc::plots::NonidealSweep { key, series: &series },
            )?;
        }
    }
    if a.json {
        println!("{doc}");
    } else {
        println!(
            "float accuracy      {:.2}% ({} test images; batch norm recalibrated on {} training images)",
            100.0 * float.accuracy,
            runner.images(),
            a.calibration
        );
        println!("quantized (9-bit)   {:.2}%", 100.0 * quantized);
        if let Some(stats) = &stats {
            println!(
                "non-ideal           {:.2}% ± {:.2}% (min {:.2}%, max {:.2}%; {} chips, seed {}; {:.1} s per chip)",
                100.0 * stats.mean,
                100.0 * stats.std,
                100.0 * stats.min,
                100.0 * stats.max,
                ni.trials,
                ni.seed,
                per_trial
            );
        } else {
            println!(
                "non-ideal           {} sweep points above ({} chips each, seed {}; {:.1} s per chip)",
                points.len(),
                ni.trials,
                ni.seed,
                per_trial
            );
        }
        println!(
            "device              {} levels ({} bit/cell), DAC {} bit, ADC {} bit ({:?}), {}x rows, DAC_Num {}, polarity {}, variation {}%, SAF {}%/{}% ({})",
            base_dev.levels,
            base_dev.cell_bits,
            base_dev.dac_bits,
            base_dev.adc_bits,
            opts.adc,
            base_dev.xbar_rows,
            base_dev.dac_num,
            base_dev.polarity,
            base_dev.variation_pct,
            base_dev.saf_pct[0],
            base_dev.saf_pct[1],
            base_hw.source()
        );
        if let Some(dir) = &ni.out {
            println!("wrote {}", dir.display());
        }
    }
    Ok(())
}

#[cfg(feature = "train")]
fn short_genome(arg: &str) -> String {
    if arg.len() <= 24 {
        arg.to_string()
    } else {
        "subnet".to_string()
    }
}

#[cfg(feature = "train")]
fn measure(a: MeasureArgs) -> anyhow::Result<()> {
    use indicatif::ProgressBar;
    use rnc::accuracy::data::{FashionMnist, data_dir};
    use rnc::accuracy::supernet::{self, CALIBRATION_IMAGES, Supernet};
    use rnc::rng::SplitMix64;
    use std::io::Write;
    let net = Supernet::load(&a.weights)?;
    let data = FashionMnist::load(&data_dir(a.data.data.as_deref()))?;
    let mut rng = SplitMix64::new(a.seed);
    let genomes: Vec<_> = (0..a.count).map(|_| supernet::random_genome(&mut rng)).collect();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&a.out)
        .map_err(|e| anyhow::anyhow!("--out {}: {e}", a.out.display()))?;
    let eval = net.evaluator()?;
    let bar = ProgressBar::new(a.count as u64);
    bar.set_position(a.skip.min(a.count) as u64);
    let todo: Vec<(usize, &rnc::network::ofa::Genome)> = genomes.iter().enumerate().skip(a.skip).collect();
    // Subnets are independent: evaluate a few at once, write them in sequence order.
    for chunk in todo.chunks(8) {
        use rayon::prelude::*;
        let results: Vec<_> = chunk
            .par_iter()
            .map(|(_, g)| eval.evaluate(g, &data, a.images, CALIBRATION_IMAGES))
            .collect::<anyhow::Result<_>>()?;
        let mut lines = Vec::new();
        for ((_, g), r) in chunk.iter().zip(&results) {
            supernet::measure_line(&mut lines, g, r)?;
        }
        file.write_all(&lines)?;
        file.flush()?;
        bar.inc(chunk.len() as u64);
        if bar.is_hidden() {
            eprintln!(
                "{}/{} {:.4}",
                chunk[chunk.len() - 1].0 + 1,
                a.count,
                results[0].accuracy
            );
        }
    }
    bar.finish_and_clear();
    println!(
        "measured {} subnets into {}",
        a.count - a.skip.min(a.count),
        a.out.display()
    );
    Ok(())
}
