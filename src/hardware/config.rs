//! The keys of `SimConfig.ini` that the hardware model reads (HWMODEL.md §1.2), typed and checked.

use super::ConfigError;
use super::ini::RawIni;

pub(crate) const DEVICE: &str = "Device level";
pub(crate) const CROSSBAR: &str = "Crossbar level";
pub(crate) const INTERFACE: &str = "Interface level";
pub(crate) const PE: &str = "Process element level";
pub(crate) const DIGITAL: &str = "Digital module";
pub(crate) const ARCH: &str = "Architecture level";
pub(crate) const ALGO: &str = "Algorithm Configuration";

/// The memory cell.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceParams {
    /// Device_Tech, nm (F).
    pub tech_nm: f64,
    /// Device_Type; anything but `NVM` is modelled as SRAM-like.
    pub device_type: String,
    /// Device_Area, µm².
    pub area_um2: f64,
    pub read_voltage: Vec<f64>,
    pub write_voltage: Vec<f64>,
    /// Read_Latency, ns.
    pub read_latency_ns: f64,
    /// Write_Latency, ns (parsed; not part of the PE read model).
    pub write_latency_ns: f64,
    /// Device_Level (NVM; 2 levels otherwise).
    pub levels: i64,
    /// Device_Resistance from HRS to LRS, Ω (NVM; 1.6 MΩ twice otherwise).
    pub resistance: Vec<f64>,
    /// Load_Resistance after MNSIM's −1 default (√(R_first·R_last)).
    pub load_resistance: f64,
    /// Device_Variation, percent of the resistance (NVM; 0 otherwise). Used by the
    /// non-ideal accuracy model only.
    pub variation_pct: f64,
    /// Device_SAF (percent stuck at HRS, percent stuck at LRS) as written; checked only by the
    /// non-ideal accuracy model, so a compile never fails on it.
    pub saf_pct: Result<Vec<f64>, ConfigError>,
}

impl DeviceParams {
    /// Non-volatile memory devices (RRAM) carry variation and stuck-at faults; others do not.
    pub fn is_nvm(&self) -> bool {
        self.device_type == "NVM"
    }
}

/// Every value the model uses, after MNSIM's substitutions for 0 / −1 / ≤ 0 where they are
/// applied at read time. Substitutions that MNSIM applies inside formulas stay in the model.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    pub device: DeviceParams,
    /// Xbar_Size rows (R_x) and columns (C_x).
    pub xbar_rows: usize,
    pub xbar_cols: usize,
    /// Subarray_Size, rows per subarray (S).
    pub subarray_rows: usize,
    /// Cell_Type starts with `0` (0T1R behaviour).
    pub cell_0t1r: bool,
    pub cell_type: String,
    pub transistor_tech: i64,
    /// Area_Calculation ≠ 0: technology method.
    pub area_by_tech: bool,
    /// DAC_Choice (−1 = user defined) and the user values.
    pub dac_choice: i64,
    pub dac_precision: i64,
    pub dac_area: f64,
    pub dac_power: f64,
    pub dac_sample_rate: f64,
    pub adc_choice: i64,
    pub adc_precision: i64,
    pub adc_area: f64,
    pub adc_power: f64,
    pub adc_sample_rate: f64,
    pub logic_op: i64,
    pub pim_type: i64,
    /// Xbar_Polarity P ∈ {1, 2}.
    pub polarity: u32,
    /// Sub_Position σ (0 unless P = 2).
    pub sub_position: i64,
    /// Group_Num with 0 → 1.
    pub groups: u64,
    /// DAC_Num, ADC_Num (0 = MNSIM's default formula).
    pub dac_num: u64,
    pub adc_num: u64,
    /// PE_inBuf_Size with 0 → 16 KB.
    pub inbuf_size_kb: f64,
    /// PE_inBuf_Area (0 = table); does not enter the PE area.
    pub inbuf_area: f64,
    pub digital_freq_mhz: f64,
    pub adder_tech: i64,
    pub adder_area: f64,
    pub adder_power: f64,
    pub shiftreg_tech: i64,
    pub shiftreg_area: f64,
    pub shiftreg_power: f64,
    pub reg_tech: i64,
    pub reg_area: f64,
    pub reg_power: f64,
    /// Buffer_Technology with 0 → 65.
    pub buffer_tech: i64,
    /// Buffer_Bitwidth with 0 → 256.
    pub buffer_bitwidth: u64,
    /// Simulation_Level: 0 behavioural, 1 estimation.
    pub simulation_level: i64,
}

