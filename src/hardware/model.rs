//! The MNSIM 2.0 PE model (HWMODEL.md §1.3–§5). Every expression keeps the reference's
//! evaluation order (products and sums left to right) so the results are bit-identical.

use super::ConfigError;
use super::config::{self, Params};
use super::ini::RawIni;
use super::tables::*;
use serde::Serialize;

/// Configuration-level quantities (HWMODEL.md §1.3, §2, §4): everything that does not depend on
/// the activated rows/columns. Names follow MNSIM's attributes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Derived {
    /// Subarrays per crossbar, n_sub = R_x / S (integer-valued).
    pub subarray_num: f64,
    /// DACs and ADCs per group (all subarrays): G_DAC, G_ADC.
    pub group_dac_num: f64,
    pub group_adc_num: f64,
    /// DACs and ADCs per PE: N_DAC, N_ADC.
    pub pe_dac_num: f64,
    pub pe_adc_num: f64,
    /// Rows per DAC and bit lines per ADC.
    pub input_demux: u64,
    pub output_mux: u64,
    /// Crossbars per PE, N_xbar = g·P.
    pub xbar_num: u64,
    /// Adders per PE (binary tree over the groups).
    pub adder_num: f64,
    /// Crossbar groups per PE, g.
    pub groups: u64,
    /// Effective DAC/ADC (after PIM_Type forcing and the table lookup).
    pub dac_choice: i64,
    pub dac_precision: i64,
    pub dac_sample_rate: f64,
    pub dac_area: f64,
    pub dac_power: f64,
    pub dac_unit_latency: f64,
    pub dac_unit_energy: f64,
    pub adc_choice: i64,
    pub adc_precision: i64,
    pub adc_sample_rate: f64,
    /// ADC area after its first evaluation (with one logic-gate add-on).
    pub adc_area: f64,
    /// ADC area as the PE area sees it (a user-defined area accumulates a second add-on).
    pub adc_area_pe: f64,
    pub adc_power: f64,
    pub adc_unit_latency: f64,
    pub adc_unit_energy: f64,
    /// One crossbar read, ns (t_cell + wire).
    pub xbar_read_latency: f64,
    /// Area of one crossbar, µm².
    pub xbar_area: f64,
    /// Cell read power (weighted resistance) and with R = R_HRS (unselected 0T1R cells), W.
    pub device_read_power: f64,
    pub device_read_power_hrs: f64,
    pub input_demux_area: f64,
    pub output_mux_area: f64,
    pub input_demux_power: f64,
    pub output_mux_power: f64,
    pub adder_area: f64,
    pub adder_power: f64,
    pub shiftreg_area: f64,
    pub shiftreg_power: f64,
    pub reg_area: f64,
    pub reg_power: f64,
    /// SRAM input buffer: table index, leakage (mW), constructor area (µm²), read/write power (mW).
    pub buf_index: usize,
    pub buf_cycle: f64,
    pub buf_leakage_power: f64,
    pub buf_area: f64,
    pub buf_rpower: f64,
    pub buf_wpower: f64,
    pub buf_read_energy: f64,
    pub buf_write_energy: f64,
    pub buf_bitwidth: u64,
    /// Digital clock period T = 1000/f ns; decoder and output-mux latencies, ns.
    pub digital_period: f64,
    pub decoder_latency: f64,
    pub mux_latency: f64,
    /// ⌈log2 g⌉.
    pub adder_levels: u64,
    /// PE area breakdown (§4).
    pub area: AreaBreakdown,
    // Integer forms used by the per-activation formulas.
    #[serde(skip)]
    pub(crate) dac_bits: u64,
    #[serde(skip)]
    pub(crate) group_dac: u64,
    #[serde(skip)]
    pub(crate) sub_adc: u64,
}

/// PE area, µm² (HWMODEL.md §4).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AreaBreakdown {
    pub xbar: f64,
    pub adc: f64,
    pub dac: f64,
    pub adder: f64,
    pub shiftreg: f64,
    pub ireg: f64,
    pub oreg: f64,
    pub input_demux: f64,
    pub output_mux: f64,
    pub digital: f64,
    pub inbuf: f64,
    pub total: f64,
}

