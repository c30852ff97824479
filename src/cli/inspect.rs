use super::{InputArgs, ModelArgs, PartitionArgs};
use clap::Args;

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub partition: PartitionArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: InspectArgs) -> anyhow::Result<()> {
    if a.partition.depth_split_auto() {
        anyhow::bail!(
            "--depth-split auto chooses D by simulated latency: it is for `rnc compile`; give a number here"
        );
    }
    let opts = a.partition.options(rnc::partition::Crossbar::default())?;
    let net = a.model.load(&a.input)?;
    let part = rnc::partition::partition(&net, &opts)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rnc::report::inspection(&net, &part))?
        );
    } else {
        print!("{}", rnc::report::layer_table(&net, &part));
    }
    Ok(())
}