impl Params {
    pub(crate) fn read(ini: &RawIni) -> Result<Params, ConfigError> {
        // ---- Device level
        let device_type = ini.get(DEVICE, "Device_Type")?.text.to_string();
        let nvm = device_type == "NVM";
        let tech_nm = ini.get(DEVICE, "Device_Tech")?.real()?;
        let area_um2 = nonneg(ini, DEVICE, "Device_Area")?;
        let read_voltage = level_list(ini, "Read_Level", "Read_Voltage")?;
        let write_voltage = level_list(ini, "Write_Level", "Write_Voltage")?;
        let read_latency_ns = nonneg(ini, DEVICE, "Read_Latency")?;
        let write_latency_ns = nonneg(ini, DEVICE, "Write_Latency")?;
        let (levels, resistance, variation_pct) = if nvm {
            let r = level_list(ini, "Device_Level", "Device_Resistance")?;
            let v = ini.get(DEVICE, "Device_Resistance")?;
            if r.iter().any(|&x| x <= 0.0) {
                return Err(v.error("every resistance must be positive (Ω)"));
            }
            let var = ini.get(DEVICE, "Device_Variation")?.real()?;
            (r.len() as i64, r, var)
        } else {
            ini.get(DEVICE, "Read_Energy")?.real()?;
            ini.get(DEVICE, "Write_Energy")?.real()?;
            (2, vec![crate::hardware::tables::SRAM_RESISTANCE; 2], 0.0)
        };
        let saf_pct = ini.get(DEVICE, "Device_SAF").and_then(|v| v.real_list());
        // ---- Crossbar level
        let xs = ini.get(CROSSBAR, "Xbar_Size")?;
        let sizes = xs.int_list()?;
        if sizes.len() != 2 {
            return Err(xs.error(format!(
                "expected two values ROWS, COLS (e.g. 128, 128), got {}",
                sizes.len()
            )));
        }
        let max = crate::partition::MAX_XBAR_SIDE as i64;
        if sizes.iter().any(|&s| s < 1 || s > max) {
            return Err(xs.error(format!("each side must be between 1 and {max}")));
        }
        let (xbar_rows, xbar_cols) = (sizes[0] as usize, sizes[1] as usize);
        let sv = ini.get(CROSSBAR, "Subarray_Size")?;
        let s = sv.int()?;
        if s < 1 || xbar_rows as i64 % s != 0 {
            return Err(sv.error(format!(
                "must be a positive divisor of the crossbar rows ({xbar_rows}); MNSIM rejects it"
            )));
        }
        let cell_type = ini.get(CROSSBAR, "Cell_Type")?.text.to_string();
        let transistor_tech = ini.get(CROSSBAR, "Transistor_Tech")?.int()?;
        ini.get(CROSSBAR, "Wire_Resistance")?.real()?;
        ini.get(CROSSBAR, "Wire_Capacity")?.real()?;
        let load_resistance = if nvm {
            let lv = ini.get(CROSSBAR, "Load_Resistance")?;
            let l = lv.real()?;
            let l = if l == -1.0 {
                (resistance[0] * resistance[resistance.len() - 1]).sqrt()
            } else {
                l
            };
            if l <= 0.0 {
                return Err(lv.error("must be positive, or -1 for the default √(R_HRS·R_LRS)"));
            }
            l
        } else {
            0.0
        };
        let area_by_tech = ini.get(CROSSBAR, "Area_Calculation")?.int()? != 0;
        // ---- Interface level
        let dv = ini.get(INTERFACE, "DAC_Choice")?;
        let dac_choice = dv.int()?;
        if !(dac_choice == -1 || (1..=7).contains(&dac_choice)) {
            return Err(dv.error("must be -1 (user defined) or a table choice 1..7"));
        }
        let dac_precision = ini.get(INTERFACE, "DAC_Precision")?.int()?;
        let dac_area = ini.get(INTERFACE, "DAC_Area")?.real()?;
        let dac_power = ini.get(INTERFACE, "DAC_Power")?.real()?;
        let dac_sample_rate = ini.get(INTERFACE, "DAC_Sample_Rate")?.real()?;
        let av = ini.get(INTERFACE, "ADC_Choice")?;
        let adc_choice = av.int()?;
        if !(adc_choice == -1 || (1..=9).contains(&adc_choice)) {
            return Err(av.error("must be -1 (user defined) or a table choice 1..9"));
        }
        let adc_precision = ini.get(INTERFACE, "ADC_Precision")?.int()?;
        let adc_area = ini.get(INTERFACE, "ADC_Area")?.real()?;
        let adc_power = ini.get(INTERFACE, "ADC_Power")?.real()?;
        let adc_sample_rate = ini.get(INTERFACE, "ADC_Sample_Rate")?.real()?;
        ini.get(INTERFACE, "ADC_Interval_Thres")?.int_list()?;
        let logic_op = ini.get(INTERFACE, "Logic_Op")?.int()?;
        // ---- Process element level
        let pv = ini.get(PE, "PIM_Type")?;
        let pim_type = pv.int()?;
        if pim_type < 0 {
            return Err(pv.error("must be 0 (analog) or 1 (digital)"));
        }
        let polv = ini.get(PE, "Xbar_Polarity")?;
        let polarity = match polv.int()? {
            1 => 1,
            2 => 2,
            _ => return Err(polv.error("must be 1 or 2 (crossbars per group)")),
        };
        // MNSIM reads Sub_Position only with two crossbars per group.
        let sub_position = if polarity == 2 {
            let spv = ini.get(PE, "Sub_Position")?;
            let sp = spv.int()?;
            if sp < 0 {
                return Err(spv.error("must be 0 (analog subtraction) or 1 (digital subtraction)"));
            }
            sp
        } else {
            0
        };
        let groups = match count(ini, "Group_Num")? {
            0 => 1,
            g => g,
        };
        let dac_num = count(ini, "DAC_Num")?;
        let adc_num = count(ini, "ADC_Num")?;
        let inbuf_size_kb = match nonneg(ini, PE, "PE_inBuf_Size")? {
            0.0 => crate::hardware::tables::BUF_DEFAULT_SIZE_KB,
            s => s,
        };
        let inbuf_area = nonneg(ini, PE, "PE_inBuf_Area")?;
        // ---- Digital module
        let fv = ini.get(DIGITAL, "Digital_Frequency")?;
        let digital_freq_mhz = fv.real()?;
        if digital_freq_mhz <= 0.0 {
            return Err(fv.error("must be positive (MHz)"));
        }
        let adder_tech = ini.get(DIGITAL, "Adder_Tech")?.int()?;
        let adder_area = nonneg(ini, DIGITAL, "Adder_Area")?;
        let adder_power = nonneg(ini, DIGITAL, "Adder_Power")?;
        let shiftreg_tech = ini.get(DIGITAL, "ShiftReg_Tech")?.int()?;
        let shiftreg_area = nonneg(ini, DIGITAL, "ShiftReg_Area")?;
        let shiftreg_power = nonneg(ini, DIGITAL, "ShiftReg_Power")?;
        let reg_tech = ini.get(DIGITAL, "Reg_Tech")?.int()?;
        let reg_area = nonneg(ini, DIGITAL, "Reg_Area")?;
        let reg_power = nonneg(ini, DIGITAL, "Reg_Power")?;
        // ---- Architecture level
        ini.get(ARCH, "Buffer_Choice")?.int()?;
        let btv = ini.get(ARCH, "Buffer_Technology")?;
        let buffer_tech = match btv.int()? {
            0 => crate::hardware::tables::BUF_DEFAULT_TECH,
            t if t < 0 => return Err(btv.error("must be a technology in nm, or 0 for 65 nm")),
            t => t,
        };
        let bwv = ini.get(ARCH, "Buffer_Bitwidth")?;
        let buffer_bitwidth = match bwv.int()? {
            0 => crate::hardware::tables::BUF_DEFAULT_BITWIDTH as u64,
            w if w < 0 => return Err(bwv.error("must be a bus width in bits, or 0 for 256")),
            w => w as u64,
        };
        ini.get(ARCH, "Buffer_ReadPower")?.real()?;
        ini.get(ARCH, "Buffer_WritePower")?.real()?;
        // ---- Algorithm Configuration
        let slv = ini.get(ALGO, "Simulation_Level")?;
        let simulation_level = slv.int()?;
        if !(0..=1).contains(&simulation_level) {
            return Err(slv.error("must be 0 (behaviour) or 1 (estimation)"));
        }
        Ok(Params {
            device: DeviceParams {
                tech_nm,
                device_type,
                area_um2,
                read_voltage,
                write_voltage,
                read_latency_ns,
                write_latency_ns,
                levels,
                resistance,
                load_resistance,
                variation_pct,
                saf_pct,
            },
            xbar_rows,
            xbar_cols,
            subarray_rows: s as usize,
            cell_0t1r: cell_type.starts_with('0'),
            cell_type,
            transistor_tech,
            area_by_tech,
            dac_choice,
            dac_precision,
            dac_area,
            dac_power,
            dac_sample_rate,
            adc_choice,
            adc_precision,
            adc_area,
            adc_power,
            adc_sample_rate,
            logic_op,
            pim_type,
            polarity,
            sub_position,
            groups,
            dac_num,
            adc_num,
            inbuf_size_kb,
            inbuf_area,
            digital_freq_mhz,
            adder_tech,
            adder_area,
            adder_power,
            shiftreg_tech,
            shiftreg_area,
            shiftreg_power,
            reg_tech,
            reg_area,
            reg_power,
            buffer_tech,
            buffer_bitwidth,
            simulation_level,
        })
    }
}

