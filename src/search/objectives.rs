//! What a search optimises: speed-up over the baseline always, accuracy when there is an
//! accuracy source, and optionally the energy per inference (`--objectives`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// One objective of the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Maximised: the accuracy source's value (0..1).
    Accuracy,
    /// Maximised: speed-up over the ISAAC-like baseline (SPEC §9).
    Speedup,
    /// Minimised: read energy per inference (nJ) of the candidate's mapping, from the
    /// hardware model (the compile summary's `energy_nj`).
    Energy,
}

impl Objective {
    pub fn name(self) -> &'static str {
        match self {
            Objective::Accuracy => "accuracy",
            Objective::Speedup => "speedup",
            Objective::Energy => "energy",
        }
    }
}

/// The objectives of one search, in the fixed order accuracy, speed-up, energy (the order of
/// NSGA-II's objective vector and of the outputs' columns). Speed-up is always one of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Objectives(Vec<Objective>);

impl Objectives {
    /// The objectives of a search with (`accuracy`) or without an accuracy source, with or
    /// without energy.
    pub fn new(accuracy: bool, energy: bool) -> Objectives {
        let mut v = Vec::with_capacity(3);
        if accuracy {
            v.push(Objective::Accuracy);
        }
        v.push(Objective::Speedup);
        if energy {
            v.push(Objective::Energy);
        }
        Objectives(v)
    }

    /// From a list such as `accuracy,speedup,energy` (any order, each once; `speed-up` and
    /// `speed_up` are accepted for `speedup`). Speed-up must be among them: the search is for
    /// networks that run fast on the budget.
    pub fn parse(text: &str) -> anyhow::Result<Objectives> {
        let mut accuracy = false;
        let mut speedup = false;
        let mut energy = false;
        for part in text.split(',') {
            let name = part.trim().to_ascii_lowercase();
            let slot = match name.as_str() {
                "accuracy" => &mut accuracy,
                "speedup" | "speed-up" | "speed_up" => &mut speedup,
                "energy" => &mut energy,
                "" => anyhow::bail!(
                    "--objectives '{text}': an empty name; expected e.g. accuracy,speedup,energy"
                ),
                other => anyhow::bail!(
                    "--objectives '{text}': unknown objective '{}'; expected accuracy, speedup or energy",
                    crate::error::printable(other)
                ),
            };
            if *slot {
                anyhow::bail!("--objectives '{text}': '{name}' is given twice");
            }
            *slot = true;
        }
        if !speedup {
            anyhow::bail!(
                "--objectives '{text}': speedup must be one of the objectives (e.g. accuracy,speedup,energy or speedup,energy)"
            );
        }
        Ok(Objectives::new(accuracy, energy))
    }

    /// From the list a checkpoint records; `None` (the layout before `--objectives`) means
    /// no energy.
    pub fn from_list(list: &[Objective]) -> anyhow::Result<Objectives> {
        let text = list.iter().map(|o| o.name()).collect::<Vec<_>>().join(",");
        Objectives::parse(&text)
    }

    pub fn list(&self) -> &[Objective] {
        &self.0
    }

    pub fn has(&self, o: Objective) -> bool {
        self.0.contains(&o)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Objectives {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, o) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(o.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_canonical_order_and_errors() {
        let o = Objectives::parse("energy, Speed-Up,accuracy").unwrap();
        assert_eq!(o.to_string(), "accuracy,speedup,energy");
        assert_eq!(o, Objectives::new(true, true));
        assert_eq!(
            Objectives::parse("speedup").unwrap(),
            Objectives::new(false, false)
        );
        assert_eq!(
            Objectives::parse("speedup,energy").unwrap().to_string(),
            "speedup,energy"
        );
        for (bad, says) in [
            ("accuracy,energy", "speedup must be"),
            ("speedup,speedup", "given twice"),
            ("speedup,power", "unknown objective 'power'"),
            ("speedup,", "empty name"),
        ] {
            let e = Objectives::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("--objectives"), "{bad}: {e}");
        }
        assert_eq!(
            Objectives::from_list(&[Objective::Speedup, Objective::Energy]).unwrap(),
            Objectives::new(false, true)
        );
    }
}
