//! RRAM-aware architecture search (SPEC §10): NSGA-II over OFA MobileNetV3-small genomes
//! or a user's own [`Space`], maximising accuracy and speed-up on a crossbar budget (from a
//! [`HwObjective`]).
//!
//! The engine is an ask/tell [`Session`]: [`Session::ask`] draws a generation and evaluates
//! its new networks on the hardware, [`Session::tell`] takes their accuracies and completes
//! it. [`run`] (`rnc search`) is a loop over a session with an [`AccuracySource`].
//!
//! A search writes, in its output folder, `evolution.csv` (every candidate), `pareto.json`
//! (the current front) and `checkpoint.json` after every generation, all atomically; a
//! resume continues from the checkpoint exactly. Results depend only on the settings and
//! seed: hardware evaluation runs in parallel but is collected in order, and the RNG is owned
//! by the search and stored in the checkpoint.

pub mod checkpoint;
pub mod genome_ops;
pub mod hardware;
pub mod nsga2;
pub mod objective;
pub mod objectives;
pub mod rng;
pub mod session;
pub mod space;
#[cfg(test)]
mod zdt;

pub use objective::{HwEval, HwObjective, search_evaluator, search_evaluator_with, search_options};
pub use objectives::{Objective, Objectives};
pub use session::{Builder, Candidate, Session, SessionConfig};
pub use space::{Gene, Genes, Space};

use crate::accuracy::AccuracySource;
use crate::error::Internal;
use anyhow::{Context, bail};
use checkpoint::Checkpoint;
use nsga2::Evaluation;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What one candidate achieved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub feasible: bool,
    #[serde(with = "checkpoint::exact")]
    pub latency_ns: f64,
    #[serde(with = "checkpoint::exact")]
    pub speedup: f64,
    pub crossbars_used: usize,
    /// `None` when there is no accuracy source or the candidate is infeasible (not scored).
    #[serde(with = "checkpoint::exact::option")]
    pub accuracy: Option<f64>,
    /// Read energy per inference (nJ), recorded only when energy is an objective and the
    /// candidate is feasible (absent otherwise, so other runs keep their checkpoint bytes).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "checkpoint::exact::option"
    )]
    pub energy_nj: Option<f64>,
}

/// A member of the population.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: u64,
    /// Generation that created it.
    pub generation: usize,
    /// The genome as evolved (OFA: genes of skipped blocks included; they may matter again
    /// after a depth mutation). Outputs show its canonical form ([`Space::show`]).
    pub genome: Genes,
    pub outcome: Outcome,
}

/// One line of `evolution.csv`: a candidate as created in its generation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    pub generation: usize,
    pub id: u64,
    /// As outputs show it ([`Space::show`]).
    pub genome: String,
    pub outcome: Outcome,
    /// Non-domination rank among that generation's parents ∪ children (0 = front).
    pub rank: usize,
    /// Whether it entered the next population.
    pub survived: bool,
    /// Whether its result came from the cache (an equal network was evaluated before).
    pub cached: bool,
}

/// How to run a search over the OFA space with an [`AccuracySource`] (`rnc search`).
#[derive(Clone, Debug)]
pub struct SearchConfig {
    pub seed: u64,
    /// Crossbar budget N.
    pub budget: usize,
    /// Square input size of the subnets.
    pub input: usize,
    pub classes: usize,
    pub population: usize,
    /// Generations after the initial population (generation 0).
    pub generations: usize,
    pub out: PathBuf,
    /// Continue from `out/checkpoint.json`.
    pub resume: bool,
    /// Also minimise the energy per inference (`--objectives …,energy`).
    pub energy: bool,
}

/// Progress after one generation.
#[derive(Clone, Debug)]
pub struct GenerationReport {
    pub generation: usize,
    pub generations: usize,
    pub hardware_only: bool,
    pub front_size: usize,
    pub best_speedup: Option<f64>,
    pub best_accuracy: Option<f64>,
    /// The least energy per inference (nJ) in the population, when energy is an objective.
    pub best_energy_nj: Option<f64>,
    pub hw_evaluations: u64,
    pub cache_hits: u64,
}

