//! `rnc predictor …`: fit and query the accuracy predictor (no burn needed).

use clap::{Args, Subcommand};
use rnc::accuracy::predictor::{self, FitConfig, Predictor};
use std::path::PathBuf;

/// Where the shipped predictor lives in the repository.
pub const DEFAULT_PREDICTOR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/weights/predictor-fmnist.json");

#[derive(Args, Debug)]
pub struct PredictorArgs {
    #[command(subcommand)]
    pub command: PredictorCommand,
}

#[derive(Subcommand, Debug)]
pub enum PredictorCommand {
    /// Fit the predictor on subnets measured by `rnc supernet measure`; prints held-out RMSE and Kendall τ.
    Train(FitArgs),
    /// Predict one subnet's accuracy.
    Predict(PredictArgs),
}

#[derive(Args, Debug)]
pub struct FitArgs {
    /// Measured subnets (JSON lines with "genome" and "accuracy").
    #[arg(long, value_name = "FILE")]
    pub measured: PathBuf,
    /// Output predictor JSON.
    #[arg(long, default_value = DEFAULT_PREDICTOR, value_name = "FILE")]
    pub out: PathBuf,
    /// Subnets held out for RMSE and Kendall τ.
    #[arg(long, default_value_t = 200)]
    pub holdout: usize,
    /// Hidden units of the MLP.
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// Full-batch Adam epochs.
    #[arg(long, default_value_t = 600)]
    pub epochs: usize,
    /// L2 weight decay.
    #[arg(long, default_value_t = 1e-3)]
    pub weight_decay: f64,
    /// Seed (initial weights and the hold-out split).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Free text recorded in the file: how the accuracies were measured.
    #[arg(long, default_value = "")]
    pub note: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Subnet: a JSON file or inline JSON; also `largest`, `smallest`.
    #[arg(long, value_name = "FILE_OR_JSON")]
    pub genome: String,
    /// Predictor JSON (default: the shipped one).
    #[arg(long, value_name = "FILE")]
    pub predictor: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: PredictorArgs) -> anyhow::Result<()> {
    match a.command {
        PredictorCommand::Train(f) => fit(f),
        PredictorCommand::Predict(p) => predict(p),
    }
}

fn fit(a: FitArgs) -> anyhow::Result<()> {
    if a.hidden == 0 || a.epochs == 0 {
        anyhow::bail!("--hidden and --epochs must be at least 1");
    }
    let samples = predictor::read_samples(&a.measured)?;
    let cfg = FitConfig {
        hidden: a.hidden,
        epochs: a.epochs,
        lr: FitConfig::default().lr,
        weight_decay: a.weight_decay,
        seed: a.seed,
        holdout: a.holdout,
    };
    let p = predictor::fit(&samples, &cfg, &a.note)
        .map_err(|e| anyhow::anyhow!("--measured {}: {e}", a.measured.display()))?;
    let text = serde_json::to_string(&p)?;
    rnc::error::write_atomic(&a.out, format!("{text}\n").as_bytes())?;
    let q = p
        .quality
        .clone()
        .ok_or_else(|| rnc::error::Internal("fit gave no quality".into()))?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "out": a.out.display().to_string(), "quality": q })
        );
    } else {
        println!(
            "fitted on {} subnets; held-out {}: RMSE {:.3} pp, Kendall tau {:.3}; wrote {}",
            q.train_subnets,
            q.holdout_subnets,
            q.rmse_pp,
            q.kendall_tau,
            a.out.display()
        );
    }
    Ok(())
}

fn predict(a: PredictArgs) -> anyhow::Result<()> {
    let genome = super::supernet::genome_arg(&a.genome)?;
    let p = match &a.predictor {
        Some(path) => Predictor::load(path).map_err(|e| anyhow::anyhow!("--predictor: {e:#}"))?,
        None => Predictor::shipped(),
    };
    let acc = p.predict(&genome).clamp(0.0, 1.0);
    if a.json {
        println!("{}", serde_json::json!({ "accuracy": acc, "genome": genome }));
    } else {
        println!("predicted accuracy {:.2}%", 100.0 * acc);
    }
    Ok(())
}
