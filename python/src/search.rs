//! `rnc.Search`: the ask/tell session of `rnc::search` (NSGA-II over OFA subnets or a user
//! space) with the GIL released while candidates are compiled.

use crate::{Hw, Net, raise};
use pyo3::prelude::*;
use rnc::network::Network;
use rnc::search::{Candidate, Gene, Session, SessionConfig, Space, search_evaluator};
use std::path::PathBuf;
use std::sync::Mutex;

/// A search error: a file problem names the file (FileError), anything else is the caller's
/// settings or answers (SearchError), or rnc's own failure (InternalError).
fn search_error(py: Python<'_>, e: anyhow::Error) -> PyErr {
    let text = format!("{e:#}");
    if e.chain()
        .any(|c| c.downcast_ref::<rnc::error::Internal>().is_some())
    {
        return raise(py, "InternalError", (text,));
    }
    if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some()) {
        return raise(py, "FileError", (text, py.None()));
    }
    raise(py, "SearchError", (text,))
}

/// Holds a Python exception raised inside the user's build function, so the caller sees the
/// original exception; as an error it only marks the library's error chain.
#[derive(Debug)]
struct Pending(Mutex<Option<PyErr>>);

impl std::fmt::Display for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the build function raised an exception")
    }
}

impl std::error::Error for Pending {}

fn effort(py: Python<'_>, name: &str) -> PyResult<rnc::Effort> {
    match name {
        "fast" => Ok(rnc::Effort::Fast),
        "default" => Ok(rnc::Effort::Default),
        "max" => Ok(rnc::Effort::Max),
        other => Err(raise(
            py,
            "OptionsError",
            (
                format!("effort '{other}' is not one of: fast, default, max"),
                "effort",
            ),
        )),
    }
}

/// The network a user's build function returned: an `rnc.Network` or ONNX bytes.
fn built_network(py: Python<'_>, got: &Bound<'_, PyAny>, id: u64) -> PyResult<Network> {
    if let Ok(inner) = got.getattr("_net")
        && let Ok(net) = inner.extract::<PyRef<'_, Net>>()
    {
        return Ok(net.inner.clone());
    }
    if let Ok(bytes) = got.extract::<Vec<u8>>() {
        let opts = rnc::network::onnx::OnnxOptions::default();
        return rnc::network::onnx::load_bytes(&format!("candidate{id}"), &bytes, None, &opts)
            .map(|i| i.network)
            .map_err(|e| raise(py, "NetworkError", (format!("candidate {id}: ONNX bytes: {e}"),)));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "build(genome) must return an rnc.Network or ONNX bytes, not {} (candidate {id})",
        got.get_type().name()?
    )))
}

/// An ask/tell search session.
#[pyclass(frozen, module = "rnc._rnc", name = "Session")]
pub struct Srch {
    inner: Mutex<Session<'static>>,
}

impl Srch {
    fn with<T>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Session<'static>) -> anyhow::Result<T> + Send,
    ) -> PyResult<T>
    where
        T: Send,
    {
        let mut s = self
            .inner
            .lock()
            .map_err(|_| raise(py, "InternalError", ("the search session is poisoned",)))?;
        let session: &mut Session<'static> = &mut s;
        let r = py.detach(move || f(session));
        r.map_err(|e| search_error(py, e))
    }
}

fn custom_space(py: Python<'_>, space_json: &str) -> PyResult<Space> {
    let genes: Vec<(String, Vec<serde_json::Value>)> = serde_json::from_str(space_json)
        .map_err(|e| raise(py, "OptionsError", (format!("space: {e}"), "space")))?;
    let genes = genes
        .into_iter()
        .map(|(name, choices)| Gene::new(name, choices))
        .collect();
    Space::custom(genes).map_err(|e| raise(py, "OptionsError", (format!("space: {e:#}"), "space")))
}

