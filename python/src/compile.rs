//! `rnc.compile`: the library façade (`rnc::compile_with`) with the GIL released, Ctrl-C
//! turned into a cancel, and the result kept on the Rust side.

use crate::{Hw, Net, file_error, internal_error, raise};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// A rnc error as the matching `rnc._errors` exception.
pub(crate) fn to_py(py: Python<'_>, e: rnc::Error) -> PyErr {
    match e {
        rnc::Error::Options { ref option, .. } => raise(py, "OptionsError", (e.to_string(), option.clone())),
        rnc::Error::Network(m) => raise(py, "NetworkError", (m,)),
        rnc::Error::DoesNotFit {
            message,
            least_crossbars,
        } => raise(py, "DoesNotFitError", (message, least_crossbars)),
        rnc::Error::Io { ref path, .. } => file_error(py, path, &e),
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
        let b = py
            .detach(|| self.inner.trace_chrome())
            .map_err(|e| to_py(py, e))?;
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
            rnc::html::Folder::Nonideal(doc) => rnc::html::nonideal_report(&doc, &dir),
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
/// cancels (CancelledError). Ctrl-C raises KeyboardInterrupt at once.
///
/// The work runs on its own thread while this one waits with the GIL released, running
/// Python's signal handlers every few milliseconds: the library calls its progress hook only
/// between mapping steps (seconds apart at max effort), so waiting for it would not be prompt.
/// After a Ctrl-C the worker is told to stop at its next step and its result is dropped.
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
    let network = net.inner.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let raised: Arc<Mutex<Option<PyErr>>> = Arc::new(Mutex::new(None));
    let (tx, rx) = mpsc::channel();
    let worker = {
        let stop = Arc::clone(&stop);
        let raised = Arc::clone(&raised);
        move || {
            let hook = |step: &str| -> bool {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                let Some(f) = &progress else { return true };
                let go = Python::attach(|py| -> PyResult<bool> {
                    let r = f.call1(py, (step,))?;
                    // None (e.g. print) continues; only a false value stops.
                    Ok(r.is_none(py) || r.is_truthy(py)?)
                });
                match go {
                    Ok(true) => true,
                    Ok(false) => false,
                    Err(e) => {
                        if let Ok(mut slot) = raised.lock() {
                            slot.get_or_insert(e);
                        }
                        false
                    }
                }
            };
            let result = rnc::compile_with(&network, &target, &opts, &hook);
            // The receiver is gone after a Ctrl-C: nothing to deliver then.
            let _ = tx.send(result);
            if let Some(f) = progress {
                Python::attach(move |_| drop(f));
            }
        }
    };
    std::thread::Builder::new()
        .name("rnc-compile".into())
        .spawn(worker)
        .map_err(|e| internal_error(py, format!("cannot start the compile thread: {e}")))?;
    let mut rx = rx;
    let result = loop {
        // A Receiver is not Sync: it goes into the GIL-free closure and comes back.
        let (got, back) = py.detach(move || (rx.recv_timeout(Duration::from_millis(20)), rx));
        rx = back;
        match got {
            Ok(r) => break r,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(internal_error(
                    py,
                    "the compile thread stopped without a result (a panic)",
                ));
            }
        }
    };
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

/// Benchmark support: the wall time in seconds of each of `reps` plain library calls
/// (`rnc::compile`, no thread, no hook), for comparing the binding's overhead against.
#[pyfunction]
fn _library_seconds(
    py: Python<'_>,
    net: &Net,
    hw: &Hw,
    input_bits: u32,
    options_json: &str,
    reps: usize,
) -> PyResult<Vec<f64>> {
    let value: serde_json::Value =
        serde_json::from_str(options_json).map_err(|e| internal_error(py, format!("options: {e}")))?;
    let opts = rnc::CompileOptions::from_json_value(value).map_err(|e| to_py(py, e))?;
    let target = rnc::Target::new(hw.inner.clone(), input_bits).map_err(|e| to_py(py, e))?;
    let network = &net.inner;
    py.detach(|| {
        (0..reps)
            .map(|_| {
                let t = std::time::Instant::now();
                let c = rnc::compile(network, &target, &opts);
                let secs = t.elapsed().as_secs_f64();
                c.map(|_| secs)
            })
            .collect::<Result<Vec<f64>, rnc::Error>>()
    })
    .map_err(|e| to_py(py, e))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Comp>()?;
    m.add_function(wrap_pyfunction!(_library_seconds, m)?)?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(report_html, m)?)?;
    m.add_function(wrap_pyfunction!(occupancy_svg, m)?)?;
    Ok(())
}
