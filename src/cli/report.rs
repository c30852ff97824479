use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Output folder of `rnc compile --out` (summary.json, partition.json, pack.csv, optional
    /// trace.csv) or of `rnc search --out` (evolution.csv, pareto.json).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    let path = rnc::html::write_report(&a.dir)?;
    println!("wrote {}", path.display());
    Ok(())
}
