//! The hardware model (SPEC §5, HWMODEL.md): MNSIM 2.0's behaviour-level PE model, read from
//! MNSIM's own `SimConfig.ini` files, reproducing MNSIM's numbers bit for bit.
//!
//! [`HwConfig`] is the parsed configuration plus everything derived from it; its
//! [`HwConfig::latency_ns`] is τ(rows, cols, input_bits), the latency of one crossbar activation,
//! cheap enough to call per tile inside a search. [`HwConfig::activation`] adds the PE area,
//! read power and energy of that activation.
//!
//! Choices where MNSIM 2.0 itself is broken (HWMODEL.md §6):
//! - `DAC_Num = 0` raises NameError in MNSIM; rnc implements the default DAC count the code
//!   intends (the `*_patched` test vectors): min(⌈(√A_xbar / n_sub) / √A_DAC⌉, S) per subarray.
//! - Everything else MNSIM rejects (subarray size not dividing the rows, 2 KB buffer with a bus
//!   wider than 256 bits, a user DAC/ADC with zero precision or sample rate, level/list
//!   mismatches, …) is a [`ConfigError`] naming the file, section, key and value.

mod config;
mod ini;
mod model;
mod tables;

pub use config::{DeviceParams, Params};
pub use model::{AreaBreakdown, Derived, Efficiency, EnergyBreakdown, LatencyBreakdown, PowerBreakdown};

use crate::partition::Crossbar;
use serde::Serialize;
use std::path::Path;

/// The configuration the reference system used (MNSIM's `SimConfig.ini`, 128×128 crossbars).
pub const DEFAULT_SIMCONFIG: &str = include_str!("default_SimConfig.ini");

/// Name the embedded default reports itself by in messages.
pub const DEFAULT_SOURCE: &str = "embedded default SimConfig.ini";

/// A configuration that cannot be used. Every message names the file and, where there is one,
/// the section, key and value.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read hardware configuration {file}: {reason}")]
    Io { file: String, reason: String },
    #[error("{file}: {problem}")]
    Syntax { file: String, problem: String },
    #[error("{file}: missing section [{section}]")]
    MissingSection { file: String, section: String },
    #[error("{file}: [{section}] missing key {key}")]
    MissingKey {
        file: String,
        section: String,
        key: String,
    },
    #[error("{file}: [{section}] {key} = {value}: {problem}")]
    BadValue {
        file: String,
        section: String,
        key: String,
        value: String,
        problem: String,
    },
}

/// A parsed and derived hardware configuration.
#[derive(Clone, Debug)]
pub struct HwConfig {
    source: String,
    params: Params,
    derived: Derived,
}

/// Cost of one activation of one tile (one PE read): latency and its parts, PE area, PE read
/// power and the activation's energy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ActivationCost {
    pub latency_ns: f64,
    pub xbar_ns: f64,
    pub dac_ns: f64,
    pub adc_ns: f64,
    pub digital_ns: f64,
    pub buffer_write_ns: f64,
    pub buffer_read_ns: f64,
    pub area_um2: f64,
    pub power_w: f64,
    pub energy_nj: f64,
}

/// An activation MNSIM computes no read power for: more activated cells than one crossbar has
/// (its utilization assertion, Simulation_Level 0).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "a {rows}x{cols} activation uses more cells than one {xbar_rows}x{xbar_cols} crossbar; \
     MNSIM computes no read power or energy for it"
)]
pub struct ActivationError {
    pub rows: usize,
    pub cols: usize,
    pub xbar_rows: usize,
    pub xbar_cols: usize,
}

/// Every per-activation quantity of the model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Breakdown {
    pub latency: LatencyBreakdown,
    /// `None` where MNSIM's utilization assertion fails (see [`ActivationError`]).
    pub power: Option<PowerBreakdown>,
    pub energy: Option<EnergyBreakdown>,
}

impl Default for HwConfig {
    fn default() -> Self {
        HwConfig::embedded_default()
    }
}

// The compiler and the search share one configuration across threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_send_sync::<HwConfig>();
};

impl HwConfig {
    /// The embedded default (a copy of the reference's `SimConfig.ini`).
    pub fn embedded_default() -> HwConfig {
        // The embedded file is checked by the tests; failing here is a build defect.
        HwConfig::parse(DEFAULT_SIMCONFIG, DEFAULT_SOURCE)
            .unwrap_or_else(|e| panic!("embedded SimConfig.ini is invalid: {e}"))
    }

    /// Reads an MNSIM `SimConfig.ini`.
    pub fn from_file(path: &Path) -> Result<HwConfig, ConfigError> {
        HwConfig::from_file_with_overrides(path, &[])
    }

    /// Reads an MNSIM `SimConfig.ini`, then applies overrides as [`HwConfig::parse_with_overrides`].
    pub fn from_file_with_overrides(
        path: &Path,
        overrides: &[(&str, &str)],
    ) -> Result<HwConfig, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| ConfigError::Io {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        // MNSIM's files carry comments in other encodings at times; only values must be ASCII.
        let text = String::from_utf8_lossy(&bytes);
        HwConfig::parse_with_overrides(&text, &path.display().to_string(), overrides)
    }

    /// Parses `SimConfig.ini` text; `source` names it in error messages.
    pub fn parse(text: &str, source: &str) -> Result<HwConfig, ConfigError> {
        HwConfig::parse_with_overrides(text, source, &[])
    }

