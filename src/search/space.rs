//! Search spaces: the OFA MobileNetV3-small space (SPEC §10, the default, networks built by
//! rnc) or a user's own space of named genes with listed choices (networks built by the
//! user's builder), and the NSGA-II operators over either.
//!
//! A custom genome is one choice index per gene. Its operators draw exactly as the OFA ones
//! do (a gene re-drawn with probability [`MUTATION_RATE`], uniform crossover), so both spaces
//! behave alike.

use super::genome_ops::{self, MUTATION_RATE};
use super::nsga2::Operators;
use super::rng::Rng;
use crate::network::ofa;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// One gene of a custom space: a name and the values it may take (numbers, strings or
/// booleans), in the order the user gave them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gene {
    pub name: String,
    /// Stored in the checkpoint as exact JSON text per value (floats survive bit for bit).
    #[serde(with = "exact_values")]
    pub choices: Vec<Value>,
}

impl Gene {
    /// A gene from a name and its choices (checked by [`Space::custom`]).
    pub fn new(name: impl Into<String>, choices: Vec<Value>) -> Gene {
        Gene {
            name: name.into(),
            choices,
        }
    }
}

/// Where the search looks.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Space {
    /// OFA MobileNetV3-small subnets (SPEC §10); rnc builds their networks.
    #[default]
    Ofa,
    /// A user space: ordered genes; networks come from the user's builder.
    Custom(Vec<Gene>),
}

/// Largest number of genes (and of choices per gene) a custom space may have.
pub const MAX_GENES: usize = 10_000;

impl Space {
    /// A custom space, checked: at least one gene, distinct non-empty names, at least one
    /// choice per gene, every choice a finite number, a string or a boolean.
    pub fn custom(genes: Vec<Gene>) -> anyhow::Result<Space> {
        if genes.is_empty() {
            anyhow::bail!("the search space has no genes: give at least one name with its choices");
        }
        if genes.len() > MAX_GENES {
            anyhow::bail!("the search space has {} genes (at most {MAX_GENES})", genes.len());
        }
        let mut names = std::collections::HashSet::new();
        for (i, g) in genes.iter().enumerate() {
            let name = crate::error::printable(&g.name);
            if g.name.is_empty() {
                anyhow::bail!("search space gene {i} has an empty name");
            }
            if !names.insert(g.name.as_str()) {
                anyhow::bail!("search space gene '{name}' appears twice");
            }
            if g.choices.is_empty() || g.choices.len() > MAX_GENES {
                anyhow::bail!(
                    "search space gene '{name}' has {} choices (expected 1 to {MAX_GENES})",
                    g.choices.len()
                );
            }
            for c in &g.choices {
                let ok = match c {
                    Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
                    Value::String(_) | Value::Bool(_) => true,
                    _ => false,
                };
                if !ok {
                    anyhow::bail!(
                        "search space gene '{name}': choice {c} is not a number, a string or a boolean"
                    );
                }
            }
        }
        Ok(Space::Custom(genes))
    }

    /// The genes of a custom space (none for OFA).
    pub fn genes(&self) -> &[Gene] {
        match self {
            Space::Ofa => &[],
            Space::Custom(g) => g,
        }
    }

    /// Whether `genome` belongs to this space (right kind, length and choice indices).
    pub fn check(&self, genome: &Genes) -> Result<(), String> {
        match (self, genome) {
            (Space::Ofa, Genes::Ofa(g)) => g.validate().map_err(|e| e.to_string()),
            (Space::Custom(genes), Genes::Choices(c)) => {
                if c.len() != genes.len() {
                    return Err(format!(
                        "{} choice indices for a space of {} genes",
                        c.len(),
                        genes.len()
                    ));
                }
                for (g, &i) in genes.iter().zip(c) {
                    if i >= g.choices.len() {
                        return Err(format!(
                            "choice index {i} of gene '{}' (it has {} choices)",
                            crate::error::printable(&g.name),
                            g.choices.len()
                        ));
                    }
                }
                Ok(())
            }
            (Space::Ofa, Genes::Choices(_)) => Err("a custom-space genome in the OFA space".into()),
            (Space::Custom(_), Genes::Ofa(_)) => Err("an OFA genome in a custom space".into()),
        }
    }

