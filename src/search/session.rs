//! The search as an ask/tell session (the idiom of pymoo and Optuna): the driver asks for the
//! candidates of a generation that need an accuracy, measures them however it likes, and
//! tells the accuracies back; the session does everything else (NSGA-II, hardware
//! evaluation, outputs, checkpoint). [`super::run`] is a loop over the same session, so a
//! driver telling the accuracies an [`crate::accuracy::AccuracySource`] would give writes
//! byte-identical files.
//!
//! ```no_run
//! use rnc::compile::Effort;
//! use rnc::hardware::HwConfig;
//! use rnc::search::{Session, SessionConfig, search_evaluator};
//!
//! # fn main() -> anyhow::Result<()> {
//! let hw = search_evaluator(HwConfig::embedded_default(), 168, 64, Effort::Fast)?;
//! let config = SessionConfig {
//!     accuracy: Some("my-trainer".into()),
//!     ..SessionConfig::new(168)
//! };
//! let mut s = Session::new(&config, "run", hw)?;
//! while !s.done() {
//!     let batch = s.ask()?;
//!     // Any accuracy in 0..=1 per asked candidate (here a stand-in from the genome text).
//!     let acc: Vec<(u64, f64)> = batch.iter().map(|c| (c.id, 0.5 + c.text.len() as f64 / 1e3)).collect();
//!     s.tell(&acc)?;
//! }
//! println!("{} networks on the front", s.pareto().len());
//! # Ok(())
//! # }
//! ```

use super::checkpoint::{self, CacheEntry, Checkpoint, Settings};
use super::nsga2::{self, Ranking};
use super::objectives::{Objective, Objectives};
use super::rng::Rng;
use super::space::{Genes, Space, SpaceOps};
use super::{
    CHECKPOINT, EVOLUTION, GenerationReport, HwEval, HwObjective, MAX_BUDGET, MAX_POPULATION, Member,
    Outcome, PARETO, Row, append_rows, check_hw, evolution_for, evolution_header, finite_or_zero, genome_ops,
    pareto_json,
};
use crate::error::{Internal, write_atomic};
use crate::network::{Network, ofa};
use anyhow::{Context, bail};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// What defines a new search.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionConfig {
    pub seed: u64,
    /// Crossbar budget N (the hardware objective should be built for the same budget).
    pub budget: usize,
    /// Square input size (builds the OFA subnets; recorded for custom spaces).
    pub input: usize,
    pub classes: usize,
    pub population: usize,
    /// Generations after the initial population (generation 0).
    pub generations: usize,
    pub space: Space,
    /// Name of the accuracy objective, recorded in the checkpoint (a resume must give the
    /// same one): e.g. `external:./eval.py` or `python`. `None` = hardware-only search (one
    /// objective, speed-up; [`Session::ask`] then returns no candidates), recorded as `none`.
    pub accuracy: Option<String>,
    /// Also minimise the energy per inference ([`Objective::Energy`]): the objectives are
    /// accuracy (with an accuracy name), speed-up and energy.
    pub energy: bool,
}

impl SessionConfig {
    /// The CLI's defaults for `budget`: seed 1, input 64, 10 classes, population 50,
    /// 100 generations, the OFA space, hardware-only.
    pub fn new(budget: usize) -> SessionConfig {
        SessionConfig {
            seed: 1,
            budget,
            input: 64,
            classes: 10,
            population: 50,
            generations: 100,
            space: Space::Ofa,
            accuracy: None,
            energy: false,
        }
    }
}

/// A new network of the current generation.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Search-wide id, as in `evolution.csv`.
    pub id: u64,
    /// The genome (canonical form for OFA genomes; choice indices for a custom space, whose
    /// values [`Space::values`] gives).
    pub genome: Genes,
    /// The genome as the outputs show it, JSON: OFA `{"ks":[…],"e":[…],"d":[…]}`, a custom
    /// space `{"gene":value,…}` in gene order.
    pub text: String,
}

/// Builds a candidate's network for a custom space. Called on the caller's thread, one
/// candidate at a time in id order, only for networks not evaluated before.
pub type Builder<'h> = dyn FnMut(&Candidate) -> anyhow::Result<Network> + Send + 'h;

/// A generation asked but not yet told.
struct Pending {
    generation: usize,
    /// The generation's genomes as evolved (ids `first_id..`), and their canonical forms.
    genomes: Vec<Genes>,
    keys: Vec<Genes>,
    first_id: u64,
    /// Networks not seen before (first occurrence), with their hardware results.
    misses: Vec<(u64, Genes, HwEval)>,
    /// The feasible misses, when the search has an accuracy objective.
    asked: Vec<Candidate>,
}

