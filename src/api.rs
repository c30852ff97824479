//! The public façade: one call from a network and a hardware target to a checked, simulated
//! mapping. The CLI and the Python binding both call [`compile`]; nothing else in the crate
//! depends on this module.
//!
//! ```
//! use rnc::{CompileOptions, Target, network::zoo};
//! let net = zoo::build("squeezenet1_1", 64, 10).unwrap();
//! let mut opts = CompileOptions::default();
//! opts.budget = rnc::Budget::Crossbars(64);
//! opts.duplicate = rnc::duplicate::DuplicateMode::Auto;
//! opts.effort = rnc::Effort::Fast;
//! opts.duplicate = rnc::duplicate::DuplicateMode::Auto;
//! let c = rnc::compile(&net, &Target::default_hardware(), &opts).unwrap();
//! assert!(c.summary().speedup > 2.0);
//! assert!(c.summary().crossbars_used <= 64);
//! ```

use crate::compile::{self as pipeline, Baseline, Compiled};
use crate::duplicate::DuplicateMode;
use crate::hardware::HwConfig;
use crate::network::{Network, Schedule};
use crate::pack::{PackError, PackOptions, Packer, Rules};
use crate::partition::{Crossbar, DepthwiseMapping, PartitionOptions};
use crate::report::Summary;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use crate::compile::Effort;

/// Upper limits that keep a run bounded in memory and time.
pub const MAX_CROSSBARS: usize = 1_000_000;
pub const MAX_SAMPLES: usize = 1_000_000;

/// Everything that can go wrong in a compile. Messages name options by their keys
/// (`crossbars`, `same_layer_diagonal`), written in backticks so a front end can show them in
/// its own spelling (the CLI writes `--crossbars`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option's value is invalid or contradicts another option or the target.
    #[error("option `{option}` {message}")]
    Options { option: String, message: String },
    /// The network cannot be built, read or partitioned.
    #[error("{0}")]
    Network(String),
    /// No mapping fits the budget; `least_crossbars` is a proven lower bound when known.
    #[error("{message}")]
    DoesNotFit {
        message: String,
        least_crossbars: Option<u64>,
    },
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    /// The progress hook asked to stop.
    #[error("cancelled")]
    Cancelled,
    /// rnc's own failure (a bug or the environment), not the caller's input.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    fn option(option: &str, message: impl Into<String>) -> Error {
        Error::Options {
            option: option.to_string(),
            message: message.into(),
        }
    }

    /// True for errors in the caller's input (exit code 2 in the CLI); false for rnc's own.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Error::Internal(_))
    }

    /// The option an [`Error::Options`] is about.
    pub fn option_name(&self) -> Option<&str> {
        match self {
            Error::Options { option, .. } => Some(option),
            _ => None,
        }
    }

    /// The message with option keys in backticks rewritten by `spell` (e.g. to CLI flags).
    pub fn render(&self, spell: &dyn Fn(&str) -> String) -> String {
        let text = match self {
            Error::Options { option, message } => format!("{} {message}", spell(option)),
            e => e.to_string(),
        };
        respell(&text, spell)
    }

    /// Sorts a pipeline error into the typed kinds.
    fn from_pipeline(e: anyhow::Error) -> Error {
        if e.chain()
            .any(|c| c.downcast_ref::<crate::map::Cancelled>().is_some())
        {
            return Error::Cancelled;
        }
        if e.chain()
            .any(|c| c.downcast_ref::<crate::error::Internal>().is_some())
        {
            return Error::Internal(chain_text(&e).trim_start_matches("internal error: ").to_string());
        }
        for c in e.chain() {
            if let Some(PackError::DoesNotFit { bound, .. }) = c.downcast_ref::<PackError>() {
                return Error::DoesNotFit {
                    message: chain_text(&e),
                    least_crossbars: Some(*bound),
                };
            }
            if c.downcast_ref::<crate::partition::PartitionError>().is_some() {
                return Error::Network(chain_text(&e));
            }
        }
        Error::DoesNotFit {
            message: chain_text(&e),
            least_crossbars: None,
        }
    }
}

fn chain_text(e: &anyhow::Error) -> String {
    let mut s = e.to_string();
    for c in e.chain().skip(1) {
        s.push_str(": ");
        s.push_str(&c.to_string());
    }
    s
}

/// Replaces every `` `key` `` in `text` by `spell(key)`.
fn respell(text: &str, spell: &dyn Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(a) = rest.find('`') {
        let Some(b) = rest[a + 1..].find('`') else { break };
        out.push_str(&rest[..a]);
        out.push_str(&spell(&rest[a + 1..a + 1 + b]));
        rest = &rest[a + b + 2..];
    }
    out.push_str(rest);
    out
}

/// The hardware a network is compiled for: the PE model of a SimConfig.ini and the input
/// precision. τ, energy and the crossbar size all come from here.
#[derive(Clone, Debug)]
pub struct Target {
    hardware: HwConfig,
    input_bits: u32,
}