    /// Parses `SimConfig.ini` text, then sets `KEY = VALUE` pairs as if the file said so. A key
    /// is found in whichever section holds it; a key in several sections may be written
    /// `Section name/Key`.
    pub fn parse_with_overrides(
        text: &str,
        source: &str,
        overrides: &[(&str, &str)],
    ) -> Result<HwConfig, ConfigError> {
        let mut raw = ini::RawIni::parse(text, source)?;
        for (key, value) in overrides {
            // A file line cannot hold a line break, and error messages quote keys and values.
            if key
                .chars()
                .chain(value.chars())
                .any(|c| c.is_control() && c != '\t')
            {
                return Err(ConfigError::Syntax {
                    file: source.to_string(),
                    problem: format!(
                        "cannot set \"{}={}\": keys and values cannot contain line breaks or control characters",
                        key.escape_debug(),
                        value.escape_debug()
                    ),
                });
            }
            let (section, key) = match key.rsplit_once('/') {
                Some((s, k)) => (s.trim().to_string(), k.trim()),
                None => {
                    let key = key.trim();
                    let found = raw.section_of(key);
                    match found.as_slice() {
                        [one] => (one.clone(), key),
                        [] => {
                            return Err(ConfigError::Syntax {
                                file: source.to_string(),
                                problem: format!("cannot set {key}: no section has that key"),
                            });
                        }
                        many => {
                            return Err(ConfigError::Syntax {
                                file: source.to_string(),
                                problem: format!(
                                    "cannot set {key}: it is in sections {}; write SECTION/{key}",
                                    many.iter()
                                        .map(|s| format!("[{s}]"))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            });
                        }
                    }
                }
            };
            raw.set(&section, key, value)?;
        }
        let params = Params::read(&raw)?;
        let derived = Derived::compute(&params, &raw)?;
        Ok(HwConfig {
            source: source.to_string(),
            params,
            derived,
        })
    }

    /// Where this configuration came from (a path or [`DEFAULT_SOURCE`]).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The keys as read (after MNSIM's read-time defaults).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Configuration-level quantities: converter counts, unit latencies, component areas.
    pub fn derived(&self) -> &Derived {
        &self.derived
    }

    /// The crossbar size (Xbar_Size).
    pub fn crossbar(&self) -> Crossbar {
        Crossbar {
            rows: self.params.xbar_rows,
            cols: self.params.xbar_cols,
        }
    }

    /// Bits stored per cell, ⌊log2 Device_Level⌋ (MNSIM's `weight_bit`; 1 for the default
    /// two-level device and for SRAM). 0 for a one-level device, which stores nothing.
    pub fn bits_per_cell(&self) -> u32 {
        let levels = self.params.device.levels.max(1) as u64;
        63 - levels.leading_zeros()
    }

    /// PE area, µm² (HWMODEL.md §4).
    pub fn area_um2(&self) -> f64 {
        self.derived.area.total
    }

    /// τ: latency of one activation of `rows` word lines × `cols` bit lines at `input_bits`
    /// input precision, no buffer traffic (ns). Never fails; rows/cols beyond the crossbar are
    /// serialised as MNSIM does.
    #[inline]
    pub fn latency_ns(&self, rows: usize, cols: usize, input_bits: u32) -> f64 {
        self.derived
            .latency(rows as u64, cols as u64, input_bits as u64, 0, 0)
            .total
    }

    /// Every latency, power and energy term of one activation with `indata` bytes written to
    /// and `rdata` bytes read from the PE input buffer.
    pub fn breakdown(&self, rows: usize, cols: usize, input_bits: u32, indata: u64, rdata: u64) -> Breakdown {
        let latency = self
            .derived
            .latency(rows as u64, cols as u64, input_bits as u64, indata, rdata);
        let power = model::read_power(
            &self.params,
            &self.derived,
            rows as u64,
            cols as u64,
            self.derived.groups as i64,
        );
        let energy = power.as_ref().map(|w| model::energy(&latency, w));
        Breakdown {
            latency,
            power,
            energy,
        }
    }

    /// Cost of one activation without buffer traffic (the compiler's per-tile figure).
    pub fn activation(
        &self,
        rows: usize,
        cols: usize,
        input_bits: u32,
    ) -> Result<ActivationCost, ActivationError> {
        self.activation_with_traffic(rows, cols, input_bits, 0, 0)
    }

    /// Cost of one activation with `indata`/`rdata` bytes of input-buffer write/read traffic.
    pub fn activation_with_traffic(
        &self,
        rows: usize,
        cols: usize,
        input_bits: u32,
        indata: u64,
        rdata: u64,
    ) -> Result<ActivationCost, ActivationError> {
        let b = self.breakdown(rows, cols, input_bits, indata, rdata);
        let (Some(power), Some(energy)) = (b.power, b.energy) else {
            return Err(ActivationError {
                rows,
                cols,
                xbar_rows: self.params.xbar_rows,
                xbar_cols: self.params.xbar_cols,
            });
        };
        let l = b.latency;
        Ok(ActivationCost {
            latency_ns: l.total,
            xbar_ns: l.xbar,
            dac_ns: l.dac,
            adc_ns: l.adc,
            digital_ns: l.digital,
            buffer_write_ns: l.buf_write,
            buffer_read_ns: l.buf_read,
            area_um2: self.derived.area.total,
            power_w: power.total,
            energy_nj: energy.total,
        })
    }

    /// MNSIM's `calculate_PE_energy_efficiency` (HWMODEL.md §5.3), evaluated after the read
    /// power of a full crossbar as the reference's test does.
    pub fn efficiency(&self) -> Option<Efficiency> {
        model::efficiency(&self.params, &self.derived)
    }
}