/// An NSGA-II search driven by ask/tell; see the module documentation.
///
/// Files in the output folder are written after every [`Session::tell`], atomically, in the
/// order `evolution.csv`, `pareto.json`, `checkpoint.json`; a process killed anywhere resumes
/// ([`Session::resume`]) to the same files as an uninterrupted run.
pub struct Session<'h> {
    out: PathBuf,
    space: Space,
    generations: usize,
    real_accuracy: bool,
    objectives: Objectives,
    cp: Checkpoint,
    /// evolution.csv as written so far (header included).
    evolution: Vec<u8>,
    cache: BTreeMap<Genes, Outcome>,
    rng: Rng,
    hw: Box<dyn HwObjective + Send + 'h>,
    builder: Option<Box<Builder<'h>>>,
    pending: Option<Pending>,
    resumed_after: Option<usize>,
    /// The final front re-mapped at default effort, by canonical genome (not checkpointed:
    /// recomputed, deterministically, by a resume of a finished search).
    finals: BTreeMap<Genes, HwEval>,
}

/// The settings a configuration records, checked as `rnc search` checks its flags.
fn settings(config: &SessionConfig, hw: &dyn HwObjective) -> anyhow::Result<Settings> {
    if !(2..=MAX_POPULATION).contains(&config.population) {
        bail!(
            "--population must be between 2 and {MAX_POPULATION} (got {})",
            config.population
        );
    }
    if !(1..=MAX_BUDGET).contains(&config.budget) {
        bail!(
            "--budget must be between 1 and {MAX_BUDGET} crossbars (got {})",
            config.budget
        );
    }
    if config.classes == 0 {
        bail!("classes must be at least 1");
    }
    let space = match &config.space {
        Space::Ofa => {
            // Every subnet shares the stem and strides, so the smallest one tells whether the
            // input fits.
            ofa::build(&ofa::Genome::smallest(), config.input, config.classes)
                .with_context(|| format!("--input {}", config.input))?;
            None
        }
        Space::Custom(genes) => {
            Space::custom(genes.clone())?;
            Some(genes.clone())
        }
    };
    let accuracy = match &config.accuracy {
        None => "none".to_string(),
        Some(n) if n == "none" || n.trim().is_empty() => {
            bail!("accuracy name '{n}' is not allowed: 'none' (no name) means a hardware-only search")
        }
        Some(n) => n.clone(),
    };
    let objectives = Objectives::new(config.accuracy.is_some(), config.energy);
    Ok(Settings {
        seed: config.seed,
        budget: config.budget,
        input: config.input,
        classes: config.classes,
        population: config.population,
        mutation_rate: genome_ops::MUTATION_RATE,
        accuracy,
        baseline: hw.baseline_json().to_string(),
        space,
        objectives: Settings::objectives_field(&objectives),
    })
}

