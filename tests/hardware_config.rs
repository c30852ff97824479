//! Reading SimConfig.ini: MNSIM's own file format parses; malformed files give precise errors.

use proptest::prelude::*;
use rnc::hardware::{ConfigError, DEFAULT_SIMCONFIG, HwConfig};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn default_text() -> String {
    std::fs::read_to_string(format!("{FIX}/mnsim_SimConfig.ini")).unwrap()
}

/// The default file with the line starting with `key =` replaced by `line` (or removed if empty).
fn with_line(key: &str, line: &str) -> String {
    let text = default_text();
    let mut found = false;
    let out: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            if l.split('=').next().unwrap().trim() == key && !found {
                found = true;
                (!line.is_empty()).then_some(line)
            } else {
                Some(l)
            }
        })
        .collect();
    assert!(found, "no key {key}");
    out.join("\n")
}

fn err(text: &str) -> String {
    HwConfig::parse(text, "my.ini")
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn embedded_default_is_the_reference_file() {
    assert_eq!(DEFAULT_SIMCONFIG, default_text());
    let a = HwConfig::embedded_default();
    let b = HwConfig::from_file(std::path::Path::new(&format!("{FIX}/mnsim_SimConfig.ini"))).unwrap();
    assert_eq!(a.params(), b.params());
    assert_eq!(a.derived(), b.derived());
    assert!(b.source().ends_with("mnsim_SimConfig.ini"));
    assert_eq!(a.bits_per_cell(), 1);
    let four = with_line("Device_Resistance", "Device_Resistance = 1e6, 1e5, 5e4, 1e4")
        .replace("Device_Level = 2", "Device_Level = 4");
    assert_eq!(HwConfig::parse(&four, "x").unwrap().bits_per_cell(), 2);
}

#[test]
fn mnsim_commented_file_parses_to_the_same_model() {
    let path = format!("{FIX}/mnsim_SimConfig_commented.ini");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.lines()
            .filter(|l| l.trim_start().starts_with('#') && l.starts_with([' ', '\t']))
            .count()
            > 50
    );
    let c = HwConfig::from_file(std::path::Path::new(&path)).unwrap();
    let d = HwConfig::embedded_default();
    assert_eq!(c.params(), d.params());
    assert_eq!(c.derived(), d.derived());
    assert_eq!(c.latency_ns(128, 128, 8), 152.77319047999998);
    // Windows line endings and a byte-order mark too.
    let crlf = format!("\u{feff}{}", text.replace('\n', "\r\n"));
    assert_eq!(HwConfig::parse(&crlf, "crlf.ini").unwrap().derived(), d.derived());
}

#[test]
fn keys_are_case_insensitive_sections_are_not_unknown_keys_ignored() {
    let t = with_line(
        "Xbar_Size",
        "xbar_SIZE = 256,256\nSubarray_Size = 256\nFuture_Key = whatever",
    );
    let t = t.replacen("Subarray_Size = 128\n", "", 1);
    let hw = HwConfig::parse(&t, "x.ini").unwrap();
    assert_eq!(hw.crossbar(), rnc::partition::Crossbar { rows: 256, cols: 256 });
    let t = default_text().replace("[Device level]", "[device level]");
    assert_eq!(err(&t), "my.ini: missing section [Device level]");
}

