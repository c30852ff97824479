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