#[pymethods]
impl Srch {
    /// A new search in `out`. `accuracy`: the accuracy objective's name as the checkpoint
    /// records it (None: hardware-only); `space_json`: `[[name, [choices…]], …]` or None for
    /// the OFA space; `energy`: also minimise the energy per inference.
    #[staticmethod]
    #[pyo3(signature = (out, budget, population, generations, seed, input, effort_name, hw, accuracy, space_json=None, energy=false, remap=true))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        out: PathBuf,
        budget: usize,
        population: usize,
        generations: usize,
        seed: u64,
        input: usize,
        effort_name: &str,
        hw: &Hw,
        accuracy: Option<String>,
        space_json: Option<&str>,
        energy: bool,
        remap: bool,
    ) -> PyResult<Srch> {
        let space = match space_json {
            Some(j) => custom_space(py, j)?,
            None => Space::Ofa,
        };
        let config = SessionConfig {
            seed,
            budget,
            input,
            classes: 10,
            population,
            generations,
            space,
            accuracy,
            energy,
        };
        let eff = effort(py, effort_name)?;
        let hwc = hw.inner.clone();
        let session = py
            .detach(|| {
                let objective = search_evaluator(hwc, budget, input, eff)?.with_front_remap(remap);
                Session::new(&config, &out, objective)
            })
            .map_err(|e| search_error(py, e))?;
        Ok(Srch {
            inner: Mutex::new(session),
        })
    }

    /// Continues the search in `out` from its checkpoint (budget and input as recorded there,
    /// which the caller reads from checkpoint.json).
    #[staticmethod]
    #[pyo3(signature = (out, budget, input, effort_name, hw, remap=true))]
    fn resume(
        py: Python<'_>,
        out: PathBuf,
        budget: usize,
        input: usize,
        effort_name: &str,
        hw: &Hw,
        remap: bool,
    ) -> PyResult<Srch> {
        let eff = effort(py, effort_name)?;
        let hwc = hw.inner.clone();
        let session = py
            .detach(|| {
                let objective = search_evaluator(hwc, budget, input, eff)?.with_front_remap(remap);
                Session::resume(&out, objective)
            })
            .map_err(|e| search_error(py, e))?;
        Ok(Srch {
            inner: Mutex::new(session),
        })
    }

    /// The next generation's candidates that need an accuracy, as (id, genome JSON) pairs.
    /// `build` (custom spaces) is called with each new genome's JSON text.
    #[pyo3(signature = (build=None))]
    fn ask(&self, py: Python<'_>, build: Option<Py<PyAny>>) -> PyResult<Vec<(u64, String)>> {
        let got = match build {
            None => self.with(py, |s| s.ask())?,
            Some(f) => {
                let pending = std::sync::Arc::new(Pending(Mutex::new(None)));
                let carried = std::sync::Arc::clone(&pending);
                let r = self.with(py, move |s| {
                    let mut b = |c: &Candidate| -> anyhow::Result<Network> {
                        Python::attach(|py| {
                            let json = py.import("json")?;
                            let genome = json.call_method1("loads", (c.text.as_str(),))?;
                            let net = f.call1(py, (genome,))?;
                            built_network(py, net.bind(py), c.id)
                        })
                        .map_err(|e| {
                            if let Ok(mut slot) = carried.0.lock() {
                                slot.get_or_insert(e);
                            }
                            anyhow::anyhow!(Pending(Mutex::new(None)))
                        })
                    };
                    s.ask_with(&mut b)
                });
                match r {
                    Ok(v) => v,
                    Err(e) => {
                        let original = pending.0.lock().ok().and_then(|mut s| s.take());
                        return Err(original.unwrap_or(e));
                    }
                }
            }
        };
        Ok(got.into_iter().map(|c| (c.id, c.text)).collect())
    }

    /// Completes the asked generation with (id, accuracy) pairs.
    fn tell(&self, py: Python<'_>, accuracies: Vec<(u64, f64)>) -> PyResult<()> {
        self.with(py, move |s| s.tell(&accuracies))
    }

    #[getter]
    fn done(&self, py: Python<'_>) -> PyResult<bool> {
        self.with(py, |s| Ok(s.done()))
    }

    /// The last completed generation (None before generation 0 is told).
    #[getter]
    fn generation(&self, py: Python<'_>) -> PyResult<Option<usize>> {
        self.with(py, |s| Ok(s.generation()))
    }

    #[getter]
    fn generations(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |s| Ok(s.generations()))
    }

    fn set_generations(&self, py: Python<'_>, generations: usize) -> PyResult<()> {
        self.with(py, move |s| {
            s.set_generations(generations);
            Ok(())
        })
    }

    #[getter]
    fn has_accuracy(&self, py: Python<'_>) -> PyResult<bool> {
        self.with(py, |s| Ok(s.has_accuracy()))
    }

    /// The objectives' names in their fixed order (accuracy, speedup, energy).
    #[getter]
    fn objectives(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.with(py, |s| {
            Ok(s.objectives()
                .list()
                .iter()
                .map(|o| o.name().to_string())
                .collect())
        })
    }

    #[getter]
    fn resumed_after(&self, py: Python<'_>) -> PyResult<Option<usize>> {
        self.with(py, |s| Ok(s.resumed_after()))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Srch>()?;
    Ok(())
}
