//! Accuracy predictor (as OFA): a small MLP on a one-hot genome encoding, fitted on subnets
//! measured with the supernet. Plain Rust, so it works in the default build.
//!
//! Encoding: per block, one-hot kernel size and one-hot expand ratio (zeros when the block is
//! skipped), then one-hot depth per stage — 16·6 + 4·3 = 108 inputs.

use super::{AccuracySource, Candidate};
use crate::network::ofa::{BLOCKS, DEPTHS, EXPANDS, Genome, KERNELS, STAGES};
use crate::rng::SplitMix64;
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FEATURES: usize = BLOCKS * 6 + STAGES * 3;

/// The predictor shipped with rnc, fitted on the shipped supernet.
pub const SHIPPED: &str = include_str!("../../weights/predictor-fmnist.json");

/// One-hot encoding of a genome (length [`FEATURES`]).
pub fn encode(g: &Genome) -> Vec<f64> {
    let mut f = vec![0.0; FEATURES];
    for i in 0..BLOCKS {
        if g.active(i) {
            if let Some(k) = KERNELS.iter().position(|&k| k == g.ks[i]) {
                f[i * 6 + k] = 1.0;
            }
            if let Some(e) = EXPANDS.iter().position(|&e| e == g.e[i]) {
                f[i * 6 + 3 + e] = 1.0;
            }
        }
    }
    for s in 0..STAGES {
        if let Some(d) = DEPTHS.iter().position(|&d| d == g.d[s]) {
            f[BLOCKS * 6 + s * 3 + d] = 1.0;
        }
    }
    f
}

/// Held-out quality of a fitted predictor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    pub train_subnets: usize,
    pub holdout_subnets: usize,
    /// Root-mean-square error in percentage points of accuracy.
    pub rmse_pp: f64,
    pub kendall_tau: f64,
}

/// MLP `FEATURES → hidden (ReLU) → 1`, output de-standardised to an accuracy fraction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Predictor {
    pub format: String,
    pub hidden: usize,
    /// `hidden × FEATURES`, row-major.
    pub w1: Vec<f64>,
    pub b1: Vec<f64>,
    pub w2: Vec<f64>,
    pub b2: f64,
    pub y_mean: f64,
    pub y_std: f64,
    /// How the training accuracies were measured (free text).
    pub measured_on: String,
    pub quality: Option<Quality>,
}

const FORMAT: &str = "rnc-accuracy-predictor-1";

impl Predictor {
    pub fn shipped() -> Predictor {
        // The shipped file is checked by a test, so parsing cannot fail at run time.
        Predictor::from_json(SHIPPED).unwrap_or_else(|e| panic!("shipped predictor is invalid: {e}"))
    }

    pub fn from_json(text: &str) -> anyhow::Result<Predictor> {
        let p: Predictor = serde_json::from_str(text).context("not an rnc accuracy predictor")?;
        if p.format != FORMAT {
            bail!("predictor format '{}' is not '{FORMAT}'", p.format);
        }
        if p.w1.len() != p.hidden * FEATURES || p.b1.len() != p.hidden || p.w2.len() != p.hidden {
            bail!(
                "predictor weight sizes do not match hidden = {} and {FEATURES} inputs",
                p.hidden
            );
        }
        if !(p.y_std.is_finite() && p.y_mean.is_finite()) {
            bail!("predictor scale is not finite");
        }
        Ok(p)
    }

    pub fn load(path: &Path) -> anyhow::Result<Predictor> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        Predictor::from_json(&text).with_context(|| format!("{}", path.display()))
    }

    /// Predicted accuracy (fraction) of a valid genome.
    pub fn predict(&self, g: &Genome) -> f64 {
        self.predict_features(&encode(g))
    }

    fn predict_features(&self, x: &[f64]) -> f64 {
        let mut out = self.b2;
        for h in 0..self.hidden {
            let row = &self.w1[h * FEATURES..(h + 1) * FEATURES];
            let mut a = self.b1[h];
            for (w, xi) in row.iter().zip(x) {
                // One-hot inputs: skip zeros.
                if *xi != 0.0 {
                    a += w * xi;
                }
            }
            if a > 0.0 {
                out += self.w2[h] * a;
            }
        }
        self.y_mean + self.y_std * out
    }
}