impl Target {
    /// A target at `input_bits` (1..=32) bits per input.
    pub fn new(hardware: HwConfig, input_bits: u32) -> Result<Target, Error> {
        if input_bits == 0 || input_bits > 32 {
            return Err(Error::option(
                "input_bits",
                format!("must be between 1 and 32 (got {input_bits})"),
            ));
        }
        Ok(Target { hardware, input_bits })
    }

    /// The embedded reference configuration (128x128 crossbars) at 8 input bits.
    pub fn default_hardware() -> Target {
        Target {
            hardware: HwConfig::embedded_default(),
            input_bits: 8,
        }
    }

    pub fn hardware(&self) -> &HwConfig {
        &self.hardware
    }
    pub fn input_bits(&self) -> u32 {
        self.input_bits
    }
    pub fn crossbar(&self) -> Crossbar {
        self.hardware.crossbar()
    }
    /// τ: latency of one activation of a tile reading `rows` × `cols` cells, in ns.
    pub fn tau_ns(&self, rows: usize, cols: usize) -> f64 {
        self.hardware.latency_ns(rows, cols, self.input_bits)
    }
}

/// How many crossbars the mapping may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// At most this many.
    Crossbars(usize),
    /// As few as possible, without duplication (the CLI's `--find-solution`).
    Least,
}

/// The depthwise split factor D (SPEC §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepthSplit {
    Fixed(usize),
    /// Try 1, 2, 4, 8, 16 and 32 and keep the fastest mapping.
    Auto,
}

/// Contention rules, named (SPEC §15). The individual options override a preset's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum RulePreset {
    /// What the hardware requires and nothing more: tiles of different layers share crossbars
    /// freely (the simulator charges the contention); one layer's tiles share a crossbar only
    /// on a block diagonal, so one activation drives them together.
    #[default]
    Physical,
    /// Every crossbar holds one layer.
    Exclusive,
    /// The paper's heuristics: layer threshold 1, at most 6 tiles per crossbar.
    Reference,
}

impl RulePreset {
    /// (layer threshold, max load, same-layer block diagonal).
    pub fn values(self) -> (i64, usize, bool) {
        match self {
            RulePreset::Physical => (-1, 0, true),
            RulePreset::Exclusive => (0, 0, false),
            RulePreset::Reference => (1, 6, false),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            RulePreset::Physical => "physical",
            RulePreset::Exclusive => "exclusive",
            RulePreset::Reference => "reference",
        }
    }
}

/// How depthwise layers are laid out; `Auto` picks the faster mapping per network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Depthwise {
    Serial,
    Diagonal,
    #[default]
    Auto,
}

/// Every choice of a compile. Serialised with the CLI's flag names (underscored) as keys, so
/// the same JSON object configures the CLI, the library and the Python binding. `Default` is
/// the CLI's defaults; `budget` has no default (`Crossbars(0)` fails validation).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "OptionKeys", try_from = "OptionKeys")]
#[non_exhaustive]
pub struct CompileOptions {
    pub budget: Budget,
    /// Crossbar size; None = the target's. Must equal the target's when given.
    pub xbar: Option<Crossbar>,
    pub depth_split: DepthSplit,
    pub depthwise: Depthwise,
    /// Duplication; with `Budget::Least` there is none (auto becomes none).
    pub duplicate: DuplicateMode,
    pub packer: Packer,
    /// The contention rules; the three options below override its values when set.
    pub rules: RulePreset,
    /// A crossbar never holds layers whose indices differ by ≤ this (negative = off).
    pub layer_threshold: Option<i64>,
    /// At most this many tiles per crossbar (0 = off).
    pub max_load: Option<usize>,
    /// With a negative layer threshold: one layer's tiles share a crossbar only on a block
    /// diagonal.
    pub same_layer_diagonal: Option<bool>,
    pub seed: u64,
    pub samples: usize,
    pub schedule: Schedule,
    pub effort: Effort,
    /// With `duplicate = auto`: the fastest mapping whose contention efficiency is at least
    /// this (0 = the fastest overall).
    pub min_efficiency: f64,
    /// Local-search moves per start mapping instead of the effort's count.
    pub refine_moves: Option<usize>,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            budget: Budget::Crossbars(0),
            xbar: None,
            depth_split: DepthSplit::Auto,
            depthwise: Depthwise::Auto,
            duplicate: DuplicateMode::Auto,
            packer: Packer::Search,
            rules: RulePreset::Physical,
            layer_threshold: None,
            max_load: None,
            same_layer_diagonal: None,
            seed: 1,
            samples: 8,
            schedule: Schedule::Dag,
            effort: Effort::Default,
            min_efficiency: 0.0,
            refine_moves: None,
        }
    }
}

