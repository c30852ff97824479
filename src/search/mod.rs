//! RRAM-aware architecture search (SPEC §10): NSGA-II over OFA MobileNetV3-small genomes,
//! maximising accuracy (from an [`AccuracySource`]) and speed-up on a crossbar budget (from a
//! [`HwObjective`]).
//!
//! A run writes, in its output folder, `evolution.csv` (every candidate), `pareto.json` (the
//! current front) and `checkpoint.json` after every generation, all atomically; `resume`
//! continues from the checkpoint exactly. Results depend only on the settings and seed:
//! hardware evaluation runs in parallel but is collected in order, and the RNG is owned by
//! the run and stored in the checkpoint.

pub mod checkpoint;
pub mod genome_ops;
pub mod hardware;
pub mod nsga2;
pub mod objective;
pub mod rng;
#[cfg(test)]
mod zdt;

pub use objective::{HwEval, HwObjective, search_evaluator};

use crate::accuracy::{AccuracySource, Candidate};
use crate::error::{Internal, write_atomic};
use crate::network::ofa::{self, Genome};
use anyhow::{Context, bail};
use checkpoint::{CacheEntry, Checkpoint, Settings};
use nsga2::{Evaluation, Ranking};
use rayon::prelude::*;
use rng::Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
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
}

/// A member of the population.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: u64,
    /// Generation that created it.
    pub generation: usize,
    /// The genome as evolved (genes of skipped blocks included; they may matter again after
    /// a depth mutation). Outputs show its canonical form.
    pub genome: Genome,
    pub outcome: Outcome,
}

/// One line of `evolution.csv`: a candidate as created in its generation.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    pub generation: usize,
    pub id: u64,
    pub genome: Genome,
    pub outcome: Outcome,
    /// Non-domination rank among that generation's parents ∪ children (0 = front).
    pub rank: usize,
    /// Whether it entered the next population.
    pub survived: bool,
    /// Whether its result came from the cache (an equal network was evaluated before).
    pub cached: bool,
}

/// How to run a search.
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

const CHECKPOINT: &str = "checkpoint.json";
const EVOLUTION: &str = "evolution.csv";
const PARETO: &str = "pareto.json";

struct Run<'a> {
    cp: Checkpoint,
    /// evolution.csv as written so far (header included).
    evolution: Vec<u8>,
    cache: BTreeMap<Genome, Outcome>,
    rng: Rng,
    hw: &'a dyn HwObjective,
    acc: &'a mut dyn AccuracySource,
    real_accuracy: bool,
}

impl Outcome {
    /// NSGA-II view: objectives minimised, infeasible ranked by crossbars over budget.
    fn evaluation(&self, real_accuracy: bool, budget: usize) -> Evaluation {
        let m = if real_accuracy { 2 } else { 1 };
        if !self.feasible {
            let over = self.crossbars_used as f64 - budget as f64;
            return Evaluation {
                objectives: vec![0.0; m],
                violation: over.max(1.0),
            };
        }
        let mut o = Vec::with_capacity(m);
        if real_accuracy {
            o.push(-self.accuracy.unwrap_or(0.0));
        }
        o.push(-self.speedup);
        Evaluation::feasible(o)
    }
}

