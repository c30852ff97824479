//! `rnc.compile`: filled in once the library façade (`rnc::compile`) is on main.

use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