/// A measured subnet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub genome: Genome,
    pub accuracy: f64,
}

/// Reads JSON lines `{"genome":{…},"accuracy":0.9,…}` (as written by `rnc supernet measure`).
pub fn read_samples(path: &Path) -> anyhow::Result<Vec<Sample>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_samples(&text, &path.display().to_string())
}

/// [`read_samples`] on the file's text; `file` names it in errors.
pub fn parse_samples(text: &str, file: &str) -> anyhow::Result<Vec<Sample>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let s: Sample =
            serde_json::from_str(line).with_context(|| format!("{file}:{}: not a measured subnet", n + 1))?;
        s.genome
            .validate()
            .with_context(|| format!("{file}:{}: invalid genome", n + 1))?;
        if !(0.0..=1.0).contains(&s.accuracy) {
            bail!("{file}:{}: accuracy {} is not in 0..1", n + 1, s.accuracy);
        }
        out.push(s);
    }
    Ok(out)
}

/// Fitting settings.
#[derive(Clone, Debug)]
pub struct FitConfig {
    pub hidden: usize,
    pub epochs: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub seed: u64,
    /// Samples kept out of training for the quality figures.
    pub holdout: usize,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            hidden: 64,
            epochs: 600,
            lr: 3e-3,
            weight_decay: 1e-3,
            seed: 1,
            holdout: 200,
        }
    }
}