impl Run<'_> {
    fn evals(&self, members: &[Member]) -> Vec<Evaluation> {
        members
            .iter()
            .map(|m| m.outcome.evaluation(self.real_accuracy, self.cp.settings.budget))
            .collect()
    }

    /// Evaluates new genomes: hardware in parallel for networks not seen before, then one
    /// accuracy batch for the feasible ones. Returns members and whether each was cached.
    fn evaluate(&mut self, genomes: Vec<Genome>, generation: usize) -> anyhow::Result<Vec<(Member, bool)>> {
        let s = &self.cp.settings;
        let (input, classes) = (s.input, s.classes);
        let first_id = self.cp.next_id;
        let keys: Vec<Genome> = genomes.iter().map(Genome::canonical).collect();
        // First occurrence of each unseen network in this batch, with its candidate id.
        let mut misses: Vec<(u64, Genome)> = Vec::new();
        let mut in_batch: HashSet<&Genome> = HashSet::new();
        for (i, k) in keys.iter().enumerate() {
            if !self.cache.contains_key(k) && in_batch.insert(k) {
                misses.push((first_id + i as u64, k.clone()));
            }
        }
        let hw = self.hw;
        let results: Vec<anyhow::Result<HwEval>> = misses
            .par_iter()
            .map(|(id, g)| {
                let net = ofa::build(g, input, classes)
                    .with_context(|| format!("cannot build candidate {id} (genome {g})"))?;
                // A panic in the compiler must not take a long search down without saying
                // which candidate caused it (the last checkpoint stays intact either way).
                let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hw.evaluate(&net)))
                    .map_err(|p| {
                        let msg = p
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        Internal(format!(
                            "hardware evaluation of candidate {id} (genome {g}) panicked: {msg}"
                        ))
                    })?
                    .with_context(|| format!("hardware evaluation of candidate {id} (genome {g}) failed"))?;
                check_hw(&e).map_err(|why| {
                    anyhow::Error::new(Internal(format!(
                        "hardware objective gave {why} for candidate {id} (genome {g})"
                    )))
                })?;
                Ok(e)
            })
            .collect();
        let mut hw_evals = Vec::with_capacity(results.len());
        for r in results {
            hw_evals.push(r?);
        }
        self.cp.hw_evaluations += misses.len() as u64;
        let batch: Vec<Candidate> = misses
            .iter()
            .zip(&hw_evals)
            .filter(|(_, e)| e.feasible)
            .map(|((id, g), _)| Candidate {
                id: *id,
                genome: g.clone(),
            })
            .collect();
        let accs = if self.real_accuracy && !batch.is_empty() {
            let a = self.acc.evaluate(&batch)?;
            if a.len() != batch.len() {
                bail!(Internal(format!(
                    "accuracy source {} returned {} values for {} candidates",
                    self.acc.name(),
                    a.len(),
                    batch.len()
                )));
            }
            self.cp.accuracy_evaluations += batch.len() as u64;
            batch.iter().map(|c| c.id).zip(a).collect::<HashMap<u64, f64>>()
        } else {
            HashMap::new()
        };
        for ((id, g), e) in misses.iter().zip(hw_evals) {
            let accuracy = accs.get(id).copied();
            if let Some(a) = accuracy
                && !(a.is_finite() && (0.0..=1.0).contains(&a))
            {
                bail!(
                    "accuracy source {} gave {a} for candidate {id} (genome {g}): expected a fraction in 0..=1",
                    self.acc.name()
                );
            }
            let outcome = Outcome {
                feasible: e.feasible,
                latency_ns: if e.feasible {
                    e.latency_ns
                } else {
                    finite_or_zero(e.latency_ns)
                },
                speedup: if e.feasible {
                    e.speedup
                } else {
                    finite_or_zero(e.speedup)
                },
                crossbars_used: e.crossbars_used,
                accuracy,
            };
            self.cache.insert(g.clone(), outcome);
        }
        let fresh: HashSet<u64> = misses.iter().map(|(id, _)| *id).collect();
        let mut out = Vec::with_capacity(genomes.len());
        for (i, (g, k)) in genomes.into_iter().zip(keys).enumerate() {
            let id = first_id + i as u64;
            let outcome = self
                .cache
                .get(&k)
                .cloned()
                .ok_or_else(|| Internal(format!("candidate {id} missing from the cache")))?;
            let cached = !fresh.contains(&id);
            if cached {
                self.cp.cache_hits += 1;
            }
            out.push((
                Member {
                    id,
                    generation,
                    genome: g,
                    outcome,
                },
                cached,
            ));
        }
        self.cp.next_id += out.len() as u64;
        Ok(out)
    }

    fn report(&self, generations: usize) -> GenerationReport {
        let front = self.front();
        let feasible = self.cp.population.iter().filter(|m| m.outcome.feasible);
        let best_speedup = feasible.clone().map(|m| m.outcome.speedup).reduce(f64::max);
        let best_accuracy = feasible.filter_map(|m| m.outcome.accuracy).reduce(f64::max);
        GenerationReport {
            generation: self.cp.generation,
            generations,
            hardware_only: !self.real_accuracy,
            front_size: front.len(),
            best_speedup,
            best_accuracy,
            hw_evaluations: self.cp.hw_evaluations,
            cache_hits: self.cp.cache_hits,
        }
    }

    /// Feasible non-dominated members of the population, one per network, best speed-up first.
    fn front(&self) -> Vec<Member> {
        let pop = &self.cp.population;
        let ranking = Ranking::of(&self.evals(pop));
        let mut seen = HashSet::new();
        let mut front: Vec<Member> = pop
            .iter()
            .enumerate()
            .filter(|(i, m)| ranking.rank[*i] == 0 && m.outcome.feasible)
            .filter(|(_, m)| seen.insert(m.genome.canonical()))
            .map(|(_, m)| m.clone())
            .collect();
        front.sort_by(|a, b| {
            b.outcome
                .speedup
                .total_cmp(&a.outcome.speedup)
                .then(
                    b.outcome
                        .accuracy
                        .unwrap_or(0.0)
                        .total_cmp(&a.outcome.accuracy.unwrap_or(0.0)),
                )
                .then(a.id.cmp(&b.id))
        });
        front
    }

    /// Writes evolution.csv, pareto.json, then the checkpoint (all atomic).
    fn save(&mut self, out: &std::path::Path) -> anyhow::Result<()> {
        write_atomic(&out.join(EVOLUTION), &self.evolution)?;
        write_atomic(&out.join(PARETO), &pareto_json(&self.front())?)?;
        self.cp.rng = self.rng.state();
        self.cp.cache = self
            .cache
            .iter()
            .map(|(g, o)| CacheEntry {
                genome: g.clone(),
                outcome: o.clone(),
            })
            .collect();
        self.cp.save(&out.join(CHECKPOINT))
    }

    /// One NSGA-II generation: children, evaluation, elitist survival.
    fn step(&mut self) -> anyhow::Result<()> {
        let generation = self.cp.generation + 1;
        let pop = &self.cp.population;
        let ranking = Ranking::of(&self.evals(pop));
        let parents: Vec<Genome> = pop.iter().map(|m| m.genome.clone()).collect();
        let ops = genome_ops::OfaOps;
        let children = nsga2::offspring(
            &ops,
            &mut self.rng,
            &parents,
            &ranking,
            self.cp.settings.population,
        );
        let children = self.evaluate(children, generation)?;
        let n_parents = self.cp.population.len();
        let mut all: Vec<Member> = self.cp.population.clone();
        let cached: Vec<bool> = children.iter().map(|(_, c)| *c).collect();
        all.extend(children.into_iter().map(|(m, _)| m));
        let evals = self.evals(&all);
        let combined = Ranking::of(&evals);
        let keep = nsga2::select(&evals, self.cp.settings.population);
        let mut survived = vec![false; all.len()];
        for &i in &keep {
            survived[i] = true;
        }
        let mut rows = Vec::with_capacity(all.len() - n_parents);
        for (j, m) in all.iter().enumerate().skip(n_parents) {
            rows.push(Row {
                generation,
                id: m.id,
                genome: m.genome.canonical(),
                outcome: m.outcome.clone(),
                rank: combined.rank[j],
                survived: survived[j],
                cached: cached[j - n_parents],
            });
        }
        append_rows(&mut self.evolution, &rows)?;
        self.cp.population = keep.iter().map(|&i| all[i].clone()).collect();
        self.cp.generation = generation;
        Ok(())
    }
}

fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// A feasible hardware result must have a positive, finite latency and speed-up.
fn check_hw(e: &HwEval) -> Result<(), String> {
    if e.feasible
        && !(e.latency_ns.is_finite() && e.latency_ns > 0.0 && e.speedup.is_finite() && e.speedup > 0.0)
    {
        return Err(format!("latency {} ns, speed-up {}", e.latency_ns, e.speedup));
    }
    Ok(())
}

const EVOLUTION_HEADER: &str =
    "generation,id,genome,feasible,accuracy,speedup,latency_ns,crossbars_used,rank,survived,cached\n";

/// Appends rows to the evolution.csv text.
fn append_rows(buf: &mut Vec<u8>, rows: &[Row]) -> anyhow::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    for r in rows {
        let o = &r.outcome;
        w.write_record([
            r.generation.to_string(),
            r.id.to_string(),
            r.genome.to_string(),
            o.feasible.to_string(),
            o.accuracy.map(|a| a.to_string()).unwrap_or_default(),
            o.speedup.to_string(),
            o.latency_ns.to_string(),
            o.crossbars_used.to_string(),
            r.rank.to_string(),
            r.survived.to_string(),
            r.cached.to_string(),
        ])?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!(Internal(format!("csv buffer: {e}"))))?;
    buf.extend_from_slice(&bytes);
    Ok(())
}

