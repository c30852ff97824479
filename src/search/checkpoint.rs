//! The search checkpoint: everything needed to continue a run exactly (settings, population,
//! RNG state, evaluation cache, ids, counters), written atomically after every generation.
//! The history of candidates lives in `evolution.csv`, written (atomically) just before the
//! checkpoint; a resume keeps its rows up to the checkpoint's generation and checks them.

use super::objectives::{Objective, Objectives};
use super::space::{Gene, Genes, Space};
use super::{Member, Outcome};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Version of the checkpoint layout; bumped when it changes incompatibly.
pub const FORMAT: u32 = 1;

/// f64 stored as its shortest round-trip decimal text: serde_json's default number parsing
/// may be off by one unit in the last place, and a resumed run must see the exact values.
pub(crate) mod exact {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(x)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let t = String::deserialize(d)?;
        t.parse().map_err(|_| D::Error::custom(not_a_number(&t)))
    }

    /// The error for a bad number: the text escaped (a damaged file may hold line breaks) and
    /// shortened, so the message stays one readable line.
    pub(crate) fn not_a_number(t: &str) -> String {
        let short: String = t.chars().take(40).collect();
        let more = if short.len() < t.len() { "…" } else { "" };
        format!("'{}{more}' is not a number", short.escape_debug())
    }

    /// The same for `Option<f64>` (`null` = none).
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        pub fn serialize<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match x {
                Some(v) => s.collect_str(v),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(t) => t
                    .parse()
                    .map(Some)
                    .map_err(|_| D::Error::custom(super::not_a_number(&t))),
            }
        }
    }
}

/// What defines a search: a checkpoint only continues under identical settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub seed: u64,
    pub budget: usize,
    pub input: usize,
    pub classes: usize,
    pub population: usize,
    #[serde(with = "exact")]
    pub mutation_rate: f64,
    /// Accuracy source name, e.g. `none` or `external:./eval.py`.
    pub accuracy: String,
    /// The hardware objective's baseline description, as compact JSON text (kept as text so
    /// its numbers compare exactly).
    pub baseline: String,
    /// The genes of a custom search space; absent for the OFA space (so OFA checkpoints keep
    /// the layout they had before custom spaces existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<Vec<Gene>>,
    /// The objectives when energy is one of them; absent otherwise (accuracy and speed-up, or
    /// speed-up alone without an accuracy source), so those checkpoints keep their layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objectives: Option<Vec<Objective>>,
}

impl Settings {
    /// The objectives these settings describe.
    pub fn objectives(&self) -> Objectives {
        match &self.objectives {
            Some(list) => {
                Objectives::from_list(list).unwrap_or_else(|_| Objectives::new(self.accuracy != "none", true))
            }
            None => Objectives::new(self.accuracy != "none", false),
        }
    }

    /// What [`Settings::objectives`] stores for `o`.
    pub fn objectives_field(o: &Objectives) -> Option<Vec<Objective>> {
        o.has(Objective::Energy).then(|| o.list().to_vec())
    }

    /// The search space these settings describe.
    pub fn space(&self) -> Space {
        match &self.space {
            None => Space::Ofa,
            Some(g) => Space::Custom(g.clone()),
        }
    }

