//! Command definitions and dispatch.

mod inspect;
mod predictor;
mod supernet;

use clap::{Args, Parser, Subcommand};
use rnc::network::{Network, ofa::Genome, zoo};
use rnc::partition::{Crossbar, DepthwiseMapping, PartitionOptions};

/// rnc — compile neural networks onto RRAM crossbar compute-in-memory accelerators.
///
/// Start with `rnc inspect --model mbv3-small` to see how a network is cut into crossbar tiles.
#[derive(Parser, Debug)]
#[command(name = "rnc", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print a network's weight layers, their boxes and tiles, and the area lower bound.
    Inspect(inspect::InspectArgs),
    /// Fashion-MNIST supernet: train, evaluate subnets, measure random subnets (feature `train`).
    Supernet(supernet::SupernetArgs),
    /// Accuracy predictor fitted on measured subnets: train, predict.
    Predictor(predictor::PredictorArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Supernet(a) => supernet::run(a),
        Command::Predictor(a) => predictor::run(a),
    }
}

/// Which network to work on.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct ModelArgs {
    /// Built-in model: mbv3-small, squeezenet1_1 or resnet18.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// OFA MobileNetV3-small subnet: a JSON file or inline JSON {"ks":[16],"e":[16],"d":[4]}.
    #[arg(long, value_name = "FILE_OR_JSON")]
    pub genome: Option<String>,
}

/// Input and class count.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Input image side in pixels (square input).
    #[arg(long, default_value_t = 64, value_name = "PIXELS")]
    pub input: usize,
    /// Number of classes of the classifier.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub classes: usize,
}

/// How layers are cut into tiles.
#[derive(Args, Debug, Clone)]
pub struct PartitionArgs {
    /// Crossbar size ROWSxCOLS.
    #[arg(long, default_value = "128x128", value_name = "ROWSxCOLS")]
    pub xbar: String,
    /// Depthwise split factor D (≥ 1): depthwise layers are cut into column groups of ⌊C/D⌋ channels.
    #[arg(long, default_value_t = 1, value_name = "D")]
    pub depth_split: usize,
    /// Depthwise mapping: serial (the reference's) or diagonal (g channels per activation).
    #[arg(long, value_enum, default_value_t = DepthwiseMapping::Serial)]
    pub depthwise: DepthwiseMapping,
}

impl PartitionArgs {
    pub fn options(&self) -> anyhow::Result<PartitionOptions> {
        let xbar: Crossbar = self
            .xbar
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--xbar: {e}"))?;
        if self.depth_split == 0 {
            anyhow::bail!("--depth-split must be at least 1 (got 0)");
        }
        Ok(PartitionOptions {
            xbar,
            depth_split: self.depth_split,
            depthwise: self.depthwise,
            bit_slices: 1,
        })
    }
}

impl ModelArgs {
    pub fn load(&self, input: &InputArgs) -> anyhow::Result<Network> {
        if input.classes == 0 {
            anyhow::bail!("--classes must be at least 1");
        }
        if let Some(name) = &self.model {
            return Ok(zoo::build(name, input.input, input.classes)?);
        }
        if let Some(g) = &self.genome {
            let genome = read_genome(g)?;
            return Ok(rnc::network::ofa::build(&genome, input.input, input.classes)?);
        }
        anyhow::bail!("give a network with --model NAME or --genome FILE_OR_JSON")
    }
}

/// Reads a genome given inline (starting with `{`) or as a file path.
pub fn read_genome(arg: &str) -> anyhow::Result<Genome> {
    let t = arg.trim_start();
    if t.starts_with('{') {
        return Genome::from_json(t).map_err(|e| anyhow::anyhow!("--genome: {e}"));
    }
    let text =
        std::fs::read_to_string(arg).map_err(|e| anyhow::anyhow!("--genome: cannot read '{arg}': {e}"))?;
    Genome::from_json(&text).map_err(|e| anyhow::anyhow!("--genome {arg}: {e}"))
}