/// A real that must not be negative (areas, powers, sizes, latencies).
fn nonneg(ini: &RawIni, section: &str, key: &str) -> Result<f64, ConfigError> {
    let v = ini.get(section, key)?;
    let x = v.real()?;
    if x < 0.0 {
        return Err(v.error("must not be negative"));
    }
    Ok(x)
}

/// A count of the PE section (0 = MNSIM's default); negative counts make MNSIM fail.
fn count(ini: &RawIni, key: &str) -> Result<u64, ConfigError> {
    let v = ini.get(PE, key)?;
    let n = v.int()?;
    if n < 0 {
        return Err(v.error("must be 0 (default) or a positive count"));
    }
    if n > 1 << 32 {
        return Err(v.error("is too large (at most 4294967296)"));
    }
    Ok(n as u64)
}

/// A `*_Level` count and its list, which MNSIM requires to have exactly that many entries.
fn level_list(ini: &RawIni, level_key: &str, list_key: &str) -> Result<Vec<f64>, ConfigError> {
    let lv = ini.get(DEVICE, level_key)?;
    let level = lv.int()?;
    let list = ini.get(DEVICE, list_key)?.real_list()?;
    if level != list.len() as i64 {
        return Err(lv.error(format!(
            "must equal the number of {list_key} entries ({}); MNSIM rejects the mismatch",
            list.len()
        )));
    }
    Ok(list)
}