/// The JSON face of [`CompileOptions`]: one key per CLI flag.
#[derive(Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct OptionKeys {
    crossbars: Option<usize>,
    find_solution: bool,
    xbar: Option<String>,
    depth_split: serde_json::Value,
    depthwise: Depthwise,
    duplicate: DuplicateMode,
    packer: Packer,
    rules: RulePreset,
    layer_threshold: Option<i64>,
    max_load: Option<usize>,
    same_layer_diagonal: Option<bool>,
    seed: u64,
    samples: usize,
    schedule: Schedule,
    effort: Effort,
    min_efficiency: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refine_moves: Option<usize>,
}

impl Default for OptionKeys {
    fn default() -> Self {
        CompileOptions::default().into()
    }
}

impl From<CompileOptions> for OptionKeys {
    fn from(o: CompileOptions) -> Self {
        let (crossbars, find_solution) = match o.budget {
            Budget::Crossbars(0) => (None, false),
            Budget::Crossbars(n) => (Some(n), false),
            Budget::Least => (None, true),
        };
        OptionKeys {
            crossbars,
            find_solution,
            xbar: o.xbar.map(|x| x.to_string()),
            depth_split: match o.depth_split {
                DepthSplit::Fixed(d) => serde_json::Value::from(d),
                DepthSplit::Auto => serde_json::Value::from("auto"),
            },
            depthwise: o.depthwise,
            duplicate: o.duplicate,
            packer: o.packer,
            rules: o.rules,
            layer_threshold: o.layer_threshold,
            max_load: o.max_load,
            same_layer_diagonal: o.same_layer_diagonal,
            seed: o.seed,
            samples: o.samples,
            schedule: o.schedule,
            effort: o.effort,
            min_efficiency: o.min_efficiency,
            refine_moves: o.refine_moves,
        }
    }
}

impl TryFrom<OptionKeys> for CompileOptions {
    type Error = Error;
    fn try_from(k: OptionKeys) -> Result<Self, Error> {
        let budget = match (k.crossbars, k.find_solution) {
            (Some(_), true) => {
                return Err(Error::option(
                    "find_solution",
                    "finds the least crossbars; give it without `crossbars`",
                ));
            }
            (Some(n), false) => Budget::Crossbars(n),
            (None, true) => Budget::Least,
            (None, false) => Budget::Crossbars(0),
        };
        let xbar = match &k.xbar {
            None => None,
            Some(s) => Some(s.parse::<Crossbar>().map_err(|e| Error::option("xbar", e))?),
        };
        Ok(CompileOptions {
            budget,
            xbar,
            depth_split: depth_split_value(&k.depth_split)?,
            depthwise: k.depthwise,
            duplicate: k.duplicate,
            packer: k.packer,
            rules: k.rules,
            layer_threshold: k.layer_threshold,
            max_load: k.max_load,
            same_layer_diagonal: k.same_layer_diagonal,
            seed: k.seed,
            samples: k.samples,
            schedule: k.schedule,
            effort: k.effort,
            min_efficiency: k.min_efficiency,
            refine_moves: k.refine_moves,
        })
    }
}