/// Latency of one crossbar activation, ns (HWMODEL.md §3).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencyBreakdown {
    pub multiple_time: u64,
    pub total: f64,
    pub computing: f64,
    pub digital: f64,
    pub xbar: f64,
    pub dac: f64,
    pub adc: f64,
    pub ireg: f64,
    pub shiftreg: f64,
    pub input_demux: f64,
    pub adder: f64,
    pub output_mux: f64,
    pub oreg: f64,
    pub buf_write: f64,
    pub buf_read: f64,
}

/// PE read power, W (HWMODEL.md §5.1).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PowerBreakdown {
    pub xbar: f64,
    pub dac: f64,
    pub adc: f64,
    pub input_demux: f64,
    pub output_mux: f64,
    pub adder: f64,
    pub shiftreg: f64,
    pub ireg: f64,
    pub oreg: f64,
    pub digital: f64,
    pub inbuf_read: f64,
    pub inbuf_write: f64,
    pub inbuf: f64,
    pub total: f64,
}

/// Energy of one activation, nJ (HWMODEL.md §5.2): component latency × component power.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnergyBreakdown {
    pub xbar: f64,
    pub dac: f64,
    pub adc: f64,
    pub ireg: f64,
    pub shiftreg: f64,
    pub input_demux: f64,
    pub adder: f64,
    pub output_mux: f64,
    pub oreg: f64,
    pub buf_read: f64,
    pub buf_write: f64,
    pub total: f64,
}

/// MNSIM's `calculate_PE_energy_efficiency` (HWMODEL.md §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Efficiency {
    /// Operations per ns ("GOPS").
    pub equ_power: f64,
    /// Operations per nJ ("GOPS/W").
    pub equ_energy_efficiency: f64,
}

/// ⌈a / b⌉ for integers (HWMODEL.md §0: equals the binary64 ceiling of the quotient).
#[inline(always)]
pub(crate) fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

/// Number of base-8 digits, digits8(0) = 0.
fn digits8(mut x: u64) -> u64 {
    let mut n = 0;
    while x > 0 {
        x /= 8;
        n += 1;
    }
    n
}

/// Ceiling of a non-negative real that is known to be finite.
fn ceil_u64(x: f64) -> u64 {
    x.ceil() as u64
}

fn mux_transistors(ways: u64) -> u64 {
    MUX_TABLE
        .iter()
        .find(|(max, _)| ways <= *max)
        .map_or(1944, |(_, t)| *t)
}

/// Limit on DAC_Num / ADC_Num so every count stays an exact binary64 integer.
const MAX_COUNT: u64 = 1 << 32;