/// Receives progress; the CLI draws a bar.
pub trait Progress {
    fn start(&mut self, _done: usize, _generations: usize, _hardware_only: bool) {}
    fn generation(&mut self, _report: &GenerationReport) {}
}

impl Progress for () {}

/// The end of a run.
#[derive(Clone, Debug)]
pub struct SearchSummary {
    pub last: GenerationReport,
    /// The final front as written to pareto.json.
    pub front: Vec<Member>,
    /// The front re-mapped at the compiler's default effort (aligned with `front`; `None`
    /// where the objective does not re-map, see [`HwObjective::evaluate_final`]).
    pub front_default: Vec<Option<HwEval>>,
    pub accuracy_evaluations: u64,
    /// Generation the run resumed after, if it resumed.
    pub resumed_after: Option<usize>,
    pub elapsed: Duration,
    pub out: PathBuf,
}

/// Largest population accepted: survival sorts 2·P solutions pairwise every generation.
pub const MAX_POPULATION: usize = 10_000;
/// Largest crossbar budget accepted (as `rnc compile`).
pub const MAX_BUDGET: usize = 1_000_000;

pub(crate) const CHECKPOINT: &str = "checkpoint.json";
pub(crate) const EVOLUTION: &str = "evolution.csv";
pub(crate) const PARETO: &str = "pareto.json";

impl<T: HwObjective + ?Sized> HwObjective for &T {
    fn evaluate(&self, net: &crate::network::Network) -> anyhow::Result<HwEval> {
        (**self).evaluate(net)
    }
    fn baseline_json(&self) -> serde_json::Value {
        (**self).baseline_json()
    }
    fn evaluate_final(&self, net: &crate::network::Network) -> anyhow::Result<Option<HwEval>> {
        (**self).evaluate_final(net)
    }
}

impl Outcome {
    /// NSGA-II view: objectives minimised (in the order of `objectives`), infeasible ranked
    /// by crossbars over budget.
    pub(crate) fn evaluation(&self, objectives: &Objectives, budget: usize) -> Evaluation {
        let m = objectives.len();
        if !self.feasible {
            let over = self.crossbars_used as f64 - budget as f64;
            return Evaluation {
                objectives: vec![0.0; m],
                violation: over.max(1.0),
            };
        }
        let o = objectives
            .list()
            .iter()
            .map(|o| match o {
                Objective::Accuracy => -self.accuracy.unwrap_or(0.0),
                Objective::Speedup => -self.speedup,
                // A feasible candidate always has one when energy is an objective (checked
                // when its hardware result arrives).
                Objective::Energy => self.energy_nj.unwrap_or(f64::MAX),
            })
            .collect();
        Evaluation::feasible(o)
    }
}

pub(crate) fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// A feasible hardware result must have a positive, finite latency and speed-up (and, when
/// energy is an objective, a finite, non-negative energy).
pub(crate) fn check_hw(e: &HwEval, energy: bool) -> Result<(), String> {
    if e.feasible
        && !(e.latency_ns.is_finite() && e.latency_ns > 0.0 && e.speedup.is_finite() && e.speedup > 0.0)
    {
        return Err(format!("latency {} ns, speed-up {}", e.latency_ns, e.speedup));
    }
    if e.feasible && energy {
        match e.energy_nj {
            None => return Err("no energy per inference (the hardware model has none for some tile)".into()),
            Some(x) if !(x.is_finite() && x >= 0.0) => return Err(format!("energy {x} nJ")),
            Some(_) => {}
        }
    }
    Ok(())
}

pub(crate) const EVOLUTION_HEADER: &str =
    "generation,id,genome,feasible,accuracy,speedup,latency_ns,crossbars_used,rank,survived,cached\n";
/// The header when energy is an objective: its column follows the other objectives'.
pub(crate) const EVOLUTION_HEADER_ENERGY: &str = "generation,id,genome,feasible,accuracy,speedup,energy_nj,latency_ns,crossbars_used,rank,survived,cached\n";

