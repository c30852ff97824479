//! The ask/tell search session: a driver telling accuracies writes the same files as
//! `search::run` with an accuracy source, resumes exactly, refuses bad input without losing
//! its state, and searches a user's own space deterministically.

use rnc::accuracy::{AccuracySource, Candidate as AccCandidate, NoAccuracy};
use rnc::compile::Effort;
use rnc::hardware::HwConfig;
use rnc::network::{ConvSpec, Network, NetworkBuilder};
use rnc::partition::{PartitionOptions, partition};
use rnc::search::{
    self, Candidate, Gene, Genes, HwEval, HwObjective, SearchConfig, Session, SessionConfig, Space,
};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Hardware stand-in (as in search_run.rs): one crossbar per tile, latency from the summed
/// activations, shortened by spare crossbars.
struct Stub {
    budget: usize,
}

impl HwObjective for Stub {
    fn evaluate(&self, net: &Network) -> anyhow::Result<HwEval> {
        let part = partition(net, &PartitionOptions::default())?;
        let tiles = part.tiles();
        if tiles > self.budget {
            return Ok(HwEval {
                feasible: false,
                latency_ns: f64::INFINITY,
                speedup: 0.0,
                crossbars_used: tiles,
                energy_nj: None,
            });
        }
        let cycles: u64 = part.layers.iter().map(|l| l.max_cycles()).sum();
        let latency_ns = cycles as f64 * 150.0 / (1.0 + (self.budget - tiles) as f64 / 40.0);
        Ok(HwEval {
            feasible: true,
            latency_ns,
            speedup: 4e7 / latency_ns,
            crossbars_used: tiles,
            energy_nj: None,
        })
    }
    fn baseline_json(&self) -> serde_json::Value {
        json!({"stub": self.budget})
    }
}

/// A toy accuracy of an OFA genome: grows with capacity.
fn toy(g: &rnc::network::ofa::Genome) -> f64 {
    let cap: usize = (0..16)
        .filter(|&i| g.active(i))
        .map(|i| g.ks[i] * g.ks[i] * g.e[i])
        .sum();
    0.6 + 0.3 * (1.0 - (-(cap as f64) / 800.0).exp())
}

struct Toy;

impl AccuracySource for Toy {
    fn name(&self) -> String {
        "toy".into()
    }
    fn evaluate(&mut self, batch: &[AccCandidate]) -> anyhow::Result<Vec<f64>> {
        Ok(batch.iter().map(|c| toy(&c.genome)).collect())
    }
}

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("search-session")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn outputs(d: &Path) -> [Vec<u8>; 3] {
    ["evolution.csv", "pareto.json", "checkpoint.json"].map(|f| std::fs::read(d.join(f)).unwrap())
}

fn cli_cfg(out: &Path, population: usize, generations: usize) -> SearchConfig {
    SearchConfig {
        seed: 5,
        budget: 168,
        input: 64,
        classes: 10,
        population,
        generations,
        out: out.to_path_buf(),
        resume: false,
        energy: false,
    }
}

fn config(population: usize, generations: usize, accuracy: Option<&str>) -> SessionConfig {
    SessionConfig {
        seed: 5,
        population,
        generations,
        accuracy: accuracy.map(str::to_string),
        ..SessionConfig::new(168)
    }
}

/// The toy accuracies of a batch.
fn answers(batch: &[Candidate]) -> Vec<(u64, f64)> {
    batch
        .iter()
        .map(|c| (c.id, toy(c.genome.ofa().expect("an OFA genome"))))
        .collect()
}

/// Drives a session to its end, telling the toy accuracies (none when hardware-only).
fn drive(s: &mut Session) {
    while !s.done() {
        let batch = s.ask().unwrap();
        let told = if s.has_accuracy() {
            answers(&batch)
        } else {
            Vec::new()
        };
        s.tell(&told).unwrap();
    }
}