impl Derived {
    pub(crate) fn compute(p: &Params, ini: &RawIni) -> Result<Derived, ConfigError> {
        let rx = p.xbar_rows as u64;
        let cx = p.xbar_cols as u64;
        let s = p.subarray_rows as u64;
        let n_sub = rx as f64 / s as f64;
        let pol = p.polarity as u64;
        let sigma = p.sub_position as u64;
        let g = p.groups;
        let dev = &p.device;

        // ---- converters (PIM_Type = 1 forces the 1-bit DAC and the sense amplifier)
        let dac_choice = if p.pim_type == 1 && p.dac_choice != -1 {
            1
        } else {
            p.dac_choice
        };
        let adc_choice = if p.pim_type == 1 && p.adc_choice != -1 {
            8
        } else {
            p.adc_choice
        };
        let dac = if dac_choice == -1 {
            let rate = ini.get(config::INTERFACE, "DAC_Sample_Rate")?;
            if p.dac_sample_rate <= 0.0 {
                return Err(rate.error(
                    "a user-defined DAC (DAC_Choice = -1) needs a positive sample rate (GS/s); \
                     MNSIM divides by it (0 is not a default)",
                ));
            }
            let prec = ini.get(config::INTERFACE, "DAC_Precision")?;
            if p.dac_precision <= 0 {
                return Err(prec.error(
                    "a user-defined DAC (DAC_Choice = -1) needs a positive precision in bits; \
                     MNSIM divides by it (0 is not a default)",
                ));
            }
            for key in ["DAC_Area", "DAC_Power"] {
                let v = ini.get(config::INTERFACE, key)?;
                if v.real()? < 0.0 {
                    return Err(v.error("must not be negative"));
                }
            }
            Converter {
                precision: p.dac_precision,
                area_um2: p.dac_area,
                power_w: p.dac_power,
                sample_rate: p.dac_sample_rate,
            }
        } else {
            DAC_TABLE[(dac_choice - 1) as usize]
        };
        let adc = if adc_choice == -1 {
            let rate = ini.get(config::INTERFACE, "ADC_Sample_Rate")?;
            if p.adc_sample_rate <= 0.0 {
                return Err(rate.error(
                    "a user-defined ADC (ADC_Choice = -1) needs a positive sample rate (GS/s); \
                     MNSIM divides by it (0 is not a default)",
                ));
            }
            for key in ["ADC_Precision", "ADC_Area", "ADC_Power"] {
                let v = ini.get(config::INTERFACE, key)?;
                if v.real()? < 0.0 {
                    return Err(v.error("must not be negative"));
                }
            }
            Converter {
                precision: p.adc_precision,
                area_um2: p.adc_area,
                power_w: p.adc_power,
                sample_rate: p.adc_sample_rate,
            }
        } else {
            ADC_TABLE[(adc_choice - 1) as usize]
        };
        let gate = match p.logic_op {
            0 | 1 => Some(LOGIC_GATE_AND_OR),
            2 => Some(LOGIC_GATE_XOR),
            _ => None,
        };
        // The add-on is applied at each evaluation of the ADC area; a table area is reset
        // first, a user area accumulates (HWMODEL.md §2.4).
        let add_gate = |a: f64| gate.map_or(a, |x| a + x);
        let adc_area = add_gate(adc.area_um2);
        let adc_area_pe = if adc_choice == -1 {
            add_gate(adc_area)
        } else {
            adc_area
        };
        let dac_unit_latency = (1.0 / dac.sample_rate) * (dac.precision + 2) as f64;
        let adc_unit_latency = if adc.precision == 1 {
            1.0 / adc.sample_rate
        } else if adc_choice == 9 {
            (1.0 / adc.sample_rate) * 2f64.powi(adc.precision as i32)
        } else {
            (1.0 / adc.sample_rate) * (adc.precision + 2) as f64
        };

        // ---- crossbar
        let size_kb = ((rx * cx) as f64 / 1024.0) / 8.0;
        let wire = WIRE_SCALE * ((WIRE_A * (size_kb * size_kb) + WIRE_B * size_kb) + WIRE_C);
        let xbar_read_latency = dev.read_latency_ns + wire;
        let tt = p.transistor_tech as f64 / 65.0;
        let xbar_area = if !p.area_by_tech {
            if p.pim_type == 0 {
                (rx * cx) as f64 * dev.area_um2 + XBAR_DRIVER_ANALOG * rx as f64
            } else {
                (rx * cx) as f64 * dev.area_um2 + (rx as f64 * XBAR_DRIVER_DIGITAL) * (tt * tt)
            }
        } else if dev.device_type == "SRAM" {
            (rx * cx * AREA_M1_SRAM) as f64
        } else {
            let cell = if p.cell_0t1r { AREA_M1_0T1R } else { AREA_M1_1T1R };
            (((cell * rx * cx) as f64) * (dev.tech_nm * dev.tech_nm)) * 1e-6
        };
        let (r_f, r_l) = (dev.resistance[0], dev.resistance[dev.resistance.len() - 1]);
        let (v_f, v_l) = (dev.read_voltage[0], dev.read_voltage[dev.read_voltage.len() - 1]);
        let r_eff = (r_f * r_l) / (r_l * RDEV_W_LAST + r_f * RDEV_W_FIRST);
        let v_eff = (V_W_FIRST * (v_f * v_f) + V_W_LAST * (v_l * v_l)).sqrt();
        let device_read_power = (v_eff * v_eff) / r_eff;
        let device_read_power_hrs = (v_eff * v_eff) / r_f;

        // ---- converter counts (HWMODEL.md §1.3)
        let group_adc_num = if p.adc_num != 0 {
            let v = ini.get(config::PE, "ADC_Num")?;
            if p.adc_num > MAX_COUNT {
                return Err(v.error(format!("must be at most {MAX_COUNT}")));
            }
            p.adc_num as f64 * n_sub
        } else {
            let v = ini.get(config::PE, "ADC_Num")?;
            if adc_area <= 0.0 {
                return Err(
                    v.error("the default ADC count divides by the ADC area, which is 0 here; give ADC_Num")
                );
            }
            let k = ceil_u64((xbar_area.sqrt() * pol as f64) / adc_area.sqrt());
            ((sigma + 1).saturating_mul(k)).min(cx) as f64 * n_sub
        };
        // DAC_Num = 0: MNSIM 2.0 raises NameError here (it names `subarray_num` without its
        // object). rnc implements the formula the code intends, with n_sub (HWMODEL.md §1.3,
        // the `*_patched` test vectors).
        let group_dac_num = if p.dac_num != 0 {
            let v = ini.get(config::PE, "DAC_Num")?;
            if p.dac_num > MAX_COUNT {
                return Err(v.error(format!("must be at most {MAX_COUNT}")));
            }
            p.dac_num as f64 * n_sub
        } else {
            let v = ini.get(config::PE, "DAC_Num")?;
            if dac.area_um2 <= 0.0 {
                return Err(
                    v.error("the default DAC count divides by the DAC area, which is 0 here; give DAC_Num")
                );
            }
            let k = ceil_u64(((xbar_area.sqrt() / n_sub) * 1.0) / dac.area_um2.sqrt());
            k.min(s) as f64 * n_sub
        };
        let sub_adc_f = group_adc_num / n_sub;
        let sub_dac_f = group_dac_num / n_sub;
        if sub_adc_f < 1.0 {
            return Err(ini
                .get(config::PE, "ADC_Num")?
                .error("the default ADC count is 0 for this crossbar (crossbar area 0); give ADC_Num"));
        }
        if sub_dac_f < 1.0 {
            return Err(ini
                .get(config::PE, "DAC_Num")?
                .error("the default DAC count is 0 for this crossbar (crossbar area 0); give DAC_Num"));
        }
        let pe_adc_num = g as f64 * group_adc_num;
        let pe_dac_num = g as f64 * group_dac_num;
        let output_mux = ceil_u64((cx as f64 / sub_adc_f) * (sigma + 1) as f64);
        let input_demux = ceil_u64((s as f64 * 1.0) / sub_dac_f);
        let (sub_adc, sub_dac) = (sub_adc_f as u64, sub_dac_f as u64);

        let mut adder_num = 0.0;
        let mut t = g;
        while t / 2 >= 1 {
            adder_num += (t / 2) as f64 * n_sub;
            t = t / 2 + t % 2;
        }

        // ---- digital parts
        let digital_period = (1.0 / p.digital_freq_mhz) * 1000.0;
        let decoder_latency = (1 + digits8(ceil_div(s, sub_dac))) as f64 * DECODER_STAGE_NS;
        let mux_latency = (1 + digits8(ceil_div(cx, sub_adc))) as f64 * MUX_STAGE_NS;
        let adder_levels = (0..64).find(|&k| (1u128 << k) >= g as u128).unwrap_or(64);
        let transistor_area =
            ((TRANSISTOR_AREA_FACTOR as i64 * p.transistor_tech * p.transistor_tech) as f64) / 1e6;
        let input_demux_area = mux_transistors(input_demux) as f64 * transistor_area;
        let output_mux_area = mux_transistors(output_mux) as f64 * transistor_area;
        let input_demux_power = mux_transistors(input_demux) as f64 * TRANSISTOR_POWER_W;
        let output_mux_power = mux_transistors(output_mux) as f64 * TRANSISTOR_POWER_W;
        let (_, adder_area_bit, adder_power_bit) = *ADDER_TABLE
            .iter()
            .find(|(up, _, _)| p.adder_tech <= *up)
            .unwrap_or(&ADDER_TABLE[4]);
        let adder_area = if p.adder_area != 0.0 {
            p.adder_area
        } else {
            adder_area_bit * ADDER_BITWIDTH
        };
        let adder_power = if p.adder_power != 0.0 {
            p.adder_power
        } else {
            adder_power_bit * ADDER_BITWIDTH
        };
        let scale = |tech: i64| {
            let t = if tech <= 0 { 65 } else { tech } as f64 / 65.0;
            t * t
        };
        let shiftreg_area = if p.shiftreg_area != 0.0 {
            p.shiftreg_area
        } else {
            SHIFTREG_AREA_65 * scale(p.shiftreg_tech)
        };
        let shiftreg_power = if p.shiftreg_power != 0.0 {
            p.shiftreg_power
        } else {
            SHIFTREG_POWER_65 * scale(p.shiftreg_tech)
        };
        let reg_area = if p.reg_area != 0.0 {
            p.reg_area
        } else {
            REG_AREA_65 * scale(p.reg_tech)
        };
        let reg_power = if p.reg_power != 0.0 {
            p.reg_power
        } else {
            REG_POWER_65 * scale(p.reg_tech)
        };

        // ---- input buffer (HWMODEL.md §2.9)
        let tg = if p.buffer_tech >= 90 {
            0
        } else if p.buffer_tech >= 65 {
            1
        } else {
            2
        };
        let sb = BUF_SIZE_BUCKETS_KB
            .iter()
            .position(|&b| p.inbuf_size_kb <= b)
            .unwrap_or(8);
        let bw = p.buffer_bitwidth;
        let bb = if bw <= 64 {
            0
        } else if bw <= 128 {
            1
        } else if bw <= 256 {
            2
        } else {
            3
        };
        let buf_index = 36 * tg + 4 * sb + bb;
        let Some(buf) = BUFFER_TABLE.get(buf_index).copied().flatten() else {
            return Err(ini.get(config::PE, "PE_inBuf_Size")?.error(format!(
                "the SRAM buffer table has no buffer of at most 2 KB with a {bw}-bit bus \
                 ([Architecture level] Buffer_Bitwidth); MNSIM rejects it"
            )));
        };
        let buf_table_area = buf.area_mm2 * 1e6;
        let buf_area = if p.inbuf_area != 0.0 {
            p.inbuf_area
        } else {
            buf_table_area
        };
        let cycle = BUF_CYCLE_NS as f64;
        let buf_rpower = (buf.e_read_nj / cycle) * 1e3 + buf.leak_mw;
        let buf_wpower = (buf.e_write_nj / cycle) * 1e3 + buf.leak_mw;

        // ---- PE area (HWMODEL.md §4)
        let xbar_num = g * pol;
        let a_xbar = xbar_num as f64 * xbar_area;
        let a_adc = adc_area_pe * pe_adc_num;
        let a_dac = dac.area_um2 * pe_dac_num;
        let a_adder = (group_adc_num * adder_num) * adder_area;
        let a_shiftreg = pe_adc_num * shiftreg_area;
        let a_ireg = pe_dac_num * reg_area;
        let a_oreg = pe_adc_num * reg_area;
        let a_demux = input_demux_area * pe_dac_num;
        let a_mux = output_mux_area * pe_adc_num;
        let a_digital = a_adder + a_shiftreg + a_demux + a_mux + a_ireg + a_oreg;
        let area = AreaBreakdown {
            xbar: a_xbar,
            adc: a_adc,
            dac: a_dac,
            adder: a_adder,
            shiftreg: a_shiftreg,
            ireg: a_ireg,
            oreg: a_oreg,
            input_demux: a_demux,
            output_mux: a_mux,
            digital: a_digital,
            inbuf: buf_table_area,
            total: a_xbar + a_adc + a_dac + a_digital + buf_table_area,
        };

        Ok(Derived {
            subarray_num: n_sub,
            group_dac_num,
            group_adc_num,
            pe_dac_num,
            pe_adc_num,
            input_demux,
            output_mux,
            xbar_num,
            adder_num,
            groups: g,
            dac_choice,
            dac_precision: dac.precision,
            dac_sample_rate: dac.sample_rate,
            dac_area: dac.area_um2,
            dac_power: dac.power_w,
            dac_unit_latency,
            dac_unit_energy: dac_unit_latency * dac.power_w,
            adc_choice,
            adc_precision: adc.precision,
            adc_sample_rate: adc.sample_rate,
            adc_area,
            adc_area_pe,
            adc_power: adc.power_w,
            adc_unit_latency,
            adc_unit_energy: adc_unit_latency * adc.power_w,
            xbar_read_latency,
            xbar_area,
            device_read_power,
            device_read_power_hrs,
            input_demux_area,
            output_mux_area,
            input_demux_power,
            output_mux_power,
            adder_area,
            adder_power,
            shiftreg_area,
            shiftreg_power,
            reg_area,
            reg_power,
            buf_index,
            buf_cycle: cycle,
            buf_leakage_power: buf.leak_mw,
            buf_area,
            buf_rpower,
            buf_wpower,
            buf_read_energy: buf.e_read_nj,
            buf_write_energy: buf.e_write_nj,
            buf_bitwidth: bw,
            digital_period,
            decoder_latency,
            mux_latency,
            adder_levels,
            area,
            dac_bits: dac.precision as u64,
            group_dac: group_dac_num as u64,
            sub_adc,
        })
    }

