//! The accuracy commands as a user meets them (default build: predictor; `train` feature:
//! the supernet on real Fashion-MNIST data).

mod common {
    pub mod cli;
}
use common::cli::rnc;

#[test]
fn predictor_predicts_with_the_shipped_weights() {
    let (code, out, err) = rnc(&["predictor", "predict", "--genome", "largest", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let big = v["accuracy"].as_f64().unwrap();
    let (code, out, _) = rnc(&["predictor", "predict", "--genome", "smallest", "--json"]);
    assert_eq!(code, 0);
    let small: serde_json::Value = serde_json::from_str(&out).unwrap();
    let small = small["accuracy"].as_f64().unwrap();
    assert!(
        (0.7..0.99).contains(&big) && (0.7..0.99).contains(&small),
        "{big} {small}"
    );
}

#[test]
fn bad_genome_is_a_user_error() {
    let (code, _, err) = rnc(&[
        "predictor",
        "predict",
        "--genome",
        r#"{"ks":[3],"e":[3],"d":[2]}"#,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("'ks' has 1 values"), "{err}");
}

#[test]
fn predictor_train_reports_holdout_quality() {
    // Measured subnets made up here: accuracy rises with depth.
    let dir = std::env::temp_dir().join(format!("rnc-pred-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let measured = dir.join("m.jsonl");
    let mut text = String::new();
    for i in 0..120usize {
        let d: Vec<usize> = (0..4).map(|s| 2 + (i / 3usize.pow(s as u32)) % 3).collect();
        let ks: Vec<usize> = (0..16).map(|b| [3, 5, 7][(i + b) % 3]).collect();
        let acc = 0.85 + 0.005 * d.iter().sum::<usize>() as f64;
        text.push_str(&format!(
            "{{\"genome\":{{\"ks\":{ks:?},\"e\":{:?},\"d\":{d:?}}},\"accuracy\":{acc}}}\n",
            vec![4; 16]
        ));
    }
    std::fs::write(&measured, text).unwrap();
    let out = dir.join("p.json");
    let (code, stdout, err) = rnc(&[
        "predictor",
        "train",
        "--measured",
        measured.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--holdout",
        "30",
        "--epochs",
        "200",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["quality"]["holdout_subnets"], 30);
    assert!(v["quality"]["kendall_tau"].as_f64().unwrap() > 0.7, "{stdout}");
    let (code, _, err) = rnc(&[
        "predictor",
        "predict",
        "--genome",
        "largest",
        "--predictor",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // A line that is not a measured subnet names the file and line.
    std::fs::write(&measured, "{\"genome\":1}\n").unwrap();
    let (code, _, err) = rnc(&[
        "predictor",
        "train",
        "--measured",
        measured.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("m.jsonl:1"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(not(feature = "train"))]
#[test]
fn supernet_without_the_feature_says_how_to_get_it() {
    let (code, _, err) = rnc(&["supernet", "eval", "--genome", "largest"]);
    assert_eq!(code, 2);
    assert!(err.contains("--features train"), "{err}");
}
