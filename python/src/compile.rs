//! `rnc.compile`: the library façade (`rnc::compile_with`) with the GIL released, Ctrl-C
//! turned into a cancel, and the result kept on the Rust side.

use crate::{Hw, Net, file_error, internal_error, raise};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// A rnc error as the matching `rnc._errors` exception.
pub(crate) fn to_py(py: Python<'_>, e: rnc::Error) -> PyErr {
    match e {
        rnc::Error::Options { option, message } => raise(py, "OptionsError", (message, option)),
        rnc::Error::Network(m) => raise(py, "NetworkError", (m,)),
        rnc::Error::DoesNotFit {
            message,
            least_crossbars,
        } => raise(py, "DoesNotFitError", (message, least_crossbars)),
        rnc::Error::Io { path, message } => file_error(py, &path, message),
        rnc::Error::Cancelled => raise(py, "CancelledError", ("cancelled by the progress callback",)),
        other => internal_error(py, other),
    }
}

/// The result of a compilation (the façade's `Compilation`).
#[pyclass(frozen, module = "rnc._rnc", name = "Comp")]
pub struct Comp {
    inner: rnc::Compilation,
}

#[pymethods]
impl Comp {
    /// The exact text of summary.json.
    fn summary_json(&self) -> String {
        self.inner.summary_json()
    }

    fn partition_json(&self) -> String {
        self.inner.partition_json()
    }

    fn pack_csv<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let b = self.inner.pack_csv().map_err(|e| to_py(py, e))?;
        Ok(PyBytes::new(py, &b))
    }

    fn trace_csv<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let b = py.detach(|| self.inner.trace_csv()).map_err(|e| to_py(py, e))?;
        Ok(PyBytes::new(py, &b))
    }

    fn trace_chrome<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let b = py.detach(|| self.inner.trace_chrome()).map_err(|e| to_py(py, e))?;
        Ok(PyBytes::new(py, &b))
    }

    /// Writes the files of `rnc compile --out DIR [--plots]`.
    fn save(&self, py: Python<'_>, dir: PathBuf, plots: bool) -> PyResult<()> {
        py.detach(|| self.inner.save(&dir, plots))
            .map_err(|e| to_py(py, e))
    }
}

/// `rnc report`'s page for a compile output folder (written by `Comp.save(dir, True)`).
#[pyfunction]
fn report_html(py: Python<'_>, dir: PathBuf) -> PyResult<String> {
    let page = py.detach(|| -> anyhow::Result<String> {
        match rnc::html::load(&dir)? {
            rnc::html::Folder::Compile(d) => rnc::html::compile_report(&d),
            rnc::html::Folder::Search(d) => rnc::html::search_report(&d),
        }
    });
    page.map_err(|e| file_error(py, &dir, format!("{e:#}")))
}

/// The crossbar occupancy picture (SVG) of a compile output folder.
#[pyfunction]
fn occupancy_svg(py: Python<'_>, dir: PathBuf) -> PyResult<String> {
    let svg = py.detach(|| -> anyhow::Result<String> {
        let d = rnc::plots::CompileData::load(&dir)?;
        rnc::plots::svg(&rnc::plots::Occupancy { data: &d })
    });
    svg.map_err(|e| file_error(py, &dir, format!("{e:#}")))
}

/// Compiles `net` with options given as a JSON object of the CLI's flag names. `progress`
/// (a Python callable or None) is called with each mapping step's name; returning False
/// cancels. Ctrl-C cancels too, raising KeyboardInterrupt.
#[pyfunction]
#[pyo3(signature = (net, hw, input_bits, options_json, progress=None))]
fn compile(
    py: Python<'_>,
    net: &Net,
    hw: &Hw,
    input_bits: u32,
    options_json: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<Comp> {
    let value: serde_json::Value =
        serde_json::from_str(options_json).map_err(|e| internal_error(py, format!("options: {e}")))?;
    let opts = rnc::CompileOptions::from_json_value(value).map_err(|e| to_py(py, e))?;
    let target = rnc::Target::new(hw.inner.clone(), input_bits).map_err(|e| to_py(py, e))?;
    // The hook runs wherever the library calls it; only the calling thread may run Python's
    // signal handlers, so other threads just read the flag it sets.
    let caller = std::thread::current().id();
    let stop = AtomicBool::new(false);
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let hook = |step: &str| -> bool {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let on_caller = std::thread::current().id() == caller;
        if !on_caller && progress.is_none() {
            return true;
        }
        let go = Python::attach(|py| -> PyResult<bool> {
            if on_caller {
                py.check_signals()?;
            }
            match &progress {
                Some(f) => {
                    let r = f.call1(py, (step,))?;
                    // None (a plain print) continues; only an explicit False stops.
                    Ok(r.is_none(py) || r.is_truthy(py)?)
                }
                None => Ok(true),
            }
        });
        match go {
            Ok(true) => true,
            Ok(false) => {
                stop.store(true, Ordering::Relaxed);
                false
            }
            Err(e) => {
                if let Ok(mut slot) = raised.lock() {
                    slot.get_or_insert(e);
                }
                stop.store(true, Ordering::Relaxed);
                false
            }
        }
    };
    let inner = &net.inner;
    let result = py.detach(|| rnc::compile_with(inner, &target, &opts, &hook));
    match result {
        Ok(inner) => Ok(Comp { inner }),
        Err(e) => {
            let pending = raised.lock().ok().and_then(|mut s| s.take());
            match (e, pending) {
                (rnc::Error::Cancelled, Some(pyerr)) => Err(pyerr),
                (e, _) => Err(to_py(py, e)),
            }
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Comp>()?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(report_html, m)?)?;
    m.add_function(wrap_pyfunction!(occupancy_svg, m)?)?;
    Ok(())
}