    /// Latency of one activation (HWMODEL.md §3). `indata`/`rdata`: buffer traffic in bytes.
    #[inline]
    pub fn latency(&self, rows: u64, cols: u64, bits: u64, indata: u64, rdata: u64) -> LatencyBreakdown {
        let n_p = ceil_div(bits, self.dac_bits);
        let n_r = ceil_div(rows, self.group_dac);
        let n_c = ceil_div(cols, self.sub_adc);
        // u64 is exact for every realistic input; beyond 2^64 reads the count saturates.
        let m_int = n_p.saturating_mul(n_r).saturating_mul(n_c);
        let m = m_int as f64;
        let t = self.digital_period;
        let xbar = m * self.xbar_read_latency;
        let dac = m * self.dac_unit_latency;
        let adc = m * self.adc_unit_latency;
        let computing = (dac + xbar) + adc;
        let ireg = (n_r.saturating_mul(n_c) as f64) * t + m * t;
        let shiftreg = m * t;
        let input_demux = m * self.decoder_latency;
        let adder = (n_c.saturating_mul(self.adder_levels) as f64) * t;
        let output_mux = m * self.mux_latency;
        let oreg = n_c as f64 * t;
        let digital = ireg + shiftreg + input_demux + adder + output_mux + oreg;
        let buf_write = self.buffer_latency(indata);
        let buf_read = self.buffer_latency(rdata);
        LatencyBreakdown {
            multiple_time: m_int,
            total: ((buf_write + buf_read) + computing) + digital,
            computing,
            digital,
            xbar,
            dac,
            adc,
            ireg,
            shiftreg,
            input_demux,
            adder,
            output_mux,
            oreg,
            buf_write,
            buf_read,
        }
    }