#[test]
fn ask_tell_writes_what_run_writes() {
    let stub = Stub { budget: 168 };
    for (name, accuracy) in [("toy", Some("toy")), ("none", None)] {
        let cli = dir(&format!("parity-run-{name}"));
        let c = cli_cfg(&cli, 12, 5);
        let summary = match accuracy {
            Some(_) => search::run(&c, &stub, &mut Toy, &mut ()).unwrap(),
            None => search::run(&c, &stub, &mut NoAccuracy, &mut ()).unwrap(),
        };
        let d = dir(&format!("parity-session-{name}"));
        let mut s = Session::new(&config(12, 5, accuracy), &d, &stub).unwrap();
        assert_eq!(s.generation(), None);
        drive(&mut s);
        assert_eq!(s.generation(), Some(5));
        assert!(
            outputs(&cli) == outputs(&d),
            "{name}: ask/tell files differ from run's"
        );
        assert_eq!(s.pareto(), summary.front);
        assert_eq!(s.report().hw_evaluations, summary.last.hw_evaluations);
        let e = s.ask().unwrap_err().to_string();
        assert!(e.contains("the search is done (generation 5 of 5)"), "{e}");
    }
}

#[test]
fn ask_tell_matches_run_on_the_real_pipeline() {
    // Every candidate is compiled (256x256 crossbars and a budget of 48 keep each fast).
    let hw = || {
        let cfg = HwConfig::parse_with_overrides(
            rnc::hardware::DEFAULT_SIMCONFIG,
            "default",
            &[("Xbar_Size", "256,256")],
        )
        .unwrap();
        search::search_evaluator(cfg, 48, 64, Effort::Fast)
            .unwrap()
            .with_front_remap(false)
    };
    let cli = dir("real-run");
    let c = SearchConfig {
        budget: 48,
        ..cli_cfg(&cli, 4, 1)
    };
    search::run(&c, &hw(), &mut Toy, &mut ()).unwrap();
    let d = dir("real-session");
    let cfg = SessionConfig {
        budget: 48,
        ..config(4, 1, Some("toy"))
    };
    let mut s = Session::new(&cfg, &d, hw()).unwrap();
    drive(&mut s);
    assert!(outputs(&cli) == outputs(&d), "ask/tell files differ from run's");
}

#[test]
fn resume_mid_run_gives_the_same_files() {
    let stub = Stub { budget: 168 };
    let whole = dir("resume-whole");
    let mut s = Session::new(&config(10, 6, Some("toy")), &whole, &stub).unwrap();
    drive(&mut s);
    // Stopped after generation 2, and again with generation 4 asked but never told.
    let d = dir("resume-parts");
    let mut s = Session::new(&config(10, 6, Some("toy")), &d, &stub).unwrap();
    for _ in 0..3 {
        let b = s.ask().unwrap();
        s.tell(&answers(&b)).unwrap();
    }
    drop(s);
    let mut s = Session::resume(&d, &stub).unwrap();
    assert_eq!(
        (s.generation(), s.generations(), s.resumed_after()),
        (Some(2), 6, Some(2))
    );
    let b = s.ask().unwrap();
    s.tell(&answers(&b)).unwrap();
    let asked = s.ask().unwrap();
    assert!(!asked.is_empty());
    drop(s);
    let mut s = Session::resume(&d, &stub).unwrap();
    assert_eq!(s.generation(), Some(3));
    // The generation asked before the stop is drawn again, identically.
    assert_eq!(s.ask().unwrap(), asked);
    drive(&mut s);
    assert!(outputs(&whole) == outputs(&d), "resumed ask/tell run differs");
    // `rnc search --resume` continues a search a driver started (same accuracy name), and
    // may raise the generation count.
    let more = dir("resume-more");
    let mut s = Session::new(&config(10, 3, Some("toy")), &more, &stub).unwrap();
    drive(&mut s);
    let c = SearchConfig {
        resume: true,
        ..cli_cfg(&more, 10, 6)
    };
    search::run(&c, &stub, &mut Toy, &mut ()).unwrap();
    let [ev_a, pa_a, _] = outputs(&whole);
    let [ev_b, pa_b, _] = outputs(&more);
    assert!(ev_a == ev_b && pa_a == pa_b, "run continuing a session differs");
    // Other settings or hardware are refused, naming the difference.
    let e = Session::resume(&d, Stub { budget: 100 })
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("the hardware objective differs at stub: 168 in the checkpoint but 100 now"),
        "{e}"
    );
    let e = Session::resume_as(&config(10, 6, Some("other")), &d, &stub)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("--accuracy is toy in the checkpoint but other now"),
        "{e}"
    );
}