/// The evolution.csv of a checkpointed run: its rows up to the checkpoint's generation, which
/// must be exactly the candidates 0..next_id (rows of an unfinished generation are dropped).
fn evolution_for(path: &std::path::Path, cp: &Checkpoint) -> anyhow::Result<Vec<u8>> {
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
    if !bytes.starts_with(EVOLUTION_HEADER.as_bytes()) {
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
struct ParetoEntry {
    id: u64,
    generation: usize,
    genome: Genome,
    accuracy: Option<f64>,
    speedup: f64,
    latency_ns: f64,
    crossbars_used: usize,
}

/// pareto.json: an array with one compact object per line.
fn pareto_json(front: &[Member]) -> anyhow::Result<Vec<u8>> {
    let mut text = String::from("[");
    for (i, m) in front.iter().enumerate() {
        let v = ParetoEntry {
            id: m.id,
            generation: m.generation,
            genome: m.genome.canonical(),
            accuracy: m.outcome.accuracy,
            speedup: m.outcome.speedup,
            latency_ns: m.outcome.latency_ns,
            crossbars_used: m.outcome.crossbars_used,
        };
        text.push_str(if i == 0 { "\n  " } else { ",\n  " });
        text.push_str(&serde_json::to_string(&v)?);
    }
    text.push_str(if front.is_empty() { "]\n" } else { "\n]\n" });
    Ok(text.into_bytes())
}

/// Runs (or resumes) a search; see the module documentation.
pub fn run(
    cfg: &SearchConfig,
    hw: &dyn HwObjective,
    acc: &mut dyn AccuracySource,
    progress: &mut dyn Progress,
) -> anyhow::Result<SearchSummary> {
    let start = Instant::now();
    if !(2..=MAX_POPULATION).contains(&cfg.population) {
        bail!(
            "--population must be between 2 and {MAX_POPULATION} (got {})",
            cfg.population
        );
    }
    if !(1..=MAX_BUDGET).contains(&cfg.budget) {
        bail!(
            "--budget must be between 1 and {MAX_BUDGET} crossbars (got {})",
            cfg.budget
        );
    }
    if cfg.classes == 0 {
        bail!("classes must be at least 1");
    }
    // Every subnet shares the stem and strides, so the smallest one tells whether the input fits.
    ofa::build(&Genome::smallest(), cfg.input, cfg.classes)
        .with_context(|| format!("--input {}", cfg.input))?;
    let settings = Settings {
        seed: cfg.seed,
        budget: cfg.budget,
        input: cfg.input,
        classes: cfg.classes,
        population: cfg.population,
        mutation_rate: genome_ops::MUTATION_RATE,
        accuracy: acc.name(),
        baseline: hw.baseline_json().to_string(),
    };
    let real_accuracy = acc.is_real();
    let cp_path = cfg.out.join(CHECKPOINT);
    let mut resumed_after = None;
    let mut run = if cfg.resume {
        if !cp_path.exists() {
            bail!(
                "--resume: no {} to continue (start without --resume)",
                cp_path.display()
            );
        }
        let cp = Checkpoint::load(&cp_path)?;
        if let Some(diff) = cp.settings.difference(&settings) {
            bail!("--resume: cannot continue {}: {diff}", cp_path.display());
        }
        resumed_after = Some(cp.generation);
        let evolution = evolution_for(&cfg.out.join(EVOLUTION), &cp)?;
        let cache = cp
            .cache
            .iter()
            .map(|c| (c.genome.clone(), c.outcome.clone()))
            .collect();
        let rng = Rng::from_state(cp.rng);
        Run {
            cp,
            evolution,
            cache,
            rng,
            hw,
            acc,
            real_accuracy,
        }
    } else {
        if cp_path.exists() {
            bail!(
                "{} already holds a search ({CHECKPOINT}); pass --resume to continue it or choose another --out",
                cfg.out.display()
            );
        }
        std::fs::create_dir_all(&cfg.out)
            .with_context(|| format!("cannot create --out {}", cfg.out.display()))?;
        let mut rng = Rng::seed(cfg.seed);
        let genomes = nsga2::initial(&genome_ops::OfaOps, &mut rng, cfg.population);
        let cp = Checkpoint {
            format: checkpoint::FORMAT,
            settings,
            generation: 0,
            rng: rng.state(),
            next_id: 0,
            hw_evaluations: 0,
            accuracy_evaluations: 0,
            cache_hits: 0,
            population: Vec::new(),
            cache: Vec::new(),
        };
        let mut run = Run {
            cp,
            evolution: EVOLUTION_HEADER.as_bytes().to_vec(),
            cache: BTreeMap::new(),
            rng,
            hw,
            acc,
            real_accuracy,
        };
        progress.start(0, cfg.generations, !real_accuracy);
        let members = run.evaluate(genomes, 0)?;
        let pop: Vec<Member> = members.iter().map(|(m, _)| m.clone()).collect();
        let ranking = Ranking::of(&run.evals(&pop));
        let mut rows = Vec::with_capacity(pop.len());
        for (i, (m, cached)) in members.into_iter().enumerate() {
            rows.push(Row {
                generation: 0,
                id: m.id,
                genome: m.genome.canonical(),
                outcome: m.outcome,
                rank: ranking.rank[i],
                survived: true,
                cached,
            });
        }
        append_rows(&mut run.evolution, &rows)?;
        run.cp.population = pop;
        run.save(&cfg.out)?;
        progress.generation(&run.report(cfg.generations));
        run
    };
    if let Some(done) = resumed_after {
        // Rewrite the outputs from the checkpoint, in case the run stopped between files.
        run.save(&cfg.out)?;
        progress.start(done, cfg.generations, !real_accuracy);
    }
    while run.cp.generation < cfg.generations {
        run.step()?;
        run.save(&cfg.out)?;
        progress.generation(&run.report(cfg.generations));
    }
    Ok(SearchSummary {
        last: run.report(cfg.generations),
        front: run.front(),
        accuracy_evaluations: run.cp.accuracy_evaluations,
        resumed_after,
        elapsed: start.elapsed(),
        out: cfg.out.clone(),
    })
}