/// `depth_split`: a whole number ≥ 1 or "auto" (also as a numeric string).
fn depth_split_value(v: &serde_json::Value) -> Result<DepthSplit, Error> {
    let bad = || {
        Error::option(
            "depth_split",
            format!("'{v}' is not a whole number ≥ 1 or 'auto'"),
        )
    };
    match v {
        serde_json::Value::Number(n) => match n.as_u64() {
            Some(0) => Err(Error::option("depth_split", "must be at least 1 (got 0)")),
            Some(d) => usize::try_from(d).map(DepthSplit::Fixed).map_err(|_| bad()),
            None => Err(bad()),
        },
        serde_json::Value::String(s) if s.trim().eq_ignore_ascii_case("auto") => Ok(DepthSplit::Auto),
        serde_json::Value::String(s) => match s.trim().parse::<u64>() {
            Ok(0) => Err(Error::option("depth_split", "must be at least 1 (got 0)")),
            Ok(d) => usize::try_from(d).map(DepthSplit::Fixed).map_err(|_| bad()),
            Err(_) => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// The option keys [`CompileOptions`] reads from JSON.
pub const OPTION_KEYS: [&str; 17] = [
    "crossbars",
    "find_solution",
    "xbar",
    "depth_split",
    "depthwise",
    "duplicate",
    "packer",
    "rules",
    "layer_threshold",
    "max_load",
    "same_layer_diagonal",
    "seed",
    "samples",
    "schedule",
    "effort",
    "min_efficiency",
    "refine_moves",
];

impl CompileOptions {
    /// Options from a JSON object whose keys are option names (the CLI's flags, underscored),
    /// over the defaults. An unknown key or a value of the wrong kind is an error naming it.
    pub fn from_json_value(v: serde_json::Value) -> Result<CompileOptions, Error> {
        let serde_json::Value::Object(map) = &v else {
            return Err(Error::Options {
                option: "options".into(),
                message: "must be a JSON object of option names and values".into(),
            });
        };
        for (key, value) in map {
            if !OPTION_KEYS.contains(&key.as_str()) {
                return Err(Error::option(
                    key,
                    format!("is not an option; the options are {}", OPTION_KEYS.join(", ")),
                ));
            }
            // Each value on its own first, so a wrong kind names its key.
            let mut one = serde_json::Map::new();
            one.insert(key.clone(), value.clone());
            if key != "xbar" && key != "depth_split" {
                serde_json::from_value::<OptionKeys>(serde_json::Value::Object(one))
                    .map_err(|e| Error::option(key, format!("has an invalid value {value}: {e}")))?;
            }
        }
        let keys: OptionKeys =
            serde_json::from_value(v).map_err(|e| Error::option("options", format!("are invalid: {e}")))?;
        CompileOptions::try_from(keys)
    }

    /// Every check the CLI makes, against the target the options will be used with.
    pub fn validate(&self, target: &Target) -> Result<(), Error> {
        if let Some(x) = self.xbar
            && x != target.crossbar()
        {
            let hw = target.crossbar();
            return Err(Error::option(
                "xbar",
                format!(
                    "{x} differs from the hardware configuration's Xbar_Size {hw}; leave `xbar` unset or \
                     change the configuration (Xbar_Size={},{})",
                    x.rows, x.cols
                ),
            ));
        }
        match self.budget {
            Budget::Crossbars(n) if n == 0 || n > MAX_CROSSBARS => {
                return Err(Error::option(
                    "crossbars",
                    format!("must be between 1 and {MAX_CROSSBARS} (got {n})"),
                ));
            }
            Budget::Least if !matches!(self.duplicate, DuplicateMode::None | DuplicateMode::Auto) => {
                // Copies are sized to fill a budget; "as few crossbars as possible" has none.
                return Err(Error::option(
                    "find_solution",
                    "finds the least crossbars without duplication; drop `duplicate` or give `crossbars` \
                     without `find_solution`",
                ));
            }
            _ => {}
        }
        if let DepthSplit::Fixed(0) = self.depth_split {
            return Err(Error::option("depth_split", "must be at least 1 (got 0)"));
        }
        let rules = self.effective_rules();
        if self.same_layer_diagonal == Some(true) && rules.layer_threshold >= 0 {
            return Err(Error::option(
                "same_layer_diagonal",
                format!(
                    "needs `layer_threshold` -1: with threshold {} tiles of one layer never share a crossbar",
                    rules.layer_threshold
                ),
            ));
        }
        if let Some(m) = self.refine_moves {
            if self.duplication() != DuplicateMode::Auto {
                return Err(Error::option(
                    "refine_moves",
                    "applies to `duplicate` auto (the local search runs only there)",
                ));
            }
            if self.effort == Effort::Fast {
                return Err(Error::option(
                    "refine_moves",
                    "needs `effort` default or max (fast effort runs no local search)",
                ));
            }
            if m == 0 {
                return Err(Error::option("refine_moves", "must be at least 1 (got 0)"));
            }
        }
        if self.samples == 0 || self.samples > MAX_SAMPLES {
            return Err(Error::option(
                "samples",
                format!("must be between 1 and {MAX_SAMPLES} (got {})", self.samples),
            ));
        }
        if !(0.0..=1.0).contains(&self.min_efficiency) {
            return Err(Error::option(
                "min_efficiency",
                format!(
                    "must be a contention efficiency between 0 and 1 (got {})",
                    self.min_efficiency
                ),
            ));
        }
        Ok(())
    }

    /// The rules in force: the preset's values, overridden by the options given.
    pub fn effective_rules(&self) -> Rules {
        let (t, m, d) = self.rules.values();
        let layer_threshold = self.layer_threshold.unwrap_or(t);
        Rules {
            layer_threshold,
            max_load: self.max_load.unwrap_or(m),
            time_budget_ns: None,
            exclusive_ns: None,
            window: None,
            // The block diagonal only matters where one layer's tiles may share a crossbar.
            diagonal: self.same_layer_diagonal.unwrap_or(d) && layer_threshold < 0,
        }
    }

    /// The duplication in force: none without a budget.
    pub fn duplication(&self) -> DuplicateMode {
        match self.budget {
            Budget::Least => DuplicateMode::None,
            Budget::Crossbars(_) => self.duplicate,
        }
    }

    /// The pipeline's options at one depthwise mapping and depth split (budget 0 for `Least`).
    fn pipeline(
        &self,
        target: &Target,
        depthwise: DepthwiseMapping,
        depth_split: usize,
        effort: Effort,
    ) -> pipeline::CompileOptions {
        let (budget, find_solution) = match self.budget {
            Budget::Crossbars(n) => (n, false),
            Budget::Least => (0, true),
        };
        pipeline::CompileOptions {
            partition: PartitionOptions {
                xbar: target.crossbar(),
                depth_split,
                depthwise,
                bit_slices: 1,
            },
            budget,
            find_solution,
            duplicate: self.duplication(),
            pack: PackOptions {
                packer: self.packer,
                rules: self.effective_rules(),
                budget: None,
                seed: self.seed,
                generations: pipeline::pack_generations(effort),
            },
            samples: self.samples,
            schedule: self.schedule,
            effort,
            min_efficiency: self.min_efficiency,
            refine_moves: if effort == self.effort {
                self.refine_moves
            } else {
                None
            },
            fast_fill: true,
        }
    }
}

/// A finished compile: the mapping, its simulation, the baseline and the summary.
#[derive(Clone, Debug)]
pub struct Compilation {
    network: Network,
    target: Target,
    compiled: Compiled,
    baseline: Baseline,
    summary: Summary,
}

impl Compilation {
    /// What `summary.json` holds.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }
    /// `summary.json`'s text, byte for byte what the CLI writes.
    pub fn summary_json(&self) -> String {
        serde_json::to_string_pretty(&self.summary).unwrap_or_default()
    }
    pub fn baseline(&self) -> &Baseline {
        &self.baseline
    }
    pub fn network(&self) -> &Network {
        &self.network
    }
    pub fn target(&self) -> &Target {
        &self.target
    }
    /// The partition, copies, packing and simulation.
    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }
    /// `pack.csv`: one row per tile copy.
    pub fn pack_csv(&self) -> Result<Vec<u8>, Error> {
        crate::report::pack_csv(&self.compiled).map_err(|e| Error::Internal(e.to_string()))
    }
    /// `partition.json`'s text.
    pub fn partition_json(&self) -> String {
        serde_json::to_string_pretty(&crate::report::partition_json(&self.network, &self.compiled))
            .unwrap_or_default()
    }

    /// Every layer execution of the simulation and each layer's crossbars.
    pub fn trace(&self) -> Result<(Vec<crate::simulate::Execution>, Vec<Vec<u32>>), Error> {
        let c = &self.compiled;
        let preds = self.network.predecessors(c.options.schedule);
        let sim = pipeline::run_sim(
            &c.items,
            &c.packing,
            &c.layer_time_ns,
            &preds,
            c.options.samples,
            true,
        )
        .map_err(|e| Error::Internal(e.to_string()))?;
        let lc = c.packing.layer_crossbars(&c.items, c.layer_time_ns.len());
        Ok((sim.trace, lc))
    }
    /// The trace as CSV (`trace.csv`).
    pub fn trace_csv(&self) -> Result<Vec<u8>, Error> {
        let (t, lc) = self.trace()?;
        crate::report::trace_csv(&self.network, &t, &lc).map_err(|e| Error::Internal(e.to_string()))
    }
    /// The trace as Chrome trace-event JSON (chrome://tracing, Perfetto).
    pub fn trace_chrome(&self) -> Result<Vec<u8>, Error> {
        let (t, lc) = self.trace()?;
        crate::report::trace_chrome(&self.network, &t, &lc).map_err(|e| Error::Internal(e.to_string()))
    }

    /// Writes `summary.json`, `pack.csv` and `partition.json` into `dir` (created if needed),
    /// and with `plots` also `trace.csv` and the pictures (SVG and PNG). Each file is written
    /// atomically.
    pub fn save(&self, dir: &Path, plots: bool) -> Result<(), Error> {
        let io = |e: anyhow::Error| Error::Io {
            path: dir.to_path_buf(),
            message: chain_text(&e),
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            message: format!("cannot create the folder: {e}"),
        })?;
        let write = |name: &str, bytes: &[u8]| crate::error::write_atomic(&dir.join(name), bytes).map_err(io);
        write("summary.json", self.summary_json().as_bytes())?;
        write("pack.csv", &self.pack_csv()?)?;
        write("partition.json", self.partition_json().as_bytes())?;
        if plots {
            write("trace.csv", &self.trace_csv()?)?;
            crate::plots::write_compile_pictures(dir).map_err(io)?;
        }
        Ok(())
    }
}

/// Compiles `net` for `target`: partition → map → verify → simulate, with the ISAAC-like
/// baseline and the summary.
pub fn compile(net: &Network, target: &Target, opts: &CompileOptions) -> Result<Compilation, Error> {
    compile_with(net, target, opts, &|_| true)
}

/// [`compile`] with a progress hook: called with what is being mapped before each step, and
/// polled with the same text while a step runs (at most every 20 ms, from any thread);
/// returning false stops the compile with [`Error::Cancelled`] within about 100 ms, even at
/// max effort.
///
/// ```
/// use rnc::{CompileOptions, Target, network::zoo};
/// let net = zoo::build("squeezenet1_1", 64, 10).unwrap();
/// let mut opts = CompileOptions::default();
/// opts.budget = rnc::Budget::Crossbars(64);
/// let stop = |_: &str| false;
/// let r = rnc::compile_with(&net, &Target::default_hardware(), &opts, &stop);
/// assert!(matches!(r, Err(rnc::Error::Cancelled)));
/// ```
pub fn compile_with(
    net: &Network,
    target: &Target,
    opts: &CompileOptions,
    progress: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Compilation, Error> {
    opts.validate(target)?;
    let bits = target.input_bits;
    let hw = &target.hardware;
    let tau_fn = |r: usize, c: usize| hw.latency_ns(r, c, bits);
    let tau: pipeline::TileLatency = &tau_fn;
    let baseline = pipeline::baseline(net, target.crossbar(), tau, opts.samples, opts.schedule)
        .map_err(Error::from_pipeline)?;
    let compiled = best_layout(net, tau, opts, target, progress)?;
    let energy = crate::report::energy_per_inference_nj(&compiled, hw, bits);
    let mut summary = crate::report::summary(net, &compiled, &baseline, energy);
    summary.rules = Some(opts.rules.name());
    summary.energy_breakdown = crate::report::energy_breakdown(net, &compiled, hw, bits);
    Ok(Compilation {
        network: net.clone(),
        target: target.clone(),
        compiled,
        baseline,
        summary,
    })
}

/// The mapping [`compile`] chooses for `net` (same layouts, same ranking), without the
/// baseline, energy and summary: the search's evaluator maps thousands of candidates this way.
pub fn map_best(net: &Network, target: &Target, opts: &CompileOptions) -> Result<Compiled, Error> {
    map_best_of(net, target, opts, None)
}

/// [`map_best`] with `DepthSplit::Auto` trying only the depth splits in `splits` (all when
/// none of them applies): the search's fast effort ranks fewer layouts.
pub fn map_best_of(
    net: &Network,
    target: &Target,
    opts: &CompileOptions,
    splits: Option<&[usize]>,
) -> Result<Compiled, Error> {
    opts.validate(target)?;
    let bits = target.input_bits;
    let hw = &target.hardware;
    let tau_fn = |r: usize, c: usize| hw.latency_ns(r, c, bits);
    let mut all = layouts(net, opts);
    if let (Some(s), DepthSplit::Auto) = (splits, opts.depth_split)
        && all.iter().any(|(_, d)| s.contains(d))
    {
        all.retain(|(_, d)| s.contains(d));
    }
    best_layout_of(net, &tau_fn, opts, target, &|_| true, all)
}

/// The (depthwise mapping, depth split) layouts a compile of `net` under `opts` considers.
pub fn layout_choices(net: &Network, opts: &CompileOptions) -> Vec<(DepthwiseMapping, usize)> {
    layouts(net, opts)
}

/// The progress hook as the mappers' cancel check: re-asked with the step's text at most
/// every 20 ms; once it says stop, stopped for good.
struct Poll<'a> {
    progress: &'a (dyn Fn(&str) -> bool + Sync),
    msg: String,
    start: std::time::Instant,
    last_ms: std::sync::atomic::AtomicU64,
    stop: std::sync::atomic::AtomicBool,
}

impl<'a> Poll<'a> {
    fn new(progress: &'a (dyn Fn(&str) -> bool + Sync), msg: String) -> Self {
        Poll {
            progress,
            msg,
            start: std::time::Instant::now(),
            last_ms: Default::default(),
            stop: Default::default(),
        }
    }

    fn stopped(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if self.stop.load(Relaxed) {
            return true;
        }
        let now = self.start.elapsed().as_millis() as u64;
        let last = self.last_ms.load(Relaxed);
        // One thread asks; the others go on until it has the answer.
        if now >= last + 20
            && self.last_ms.compare_exchange(last, now, Relaxed, Relaxed).is_ok()
            && !(self.progress)(&self.msg)
        {
            self.stop.store(true, Relaxed);
        }
        self.stop.load(Relaxed)
    }
}

fn effort_name(e: Effort) -> &'static str {
    match e {
        Effort::Fast => "fast",
        Effort::Default => "default",
        Effort::Max => "max",
    }
}