#[test]
fn bad_tells_name_the_candidate_and_change_nothing() {
    // A budget every subnet fits, so generation 0 asks for all of them.
    let stub = Stub { budget: 400 };
    let config = |p, g, a| SessionConfig {
        budget: 400,
        ..config(p, g, a)
    };
    let whole = dir("bad-whole");
    drive(&mut Session::new(&config(8, 2, Some("toy")), &whole, &stub).unwrap());
    let d = dir("bad");
    let mut s = Session::new(&config(8, 2, Some("toy")), &d, &stub).unwrap();
    let e = s.tell(&[]).unwrap_err().to_string();
    assert!(e.contains("ask for the next generation"), "{e}");
    let batch = s.ask().unwrap();
    assert_eq!(
        s.ask().unwrap(),
        batch,
        "asking again returns the same candidates"
    );
    assert!(batch.len() >= 3);
    let good = answers(&batch);
    let (a, b) = (good[0].0, good[1].0);
    let mut unknown = good.clone();
    unknown.push((999, 0.5));
    let mut twice = good.clone();
    twice.push(good[1]);
    let missing = good[1..].to_vec();
    let mut nan = good.clone();
    nan[1].1 = f64::NAN;
    let mut percent = good.clone();
    percent[0].1 = 91.0;
    let cases: [(&[(u64, f64)], String); 5] = [
        (&unknown, "candidate 999 was not asked".into()),
        (&twice, format!("candidate {b} is given an accuracy twice")),
        (
            &missing,
            format!("no accuracy for candidate {a} (genome {{\"ks\":["),
        ),
        (&nan, format!("gave NaN for candidate {b} (genome")),
        (&percent, format!("gave 91 for candidate {a} (genome")),
    ];
    for (told, want) in cases {
        let e = s.tell(told).unwrap_err();
        assert!(e.to_string().contains(&want), "{e} (want: {want})");
        assert_eq!(rnc::error::exit_code(&e), 2, "a bad tell is the user's error");
        assert!(
            !d.join("checkpoint.json").exists(),
            "nothing written on a bad tell"
        );
    }
    // The accuracies in any order.
    let mut reversed = good.clone();
    reversed.reverse();
    s.tell(&reversed).unwrap();
    drive(&mut s);
    assert!(outputs(&whole) == outputs(&d), "bad tells changed the search");
    // A hardware-only search takes no accuracies.
    let mut h = Session::new(&config(4, 1, None), dir("bad-none"), &stub).unwrap();
    assert!(h.ask().unwrap().is_empty());
    let e = h.tell(&[(0, 0.5)]).unwrap_err().to_string();
    assert!(
        e.contains("hardware-only search (accuracy none) takes no accuracies"),
        "{e}"
    );
    // Bad settings.
    let bad = [
        (
            SessionConfig {
                population: 1,
                ..config(4, 1, None)
            },
            "--population must be between 2",
        ),
        (config(4, 1, Some("none")), "accuracy name 'none' is not allowed"),
        (
            SessionConfig {
                space: Space::Custom(vec![]),
                ..config(4, 1, None)
            },
            "the search space has no genes",
        ),
    ];
    for (c, want) in bad {
        let e = Session::new(&c, dir("bad-settings"), &stub)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(want), "{e} (want: {want})");
    }
}

