//! `rnc supernet eval --nonideal` and `rnc report` on its sweep folder, as a user meets them
//! (needs `--features train`, the shipped weights and Fashion-MNIST; small: 30 images, 1 chip).
#![cfg(feature = "train")]

mod common {
    pub mod cli;
}
use common::cli::rnc;

const SMALL: [&str; 10] = [
    "supernet",
    "eval",
    "--genome",
    "smallest",
    "--nonideal",
    "--images",
    "30",
    "--calibration",
    "64",
    "--trials",
];

#[test]
fn nonideal_eval_prints_quantized_and_chip_accuracy() {
    let mut args = SMALL.to_vec();
    args.extend(["1", "--set", "Device_SAF=0,0", "--json"]);
    let (code, out, err) = rnc(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["images"], 30);
    let q = v["quantized_accuracy"].as_f64().unwrap();
    let s = &v["nonideal"];
    assert_eq!(s["trials"].as_array().unwrap().len(), 1);
    let m = s["mean"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&q), "quantized {q}");
    // 1 % variation and an 8-bit ADC, no stuck cells: close to the quantized model.
    assert!(m > 0.5 && m <= 1.0, "non-ideal {m}");
    assert_eq!(v["device"]["saf_pct"], serde_json::json!([0.0, 0.0]));
}

#[test]
fn nonideal_sweep_folder_and_its_report() {
    let dir = std::env::temp_dir().join(format!("rnc-cli-nonideal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut args = SMALL.to_vec();
    let d = dir.to_str().unwrap();
    args.extend(["2", "--sweep", "Device_SAF=0,30", "--out", d]);
    let (code, out, err) = rnc(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("wrote"), "{out}");
    assert!(err.contains("Device_SAF = 30"), "{err}");
    for f in ["nonideal.json", "nonideal_sweep.svg", "nonideal_sweep.png"] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("nonideal.json")).unwrap()).unwrap();
    let pts = v["sweep"]["points"].as_array().unwrap();
    assert_eq!(pts.len(), 2);
    assert_eq!(v["sweep"]["key"], "Device_SAF");
    let mean = |i: usize| pts[i]["nonideal"]["mean"].as_f64().unwrap();
    assert_eq!(pts[1]["nonideal"]["trials"].as_array().unwrap().len(), 2);
    // 30 % of cells stuck wrecks the network; none stuck does not.
    assert!(mean(0) > mean(1) + 0.2, "{} vs {}", mean(0), mean(1));
    // `rnc report` renders the folder: the sweep picture and a row per point.
    let (code, out, err) = rnc(&["report", d]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("report.html"), "{out}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg"), "no picture");
    assert!(html.contains("Sweep of Device_SAF"));
    assert!(
        html.contains("<td>30</td>") && html.contains("<td>0</td>"),
        "table rows missing"
    );
    assert!(html.contains(&format!("{:.2}%", 100.0 * mean(1))));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_nonideal_input_names_the_flag_or_key() {
    let mut args = SMALL.to_vec();
    args.extend(["1", "--sweep", "Device_SAF"]);
    let (code, _, err) = rnc(&args);
    assert_eq!(code, 2);
    assert!(err.contains("--sweep"), "{err}");
    let mut args = SMALL.to_vec();
    args.extend(["1", "--sweep", "DAC_Num=128,0"]);
    let (code, _, err) = rnc(&args);
    assert_eq!(code, 2);
    assert!(err.contains("DAC_Num"), "{err}");
    let mut args = SMALL.to_vec();
    args.extend(["1", "--set", "Device_Level=4"]);
    let (code, _, err) = rnc(&args);
    assert_eq!(code, 2);
    assert!(err.contains("Device_Level"), "{err}");
    let mut args = SMALL.to_vec();
    args.extend(["0"]);
    let (code, _, err) = rnc(&args);
    assert_eq!(code, 2);
    assert!(err.contains("--trials"), "{err}");
    // A folder with a broken nonideal.json: the report names the file.
    let dir = std::env::temp_dir().join(format!("rnc-cli-nonideal-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("nonideal.json"), "{\"sweep\":").unwrap();
    let (code, _, err) = rnc(&["report", dir.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("nonideal.json"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