    /// ⌈bytes·8 / W_buf⌉ · 20 ns (an integer in the reference).
    #[inline]
    fn buffer_latency(&self, bytes: u64) -> f64 {
        if bytes == 0 {
            return 0.0; // the common case (no traffic) without a division
        }
        (ceil_div(bytes.saturating_mul(8), self.buf_bitwidth) * BUF_CYCLE_NS) as f64
    }

    /// Buffer access energy by the buffer's own formula (HWMODEL.md §2.9), nJ.
    pub fn buffer_energy(&self, bytes: u64, write: bool) -> f64 {
        let e = if write {
            self.buf_write_energy
        } else {
            self.buf_read_energy
        };
        (e + (BUF_CYCLE_NS as f64 * self.buf_leakage_power) / 1e3)
            * ceil_div(bytes.saturating_mul(8), self.buf_bitwidth) as f64
    }
}

/// Read power of one crossbar with r activated rows and c activated columns (HWMODEL.md §2.2).
/// `None` where MNSIM's utilization assertion fails (r·c > R_x·C_x at Simulation_Level 0).
fn xbar_read_power(p: &Params, d: &Derived, r: u64, c: u64) -> Option<f64> {
    let (rx, cx) = (p.xbar_rows as u64, p.xbar_cols as u64);
    if p.simulation_level == 1 {
        let (r_f, r_l) = (
            p.device.resistance[0],
            p.device.resistance[p.device.resistance.len() - 1],
        );
        let (v_f, v_l) = (
            p.device.read_voltage[0],
            p.device.read_voltage[p.device.read_voltage.len() - 1],
        );
        let g = 1.0 / (r_f * r_l).sqrt();
        let v = ((v_f * v_f + v_l * v_l) / 2.0).sqrt();
        return Some((rx * cx) as f64 * (g * (v * v)));
    }
    let cells = r.saturating_mul(c) as f64;
    let u = cells / (rx * cx) as f64;
    if u > 1.0 {
        return None;
    }
    let mut px = 0.0 + cells * d.device_read_power;
    if p.cell_0t1r {
        px += ((UNSELECTED_FRACTION * r as f64) * (cx as i128 - c as i128) as f64) * d.device_read_power_hrs;
    }
    Some(px)
}