/// widths × kernel sizes × depth of a tiny CNN.
fn tiny_space() -> Space {
    Space::custom(vec![
        Gene::new("width", vec![json!(8), json!(16), json!(32), json!(64)]),
        Gene::new("kernel", vec![json!(3), json!(5), json!(7)]),
        Gene::new("depth", vec![json!(1), json!(2), json!(3)]),
        Gene::new("head", vec![json!("linear"), json!("conv")]),
    ])
    .unwrap()
}

/// Builds the tiny CNN a custom genome describes.
fn tiny_cnn(space: &Space, c: &Candidate) -> anyhow::Result<Network> {
    let v: std::collections::HashMap<&str, &serde_json::Value> =
        space.values(&c.genome).into_iter().collect();
    let num = |k: &str| {
        v[k].as_u64()
            .map(|x| x as usize)
            .ok_or_else(|| anyhow::anyhow!("{k}"))
    };
    let (width, k, depth) = (num("width")?, num("kernel")?, num("depth")?);
    let mut b = NetworkBuilder::new("tiny", 3, [32, 32])?;
    let mut x = b.input();
    for i in 0..depth {
        x = b.conv(&format!("conv{i}"), &x, ConvSpec::square(width * (i + 1), k, 2))?;
    }
    if v["head"] == "conv" {
        x = b.conv("head", &x, ConvSpec::square(10, 1, 1))?;
        x = b.global_pool(&x);
    } else {
        x = b.global_pool(&x);
        x = b.linear("fc", &x, 10);
    }
    let _ = x;
    Ok(b.finish())
}

/// Accuracy stand-in for the tiny CNNs: more width and depth, more accuracy.
fn tiny_accuracy(space: &Space, c: &Candidate) -> f64 {
    let v = space.values(&c.genome);
    let w = v[0].1.as_f64().unwrap_or(0.0);
    let d = v[2].1.as_f64().unwrap_or(0.0);
    0.5 + 0.4 * (w * d / 192.0)
}

fn custom_search(out: &Path, threads: usize) -> Vec<Vec<u8>> {
    let hw = search::search_evaluator(HwConfig::embedded_default(), 4, 32, Effort::Fast).unwrap();
    let cfg = SessionConfig {
        space: tiny_space(),
        input: 32,
        population: 6,
        generations: 3,
        accuracy: Some("tiny".into()),
        ..SessionConfig::new(4)
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut s = Session::new(&cfg, out, &hw).unwrap();
        let space = tiny_space();
        let mut built = Vec::new();
        while !s.done() {
            let batch = s
                .ask_with(&mut |c: &Candidate| {
                    built.push(c.id);
                    tiny_cnn(&space, c)
                })
                .unwrap();
            let told: Vec<(u64, f64)> = batch.iter().map(|c| (c.id, tiny_accuracy(&space, c))).collect();
            s.tell(&told).unwrap();
        }
        assert!(
            built.windows(2).all(|w| w[0] < w[1]),
            "builder called in id order: {built:?}"
        );
    });
    outputs(out).to_vec()
}

