//! Command definitions and dispatch.

pub(crate) mod compile;
mod hw;
mod inspect;
mod predictor;
mod report;
mod search;
mod supernet;

use clap::{Args, Parser, Subcommand};
use rnc::network::onnx::{self, OnnxOptions, SkippedOp};
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
    /// Compile a network onto a crossbar budget: duplicate, pack, simulate, compare with ISAAC-like.
    Compile(Box<compile::CompileArgs>),
    /// Cost of one crossbar activation under an MNSIM SimConfig.ini: latency τ and its parts,
    /// PE area, read power and energy.
    Hw(hw::HwCmdArgs),
    /// Search OFA MobileNetV3-small subnets for accuracy and speed-up on a crossbar budget (NSGA-II).
    Search(search::SearchArgs),
    /// Fashion-MNIST supernet: train, evaluate subnets, measure random subnets (feature `train`).
    Supernet(supernet::SupernetArgs),
    /// Accuracy predictor fitted on measured subnets: train, predict.
    Predictor(predictor::PredictorArgs),
    /// Write DIR/report.html: one self-contained page (summary, pictures, layer table or
    /// search front) from the files of a compile or search output folder.
    Report(report::ReportArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Compile(a) => compile::run(*a),
        Command::Hw(a) => hw::run(a),
        Command::Search(a) => search::run(a),
        Command::Supernet(a) => supernet::run(a),
        Command::Predictor(a) => predictor::run(a),
        Command::Report(a) => report::run(a),
    }
}

/// Which network to work on: exactly one of --model, --genome, --onnx.
#[derive(Args, Debug, Clone)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("network").required(true).multiple(false).args(["model", "genome", "onnx"])))]
pub struct ModelArgs {
    /// Built-in model: mbv3-small, squeezenet1_1 or resnet18.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// OFA MobileNetV3-small subnet: a JSON file or inline JSON {"ks":[16],"e":[16],"d":[4]}.
    #[arg(long, value_name = "FILE_OR_JSON")]
    pub genome: Option<String>,
    /// Your own network as an ONNX file (.onnx or .onnx.gz). Conv, and Gemm/MatMul with a
    /// constant weight, become weight layers; --input defaults to the model's own size and
    /// --classes is ignored.
    #[arg(long, value_name = "FILE")]
    pub onnx: Option<std::path::PathBuf>,
    /// With --onnx: leave out weight-bearing ops rnc cannot map (ConvTranspose, LSTM, GRU,
    /// RNN, ...) with a warning instead of failing; data still flows through them.
    #[arg(long)]
    pub skip_unsupported: bool,
}

/// Input and class count.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Input image side in pixels (square input) [default: 64; with --onnx, the model's own].
    #[arg(long, value_name = "PIXELS")]
    pub input: Option<usize>,
    /// Number of classes of the classifier.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub classes: usize,
}

impl InputArgs {
    /// Input side used by built-in models and genomes when --input is not given.
    pub const DEFAULT_SIDE: usize = 64;

    /// The input side for built-in models and genomes.
    pub fn side(&self) -> usize {
        self.input.unwrap_or(Self::DEFAULT_SIDE)
    }
}

/// How layers are cut into tiles.
#[derive(Args, Debug, Clone)]
pub struct PartitionArgs {
    /// Crossbar size ROWSxCOLS (default: the hardware configuration's Xbar_Size, 128x128).
    #[arg(long, value_name = "ROWSxCOLS")]
    pub xbar: Option<String>,
    /// Depthwise split factor D (≥ 1): depthwise layers are cut into column groups of ⌊C/D⌋
    /// channels. `auto` (compile's default) ranks 1, 2, 4, 8, 16, 32 and keeps the fastest
    /// mapping; inspect's default is 1.
    #[arg(long, value_name = "D|auto")]
    pub depth_split: Option<String>,
    /// Depthwise mapping: serial (the reference's), diagonal (g channels per activation) or
    /// auto (compile's default: the faster; inspect's default is serial).
    #[arg(long, value_enum, value_name = "serial|diagonal|auto")]
    pub depthwise: Option<rnc::api::Depthwise>,
}

impl PartitionArgs {
    /// `--depth-split auto`: the caller searches D itself.
    pub fn depth_split_auto(&self) -> bool {
        self.depth_split
            .as_deref()
            .is_some_and(|d| d.trim().eq_ignore_ascii_case("auto"))
    }

    /// Partition options; the crossbar defaults to `default_xbar` (the hardware's).
    pub fn options(&self, default_xbar: Crossbar) -> anyhow::Result<PartitionOptions> {
        let xbar: Crossbar = match &self.xbar {
            Some(x) => x.parse().map_err(|e: String| anyhow::anyhow!("--xbar: {e}"))?,
            None => default_xbar,
        };
        let depth_split = match self.depth_split.as_deref() {
            None => 1,
            Some(_) if self.depth_split_auto() => 1,
            Some(d) => match d.trim().parse::<usize>() {
                Ok(0) => anyhow::bail!("--depth-split must be at least 1 (got 0)"),
                Ok(d) => d,
                Err(_) => anyhow::bail!("--depth-split '{d}' is not a whole number ≥ 1 or 'auto'"),
            },
        };
        Ok(PartitionOptions {
            xbar,
            depth_split,
            depthwise: match self.depthwise {
                None | Some(rnc::api::Depthwise::Serial) => DepthwiseMapping::Serial,
                Some(_) => DepthwiseMapping::Diagonal,
            },
            bit_slices: 1,
        })
    }
}