/// PE read power (HWMODEL.md §5.1) for `rows` × `cols` activated cells and `gamma` groups.
pub(crate) fn read_power(
    p: &Params,
    d: &Derived,
    rows: u64,
    cols: u64,
    gamma: i64,
) -> Option<PowerBreakdown> {
    let px = xbar_read_power(p, d, rows, cols)?;
    let n_d = ceil_div(rows, d.input_demux) as f64;
    let n_a = ceil_div(cols, d.output_mux) as f64;
    let gm = gamma as f64;
    let digital_k = if p.pim_type == 0 {
        None
    } else {
        Some(d.subarray_num)
    };
    let k = |x: f64| digital_k.map_or(x, |k| x * k);
    let xbar = (((p.polarity as i64 * gamma) as f64 * px) / d.input_demux as f64) / d.output_mux as f64;
    let dac = (gm * n_d) * d.dac_power;
    let input_demux = (gm * n_d) * d.input_demux_power;
    let ireg = (gm * n_d) * d.reg_power;
    let adc = k((gm * n_a) * d.adc_power);
    let output_mux = k((gm * n_a) * d.output_mux_power);
    let adder = k((((gamma - 1) as f64) * n_a) * d.adder_power);
    let shiftreg = k((gm * n_a) * d.shiftreg_power);
    let oreg = k((gm * n_a) * d.reg_power);
    let digital = input_demux + output_mux + adder + shiftreg + ireg + oreg;
    let inbuf_read = d.buf_rpower * 1e-3;
    let inbuf_write = d.buf_wpower * 1e-3;
    let inbuf = inbuf_read + inbuf_write;
    Some(PowerBreakdown {
        xbar,
        dac,
        adc,
        input_demux,
        output_mux,
        adder,
        shiftreg,
        ireg,
        oreg,
        digital,
        inbuf_read,
        inbuf_write,
        inbuf,
        total: xbar + dac + adc + digital + inbuf,
    })
}