/// evolution.csv's header for these objectives.
pub(crate) fn evolution_header(objectives: &Objectives) -> &'static str {
    if objectives.has(Objective::Energy) {
        EVOLUTION_HEADER_ENERGY
    } else {
        EVOLUTION_HEADER
    }
}

/// Appends rows to the evolution.csv text (with the energy column when `energy`).
pub(crate) fn append_rows(buf: &mut Vec<u8>, rows: &[Row], energy: bool) -> anyhow::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    for r in rows {
        let o = &r.outcome;
        let mut rec = vec![
            r.generation.to_string(),
            r.id.to_string(),
            r.genome.clone(),
            o.feasible.to_string(),
            o.accuracy.map(|a| a.to_string()).unwrap_or_default(),
            o.speedup.to_string(),
        ];
        if energy {
            rec.push(o.energy_nj.map(|e| e.to_string()).unwrap_or_default());
        }
        rec.extend([
            o.latency_ns.to_string(),
            o.crossbars_used.to_string(),
            r.rank.to_string(),
            r.survived.to_string(),
            r.cached.to_string(),
        ]);
        w.write_record(&rec)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!(Internal(format!("csv buffer: {e}"))))?;
    buf.extend_from_slice(&bytes);
    Ok(())
}

/// The evolution.csv of a checkpointed run: its rows up to the checkpoint's generation, which
/// must be exactly the candidates 0..next_id (rows of an unfinished generation are dropped).
pub(crate) fn evolution_for(path: &std::path::Path, cp: &Checkpoint) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "--resume: cannot read {} (it holds the search history)",
            path.display()
        )
    })?;
    evolution_rows(bytes, &path.display().to_string(), cp)
}

/// [`evolution_for`] on the file's bytes; `file` names it in errors.
pub(crate) fn evolution_rows(mut bytes: Vec<u8>, file: &str, cp: &Checkpoint) -> anyhow::Result<Vec<u8>> {
    let mismatch = |why: String| {
        anyhow::anyhow!("--resume: {file} does not match its checkpoint.json ({why}); cannot continue")
    };
    let header = evolution_header(&cp.settings.objectives());
    if !bytes.starts_with(header.as_bytes()) {
        return Err(mismatch("unexpected header".into()));
    }
    let mut rd = csv::Reader::from_reader(&bytes[..]);
    let mut expected_id = 0u64;
    let mut cut = bytes.len();
    let mut rec = csv::StringRecord::new();
    loop {
        let pos = rd.position().byte() as usize;
        match rd.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(mismatch(format!("unreadable row: {e}"))),
        }
        let num = |i: usize| rec.get(i).and_then(|v| v.parse::<u64>().ok());
        let (Some(generation), Some(id)) = (num(0), num(1)) else {
            return Err(mismatch(format!("bad row at byte {pos}")));
        };
        if generation > cp.generation as u64 {
            cut = pos;
            break;
        }
        if id != expected_id {
            return Err(mismatch(format!("expected candidate {expected_id}, found {id}")));
        }
        expected_id += 1;
    }
    if expected_id != cp.next_id {
        return Err(mismatch(format!(
            "{expected_id} candidates up to generation {}, the checkpoint has {}",
            cp.generation, cp.next_id
        )));
    }
    bytes.truncate(cut);
    Ok(bytes)
}

#[derive(Serialize)]
struct ParetoEntry<'a> {
    id: u64,
    generation: usize,
    genome: Shown<'a>,
    accuracy: Option<f64>,
    speedup: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    energy_nj: Option<f64>,
    latency_ns: f64,
    crossbars_used: usize,
    /// The same network re-mapped at the compiler's default effort (final front only).
    #[serde(skip_serializing_if = "Option::is_none")]
    speedup_default: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ns_default: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    crossbars_used_default: Option<usize>,
}

