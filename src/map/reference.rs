//! The reference's duplication (SPEC §6, defects fixed): copies from an area margin, margins
//! 0.95 … 0.60 until the copies pack.

use super::{MapTask, Mapper, Mapping, Raw};
use crate::duplicate;

/// `--duplicate reference`.
pub struct Reference;

impl Mapper for Reference {
    fn name(&self) -> &'static str {
        "reference"
    }

    fn map(&self, task: &MapTask) -> anyhow::Result<Vec<Mapping>> {
        super::to_mappings(task.part, [reference(task)?])
    }
}

fn reference(task: &MapTask) -> anyhow::Result<Raw> {
    let budget_cells = task.budget as u64 * task.part.options.xbar.cells();
    let mut last_err = None;
    for k in 0..8 {
        let margin = 0.95 - 0.05 * k as f64;
        let copies = duplicate::reference_copies(task.timings, budget_cells, margin);
        match super::area::try_area(task.part, task.timings, &copies, &task.pack) {
            Ok(p) => return Ok((copies, p)),
            Err(e) => last_err = Some(e),
        }
    }
    let e = last_err.map_or_else(|| anyhow::anyhow!("no margin tried"), anyhow::Error::from);
    Err(e.context("reference duplication: no margin from 0.95 to 0.60 packs"))
}