/// Energy of one activation (HWMODEL.md §5.2).
pub(crate) fn energy(l: &LatencyBreakdown, w: &PowerBreakdown) -> EnergyBreakdown {
    let xbar = l.xbar * w.xbar;
    let dac = l.dac * w.dac;
    let adc = l.adc * w.adc;
    let ireg = l.ireg * w.ireg;
    let shiftreg = l.shiftreg * w.shiftreg;
    let input_demux = l.input_demux * w.input_demux;
    let adder = l.adder * w.adder;
    let output_mux = l.output_mux * w.output_mux;
    let oreg = l.oreg * w.oreg;
    let buf_read = l.buf_read * w.inbuf_read;
    let buf_write = l.buf_write * w.inbuf_write;
    let total = 0.0
        + xbar
        + dac
        + adc
        + ireg
        + shiftreg
        + input_demux
        + adder
        + output_mux
        + oreg
        + buf_read
        + buf_write;
    EnergyBreakdown {
        xbar,
        dac,
        adc,
        ireg,
        shiftreg,
        input_demux,
        adder,
        output_mux,
        oreg,
        buf_read,
        buf_write,
        total,
    }
}

/// MNSIM's `calculate_PE_energy_efficiency` after `calculate_PE_read_power_fast(C_x, R_x, g)`.
pub(crate) fn efficiency(p: &Params, d: &Derived) -> Option<Efficiency> {
    let w = read_power(p, d, p.xbar_rows as u64, p.xbar_cols as u64, d.groups as i64)?;
    let m = ceil_div(8, d.dac_bits) as f64;
    let t = d.digital_period;
    let l_xbar = m * d.xbar_read_latency;
    let l_dac = m * d.dac_unit_latency;
    let l_adc = m * d.adc_unit_latency;
    let l_ireg = t + m * t;
    let l_sr = m * t;
    let l_dmx = m * d.decoder_latency;
    let l_add = d.adder_levels as f64 * t;
    let l_mx = m * d.mux_latency;
    let l_oreg = t;
    let l_tot = l_xbar + l_dac + l_adc + l_ireg + l_dmx + l_sr + l_add + l_mx + l_oreg;
    let e_tot = l_xbar * w.xbar
        + l_dac * w.dac
        + l_adc * w.adc
        + l_ireg * w.ireg
        + l_sr * w.shiftreg
        + l_dmx * w.input_demux
        + l_add * w.adder
        + l_mx * w.output_mux
        + l_oreg * w.oreg;
    let ops = (2.0 * d.group_dac_num) * d.group_adc_num;
    Some(Efficiency {
        equ_power: ops / l_tot,
        equ_energy_efficiency: ops / e_tot,
    })
}