#[test]
fn custom_space_searches_deterministically() {
    let d = dir("custom-1");
    let one = custom_search(&d, 1);
    let two = custom_search(&dir("custom-2"), 2);
    assert!(one == two, "custom-space files differ between 1 and 2 threads");
    let csv = String::from_utf8(one[0].clone()).unwrap();
    assert_eq!(csv.lines().count(), 1 + 6 * 4);
    assert!(
        csv.contains(r#""{""width"":"#),
        "genome values in evolution.csv: {csv}"
    );
    let front: serde_json::Value = serde_json::from_slice(&one[1]).unwrap();
    let front = front.as_array().unwrap();
    assert!(!front.is_empty());
    for m in front {
        let g = m["genome"].as_object().unwrap();
        let keys: Vec<&str> = g.keys().map(String::as_str).collect();
        let mut want = vec!["width", "kernel", "depth", "head"];
        want.sort();
        assert_eq!(keys, want);
        assert!(m["crossbars_used"].as_u64().unwrap() <= 4);
    }
    // The checkpoint records the space: a resume with another one is refused, naming it.
    let hw = search::search_evaluator(HwConfig::embedded_default(), 4, 32, Effort::Fast).unwrap();
    let mut other = tiny_space().genes().to_vec();
    other[1].choices.pop();
    let cfg = SessionConfig {
        space: Space::custom(other).unwrap(),
        input: 32,
        population: 6,
        generations: 3,
        accuracy: Some("tiny".into()),
        ..SessionConfig::new(4)
    };
    let e = Session::resume_as(&cfg, &d, &hw).err().unwrap().to_string();
    assert!(
        e.contains(
            "the search space differs at gene 'kernel': choices [3,5,7] in the checkpoint but [3,5] now"
        ),
        "{e}"
    );
    let e = Session::resume_as(
        &SessionConfig {
            space: Space::Ofa,
            ..cfg
        },
        &d,
        &hw,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("the search space is custom (4 genes) in the checkpoint but OFA"),
        "{e}"
    );
    // Resumed with the checkpoint's own space, it continues (two more generations).
    let mut s = Session::resume(&d, &hw).unwrap();
    assert_eq!(s.space(), &tiny_space());
    let e = {
        s.set_generations(5);
        s.ask().unwrap_err().to_string()
    };
    assert!(e.contains("needs a builder"), "{e}");
    let space = tiny_space();
    s.set_builder(Box::new(move |c: &Candidate| tiny_cnn(&space, c)));
    let space = tiny_space();
    while !s.done() {
        let b = s.ask().unwrap();
        let told: Vec<(u64, f64)> = b.iter().map(|c| (c.id, tiny_accuracy(&space, c))).collect();
        s.tell(&told).unwrap();
    }
    assert_eq!(s.generation(), Some(5));
}

#[test]
fn builder_failures_name_the_candidate_and_retry_draws_the_same() {
    let stub = Stub { budget: 400 };
    let cfg = SessionConfig {
        space: tiny_space(),
        input: 32,
        population: 6,
        generations: 2,
        accuracy: Some("tiny".into()),
        ..SessionConfig::new(400)
    };
    let space = tiny_space();
    let whole = dir("builder-whole");
    let mut s = Session::new(&cfg, &whole, &stub).unwrap();
    let sp = space.clone();
    s.set_builder(Box::new(move |c: &Candidate| tiny_cnn(&sp, c)));
    while !s.done() {
        let b = s.ask().unwrap();
        s.tell(
            &b.iter()
                .map(|c| (c.id, tiny_accuracy(&space, c)))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    }
    let d = dir("builder-fail");
    let mut s = Session::new(&cfg, &d, &stub).unwrap();
    let mut calls = 0;
    let e = s
        .ask_with(&mut |c: &Candidate| {
            calls += 1;
            if calls == 3 {
                anyhow::bail!("out of GPU memory");
            }
            tiny_cnn(&space, c)
        })
        .unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("cannot build candidate 2 (genome {\"width\":"),
        "{msg}"
    );
    assert!(msg.contains("out of GPU memory"), "{msg}");
    while !s.done() {
        let b = s.ask_with(&mut |c: &Candidate| tiny_cnn(&space, c)).unwrap();
        s.tell(
            &b.iter()
                .map(|c| (c.id, tiny_accuracy(&space, c)))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    }
    assert!(outputs(&whole) == outputs(&d), "a failed ask changed the search");
    // Custom genomes are choice indices in the checkpoint.
    let cp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("checkpoint.json")).unwrap()).unwrap();
    let g = &cp["population"][0]["genome"];
    assert!(g.as_array().is_some_and(|a| a.len() == 4), "{g}");
    assert!(matches!(
        serde_json::from_value::<Genes>(g.clone()).unwrap(),
        Genes::Choices(_)
    ));
}
