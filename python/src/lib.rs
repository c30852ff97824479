//! `rnc._rnc`: the compiled half of the Python package `rnc`.
//!
//! Deliberately thin: it owns the Rust objects (networks, hardware, compilations), releases the
//! GIL around the work, and hands results to Python as the same JSON/CSV text the CLI writes, so
//! that the Python layer (`rnc/__init__.py`) and the CLI cannot drift apart. Errors become the
//! exception classes of `rnc._errors`, looked up at raise time.

use pyo3::prelude::*;
use rnc::hardware::HwConfig;
use rnc::network::Network;
use rnc::network::onnx::{self, OnnxOptions, SkippedOp};
use rnc::partition::{Crossbar, DepthwiseMapping, PartitionOptions};
use std::path::PathBuf;

mod compile;
mod search;

/// Builds an exception of `rnc._errors.<kind>` with `args` (message first).
fn raise<'py, A>(py: Python<'py>, kind: &str, args: A) -> PyErr
where
    A: pyo3::call::PyCallArgs<'py>,
{
    let made = py
        .import("rnc._errors")
        .and_then(|m| m.getattr(kind))
        .and_then(|cls| cls.call1(args));
    match made {
        Ok(value) => PyErr::from_value(value),
        Err(e) => e,
    }
}

fn network_error(py: Python<'_>, msg: impl std::fmt::Display) -> PyErr {
    raise(py, "NetworkError", (msg.to_string(),))
}

fn options_error(py: Python<'_>, option: &str, msg: impl std::fmt::Display) -> PyErr {
    raise(py, "OptionsError", (msg.to_string(), option.to_string()))
}

fn file_error(py: Python<'_>, path: &std::path::Path, msg: impl std::fmt::Display) -> PyErr {
    raise(py, "FileError", (msg.to_string(), path.display().to_string()))
}

fn internal_error(py: Python<'_>, msg: impl std::fmt::Display) -> PyErr {
    raise(py, "InternalError", (msg.to_string(),))
}

/// A network: its weight layers and the edges between them.
#[pyclass(frozen, module = "rnc._rnc", name = "Net")]
pub struct Net {
    pub(crate) inner: Network,
    skipped: Vec<SkippedOp>,
}

#[pymethods]
impl Net {
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    #[getter]
    fn input_hw(&self) -> (usize, usize) {
        (self.inner.input_hw[0], self.inner.input_hw[1])
    }

    /// ONNX nodes left out under skip_unsupported, as "skipped node ..." lines.
    #[getter]
    fn skipped(&self) -> Vec<String> {
        self.skipped.iter().map(|s| s.to_string()).collect()
    }

    /// `rnc inspect --json` of this network under the given partition options.
    #[pyo3(signature = (xbar=None, depth_split=1, depthwise="serial"))]
    fn inspect_json(
        &self,
        py: Python<'_>,
        xbar: Option<&str>,
        depth_split: usize,
        depthwise: &str,
    ) -> PyResult<String> {
        let opts = partition_options(py, xbar, depth_split, depthwise)?;
        let part = rnc::partition::partition(&self.inner, &opts).map_err(|e| network_error(py, e))?;
        serde_json::to_string(&rnc::report::inspection(&self.inner, &part)).map_err(|e| internal_error(py, e))
    }
}

fn partition_options(
    py: Python<'_>,
    xbar: Option<&str>,
    depth_split: usize,
    depthwise: &str,
) -> PyResult<PartitionOptions> {
    let xbar: Crossbar = match xbar {
        Some(x) => x.parse().map_err(|e: String| options_error(py, "xbar", e))?,
        None => Crossbar::default(),
    };
    if depth_split == 0 {
        return Err(options_error(
            py,
            "depth_split",
            "depth_split must be at least 1 (got 0)",
        ));
    }
    let depthwise = match depthwise {
        "serial" => DepthwiseMapping::Serial,
        "diagonal" => DepthwiseMapping::Diagonal,
        other => {
            return Err(options_error(
                py,
                "depthwise",
                format!("depthwise '{other}' is not one of: serial, diagonal"),
            ));
        }
    };
    Ok(PartitionOptions {
        xbar,
        depth_split,
        depthwise,
        bit_slices: 1,
    })
}

fn net(inner: Network) -> Net {
    Net {
        inner,
        skipped: Vec::new(),
    }
}

fn check_classes(py: Python<'_>, input: usize, classes: usize) -> PyResult<()> {
    if input == 0 {
        return Err(options_error(py, "input", "input must be at least 1 pixel"));
    }
    if classes == 0 {
        return Err(options_error(py, "classes", "classes must be at least 1"));
    }
    Ok(())
}

/// A built-in model (mbv3-small, squeezenet1_1, resnet18) at a square input size.
#[pyfunction]
fn zoo(py: Python<'_>, name: &str, input: usize, classes: usize) -> PyResult<Net> {
    check_classes(py, input, classes)?;
    rnc::network::zoo::build(name, input, classes)
        .map(net)
        .map_err(|e| network_error(py, e))
}

/// An OFA MobileNetV3-small subnet from its genome (JSON text).
#[pyfunction]
fn ofa(py: Python<'_>, genome_json: &str, input: usize, classes: usize) -> PyResult<Net> {
    check_classes(py, input, classes)?;
    let g = rnc::network::ofa::Genome::from_json(genome_json)
        .map_err(|e| network_error(py, format!("genome: {e}")))?;
    rnc::network::ofa::build(&g, input, classes)
        .map(net)
        .map_err(|e| network_error(py, e))
}