/// Fits the MLP with full-batch Adam on all but the last `holdout` samples (after a seeded
/// shuffle) and reports RMSE and Kendall τ on those.
pub fn fit(samples: &[Sample], cfg: &FitConfig, measured_on: &str) -> anyhow::Result<Predictor> {
    if samples.len() < cfg.holdout + 10 {
        bail!(
            "{} measured subnets are too few to fit with {} held out",
            samples.len(),
            cfg.holdout
        );
    }
    let mut order: Vec<usize> = (0..samples.len()).collect();
    let mut rng = SplitMix64::new(cfg.seed);
    rng.shuffle(&mut order);
    let (train_ix, hold_ix) = order.split_at(samples.len() - cfg.holdout);
    let xs: Vec<Vec<f64>> = train_ix.iter().map(|&i| encode(&samples[i].genome)).collect();
    let ys: Vec<f64> = train_ix.iter().map(|&i| samples[i].accuracy).collect();
    let y_mean = ys.iter().sum::<f64>() / ys.len() as f64;
    let y_std = (ys.iter().map(|y| (y - y_mean).powi(2)).sum::<f64>() / ys.len() as f64)
        .sqrt()
        .max(1e-6);
    let t: Vec<f64> = ys.iter().map(|y| (y - y_mean) / y_std).collect();
    let h = cfg.hidden.max(1);
    let mut p = Predictor {
        format: FORMAT.into(),
        hidden: h,
        w1: (0..h * FEATURES)
            .map(|_| rng.normal() * (2.0 / 30.0f64).sqrt())
            .collect(),
        b1: vec![0.01; h],
        w2: (0..h).map(|_| rng.normal() * (1.0 / h as f64).sqrt()).collect(),
        b2: 0.0,
        y_mean,
        y_std,
        measured_on: measured_on.into(),
        quality: None,
    };
    let np = h * FEATURES + 2 * h + 1;
    let (mut m, mut v) = (vec![0.0; np], vec![0.0; np]);
    let n = xs.len() as f64;
    for step in 1..=cfg.epochs {
        let mut g = vec![0.0; np];
        let mut act = vec![0.0; h];
        for (x, &ti) in xs.iter().zip(&t) {
            let mut out = p.b2;
            for (j, aj) in act.iter_mut().enumerate() {
                let row = &p.w1[j * FEATURES..(j + 1) * FEATURES];
                let a = p.b1[j] + row.iter().zip(x).map(|(w, xi)| w * xi).sum::<f64>();
                *aj = a.max(0.0);
                out += p.w2[j] * *aj;
            }
            let d = 2.0 * (out - ti) / n;
            for (j, &aj) in act.iter().enumerate() {
                g[h * FEATURES + h + j] += d * aj;
                if aj > 0.0 {
                    let dj = d * p.w2[j];
                    g[h * FEATURES + j] += dj;
                    let row = &mut g[j * FEATURES..(j + 1) * FEATURES];
                    for (gi, xi) in row.iter_mut().zip(x) {
                        *gi += dj * xi;
                    }
                }
            }
            g[np - 1] += d;
        }
        let lr = cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / cfg.epochs as f64).cos());
        let (b1, b2) = (0.9f64, 0.999f64);
        let c = (1.0 - b2.powi(step as i32)).sqrt() / (1.0 - b1.powi(step as i32));
        let mut k = 0;
        let mut upd = |w: &mut f64, decay: bool, k: usize| {
            let gk = g[k] + if decay { cfg.weight_decay * *w } else { 0.0 };
            m[k] = b1 * m[k] + (1.0 - b1) * gk;
            v[k] = b2 * v[k] + (1.0 - b2) * gk * gk;
            *w -= lr * c * m[k] / (v[k].sqrt() + 1e-8);
        };
        for w in p.w1.iter_mut() {
            upd(w, true, k);
            k += 1;
        }
        for w in p.b1.iter_mut() {
            upd(w, false, k);
            k += 1;
        }
        for w in p.w2.iter_mut() {
            upd(w, true, k);
            k += 1;
        }
        upd(&mut p.b2, false, k);
    }
    let pred: Vec<f64> = hold_ix.iter().map(|&i| p.predict(&samples[i].genome)).collect();
    let truth: Vec<f64> = hold_ix.iter().map(|&i| samples[i].accuracy).collect();
    p.quality = Some(Quality {
        train_subnets: train_ix.len(),
        holdout_subnets: hold_ix.len(),
        rmse_pp: 100.0 * rmse(&pred, &truth),
        kendall_tau: kendall_tau(&pred, &truth),
    });
    Ok(p)
}

pub fn rmse(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    (a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len() as f64).sqrt()
}

/// Kendall's τ-b (ties in either ranking handled).
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    let (mut conc, mut disc, mut ta, mut tb) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            let x = (a[i] - a[j]).partial_cmp(&0.0);
            let y = (b[i] - b[j]).partial_cmp(&0.0);
            use std::cmp::Ordering::Equal;
            match (x, y) {
                (Some(Equal), Some(Equal)) => {}
                (Some(Equal), _) => ta += 1,
                (_, Some(Equal)) => tb += 1,
                (x, y) if x == y => conc += 1,
                _ => disc += 1,
            }
        }
    }
    let n0 = (conc + disc + ta) as f64 * (conc + disc + tb) as f64;
    if n0 == 0.0 {
        0.0
    } else {
        (conc - disc) as f64 / n0.sqrt()
    }
}

/// `--accuracy predictor`: accuracies from a fitted predictor.
pub struct PredictorSource {
    pub predictor: Predictor,
}

impl PredictorSource {
    /// The shipped predictor, or one read from `path`.
    pub fn new(path: Option<&Path>) -> anyhow::Result<PredictorSource> {
        let predictor = match path {
            Some(p) => Predictor::load(p)?,
            None => Predictor::shipped(),
        };
        Ok(PredictorSource { predictor })
    }
}

impl AccuracySource for PredictorSource {
    fn name(&self) -> String {
        "predictor".into()
    }