    /// The chosen values of a custom genome, gene by gene (empty for OFA genomes).
    pub fn values<'s>(&'s self, genome: &Genes) -> Vec<(&'s str, &'s Value)> {
        match (self, genome) {
            (Space::Custom(genes), Genes::Choices(c)) => genes
                .iter()
                .zip(c)
                .filter_map(|(g, &i)| g.choices.get(i).map(|v| (g.name.as_str(), v)))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The genome as outputs show it, as JSON: OFA `{"ks":[…],"e":[…],"d":[…]}` (canonical);
    /// a custom genome `{"name":value,…}` in gene order.
    pub fn show(&self, genome: &Genes) -> String {
        match genome {
            Genes::Ofa(g) => g.canonical().to_string(),
            Genes::Choices(_) => {
                let mut s = String::from("{");
                for (k, (name, v)) in self.values(genome).into_iter().enumerate() {
                    if k > 0 {
                        s.push(',');
                    }
                    s.push_str(&Value::String(name.to_string()).to_string());
                    s.push(':');
                    s.push_str(&v.to_string());
                }
                s.push('}');
                s
            }
        }
    }

    /// The first difference between a checkpoint's space (`self`) and the one given now.
    pub fn difference(&self, now: &Space) -> Option<String> {
        let describe = |s: &Space| match s {
            Space::Ofa => "OFA MobileNetV3-small".to_string(),
            Space::Custom(g) => format!("custom ({} genes)", g.len()),
        };
        match (self, now) {
            (Space::Ofa, Space::Ofa) => None,
            (Space::Custom(a), Space::Custom(b)) => {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    let (nx, ny) = (crate::error::printable(&x.name), crate::error::printable(&y.name));
                    if x.name != y.name {
                        return Some(format!(
                            "the search space differs at gene {i}: '{nx}' in the checkpoint but '{ny}' now"
                        ));
                    }
                    if x.choices != y.choices {
                        let list = |c: &[Value]| Value::Array(c.to_vec()).to_string();
                        return Some(format!(
                            "the search space differs at gene '{nx}': choices {} in the checkpoint but {} now",
                            list(&x.choices),
                            list(&y.choices)
                        ));
                    }
                }
                (a.len() != b.len()).then(|| {
                    format!(
                        "the search space has {} genes in the checkpoint but {} now",
                        a.len(),
                        b.len()
                    )
                })
            }
            _ => Some(format!(
                "the search space is {} in the checkpoint but {} now",
                describe(self),
                describe(now)
            )),
        }
    }
}

/// A genome of either space. Serialised untagged: an OFA genome as `{"ks","e","d"}` (so
/// checkpoints of OFA searches keep their layout), a custom one as its choice indices.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Genes {
    Ofa(ofa::Genome),
    Choices(Vec<usize>),
}

impl Genes {
    /// The genome with genes that do not change the network normalised (OFA: genes of
    /// skipped blocks), so genomes of the same network compare equal.
    pub fn canonical(&self) -> Genes {
        match self {
            Genes::Ofa(g) => Genes::Ofa(g.canonical()),
            Genes::Choices(c) => Genes::Choices(c.clone()),
        }
    }

    /// The OFA genome, if this is one.
    pub fn ofa(&self) -> Option<&ofa::Genome> {
        match self {
            Genes::Ofa(g) => Some(g),
            Genes::Choices(_) => None,
        }
    }
}

/// Short form for messages: OFA genomes as JSON, custom ones as their choice indices.
impl fmt::Display for Genes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Genes::Ofa(g) => g.fmt(f),
            Genes::Choices(c) => write!(f, "{}", Value::from(c.clone())),
        }
    }
}

/// NSGA-II operators over a space.
pub struct SpaceOps<'a>(pub &'a Space);