    /// The first setting that differs, phrased for the user, or `None`.
    pub fn difference(&self, now: &Settings) -> Option<String> {
        let fields: [(&str, String, String); 7] = [
            ("--seed", self.seed.to_string(), now.seed.to_string()),
            ("--budget", self.budget.to_string(), now.budget.to_string()),
            ("--input", self.input.to_string(), now.input.to_string()),
            ("classes", self.classes.to_string(), now.classes.to_string()),
            (
                "--population",
                self.population.to_string(),
                now.population.to_string(),
            ),
            (
                "mutation rate",
                self.mutation_rate.to_string(),
                now.mutation_rate.to_string(),
            ),
            ("--accuracy", self.accuracy.clone(), now.accuracy.clone()),
        ];
        for (name, was, is) in fields {
            if was != is {
                return Some(format!("{name} is {was} in the checkpoint but {is} now"));
            }
        }
        let (was, is) = (self.objectives(), now.objectives());
        if was != is {
            return Some(format!("--objectives is {was} in the checkpoint but {is} now"));
        }
        if let Some(d) = self.space().difference(&now.space()) {
            return Some(d);
        }
        if self.baseline != now.baseline {
            let parse =
                |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap_or(serde_json::Value::Null);
            let (was, is) = (parse(&self.baseline), parse(&now.baseline));
            // Searches before rule presets mapped every candidate with fixed settings of the
            // pipeline (its options have `partition` and `pack`, no `rules`).
            let rules = |v: &serde_json::Value| v.pointer("/options/rules").is_some();
            if was.pointer("/options/partition").is_some() && !rules(&was) && rules(&is) {
                return Some(
                    "the checkpoint comes from an older rnc whose search mapped every candidate with \
                     fixed settings (layer threshold 0, diagonal depthwise, depth split 1); this rnc \
                     maps candidates as `rnc compile` does (--rules, --depthwise, --depth-split) and \
                     cannot continue it: start a new search, or finish this one with the older rnc"
                        .into(),
                );
            }
            let (path, a, b) = first_difference(&was, &is, String::new())
                .unwrap_or_else(|| (String::new(), self.baseline.clone(), now.baseline.clone()));
            let at = if path.is_empty() {
                String::new()
            } else {
                format!(" at {path}")
            };
            return Some(format!(
                "the hardware objective differs{at}: {a} in the checkpoint but {b} now"
            ));
        }
        None
    }
}

/// Where two JSON values first differ: `(dotted path, old, new)`.
fn first_difference(
    a: &serde_json::Value,
    b: &serde_json::Value,
    path: String,
) -> Option<(String, String, String)> {
    use serde_json::Value;
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => {
                        if let Some(d) = first_difference(va, vb, join(k)) {
                            return Some(d);
                        }
                    }
                    None => return Some((join(k), va.to_string(), "absent".into())),
                }
            }
            y.iter()
                .find(|(k, _)| !x.contains_key(*k))
                .map(|(k, vb)| (join(k), "absent".into(), vb.to_string()))
        }
        _ if a != b => Some((path, a.to_string(), b.to_string())),
        _ => None,
    }
}

/// One cache entry: a canonical genome and its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub genome: Genes,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format: u32,
    pub settings: Settings,
    /// Last completed generation (0 = the initial population).
    pub generation: usize,
    /// Generations the search is meant to run (absent in checkpoints of older rnc versions:
    /// a resume then has to say how many).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generations: Option<usize>,
    pub rng: [u64; 4],
    pub next_id: u64,
    pub hw_evaluations: u64,
    pub accuracy_evaluations: u64,
    pub cache_hits: u64,
    pub population: Vec<Member>,
    pub cache: Vec<CacheEntry>,
}