#[test]
fn malformed_files_give_precise_errors() {
    let cases: Vec<(String, &str)> = vec![
        (
            default_text().replace("[Digital module]\n", ""),
            "my.ini: missing section [Digital module]",
        ),
        (
            with_line("Subarray_Size", ""),
            "my.ini: [Crossbar level] missing key Subarray_Size",
        ),
        (
            with_line("Xbar_Size", "Xbar_Size = 128"),
            "my.ini: [Crossbar level] Xbar_Size = 128: expected two values ROWS, COLS (e.g. 128, 128), got 1",
        ),
        (
            with_line("Xbar_Size", "Xbar_Size = 128.0, 128"),
            "my.ini: [Crossbar level] Xbar_Size = 128.0, 128: '128.0' is not an integer; expected a comma list of integers",
        ),
        (
            with_line("Xbar_Size", "Xbar_Size = 0, 128"),
            "my.ini: [Crossbar level] Xbar_Size = 0, 128: each side must be between 1 and 65536",
        ),
        (
            with_line("ADC_Choice", "ADC_Choice = 42"),
            "my.ini: [Interface level] ADC_Choice = 42: must be -1 (user defined) or a table choice 1..9",
        ),
        (
            with_line("DAC_Choice", "DAC_Choice = 8"),
            "my.ini: [Interface level] DAC_Choice = 8: must be -1 (user defined) or a table choice 1..7",
        ),
        (
            with_line("Read_Latency", "Read_Latency = fast"),
            "my.ini: [Device level] Read_Latency = fast: expected a number",
        ),
        (
            with_line("Read_Latency", "Read_Latency = 3.16 # ns"),
            "my.ini: [Device level] Read_Latency = 3.16 # ns: expected a number (comments must be on their own line; MNSIM does not allow them after a value)",
        ),
        (
            with_line("Transistor_Tech", "Transistor_Tech = 130\n    65"),
            "my.ini: [Crossbar level] Transistor_Tech = 130\\n65: expected an integer",
        ),
        (
            with_line("Group_Num", "Group_Num = 2.5"),
            "my.ini: [Process element level] Group_Num = 2.5: expected an integer",
        ),
        (
            with_line("Group_Num", "Group_Num = -1"),
            "my.ini: [Process element level] Group_Num = -1: must be 0 (default) or a positive count",
        ),
        (
            with_line("Subarray_Size", "Subarray_Size = 100"),
            "my.ini: [Crossbar level] Subarray_Size = 100: must be a positive divisor of the crossbar rows (128); MNSIM rejects it",
        ),
        (
            with_line("Read_Level", "Read_Level = 3"),
            "my.ini: [Device level] Read_Level = 3: must equal the number of Read_Voltage entries (2); MNSIM rejects the mismatch",
        ),
        (
            with_line("Device_Resistance", "Device_Resistance = 1e6, 1e5, 1e4"),
            "my.ini: [Device level] Device_Level = 2: must equal the number of Device_Resistance entries (3); MNSIM rejects the mismatch",
        ),
        (
            with_line("Xbar_Polarity", "Xbar_Polarity = 3"),
            "my.ini: [Process element level] Xbar_Polarity = 3: must be 1 or 2 (crossbars per group)",
        ),
        (
            with_line("Digital_Frequency", "Digital_Frequency = 0"),
            "my.ini: [Digital module] Digital_Frequency = 0: must be positive (MHz)",
        ),
        (
            with_line("Digital_Frequency", "Digital_Frequency = inf"),
            "my.ini: [Digital module] Digital_Frequency = inf: expected a finite number",
        ),
        (
            with_line("Load_Resistance", "Load_Resistance = -5"),
            "my.ini: [Crossbar level] Load_Resistance = -5: must be positive, or -1 for the default √(R_HRS·R_LRS)",
        ),
        (
            with_line("Simulation_Level", "Simulation_Level = 2"),
            "my.ini: [Algorithm Configuration] Simulation_Level = 2: must be 0 (behaviour) or 1 (estimation)",
        ),
        (
            with_line(
                "Buffer_Bitwidth",
                "Buffer_Bitwidth = 512\nPE_inBuf_Size_unused = 0",
            )
            .replace("PE_inBuf_Size = 0", "PE_inBuf_Size = 2"),
            "my.ini: [Process element level] PE_inBuf_Size = 2: the SRAM buffer table has no buffer of at most 2 KB with a 512-bit bus ([Architecture level] Buffer_Bitwidth); MNSIM rejects it",
        ),
        (
            with_line("DAC_Choice", "DAC_Choice = -1"),
            "my.ini: [Interface level] DAC_Sample_Rate = 0: a user-defined DAC (DAC_Choice = -1) needs a positive sample rate (GS/s); MNSIM divides by it (0 is not a default)",
        ),
        (
            with_line("Device_Tech", "Device_Tech = 130\nDevice_Tech = 45"),
            "my.ini: line 3: key 'Device_Tech' repeats in [Device level] (first at line 2)",
        ),
        (
            format!("Device_Tech = 45\n{}", default_text()),
            "my.ini: 'Device_Tech' appears before the first [section] header",
        ),
        (
            with_line("Cell_Type", "Cell_Type = 1T1R\n1T1R"),
            "my.ini: [Crossbar level] line '1T1R' has no '=' (expected KEY = VALUE)",
        ),
        (
            format!("{}\n[Device level]\nX = 1\n", default_text()),
            "my.ini: line 107: section [Device level] repeats (first at line 1)",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(err(&text), want);
    }
}

#[test]
fn dac_num_zero_uses_the_intended_default() {
    // MNSIM raises NameError; rnc uses min(⌈(√A_x / n_sub) / √A_DAC⌉, S) = 128 here.
    let hw = HwConfig::parse(&with_line("DAC_Num", "DAC_Num = 0"), "x.ini").unwrap();
    assert_eq!(hw.derived().group_dac_num, 128.0);
    assert_eq!(hw.latency_ns(128, 128, 8), 152.77319047999998);
    assert!(hw.latency_ns(129, 128, 8) > hw.latency_ns(128, 128, 8));
}

#[test]
fn overrides_find_their_section() {
    let t = default_text();
    let hw =
        HwConfig::parse_with_overrides(&t, "x", &[("Xbar_Size", "64, 64"), ("subarray_size", "64")]).unwrap();
    assert_eq!(hw.crossbar(), rnc::partition::Crossbar { rows: 64, cols: 64 });
    let e = HwConfig::parse_with_overrides(&t, "x", &[("Nope", "1")]).unwrap_err();
    assert_eq!(e.to_string(), "x: cannot set Nope: no section has that key");
    let e = HwConfig::parse_with_overrides(&t, "x", &[("Tile_outBuf_Size", "1")]).unwrap_err();
    assert!(
        e.to_string().contains("[Process element level], [Tile level]"),
        "{e}"
    );
    HwConfig::parse_with_overrides(&t, "x", &[("Tile level/Tile_outBuf_Size", "1")]).unwrap();
}

#[test]
fn comments_in_other_encodings_do_not_matter() {
    let dir = std::env::temp_dir().join(format!("rnc-hw-enc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gbk.ini");
    let gbk_comment = b" # \xbe\xb2\xcc\xac\xb9\xa6\xba\xc4 (GBK)\n";
    let text = default_text();
    let (head, tail) = text.split_at(text.find("Device_Type").unwrap());
    let mut all = head.as_bytes().to_vec();
    all.extend_from_slice(gbk_comment);
    all.extend_from_slice(tail.as_bytes());
    std::fs::write(&path, all).unwrap();
    let hw = HwConfig::from_file(&path).unwrap();
    assert_eq!(hw.derived(), HwConfig::embedded_default().derived());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unreadable_file_names_the_path() {
    let e = HwConfig::from_file(std::path::Path::new("/nonexistent/Sim.ini")).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
    assert!(
        e.to_string()
            .starts_with("cannot read hardware configuration /nonexistent/Sim.ini: "),
        "{e}"
    );
}

#[test]
fn activation_beyond_one_crossbar_has_no_power() {
    let hw = HwConfig::embedded_default();
    let e = hw.activation(300, 300, 8).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a 300x300 activation uses more cells than one 128x128 crossbar; MNSIM computes no read power or energy for it"
    );
    // MNSIM's test is on the cell count, not on each side.
    assert!(hw.activation(1152, 1, 8).is_ok());
    assert!(hw.latency_ns(300, 300, 8) > hw.latency_ns(128, 128, 8));
}

#[test]
fn default_section_is_inherited_as_in_python() {
    let t = with_line("Read_Latency", "")
        .replace("[Device level]", "[DEFAULT]\nRead_Latency = 10\n\n[Device level]");
    let hw = HwConfig::parse(&t, "x").unwrap();
    assert_eq!(hw.params().device.read_latency_ns, 10.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Line soup made of INI fragments: an answer or an error, never a panic.
    #[test]
    fn any_ini_text_never_panics(lines in proptest::collection::vec(prop_oneof![
        Just("[Device level]".to_string()),
        Just("[Crossbar level".to_string()),
        Just("  # indented comment".to_string()),
        Just("; comment".to_string()),
        Just("=".to_string()),
        Just("Xbar_Size = 128, 128".to_string()),
        Just("   continued".to_string()),
        Just("".to_string()),
        "[ -~]{0,20}",
    ], 0..40)) {
        let _ = HwConfig::parse(&lines.join("\n"), "soup.ini");
        let mut text = default_text();
        text.push_str(&lines.join("\n"));
        let _ = HwConfig::parse(&text, "soup.ini");
    }

    /// Any value for any key: an answer or an error, never a panic.
    #[test]
    fn any_value_never_panics(line in 0usize..120, value in "[ -~]{0,12}") {
        let text = default_text();
        let lines: Vec<&str> = text.lines().collect();
        let l = line % lines.len();
        let mut out: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        if let Some((k, _)) = lines[l].split_once('=') {
            out[l] = format!("{k}= {value}");
        } else {
            out[l] = value.clone();
        }
        if let Ok(hw) = HwConfig::parse(&out.join("\n"), "p.ini") {
            let t = hw.latency_ns(128, 128, 8);
            prop_assert!(t >= 0.0, "latency {t}"); // absurd values may overflow to +inf, never NaN
        }
    }

    /// τ never decreases with more rows, columns or input bits, and the fast path matches.
    #[test]
    fn latency_is_monotone(r in 1usize..600, c in 1usize..600, b in 1u32..17, dr in 0usize..300, dc in 0usize..300) {
        let hw = HwConfig::embedded_default();
        let t = hw.latency_ns(r, c, b);
        prop_assert!(hw.latency_ns(r + dr, c, b) >= t);
        prop_assert!(hw.latency_ns(r, c + dc, b) >= t);
        prop_assert!(hw.latency_ns(r, c, b + 1) > t);
        prop_assert_eq!(t.to_bits(), hw.breakdown(r, c, b, 0, 0).latency.total.to_bits());
    }
}