/// The depth splits `DepthSplit::Auto` tries.
pub const AUTO_DEPTH_SPLITS: [usize; 6] = [1, 2, 4, 8, 16, 32];

/// Layouts (depthwise mapping, depth split) that `Auto` maps at the chosen effort after
/// ranking every layout at fast effort.
const AUTO_FINALISTS: usize = 2;

/// The (depthwise mapping, depth split) pairs the options allow for `net`. Both only change
/// depthwise layers: without them one layout stands for all.
fn layouts(net: &Network, opts: &CompileOptions) -> Vec<(DepthwiseMapping, usize)> {
    let has_depthwise = net.layers.iter().any(|l| l.groups > 1);
    let maps: &[DepthwiseMapping] = match opts.depthwise {
        Depthwise::Serial => &[DepthwiseMapping::Serial],
        Depthwise::Diagonal => &[DepthwiseMapping::Diagonal],
        // Measured on mbv3-small (64x64, 128x128, physical rules, 8 samples): the serial
        // layout's best at contention efficiency ≥ 0.9 is 43× at 168 crossbars (D = 16, in
        // 40 s) against the diagonal's 51× (D = 8, in 8 s); its faster mappings at large D
        // lose three quarters of their time to contention. Auto therefore means diagonal.
        Depthwise::Auto if has_depthwise => &[DepthwiseMapping::Diagonal],
        Depthwise::Auto => &[DepthwiseMapping::Serial],
    };
    let splits: Vec<usize> = match opts.depth_split {
        DepthSplit::Fixed(d) => vec![d],
        DepthSplit::Auto if has_depthwise => AUTO_DEPTH_SPLITS.to_vec(),
        DepthSplit::Auto => vec![1],
    };
    maps.iter()
        .flat_map(|&m| splits.iter().map(move |&d| (m, d)))
        .collect()
}