/// A loaded network and the warnings of its import.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    pub network: Network,
    /// ONNX nodes left out under --skip-unsupported (empty otherwise); goes into summaries.
    pub skipped: Vec<SkippedOp>,
}

impl ModelArgs {
    /// Loads the network, printing import warnings to stderr.
    pub fn load(&self, input: &InputArgs) -> anyhow::Result<Network> {
        let loaded = self.load_with_warnings(input)?;
        for s in &loaded.skipped {
            eprintln!("warning: {s}");
        }
        Ok(loaded.network)
    }

    /// Loads the network and returns the import warnings for the caller to report.
    pub fn load_with_warnings(&self, input: &InputArgs) -> anyhow::Result<LoadedModel> {
        if input.classes == 0 {
            anyhow::bail!("--classes must be at least 1");
        }
        if self.skip_unsupported && self.onnx.is_none() {
            anyhow::bail!("--skip-unsupported only applies to --onnx models");
        }
        let plain = |network| LoadedModel {
            network,
            skipped: Vec::new(),
        };
        if let Some(name) = &self.model {
            return Ok(plain(zoo::build(name, input.side(), input.classes)?));
        }
        if let Some(g) = &self.genome {
            let genome = read_genome(g)?;
            return Ok(plain(rnc::network::ofa::build(
                &genome,
                input.side(),
                input.classes,
            )?));
        }
        if let Some(path) = &self.onnx {
            let opts = OnnxOptions {
                input: input.input.map(|s| [s, s]),
                skip_unsupported: self.skip_unsupported,
            };
            let imp = onnx::load(path, &opts)?;
            return Ok(LoadedModel {
                network: imp.network,
                skipped: imp.skipped,
            });
        }
        anyhow::bail!("give a network with --model NAME, --genome FILE_OR_JSON or --onnx FILE")
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

/// The hardware configuration (MNSIM 2.0 `SimConfig.ini`).
#[derive(Args, Debug, Clone, Default)]
pub struct HwArgs {
    /// MNSIM SimConfig.ini (default: the embedded reference configuration, 128x128 crossbars).
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Override one configuration key, e.g. --set Xbar_Size=256,256 (repeatable; a key present
    /// in several sections is written SECTION/KEY).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl HwArgs {
    pub fn load(&self) -> anyhow::Result<rnc::hardware::HwConfig> {
        use rnc::hardware::{DEFAULT_SIMCONFIG, DEFAULT_SOURCE, HwConfig};
        let mut overrides = Vec::with_capacity(self.set.len());
        for s in &self.set {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--set '{s}': expected KEY=VALUE, e.g. Xbar_Size=256,256"))?;
            overrides.push((k, v));
        }
        let hw = match &self.config {
            None => HwConfig::parse_with_overrides(DEFAULT_SIMCONFIG, DEFAULT_SOURCE, &overrides)?,
            Some(path) => HwConfig::from_file_with_overrides(path, &overrides).map_err(|e| match e {
                rnc::hardware::ConfigError::Io { .. } => anyhow::anyhow!("--config: {e}"),
                e => e.into(),
            })?,
        };
        Ok(hw)
    }
}

/// The contention rules as `rnc compile` and `rnc search` take them: a preset and the flags
/// that override it.
#[derive(Args, Debug, Clone)]
pub struct RulesArgs {
    /// Contention rules: physical (what the hardware requires: layers share crossbars freely,
    /// one layer's tiles only on a block diagonal), exclusive (one layer per crossbar) or
    /// reference (the paper's: layer threshold 1, max load 6). The three flags below override; every output records the preset and the rules in force.
    #[arg(long, value_enum, default_value_t = rnc::api::RulePreset::Physical)]
    pub rules: rnc::api::RulePreset,
    /// A crossbar never holds layers whose indices differ by ≤ this (negative = off; default:
    /// the preset's).
    #[arg(long, allow_negative_numbers = true, value_name = "T")]
    pub layer_threshold: Option<i64>,
    /// At most this many tiles per crossbar (0 = off; default: the preset's).
    #[arg(long, value_name = "N")]
    pub max_load: Option<usize>,
    /// With `--layer-threshold -1`: tiles of one layer share a crossbar only on disjoint rows
    /// and columns (a block diagonal), so one activation drives them together, as the simulator
    /// assumes (without it, copies side by side on one crossbar would in truth take turns)
    #[arg(long)]
    pub same_layer_diagonal: bool,
    /// With a negative --layer-threshold: let one layer's tiles share a crossbar anywhere
    /// (not physical: they would take turns; for comparison with older results).
    #[arg(long, conflicts_with = "same_layer_diagonal")]
    pub no_same_layer_diagonal: bool,
}

impl RulesArgs {
    /// Sets the rule fields of `o` (the rest is left as it is).
    pub fn apply(&self, o: &mut rnc::CompileOptions) {
        o.rules = self.rules;
        o.layer_threshold = self.layer_threshold;
        o.max_load = self.max_load;
        o.same_layer_diagonal = if self.same_layer_diagonal {
            Some(true)
        } else if self.no_same_layer_diagonal {
            Some(false)
        } else {
            None
        };
    }
}