impl Operators for SpaceOps<'_> {
    type Genome = Genes;
    type Key = Genes;

    fn random(&self, rng: &mut Rng) -> Genes {
        match self.0 {
            Space::Ofa => Genes::Ofa(genome_ops::random_genome(rng)),
            Space::Custom(genes) => {
                Genes::Choices(genes.iter().map(|g| rng.below(g.choices.len())).collect())
            }
        }
    }

    fn mutate(&self, g: &Genes, rng: &mut Rng) -> Genes {
        match (self.0, g) {
            (Space::Ofa, Genes::Ofa(g)) => Genes::Ofa(genome_ops::mutate(g, MUTATION_RATE, rng)),
            (Space::Custom(genes), Genes::Choices(c)) => Genes::Choices(
                genes
                    .iter()
                    .zip(c)
                    .map(|(gene, &x)| {
                        if rng.chance(MUTATION_RATE) {
                            rng.below(gene.choices.len())
                        } else {
                            x
                        }
                    })
                    .collect(),
            ),
            // Genomes are checked against the space when they enter a session.
            _ => g.clone(),
        }
    }

    fn crossover(&self, a: &Genes, b: &Genes, rng: &mut Rng) -> Genes {
        match (a, b) {
            (Genes::Ofa(a), Genes::Ofa(b)) => Genes::Ofa(genome_ops::crossover(a, b, rng)),
            (Genes::Choices(a), Genes::Choices(b)) => Genes::Choices(
                a.iter()
                    .zip(b)
                    .map(|(&p, &q)| if rng.chance(0.5) { p } else { q })
                    .collect(),
            ),
            _ => a.clone(),
        }
    }

    fn key(&self, g: &Genes) -> Genes {
        g.canonical()
    }
}

