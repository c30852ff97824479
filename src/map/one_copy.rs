//! No duplication: one copy of every tile, packed by the user's packer.

use super::{MapTask, Mapper, Mapping};
use crate::pack;

/// One copy per layer (`--duplicate none`).
pub struct OneCopy;

impl Mapper for OneCopy {
    fn name(&self) -> &'static str {
        "one copy"
    }

    fn map(&self, task: &MapTask) -> anyhow::Result<Vec<Mapping>> {
        let copies = vec![1; task.timings.len()];
        let times: Vec<f64> = task.timings.iter().map(|t| t.time(1)).collect();
        let it = super::items(task.part, &copies, &times);
        let p = pack::pack(&it, task.part.options.xbar, &task.pack)?;
        Ok(vec![Mapping::from_packing(task.part, &copies, &p)?])
    }
}