fn onnx_options(py: Python<'_>, input: Option<usize>, skip_unsupported: bool) -> PyResult<OnnxOptions> {
    if input == Some(0) {
        return Err(options_error(py, "input", "input must be at least 1 pixel"));
    }
    Ok(OnnxOptions {
        input: input.map(|s| [s, s]),
        skip_unsupported,
    })
}

/// An ONNX model from a file (.onnx or .onnx.gz).
#[pyfunction]
fn onnx_file(py: Python<'_>, path: PathBuf, input: Option<usize>, skip_unsupported: bool) -> PyResult<Net> {
    let opts = onnx_options(py, input, skip_unsupported)?;
    let imp = py.detach(|| onnx::load(&path, &opts));
    match imp {
        Ok(i) => Ok(Net {
            inner: i.network,
            skipped: i.skipped,
        }),
        Err(e) => match e.kind {
            onnx::OnnxErrorKind::Read(_) => Err(file_error(py, &path, e)),
            _ => Err(network_error(py, e)),
        },
    }
}

/// An ONNX model from bytes; `name` becomes the network's name.
#[pyfunction]
fn onnx_bytes(
    py: Python<'_>,
    data: &[u8],
    name: &str,
    input: Option<usize>,
    skip_unsupported: bool,
) -> PyResult<Net> {
    let opts = onnx_options(py, input, skip_unsupported)?;
    let data = data.to_vec();
    let imp = py.detach(|| onnx::load_bytes(name, &data, None, &opts));
    match imp {
        Ok(i) => Ok(Net {
            inner: i.network,
            skipped: i.skipped,
        }),
        Err(e) => Err(network_error(py, format!("ONNX bytes: {e}"))),
    }
}

/// An MNSIM hardware configuration (SimConfig.ini) with overrides.
#[pyclass(frozen, module = "rnc._rnc", name = "Hw")]
pub struct Hw {
    pub(crate) inner: HwConfig,
}

#[pymethods]
impl Hw {
    /// `config`: a SimConfig.ini path (None: the embedded reference configuration);
    /// `overrides`: (KEY, VALUE) pairs as `rnc --set KEY=VALUE`.
    #[new]
    #[pyo3(signature = (config=None, overrides=Vec::new()))]
    fn new(py: Python<'_>, config: Option<PathBuf>, overrides: Vec<(String, String)>) -> PyResult<Hw> {
        use rnc::hardware::{ConfigError, DEFAULT_SIMCONFIG, DEFAULT_SOURCE};
        let pairs: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let loaded = match &config {
            None => HwConfig::parse_with_overrides(DEFAULT_SIMCONFIG, DEFAULT_SOURCE, &pairs),
            Some(p) => HwConfig::from_file_with_overrides(p, &pairs),
        };
        match loaded {
            Ok(inner) => Ok(Hw { inner }),
            Err(e @ ConfigError::Io { .. }) => {
                let p = config.unwrap_or_default();
                Err(file_error(py, &p, e))
            }
            Err(e) => Err(raise(py, "ConfigError", (e.to_string(),))),
        }
    }

    #[getter]
    fn source(&self) -> &str {
        self.inner.source()
    }

    /// The crossbar size as "ROWSxCOLS".
    #[getter]
    fn xbar(&self) -> String {
        self.inner.crossbar().to_string()
    }

    /// `rnc hw --json` for one activation.
    #[pyo3(signature = (rows, cols, bits=8, indata=0, rdata=0))]
    fn activation_json(
        &self,
        py: Python<'_>,
        rows: usize,
        cols: usize,
        bits: u32,
        indata: u64,
        rdata: u64,
    ) -> PyResult<String> {
        // The CLI's bounds (rnc hw).
        const MAX_BYTES: u64 = 1 << 40;
        if rows == 0 || cols == 0 {
            return Err(options_error(
                py,
                "rows",
                format!("rows and cols must be at least 1 (got {rows}x{cols})"),
            ));
        }
        if !(1..=64).contains(&bits) {
            return Err(options_error(
                py,
                "bits",
                format!("bits must be between 1 and 64 (got {bits})"),
            ));
        }
        if indata > MAX_BYTES || rdata > MAX_BYTES {
            return Err(options_error(
                py,
                "indata",
                format!("indata and rdata must be at most {MAX_BYTES} bytes"),
            ));
        }
        let cost = self
            .inner
            .activation_with_traffic(rows, cols, bits, indata, rdata)
            .map_err(|e| raise(py, "ConfigError", (e.to_string(),)))?;
        serde_json::to_string(&cost).map_err(|e| internal_error(py, e))
    }
}

/// The package version (the binding crate's, kept equal to rnc's).
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _rnc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Net>()?;
    m.add_class::<Hw>()?;
    m.add_function(wrap_pyfunction!(zoo, m)?)?;
    m.add_function(wrap_pyfunction!(ofa, m)?)?;
    m.add_function(wrap_pyfunction!(onnx_file, m)?)?;
    m.add_function(wrap_pyfunction!(onnx_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    compile::register(m)?;
    search::register(m)?;
    Ok(())
}