/// Choices stored as one exact JSON text per value: serde_json's default float parsing may
/// be off by one unit in the last place, and a resumed run must compare spaces exactly.
mod exact_values {
    use serde::{Deserialize, Deserializer, Serializer, de::Error, ser::SerializeSeq};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(v: &[Value], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            seq.serialize_element(&x.to_string())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| {
                parse(t).ok_or_else(|| D::Error::custom(crate::search::checkpoint::exact::not_a_number(t)))
            })
            .collect()
    }

    fn parse(t: &str) -> Option<Value> {
        match t {
            "true" => return Some(Value::Bool(true)),
            "false" => return Some(Value::Bool(false)),
            _ => {}
        }
        if t.starts_with('"') {
            return serde_json::from_str::<String>(t).ok().map(Value::String);
        }
        if let Ok(u) = t.parse::<u64>() {
            return Some(Value::from(u));
        }
        if let Ok(i) = t.parse::<i64>() {
            return Some(Value::from(i));
        }
        // Rust's float parsing is exact; only JSON number syntax is accepted.
        let json_number = t.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
        t.parse::<f64>()
            .ok()
            .filter(|x| json_number && x.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn space() -> Space {
        Space::custom(vec![
            Gene::new("width", vec![json!(16), json!(24), json!(32)]),
            Gene::new("kernel", vec![json!(3), json!(5)]),
            Gene::new(
                "scale",
                vec![json!(0.1), json!(232.77319047999998), json!("relu"), json!(true)],
            ),
        ])
        .unwrap()
    }

    #[test]
    fn spaces_are_checked() {
        assert!(
            Space::custom(vec![])
                .unwrap_err()
                .to_string()
                .contains("no genes")
        );
        let twice = vec![Gene::new("a", vec![json!(1)]), Gene::new("a", vec![json!(2)])];
        assert!(
            Space::custom(twice)
                .unwrap_err()
                .to_string()
                .contains("'a' appears twice")
        );
        let empty = vec![Gene::new("a", vec![])];
        assert!(
            Space::custom(empty)
                .unwrap_err()
                .to_string()
                .contains("'a' has 0 choices")
        );
        let nested = vec![Gene::new("a", vec![json!([1, 2])])];
        let e = Space::custom(nested).unwrap_err().to_string();
        assert!(e.contains("choice [1,2] is not a number"), "{e}");
        let s = space();
        assert_eq!(s.check(&Genes::Choices(vec![2, 1, 3])), Ok(()));
        assert!(
            s.check(&Genes::Choices(vec![2, 2, 0]))
                .unwrap_err()
                .contains("gene 'kernel'")
        );
        assert!(s.check(&Genes::Choices(vec![0])).is_err());
        assert!(s.check(&Genes::Ofa(ofa::Genome::smallest())).is_err());
        assert_eq!(
            s.show(&Genes::Choices(vec![2, 0, 2])),
            r#"{"width":32,"kernel":3,"scale":"relu"}"#
        );
    }

    #[test]
    fn spaces_round_trip_exactly_and_differences_are_named() {
        let s = space();
        let text = serde_json::to_string(s.genes()).unwrap();
        assert!(
            text.contains(r#""choices":["0.1","232.77319047999998","\"relu\"","true"]"#),
            "{text}"
        );
        let back: Vec<Gene> = serde_json::from_str(&text).unwrap();
        assert_eq!(Space::Custom(back.clone()), s);
        assert_eq!(s.difference(&Space::Custom(back)), None);
        let mut other = s.genes().to_vec();
        other[1].choices.push(json!(7));
        assert_eq!(
            s.difference(&Space::Custom(other)).unwrap(),
            "the search space differs at gene 'kernel': choices [3,5] in the checkpoint but [3,5,7] now"
        );
        assert_eq!(
            s.difference(&Space::Ofa).unwrap(),
            "the search space is custom (3 genes) in the checkpoint but OFA MobileNetV3-small now"
        );
        let fewer = Space::Custom(s.genes()[..2].to_vec());
        assert_eq!(
            s.difference(&fewer).unwrap(),
            "the search space has 3 genes in the checkpoint but 2 now"
        );
        assert!(serde_json::from_str::<Vec<Gene>>(r#"[{"name":"a","choices":["1e999"]}]"#).is_err());
    }

    proptest::proptest! {
        #[test]
        fn choices_survive_the_checkpoint_bit_for_bit(bits in proptest::prelude::any::<u64>(), i in proptest::prelude::any::<i64>(), t in ".*") {
            let x = f64::from_bits(bits);
            proptest::prop_assume!(x.is_finite());
            let g = vec![Gene::new("g", vec![json!(x), json!(i), json!(t)])];
            let back: Vec<Gene> = serde_json::from_str(&serde_json::to_string(&g).unwrap()).unwrap();
            proptest::prop_assert_eq!(back[0].choices[0].as_f64().map(f64::to_bits), Some(x.to_bits()));
            proptest::prop_assert_eq!(&back, &g);
        }
    }

    #[test]
    fn genomes_keep_the_ofa_layout() {
        let g = Genes::Ofa(ofa::Genome::smallest());
        let text = serde_json::to_string(&g).unwrap();
        assert_eq!(text, serde_json::to_string(&ofa::Genome::smallest()).unwrap());
        assert_eq!(serde_json::from_str::<Genes>(&text).unwrap(), g);
        let c = Genes::Choices(vec![1, 0, 2]);
        assert_eq!(serde_json::to_string(&c).unwrap(), "[1,0,2]");
        assert_eq!(serde_json::from_str::<Genes>("[1,0,2]").unwrap(), c);
    }

    #[test]
    fn custom_operators_draw_like_the_ofa_ones() {
        // The OFA space written as a custom space draws the same genomes from the same seed.
        let v = |xs: &[usize]| xs.iter().map(|&x| json!(x)).collect::<Vec<_>>();
        let mut genes = Vec::new();
        for i in 0..ofa::BLOCKS {
            genes.push(Gene::new(format!("ks{i}"), v(&ofa::KERNELS)));
        }
        for i in 0..ofa::BLOCKS {
            genes.push(Gene::new(format!("e{i}"), v(&ofa::EXPANDS)));
        }
        for i in 0..ofa::STAGES {
            genes.push(Gene::new(format!("d{i}"), v(&ofa::DEPTHS)));
        }
        let custom = Space::custom(genes).unwrap();
        let as_ofa = |g: &Genes| -> ofa::Genome {
            let idx = match g {
                Genes::Choices(c) => c.clone(),
                Genes::Ofa(_) => panic!("custom genome expected"),
            };
            let (b, s) = (ofa::BLOCKS, ofa::STAGES);
            ofa::Genome {
                ks: idx[..b].iter().map(|&i| ofa::KERNELS[i]).collect(),
                e: idx[b..2 * b].iter().map(|&i| ofa::EXPANDS[i]).collect(),
                d: idx[2 * b..2 * b + s].iter().map(|&i| ofa::DEPTHS[i]).collect(),
            }
        };
        let (o, c) = (SpaceOps(&Space::Ofa), SpaceOps(&custom));
        let (mut r1, mut r2) = (Rng::seed(3), Rng::seed(3));
        for _ in 0..50 {
            let (a, b) = (o.random(&mut r1), c.random(&mut r2));
            assert_eq!(Some(&as_ofa(&b)), a.ofa());
            let (ma, mb) = (o.mutate(&a, &mut r1), c.mutate(&b, &mut r2));
            assert_eq!(Some(&as_ofa(&mb)), ma.ofa());
            let (xa, xb) = (o.crossover(&a, &ma, &mut r1), c.crossover(&b, &mb, &mut r2));
            assert_eq!(Some(&as_ofa(&xb)), xa.ofa());
        }
    }
}
