//! `rnc hw`: the hardware model's cost of one crossbar activation.

use super::HwArgs;
use clap::Args;

#[derive(Args, Debug)]
pub struct HwCmdArgs {
    #[command(flatten)]
    pub hw: HwArgs,
    /// Activated word lines (rows of the tile).
    #[arg(long, value_name = "R")]
    pub rows: usize,
    /// Activated bit lines (columns of the tile).
    #[arg(long, value_name = "C")]
    pub cols: usize,
    /// Input precision in bits.
    #[arg(long, default_value_t = 8, value_name = "B")]
    pub input_bits: u32,
    /// Bytes written into the PE input buffer for this activation.
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    pub indata: u64,
    /// Bytes read from the PE input buffer for this activation.
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    pub rdata: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Upper bound on the byte counts, so every derived count stays exact.
const MAX_BYTES: u64 = 1 << 40;

pub fn run(a: HwCmdArgs) -> anyhow::Result<()> {
    if a.rows == 0 || a.cols == 0 {
        anyhow::bail!("--rows and --cols must be at least 1 (got {}x{})", a.rows, a.cols);
    }
    if !(1..=64).contains(&a.input_bits) {
        anyhow::bail!("--input-bits must be between 1 and 64 (got {})", a.input_bits);
    }
    if a.indata > MAX_BYTES || a.rdata > MAX_BYTES {
        anyhow::bail!("--indata and --rdata must be at most {MAX_BYTES} bytes");
    }
    let hw = a.hw.load()?;
    let cost = hw
        .activation_with_traffic(a.rows, a.cols, a.input_bits, a.indata, a.rdata)
        .map_err(|e| {
            let t = hw
                .breakdown(a.rows, a.cols, a.input_bits, a.indata, a.rdata)
                .latency
                .total;
            anyhow::anyhow!("{e} (its latency alone would be {t} ns)")
        })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&cost)?);
        return Ok(());
    }
    let d = hw.derived();
    let b = hw.breakdown(a.rows, a.cols, a.input_bits, a.indata, a.rdata);
    let xb = hw.crossbar();
    println!(
        "hardware: {} ({xb} crossbar, {} DAC(s) of {} bit per group, {} ADC(s) of {} bit per subarray, {} MHz)",
        hw.source(),
        d.group_dac_num,
        d.dac_precision,
        d.group_adc_num / d.subarray_num,
        d.adc_precision,
        hw.params().digital_freq_mhz,
    );
    println!(
        "activation: {} rows x {} cols at {} input bits = {} crossbar read(s)",
        a.rows, a.cols, a.input_bits, b.latency.multiple_time
    );
    let rows = [
        ("latency", cost.latency_ns, "ns"),
        ("  crossbar", cost.xbar_ns, "ns"),
        ("  DAC", cost.dac_ns, "ns"),
        ("  ADC", cost.adc_ns, "ns"),
        ("  digital", cost.digital_ns, "ns"),
        ("  buffer write", cost.buffer_write_ns, "ns"),
        ("  buffer read", cost.buffer_read_ns, "ns"),
        ("PE area", cost.area_um2, "um^2"),
        ("PE read power", cost.power_w, "W"),
        ("energy", cost.energy_nj, "nJ"),
    ];
    for (name, v, unit) in rows {
        println!("{name:<15} {v:>16.6} {unit}");
    }
    Ok(())
}