/// Maps every allowed layout and keeps the best (the ranking inside one compile: fastest at
/// or above the efficiency floor, else the most efficient; ties: the earlier layout). With
/// several layouts each is first mapped at fast effort (milliseconds) and ranked by the
/// contention-free latency of its copies, which tracks what more effort reaches better than
/// the fast mapping's own contention; the best `AUTO_FINALISTS` are then mapped at the chosen effort.
fn best_layout(
    net: &Network,
    tau: pipeline::TileLatency,
    opts: &CompileOptions,
    target: &Target,
    progress: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Compiled, Error> {
    best_layout_of(net, tau, opts, target, progress, layouts(net, opts))
}

/// [`best_layout`] over the layouts `all`.
fn best_layout_of(
    net: &Network,
    tau: pipeline::TileLatency,
    opts: &CompileOptions,
    target: &Target,
    progress: &(dyn Fn(&str) -> bool + Sync),
    all: Vec<(DepthwiseMapping, usize)>,
) -> Result<Compiled, Error> {
    use rayon::prelude::*;
    let key = |c: &Compiled| crate::map::local_search::rank(&c.sim, opts.min_efficiency);
    let poll = Poll::new(
        progress,
        format!("mapping at {} effort", effort_name(opts.effort)),
    );
    // `fill`: fast effort's spare-area fill (see `map::auto`); the layout ranking goes without.
    let map_at = |(m, d): (DepthwiseMapping, usize), effort: Effort, fill: bool| {
        let o = pipeline::CompileOptions {
            fast_fill: fill,
            ..opts.pipeline(target, m, d, effort)
        };
        pipeline::compile_with(net, tau, &o, &|| poll.stopped())
    };
    let finalists: Vec<(DepthwiseMapping, usize)> = if all.len() == 1 || opts.effort == Effort::Fast {
        all.clone()
    } else {
        if !progress(&format!("ranking {} layouts at fast effort", all.len())) {
            return Err(Error::Cancelled);
        }
        let fast: Vec<Option<f64>> = all
            .par_iter()
            .map(|&l| {
                map_at(l, Effort::Fast, false)
                    .ok()
                    .map(|c| c.sim.ideal_latency_ns)
            })
            .collect();
        if poll.stopped() {
            return Err(Error::Cancelled);
        }
        // `layouts` varies one depthwise mapping at a time, so one ranking covers them all.
        let mut ranked: Vec<(f64, usize)> = fast
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.map(|v| (v, i)))
            .collect();
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut chosen: Vec<usize> = ranked.iter().take(AUTO_FINALISTS).map(|&(_, i)| i).collect();
        if chosen.is_empty() {
            // Nothing fit at fast effort: let the chosen effort try every layout.
            all.clone()
        } else {
            chosen.sort_unstable();
            chosen.into_iter().map(|i| all[i]).collect()
        }
    };
    if !progress(&format!(
        "mapping {} layout{} at {} effort",
        finalists.len(),
        if finalists.len() == 1 { "" } else { "s" },
        effort_name(opts.effort)
    )) {
        return Err(Error::Cancelled);
    }
    // Collected in layout order, so the thread count never changes the choice.
    let results: Vec<anyhow::Result<Compiled>> = finalists
        .par_iter()
        .map(|&l| map_at(l, opts.effort, true))
        .collect();
    if poll.stopped() {
        return Err(Error::Cancelled);
    }
    let mut best: Option<Compiled> = None;
    let mut last_err = None;
    for r in results {
        match r {
            Ok(c) => {
                if best.as_ref().is_none_or(|b| key(&c) < key(b)) {
                    best = Some(c);
                }
            }
            Err(e) => {
                if poll.stopped() {
                    return Err(Error::Cancelled);
                }
                last_err = Some(e)
            }
        }
    }
    match (best, last_err) {
        (Some(c), _) => Ok(c),
        (None, Some(e)) => Err(Error::from_pipeline(e)),
        (None, None) => Err(Error::Internal("no layout was tried".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_round_trip_and_unknown_keys_are_named() {
        let o = CompileOptions::from_json_value(serde_json::json!({
            "crossbars": 168, "duplicate": "auto", "depth_split": "auto", "effort": "fast"
        }))
        .unwrap();
        assert_eq!(o.budget, Budget::Crossbars(168));
        assert_eq!(o.depth_split, DepthSplit::Auto);
        assert_eq!(o.duplicate, DuplicateMode::Auto);
        let back = serde_json::to_value(o).unwrap();
        assert_eq!(CompileOptions::from_json_value(back).unwrap(), o);
        let e = CompileOptions::from_json_value(serde_json::json!({"crossbar": 3})).unwrap_err();
        assert_eq!(e.option_name(), Some("crossbar"));
        let e = CompileOptions::from_json_value(serde_json::json!({"samples": "many"})).unwrap_err();
        assert_eq!(e.option_name(), Some("samples"));
        let e = CompileOptions::from_json_value(serde_json::json!({"depth_split": 0})).unwrap_err();
        assert_eq!(e.option_name(), Some("depth_split"));
    }

    #[test]
    fn validation_names_the_option_and_renders_as_flags() {
        let t = Target::default_hardware();
        let mut o = CompileOptions {
            budget: Budget::Crossbars(100),
            ..CompileOptions::default()
        };
        assert!(o.validate(&t).is_ok());
        o.same_layer_diagonal = Some(true);
        assert!(o.validate(&t).is_ok(), "physical rules allow the block diagonal");
        o.layer_threshold = Some(1);
        let e = o.validate(&t).unwrap_err();
        let flag = |k: &str| format!("--{}", k.replace('_', "-"));
        assert_eq!(e.option_name(), Some("same_layer_diagonal"));
        assert!(
            e.render(&flag)
                .starts_with("--same-layer-diagonal needs --layer-threshold -1")
        );
        o.same_layer_diagonal = None;
        o.xbar = Some(Crossbar { rows: 64, cols: 64 });
        assert_eq!(o.validate(&t).unwrap_err().option_name(), Some("xbar"));
        o.xbar = None;
        o.budget = Budget::Crossbars(0);
        assert_eq!(o.validate(&t).unwrap_err().option_name(), Some("crossbars"));
        assert!(Target::new(HwConfig::embedded_default(), 0).is_err());
    }

    #[test]
    fn presets_set_the_rules_and_options_override_them() {
        let mut o = CompileOptions::default();
        let r = o.effective_rules();
        assert_eq!((r.layer_threshold, r.max_load, r.diagonal), (-1, 0, true));
        o.rules = RulePreset::Reference;
        let r = o.effective_rules();
        assert_eq!((r.layer_threshold, r.max_load, r.diagonal), (1, 6, false));
        o.max_load = Some(3);
        assert_eq!(o.effective_rules().max_load, 3);
        o.rules = RulePreset::Exclusive;
        assert_eq!(o.effective_rules().layer_threshold, 0);
        o.rules = RulePreset::Physical;
        o.layer_threshold = Some(2);
        assert!(
            !o.effective_rules().diagonal,
            "no block diagonal where layers cannot share"
        );
        let j = CompileOptions::from_json_value(serde_json::json!({"rules": "reference", "crossbars": 9}));
        assert_eq!(j.unwrap().rules, RulePreset::Reference);
    }

    #[test]
    fn auto_layouts_only_vary_where_the_network_has_depthwise_layers() {
        let o = CompileOptions::default();
        let sq = crate::network::zoo::build("squeezenet1_1", 64, 10).unwrap();
        assert_eq!(layouts(&sq, &o), vec![(DepthwiseMapping::Serial, 1)]);
        let mb = crate::network::zoo::build("mbv3-small", 64, 10).unwrap();
        assert_eq!(layouts(&mb, &o).len(), AUTO_DEPTH_SPLITS.len());
        let fixed = CompileOptions {
            depth_split: DepthSplit::Fixed(4),
            depthwise: Depthwise::Serial,
            ..o
        };
        assert_eq!(layouts(&mb, &fixed), vec![(DepthwiseMapping::Serial, 4)]);
    }

    #[test]
    fn over_budget_is_does_not_fit_with_the_bound() {
        let net = crate::network::zoo::build("squeezenet1_1", 64, 10).unwrap();
        let o = CompileOptions {
            budget: Budget::Crossbars(5),
            effort: Effort::Fast,
            ..CompileOptions::default()
        };
        match compile(&net, &Target::default_hardware(), &o) {
            Err(Error::DoesNotFit {
                least_crossbars: Some(b),
                ..
            }) => assert!(b > 5),
            other => panic!("expected DoesNotFit, got {other:?}"),
        }
    }

    #[test]
    fn cancel_stops_before_mapping() {
        let net = crate::network::zoo::build("squeezenet1_1", 64, 10).unwrap();
        let o = CompileOptions {
            budget: Budget::Crossbars(64),
            ..CompileOptions::default()
        };
        let r = compile_with(&net, &Target::default_hardware(), &o, &|_| false);
        assert!(matches!(r, Err(Error::Cancelled)));
    }
}