    fn evaluate(&mut self, batch: &[Candidate]) -> anyhow::Result<Vec<f64>> {
        batch
            .iter()
            .map(|c| {
                c.genome
                    .validate()
                    .with_context(|| format!("candidate {}", c.id))?;
                Ok(self.predictor.predict(&c.genome).clamp(0.0, 1.0))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_one_hot_and_ignores_skipped_blocks() {
        let g = Genome::largest();
        let f = encode(&g);
        assert_eq!(f.len(), FEATURES);
        assert_eq!(f.iter().sum::<f64>(), (16 * 2 + 4) as f64);
        let s = Genome::smallest();
        assert_eq!(encode(&s).iter().sum::<f64>(), (8 * 2 + 4) as f64);
        let mut t = s.clone();
        t.ks[3] = 7;
        assert_eq!(encode(&s), encode(&t));
    }

    #[test]
    fn kendall_tau_known_values() {
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0);
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        // 5 concordant, 1 discordant pair: (5 - 1) / 6.
        let t = kendall_tau(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]);
        assert!((t - 4.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn fits_a_synthetic_additive_accuracy() {
        // Accuracy rises with kernel size, expand ratio and depth: the MLP must rank it well.
        let mut rng = SplitMix64::new(5);
        let samples: Vec<Sample> = (0..400)
            .map(|_| {
                let pick = |r: &mut SplitMix64, v: &[usize]| v[r.below(3)];
                let g = Genome {
                    ks: (0..16).map(|_| pick(&mut rng, &KERNELS)).collect(),
                    e: (0..16).map(|_| pick(&mut rng, &EXPANDS)).collect(),
                    d: (0..4).map(|_| pick(&mut rng, &DEPTHS)).collect(),
                };
                let mut acc = 0.85;
                for i in 0..16 {
                    if g.active(i) {
                        acc += 0.0005 * g.ks[i] as f64 + 0.0008 * g.e[i] as f64;
                    }
                }
                acc += g.d.iter().map(|&d| 0.002 * d as f64).sum::<f64>();
                Sample {
                    genome: g,
                    accuracy: acc,
                }
            })
            .collect();
        let cfg = FitConfig {
            epochs: 300,
            holdout: 100,
            ..FitConfig::default()
        };
        let p = fit(&samples, &cfg, "synthetic").unwrap();
        let q = p.quality.clone().unwrap();
        assert!(q.kendall_tau > 0.8, "{q:?}");
        assert!(q.rmse_pp < 0.35, "{q:?}");
        let back = Predictor::from_json(&serde_json::to_string(&p).unwrap()).unwrap();
        for s in &samples[..20] {
            assert!((back.predict(&s.genome) - p.predict(&s.genome)).abs() < 1e-12);
        }
    }

    #[test]
    fn shipped_predictor_fits_the_shipped_measurements() {
        let p = Predictor::shipped();
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/weights/measured-fmnist.jsonl"
        ));
        let samples = read_samples(path).unwrap();
        assert!(samples.len() >= 1000);
        let pred: Vec<f64> = samples.iter().map(|s| p.predict(&s.genome)).collect();
        let truth: Vec<f64> = samples.iter().map(|s| s.accuracy).collect();
        let q = p.quality.clone().unwrap();
        assert_eq!(q.train_subnets + q.holdout_subnets, samples.len());
        // Over all measured subnets (mostly its training set) it does at least as well as on
        // its held-out ones.
        assert!(100.0 * rmse(&pred, &truth) <= q.rmse_pp + 0.05, "{q:?}");
        assert!(kendall_tau(&pred, &truth) >= q.kendall_tau - 0.05, "{q:?}");
        for g in [Genome::largest(), Genome::smallest()] {
            assert!((0.5..1.0).contains(&p.predict(&g)));
        }
    }

    #[test]
    fn bad_predictor_files_are_rejected() {
        assert!(Predictor::from_json("{}").is_err());
        let mut p = Predictor::shipped();
        p.w2.pop();
        assert!(Predictor::from_json(&serde_json::to_string(&p).unwrap()).is_err());
    }
}
