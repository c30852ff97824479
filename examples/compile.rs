//! A zoo network through the façade: `cargo run --release --example compile [MODEL] [CROSSBARS]`.

use rnc::duplicate::DuplicateMode;
use rnc::{Budget, CompileOptions, Target, network::zoo};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = args.next().unwrap_or_else(|| "squeezenet1_1".to_string());
    let crossbars: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let net = zoo::build(&model, 64, 10)?;
    let mut opts = CompileOptions::default();
    opts.budget = Budget::Crossbars(crossbars);
    opts.duplicate = DuplicateMode::Auto;
    let c = rnc::compile(&net, &Target::default_hardware(), &opts)?;
    let s = c.summary();
    println!(
        "{model} on {crossbars} crossbars: {:.1}x over ISAAC-like",
        s.speedup
    );
    println!("{}", c.summary_json());
    Ok(())
}