impl<'h> Session<'h> {
    /// Starts a search in `out` (created if needed; refused if it already holds one).
    /// Nothing is written before the first [`Session::tell`].
    pub fn new(
        config: &SessionConfig,
        out: impl AsRef<Path>,
        objective: impl HwObjective + Send + 'h,
    ) -> anyhow::Result<Session<'h>> {
        let out = out.as_ref().to_path_buf();
        let settings = settings(config, &objective)?;
        if out.join(CHECKPOINT).exists() {
            bail!(
                "{} already holds a search ({CHECKPOINT}); pass --resume to continue it or choose another --out",
                out.display()
            );
        }
        std::fs::create_dir_all(&out).with_context(|| format!("cannot create --out {}", out.display()))?;
        let rng = Rng::seed(config.seed);
        let objectives = settings.objectives();
        let cp = Checkpoint {
            format: checkpoint::FORMAT,
            settings,
            generation: 0,
            generations: Some(config.generations),
            rng: rng.state(),
            next_id: 0,
            hw_evaluations: 0,
            accuracy_evaluations: 0,
            cache_hits: 0,
            population: Vec::new(),
            cache: Vec::new(),
        };
        Ok(Session {
            out,
            space: config.space.clone(),
            generations: config.generations,
            real_accuracy: config.accuracy.is_some(),
            evolution: evolution_header(&objectives).as_bytes().to_vec(),
            objectives,
            cp,
            cache: BTreeMap::new(),
            rng,
            hw: Box::new(objective),
            builder: None,
            pending: None,
            resumed_after: None,
            finals: BTreeMap::new(),
        })
    }

    /// Continues the search in `out` from its checkpoint, with the settings, space and
    /// generation count it records (a hardware objective other than the checkpoint's is
    /// refused, naming the difference). Rewrites the outputs from the checkpoint, in case the
    /// run stopped between files. A custom space needs its builder again
    /// ([`Session::set_builder`]).
    pub fn resume(
        out: impl AsRef<Path>,
        objective: impl HwObjective + Send + 'h,
    ) -> anyhow::Result<Session<'h>> {
        let out = out.as_ref();
        let cp = load(out)?;
        let now = Settings {
            baseline: objective.baseline_json().to_string(),
            ..cp.settings.clone()
        };
        let generations = cp.generations.unwrap_or(cp.generation);
        Session::reopen(out, cp, now, generations, objective)
    }

    /// [`Session::resume`] that also refuses any setting of `config` other than the
    /// checkpoint's (naming the first difference); the generation count is `config`'s, so it
    /// may be raised. This is `rnc search --resume`.
    pub fn resume_as(
        config: &SessionConfig,
        out: impl AsRef<Path>,
        objective: impl HwObjective + Send + 'h,
    ) -> anyhow::Result<Session<'h>> {
        let now = settings(config, &objective)?;
        let cp = load(out.as_ref())?;
        Session::reopen(out.as_ref(), cp, now, config.generations, objective)
    }

    fn reopen(
        out: &Path,
        cp: Checkpoint,
        now: Settings,
        generations: usize,
        objective: impl HwObjective + Send + 'h,
    ) -> anyhow::Result<Session<'h>> {
        let cp_path = out.join(CHECKPOINT);
        if let Some(diff) = cp.settings.difference(&now) {
            bail!("--resume: cannot continue {}: {diff}", cp_path.display());
        }
        let evolution = evolution_for(&out.join(EVOLUTION), &cp)?;
        let cache = cp
            .cache
            .iter()
            .map(|c| (c.genome.clone(), c.outcome.clone()))
            .collect();
        let rng = Rng::from_state(cp.rng);
        let mut s = Session {
            out: out.to_path_buf(),
            space: cp.settings.space(),
            generations,
            real_accuracy: cp.settings.accuracy != "none",
            objectives: cp.settings.objectives(),
            resumed_after: Some(cp.generation),
            cp,
            evolution,
            cache,
            rng,
            hw: Box::new(objective),
            builder: None,
            pending: None,
            finals: BTreeMap::new(),
        };
        s.save()?;
        Ok(s)
    }

    /// The builder [`Session::ask`] uses for a custom space (unused for the OFA space).
    pub fn set_builder(&mut self, builder: Box<Builder<'h>>) {
        self.builder = Some(builder);
    }

    /// Sets the number of generations after generation 0 (e.g. to continue a finished run).
    pub fn set_generations(&mut self, generations: usize) {
        self.generations = generations;
    }

    /// The generations the search runs after generation 0.
    pub fn generations(&self) -> usize {
        self.generations
    }

    /// The last completed generation (`None` before generation 0 is told).
    pub fn generation(&self) -> Option<usize> {
        (!self.cp.population.is_empty()).then_some(self.cp.generation)
    }

    /// Whether every generation has been told.
    pub fn done(&self) -> bool {
        self.generation().is_some_and(|g| g >= self.generations)
    }

    /// The search space.
    pub fn space(&self) -> &Space {
        &self.space
    }

    /// The output folder.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Whether the search has an accuracy objective (otherwise it is hardware-only).
    pub fn has_accuracy(&self) -> bool {
        self.real_accuracy
    }

    /// The objectives (accuracy when it has one, speed-up, energy when asked).
    pub fn objectives(&self) -> &Objectives {
        &self.objectives
    }

    /// The generation the session resumed after, if it was resumed.
    pub fn resumed_after(&self) -> Option<usize> {
        self.resumed_after
    }

    /// Accuracies told so far (over the whole search, resumed parts included).
    pub fn accuracy_evaluations(&self) -> u64 {
        self.cp.accuracy_evaluations
    }

    /// The next generation's new networks that need an accuracy: with the OFA space, or a
    /// custom space and a builder set by [`Session::set_builder`]. See [`Session::ask_with`].
    pub fn ask(&mut self) -> anyhow::Result<Vec<Candidate>> {
        let mut builder = self.builder.take();
        let r = match builder.as_deref_mut() {
            Some(b) => self.ask_with(b),
            None if matches!(self.space, Space::Custom(_)) && self.pending.is_none() => Err(anyhow::anyhow!(
                "a custom search space needs a builder for its networks (Session::set_builder or Session::ask_with)"
            )),
            None => self.ask_with(&mut |_: &Candidate| -> anyhow::Result<Network> {
                Err(anyhow::anyhow!(Internal("OFA networks are built by rnc".into())))
            }),
        };
        self.builder = builder;
        r
    }

    /// Draws the next generation (the initial population first), builds the networks not
    /// seen before (OFA: by rnc; custom: by `build`, one at a time in id order), evaluates
    /// them on the hardware in parallel (results independent of the thread count), and returns
    /// the feasible ones to score, in id order (none for a hardware-only search). Asking again
    /// before [`Session::tell`] returns the same candidates. On error nothing changes: asking
    /// again draws the same generation.
    pub fn ask_with(
        &mut self,
        build: &mut dyn FnMut(&Candidate) -> anyhow::Result<Network>,
    ) -> anyhow::Result<Vec<Candidate>> {
        if let Some(p) = &self.pending {
            return Ok(p.asked.clone());
        }
        if self.done() {
            bail!(
                "the search is done (generation {} of {}); raise the generations to continue",
                self.cp.generation,
                self.generations
            );
        }
        let population = self.cp.settings.population;
        let generation = match self.generation() {
            None => 0,
            Some(g) => g + 1,
        };
        let mut rng = self.rng.clone();
        let ops = SpaceOps(&self.space);
        let genomes = if generation == 0 {
            nsga2::initial(&ops, &mut rng, population)
        } else {
            let pop = &self.cp.population;
            let ranking = Ranking::of(&self.evals(pop));
            let parents: Vec<Genes> = pop.iter().map(|m| m.genome.clone()).collect();
            nsga2::offspring(&ops, &mut rng, &parents, &ranking, population)
        };
        let first_id = self.cp.next_id;
        let keys: Vec<Genes> = genomes.iter().map(Genes::canonical).collect();
        // First occurrence of each unseen network in this batch, with its candidate id.
        let mut misses: Vec<Candidate> = Vec::new();
        let mut in_batch: HashSet<&Genes> = HashSet::new();
        for (i, k) in keys.iter().enumerate() {
            if !self.cache.contains_key(k) && in_batch.insert(k) {
                misses.push(Candidate {
                    id: first_id + i as u64,
                    genome: k.clone(),
                    text: self.space.show(k),
                });
            }
        }
        // A user builder may hold a lock (Python's GIL): it runs here, sequentially; OFA
        // networks are built inside the parallel evaluation.
        let mut nets: Vec<Option<Network>> = Vec::with_capacity(misses.len());
        for c in &misses {
            nets.push(match &c.genome {
                Genes::Ofa(_) => None,
                Genes::Choices(_) => Some(
                    build(c)
                        .with_context(|| format!("cannot build candidate {} (genome {})", c.id, c.text))?,
                ),
            });
        }
        let (input, classes) = (self.cp.settings.input, self.cp.settings.classes);
        let hw = &*self.hw;
        let energy = self.objectives.has(Objective::Energy);
        let results: Vec<anyhow::Result<HwEval>> = misses
            .par_iter()
            .zip(nets.par_iter())
            .map(|(c, net)| {
                let (id, g) = (c.id, &c.text);
                let built;
                let net = match (net, &c.genome) {
                    (Some(n), _) => n,
                    (None, Genes::Ofa(o)) => {
                        built = ofa::build(o, input, classes)
                            .with_context(|| format!("cannot build candidate {id} (genome {g})"))?;
                        &built
                    }
                    (None, Genes::Choices(_)) => {
                        bail!(Internal(format!("candidate {id} has no network")))
                    }
                };
                // A panic in the compiler must not take a long search down without saying
                // which candidate caused it (the last checkpoint stays intact either way).
                let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hw.evaluate(net)))
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
                check_hw(&e, energy).map_err(|why| {
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
        let asked: Vec<Candidate> = if self.real_accuracy {
            misses
                .iter()
                .zip(&hw_evals)
                .filter(|(_, e)| e.feasible)
                .map(|(c, _)| c.clone())
                .collect()
        } else {
            Vec::new()
        };
        self.rng = rng;
        self.cp.hw_evaluations += misses.len() as u64;
        self.pending = Some(Pending {
            generation,
            genomes,
            keys,
            first_id,
            misses: misses
                .into_iter()
                .zip(hw_evals)
                .map(|(c, e)| (c.id, c.genome, e))
                .collect(),
            asked: asked.clone(),
        });
        Ok(asked)
    }

    /// Completes the asked generation with one accuracy (a fraction in 0..=1) per asked
    /// candidate, in any order: elitist survival, then `evolution.csv`, `pareto.json` and
    /// `checkpoint.json` are written. An unknown, repeated, missing or out-of-range entry is
    /// an error naming the candidate, and leaves the session as it was (tell again).
    pub fn tell(&mut self, accuracies: &[(u64, f64)]) -> anyhow::Result<()> {
        let Some(p) = &self.pending else {
            bail!("nothing to tell: ask for the next generation's candidates first");
        };
        let name = &self.cp.settings.accuracy;
        if !self.real_accuracy
            && let Some((id, _)) = accuracies.first()
        {
            bail!("a hardware-only search (accuracy none) takes no accuracies, got one for candidate {id}");
        }
        let asked: HashMap<u64, &Candidate> = p.asked.iter().map(|c| (c.id, c)).collect();
        let mut given: HashMap<u64, f64> = HashMap::with_capacity(accuracies.len());
        for &(id, a) in accuracies {
            if !asked.contains_key(&id) {
                bail!(
                    "candidate {id} was not asked for an accuracy in generation {}",
                    p.generation
                );
            }
            if given.insert(id, a).is_some() {
                bail!("candidate {id} is given an accuracy twice");
            }
        }
        for c in &p.asked {
            match given.get(&c.id) {
                None => bail!("no accuracy for candidate {} (genome {})", c.id, c.text),
                Some(a) if !(a.is_finite() && (0.0..=1.0).contains(a)) => bail!(
                    "accuracy source {name} gave {a} for candidate {} (genome {}): expected a fraction in 0..=1",
                    c.id,
                    c.text
                ),
                Some(_) => {}
            }
        }
        let Some(p) = self.pending.take() else {
            bail!(Internal("pending generation vanished".into()));
        };
        self.cp.accuracy_evaluations += p.asked.len() as u64;
        let energy = self.objectives.has(Objective::Energy);
        let mut fresh = HashSet::with_capacity(p.misses.len());
        for (id, g, e) in p.misses {
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
                accuracy: given.get(&id).copied(),
                energy_nj: if energy && e.feasible { e.energy_nj } else { None },
            };
            self.cache.insert(g, outcome);
            fresh.insert(id);
        }
        let generation = p.generation;
        let mut children = Vec::with_capacity(p.genomes.len());
        let mut cached = Vec::with_capacity(p.genomes.len());
        for (i, (g, k)) in p.genomes.into_iter().zip(p.keys).enumerate() {
            let id = p.first_id + i as u64;
            let outcome = self
                .cache
                .get(&k)
                .cloned()
                .ok_or_else(|| Internal(format!("candidate {id} missing from the cache")))?;
            let hit = !fresh.contains(&id);
            if hit {
                self.cp.cache_hits += 1;
            }
            cached.push(hit);
            children.push(Member {
                id,
                generation,
                genome: g,
                outcome,
            });
        }
        self.cp.next_id += children.len() as u64;
        if generation == 0 {
            let ranking = Ranking::of(&self.evals(&children));
            let rows: Vec<Row> = children
                .iter()
                .enumerate()
                .map(|(i, m)| Row {
                    generation: 0,
                    id: m.id,
                    genome: self.space.show(&m.genome),
                    outcome: m.outcome.clone(),
                    rank: ranking.rank[i],
                    survived: true,
                    cached: cached[i],
                })
                .collect();
            append_rows(&mut self.evolution, &rows, energy)?;
            self.cp.population = children;
        } else {
            let n_parents = self.cp.population.len();
            let mut all: Vec<Member> = std::mem::take(&mut self.cp.population);
            all.extend(children);
            let evals = self.evals(&all);
            let combined = Ranking::of(&evals);
            let keep = nsga2::select(&evals, self.cp.settings.population);
            let mut survived = vec![false; all.len()];
            for &i in &keep {
                survived[i] = true;
            }
            let rows: Vec<Row> = all
                .iter()
                .enumerate()
                .skip(n_parents)
                .map(|(j, m)| Row {
                    generation,
                    id: m.id,
                    genome: self.space.show(&m.genome),
                    outcome: m.outcome.clone(),
                    rank: combined.rank[j],
                    survived: survived[j],
                    cached: cached[j - n_parents],
                })
                .collect();
            append_rows(&mut self.evolution, &rows, energy)?;
            self.cp.population = keep.iter().map(|&i| all[i].clone()).collect();
        }
        self.cp.generation = generation;
        self.save()
    }

    fn evals(&self, members: &[Member]) -> Vec<nsga2::Evaluation> {
        members
            .iter()
            .map(|m| m.outcome.evaluation(&self.objectives, self.cp.settings.budget))
            .collect()
    }

    /// Feasible non-dominated members of the population, one per network, best speed-up
    /// first (what `pareto.json` holds).
    pub fn pareto(&self) -> Vec<Member> {
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

    /// The current population (empty before generation 0 is told).
    pub fn population(&self) -> &[Member] {
        &self.cp.population
    }

    /// Progress after the last completed generation.
    pub fn report(&self) -> GenerationReport {
        let front = self.pareto();
        let feasible = self.cp.population.iter().filter(|m| m.outcome.feasible);
        let best_speedup = feasible.clone().map(|m| m.outcome.speedup).reduce(f64::max);
        let best_accuracy = feasible
            .clone()
            .filter_map(|m| m.outcome.accuracy)
            .reduce(f64::max);
        let best_energy_nj = feasible.filter_map(|m| m.outcome.energy_nj).reduce(f64::min);
        GenerationReport {
            generation: self.cp.generation,
            generations: self.generations,
            hardware_only: !self.real_accuracy,
            front_size: front.len(),
            best_speedup,
            best_accuracy,
            best_energy_nj,
            hw_evaluations: self.cp.hw_evaluations,
            cache_hits: self.cp.cache_hits,
        }
    }

    /// The final front's figures at the compiler's default effort for `genome` (known once
    /// the search is done, for OFA genomes of the front; `None` otherwise).
    pub fn final_figures(&self, genome: &Genes) -> Option<HwEval> {
        self.finals.get(&genome.canonical()).copied()
    }

    /// Once the search is done: re-maps the front's OFA networks not re-mapped yet through
    /// [`HwObjective::evaluate_final`], in parallel, collected in order. A custom space's
    /// networks come from the caller's builder and keep the search's figures only.
    fn remap_final_front(&mut self) -> anyhow::Result<()> {
        if !self.done() {
            return Ok(());
        }
        let todo: Vec<(Genes, ofa::Genome)> = self
            .pareto()
            .iter()
            .map(|m| m.genome.canonical())
            .filter(|g| !self.finals.contains_key(g))
            .filter_map(|g| g.ofa().cloned().map(|o| (g, o)))
            .collect();
        let (input, classes) = (self.cp.settings.input, self.cp.settings.classes);
        let hw = &*self.hw;
        let results: Vec<anyhow::Result<Option<HwEval>>> = todo
            .par_iter()
            .map(|(g, o)| {
                let net = ofa::build(o, input, classes)?;
                hw.evaluate_final(&net)
                    .with_context(|| format!("re-mapping {} at default effort failed", self.space.show(g)))
            })
            .collect();
        for ((g, _), r) in todo.into_iter().zip(results) {
            if let Some(e) = r? {
                check_hw(&e, false).map_err(|why| {
                    anyhow::Error::new(Internal(format!(
                        "hardware objective gave {why} re-mapping the front"
                    )))
                })?;
                self.finals.insert(g, e);
            }
        }
        Ok(())
    }

    /// Writes evolution.csv, pareto.json, then the checkpoint (all atomic).
    fn save(&mut self) -> anyhow::Result<()> {
        self.remap_final_front()?;
        write_atomic(&self.out.join(EVOLUTION), &self.evolution)?;
        write_atomic(
            &self.out.join(PARETO),
            &pareto_json(&self.pareto(), &self.space, &self.finals)?,
        )?;
        self.cp.rng = self.rng.state();
        self.cp.generations = Some(self.generations);
        self.cp.cache = self
            .cache
            .iter()
            .map(|(g, o)| CacheEntry {
                genome: g.clone(),
                outcome: o.clone(),
            })
            .collect();
        self.cp.save(&self.out.join(CHECKPOINT))
    }
}

fn load(out: &Path) -> anyhow::Result<Checkpoint> {
    let cp_path = out.join(CHECKPOINT);
    if !cp_path.exists() {
        bail!(
            "--resume: no {} to continue (start without --resume)",
            cp_path.display()
        );
    }
    Checkpoint::load(&cp_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_can_move_between_threads() {
        fn send<T: Send>() {}
        send::<Session<'static>>();
    }
}