impl Checkpoint {
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_vec(self).context("cannot serialise the checkpoint")?;
        crate::error::write_atomic(path, &text)
    }

    /// Reads and sanity-checks a checkpoint (a damaged or edited file is a clear error).
    pub fn load(path: &Path) -> anyhow::Result<Checkpoint> {
        let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Checkpoint::from_slice(&text, &path.display().to_string())
    }

    /// Parses and sanity-checks checkpoint bytes; `file` names them in errors.
    pub fn from_slice(text: &[u8], file: &str) -> anyhow::Result<Checkpoint> {
        let cp: Checkpoint = serde_json::from_slice(text)
            .with_context(|| format!("{file} is not an rnc search checkpoint"))?;
        let bad = |why: String| anyhow::anyhow!("{file} is damaged: {why}");
        if cp.format != FORMAT {
            return Err(bad(format!(
                "format {} (this rnc reads format {FORMAT})",
                cp.format
            )));
        }
        if cp.population.len() != cp.settings.population {
            return Err(bad(format!(
                "{} population members, settings say {}",
                cp.population.len(),
                cp.settings.population
            )));
        }
        if let Some(list) = &cp.settings.objectives {
            let o = Objectives::from_list(list).map_err(|e| bad(format!("objectives: {e:#}")))?;
            if o.has(Objective::Accuracy) != (cp.settings.accuracy != "none") {
                return Err(bad(format!(
                    "objectives {o} do not match accuracy {}",
                    cp.settings.accuracy
                )));
            }
        }
        let space = match &cp.settings.space {
            None => Space::Ofa,
            Some(g) => Space::custom(g.clone()).map_err(|e| bad(format!("{e:#}")))?,
        };
        for m in &cp.population {
            space
                .check(&m.genome)
                .map_err(|e| bad(format!("population member {}: {e}", m.id)))?;
        }
        for c in &cp.cache {
            space
                .check(&c.genome)
                .map_err(|e| bad(format!("cache entry: {e}")))?;
        }
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::rng::Rng;

    fn settings() -> Settings {
        Settings {
            seed: 1,
            budget: 168,
            input: 64,
            classes: 10,
            population: 50,
            mutation_rate: 0.1,
            accuracy: "none".into(),
            baseline: r#"{"baseline":{"latency_ns":40556000.5},"options":{"effort":"fast","budget":168}}"#
                .into(),
            space: None,
            objectives: None,
        }
    }

    #[test]
    fn floats_survive_the_checkpoint_bit_for_bit() {
        let mut rng = Rng::seed(4);
        for _ in 0..20_000 {
            let x = f64::from_bits(rng.next_u64());
            if x.is_nan() {
                continue; // NaN payloads need not survive; outcomes never hold NaN
            }
            let o = Outcome {
                feasible: true,
                latency_ns: x,
                speedup: rng.unit() * 30.0,
                crossbars_used: 1,
                accuracy: Some(rng.unit()),
                energy_nj: Some(rng.unit() * 1e6),
            };
            let back: Outcome = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
            assert_eq!(back.latency_ns.to_bits(), x.to_bits(), "{x:e}");
            assert_eq!(back.speedup.to_bits(), o.speedup.to_bits());
            assert_eq!(back.accuracy.map(f64::to_bits), o.accuracy.map(f64::to_bits));
            assert_eq!(back.energy_nj.map(f64::to_bits), o.energy_nj.map(f64::to_bits));
        }
        // The value that made serde_json's default parser round wrongly in practice.
        let o = Outcome {
            feasible: false,
            latency_ns: 232.77319047999998,
            speedup: 0.0,
            crossbars_used: 0,
            accuracy: None,
            energy_nj: None,
        };
        let back: Outcome = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn differences_are_named() {
        let a = settings();
        assert_eq!(a.difference(&a.clone()), None);
        let b = Settings {
            seed: 2,
            ..settings()
        };
        assert_eq!(
            a.difference(&b).unwrap(),
            "--seed is 1 in the checkpoint but 2 now"
        );
        let c = Settings {
            accuracy: "external:./eval.py".into(),
            ..settings()
        };
        assert_eq!(
            a.difference(&c).unwrap(),
            "--accuracy is none in the checkpoint but external:./eval.py now"
        );
        let d = Settings {
            baseline: a.baseline.replace("fast", "max"),
            ..settings()
        };
        assert_eq!(
            a.difference(&d).unwrap(),
            "the hardware objective differs at options.effort: \"fast\" in the checkpoint but \"max\" now"
        );
        let e = Settings {
            objectives: Settings::objectives_field(&Objectives::new(false, true)),
            ..settings()
        };
        assert_eq!(
            a.difference(&e).unwrap(),
            "--objectives is speedup in the checkpoint but speedup,energy now"
        );
        // Absent objectives (older checkpoints) read as the default two / one.
        let two = Settings {
            accuracy: "toy".into(),
            ..settings()
        };
        assert_eq!(two.objectives().to_string(), "accuracy,speedup");
        let three = Settings {
            objectives: Settings::objectives_field(&Objectives::new(true, true)),
            ..two.clone()
        };
        assert_eq!(
            two.difference(&three).unwrap(),
            "--objectives is accuracy,speedup in the checkpoint but accuracy,speedup,energy now"
        );
        let text = serde_json::to_string(&three).unwrap();
        assert!(
            text.contains(r#""objectives":["accuracy","speedup","energy"]"#),
            "{text}"
        );
        assert!(!serde_json::to_string(&two).unwrap().contains("objectives"));
        // A checkpoint of the search before rule presets names what changed.
        let old = Settings {
            baseline:
                r#"{"baseline":{"latency_ns":1.5},"options":{"partition":{"depth_split":1},"budget":168}}"#
                    .into(),
            ..settings()
        };
        let new = Settings {
            baseline: r#"{"baseline":{"latency_ns":1.5},"options":{"crossbars":168,"rules":"physical"}}"#
                .into(),
            ..settings()
        };
        let msg = old.difference(&new).unwrap();
        assert!(msg.contains("older rnc") && msg.contains("--rules"), "{msg}");
    }
}