/// A genome as outputs show it: OFA canonical `{"ks","e","d"}`, custom `{"gene":value,…}`.
struct Shown<'a>(&'a Space, &'a Genes);

impl Serialize for Shown<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self.1 {
            Genes::Ofa(g) => g.canonical().serialize(s),
            Genes::Choices(_) => {
                let values = self.0.values(self.1);
                let mut m = s.serialize_map(Some(values.len()))?;
                for (k, v) in values {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

/// pareto.json: an array with one compact object per line; `finals` holds the final front's
/// default-effort figures by canonical genome.
pub(crate) fn pareto_json(
    front: &[Member],
    space: &Space,
    finals: &std::collections::BTreeMap<Genes, HwEval>,
) -> anyhow::Result<Vec<u8>> {
    let mut text = String::from("[");
    for (i, m) in front.iter().enumerate() {
        let fin = finals.get(&m.genome.canonical()).filter(|e| e.feasible);
        let v = ParetoEntry {
            id: m.id,
            generation: m.generation,
            genome: Shown(space, &m.genome),
            accuracy: m.outcome.accuracy,
            speedup: m.outcome.speedup,
            energy_nj: m.outcome.energy_nj,
            latency_ns: m.outcome.latency_ns,
            crossbars_used: m.outcome.crossbars_used,
            speedup_default: fin.map(|e| e.speedup),
            latency_ns_default: fin.map(|e| e.latency_ns),
            crossbars_used_default: fin.map(|e| e.crossbars_used),
        };
        text.push_str(if i == 0 { "\n  " } else { ",\n  " });
        text.push_str(&serde_json::to_string(&v)?);
    }
    text.push_str(if front.is_empty() { "]\n" } else { "\n]\n" });
    Ok(text.into_bytes())
}

/// Runs (or resumes) a search over the OFA space with an accuracy source: a loop over a
/// [`Session`]'s ask and tell, so a driver of its own gets the same files.
pub fn run(
    cfg: &SearchConfig,
    hw: &dyn HwObjective,
    acc: &mut dyn AccuracySource,
    progress: &mut dyn Progress,
) -> anyhow::Result<SearchSummary> {
    let start = Instant::now();
    let real_accuracy = acc.is_real();
    let config = SessionConfig {
        seed: cfg.seed,
        budget: cfg.budget,
        input: cfg.input,
        classes: cfg.classes,
        population: cfg.population,
        generations: cfg.generations,
        space: Space::Ofa,
        accuracy: real_accuracy.then(|| acc.name()),
        energy: cfg.energy,
    };
    let mut s = if cfg.resume {
        Session::resume_as(&config, &cfg.out, hw)?
    } else {
        Session::new(&config, &cfg.out, hw)?
    };
    progress.start(s.generation().unwrap_or(0), cfg.generations, !real_accuracy);
    while !s.done() {
        let batch = s.ask()?;
        let mut told = Vec::with_capacity(batch.len());
        if !batch.is_empty() {
            let candidates = batch
                .iter()
                .map(|c| {
                    let genome = c
                        .genome
                        .ofa()
                        .cloned()
                        .ok_or_else(|| Internal(format!("candidate {} is not an OFA genome", c.id)))?;
                    Ok(crate::accuracy::Candidate { id: c.id, genome })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let a = acc.evaluate(&candidates)?;
            if a.len() != batch.len() {
                bail!(Internal(format!(
                    "accuracy source {} returned {} values for {} candidates",
                    acc.name(),
                    a.len(),
                    batch.len()
                )));
            }
            told.extend(batch.iter().map(|c| c.id).zip(a));
        }
        s.tell(&told)?;
        progress.generation(&s.report());
    }
    let front = s.pareto();
    let front_default = front.iter().map(|m| s.final_figures(&m.genome)).collect();
    Ok(SearchSummary {
        last: s.report(),
        front,
        front_default,
        accuracy_evaluations: s.accuracy_evaluations(),
        resumed_after: s.resumed_after(),
        elapsed: start.elapsed(),
        out: cfg.out.clone(),
    })
}
