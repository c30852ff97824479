//! Event-driven simulation of a mapped network (SPEC §8).
//!
//! A layer execution (layer i, sample s) holds every crossbar that hosts a tile of layer i
//! for t_i. It may start once its predecessors finished sample s, layer i finished sample
//! s−1, and all its crossbars are free. At each event time the ready executions are scanned
//! by (earlier ready time, deeper layer, lower sample); each whose crossbars are all free
//! starts, and a blocked one does not stop later ones.

use serde::Serialize;
use std::borrow::Cow;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// What the simulator needs to know about a mapping.
#[derive(Clone, Debug)]
pub struct SimInput<'a> {
    /// t_i in ns per layer.
    pub layer_time_ns: &'a [f64],
    /// Crossbars hosting each layer (any order, duplicates allowed).
    pub layer_crossbars: &'a [Vec<u32>],
    /// Predecessors of each layer (from `Network::predecessors`).
    pub preds: &'a [Vec<usize>],
    /// Number of crossbars in the mapping (ids are below this).
    pub crossbars: usize,
    pub samples: usize,
    /// Keep every execution for a trace.
    pub trace: bool,
}

/// One layer execution.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Execution {
    pub layer: usize,
    pub sample: usize,
    pub start_ns: f64,
    pub end_ns: f64,
}

/// Simulation results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimResult {
    pub samples: usize,
    /// Finish time of the last sample.
    pub latency_ns: f64,
    /// The same copies with every tile on a private crossbar (no contention).
    pub ideal_latency_ns: f64,
    /// Steady-state period bound: max(max crossbar load, max t_i).
    pub period_ns: f64,
    /// Largest per-sample work on one crossbar (Σ t of the layers it hosts).
    pub max_crossbar_load_ns: f64,
    /// Largest layer time.
    pub max_layer_time_ns: f64,
    /// Busy time / latency per crossbar.
    pub busy_fraction: Vec<f64>,
    #[serde(skip)]
    pub trace: Vec<Execution>,
}

impl SimResult {
    /// ideal / actual latency: 1 means no time is lost to contention.
    pub fn contention_efficiency(&self) -> f64 {
        if self.latency_ns > 0.0 {
            self.ideal_latency_ns / self.latency_ns
        } else {
            1.0
        }
    }
}

/// Errors from inconsistent inputs (a bug in the caller, never user input).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simulation input has {0} layer times but {1} crossbar lists and {2} predecessor lists")]
    Lengths(usize, usize, usize),
    #[error("layer {0} is mapped to crossbar {1}, beyond the {2} crossbars of the mapping")]
    Crossbar(usize, u32, usize),
    #[error("layer {0} has predecessor {1}, which is not an earlier layer")]
    Pred(usize, usize),
    #[error("layer {0} has no crossbar")]
    Unmapped(usize),
    #[error("layer {0} has an invalid time {1}")]
    Time(usize, f64),
}

/// A time that orders totally (times are finite and non-negative).
#[derive(Clone, Copy, Debug, PartialEq)]
struct T(f64);
impl Eq for T {}
impl PartialOrd for T {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for T {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0)
    }
}

fn validate(input: &SimInput) -> Result<(), SimError> {
    let n = input.layer_time_ns.len();
    if input.layer_crossbars.len() != n || input.preds.len() != n {
        return Err(SimError::Lengths(
            n,
            input.layer_crossbars.len(),
            input.preds.len(),
        ));
    }
    for i in 0..n {
        let t = input.layer_time_ns[i];
        if !t.is_finite() || t < 0.0 {
            return Err(SimError::Time(i, t));
        }
        if input.layer_crossbars[i].is_empty() {
            return Err(SimError::Unmapped(i));
        }
        if let Some(&c) = input.layer_crossbars[i]
            .iter()
            .find(|&&c| c as usize >= input.crossbars)
        {
            return Err(SimError::Crossbar(i, c, input.crossbars));
        }
        if let Some(&p) = input.preds[i].iter().find(|&&p| p >= i) {
            return Err(SimError::Pred(i, p));
        }
    }
    Ok(())
}

/// The contention-free schedule, C(s,i) = max(C(s,preds), C(s−1,i)) + t_i: `run(layer, start,
/// end)` for every execution, sample by sample, layers in order.
pub fn contention_free(
    layer_time_ns: &[f64],
    preds: &[Vec<usize>],
    samples: usize,
    mut run: impl FnMut(usize, f64, f64),
) {
    let n = layer_time_ns.len();
    let mut prev = vec![0.0f64; n];
    let mut cur = vec![0.0f64; n];
    for _ in 0..samples {
        for i in 0..n {
            let ready = preds[i].iter().map(|&p| cur[p]).fold(prev[i], f64::max);
            cur[i] = ready + layer_time_ns[i];
            run(i, ready, cur[i]);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
}

/// Contention-free finish time of the last sample (every finish time grows with the sample).
pub fn ideal_latency(layer_time_ns: &[f64], preds: &[Vec<usize>], samples: usize) -> f64 {
    let mut last = 0.0f64;
    contention_free(layer_time_ns, preds, samples, |_, _, end| last = last.max(end));
    last
}

/// Runs the event-driven simulation.
pub fn simulate(input: &SimInput) -> Result<SimResult, SimError> {
    validate(input)?;
    let n = input.layer_time_ns.len();
    let t = input.layer_time_ns;
    // Lists already sorted without repeats (the optimizer's) are used as they are.
    let xbars: Vec<Cow<[u32]>> = input
        .layer_crossbars
        .iter()
        .map(|v| {
            if v.windows(2).all(|w| w[0] < w[1]) {
                Cow::Borrowed(v.as_slice())
            } else {
                let mut v = v.clone();
                v.sort_unstable();
                v.dedup();
                Cow::Owned(v)
            }
        })
        .collect();
    let mut succs = vec![Vec::new(); n];
    for (i, ps) in input.preds.iter().enumerate() {
        for &p in ps {
            succs[p].push(i);
        }
    }
    // Per crossbar load and busy time.
    let mut load = vec![0.0f64; input.crossbars];
    for (i, xs) in xbars.iter().enumerate() {
        for &c in xs.iter() {
            load[c as usize] += t[i];
        }
    }
    let max_load = load.iter().copied().fold(0.0, f64::max);
    let max_t = t.iter().copied().fold(0.0, f64::max);
    let ideal = ideal_latency(t, input.preds, input.samples);

    let samples = input.samples;
    let mut trace = Vec::new();
    let mut latency = 0.0f64;
    let mut busy = vec![0.0f64; input.crossbars];
    // done[i]: samples of layer i finished; running/queued: (i, done[i]) started / in `ready`.
    let mut done = vec![0usize; n];
    let mut running = vec![false; n];
    let mut queued = vec![false; n];
    let mut free = vec![true; input.crossbars];
    // Ready executions in priority order: earlier ready time, deeper layer, lower sample.
    // (At most one entry per layer: a sorted vector beats a tree at these sizes.)
    let mut ready: Vec<(T, Reverse<usize>, usize)> = Vec::with_capacity(n);
    let insert = |ready: &mut Vec<(T, Reverse<usize>, usize)>, e: (T, Reverse<usize>, usize)| {
        let at = ready.partition_point(|x| *x < e);
        ready.insert(at, e);
    };
    let mut events: BinaryHeap<Reverse<(T, usize, usize)>> = BinaryHeap::new();
    let preds = input.preds;
    // A layer's next sample is ready once its predecessors are past it and it is idle; the
    // check runs exactly when one of those conditions changes, so the ready time is `now`.
    let can_queue = |i: usize, done: &[usize], running: &[bool], queued: &[bool]| {
        let s = done[i];
        s < samples && !running[i] && !queued[i] && preds[i].iter().all(|&p| done[p] > s)
    };
    for i in 0..n {
        if can_queue(i, &done, &running, &queued) {
            queued[i] = true;
            insert(&mut ready, (T(0.0), Reverse(i), 0));
        }
    }
    let mut now = 0.0f64;
    let mut finished = Vec::new();
    loop {
        let mut any = false;
        for &(_, Reverse(i), s) in ready.iter() {
            if xbars[i].iter().all(|&c| free[c as usize]) {
                for &c in xbars[i].iter() {
                    free[c as usize] = false;
                    busy[c as usize] += t[i];
                }
                let end = now + t[i];
                events.push(Reverse((T(end), i, s)));
                if input.trace {
                    trace.push(Execution {
                        layer: i,
                        sample: s,
                        start_ns: now,
                        end_ns: end,
                    });
                }
                any = true;
                running[i] = true;
                queued[i] = false;
            }
        }
        if any {
            ready.retain(|&(_, Reverse(i), _)| queued[i]);
        }
        // Advance to the next finish time and retire every execution ending then.
        let Some(&Reverse((T(next), _, _))) = events.peek() else {
            break;
        };
        now = next;
        finished.clear();
        while let Some(&Reverse((T(tm), i, s))) = events.peek() {
            if tm != now {
                break;
            }
            events.pop();
            for &c in xbars[i].iter() {
                free[c as usize] = true;
            }
            running[i] = false;
            done[i] = s + 1;
            latency = latency.max(now);
            finished.push(i);
        }
        for &i in &finished {
            for j in std::iter::once(i).chain(succs[i].iter().copied()) {
                if can_queue(j, &done, &running, &queued) {
                    queued[j] = true;
                    insert(&mut ready, (T(now), Reverse(j), done[j]));
                }
            }
        }
    }
    let busy_fraction = busy
        .iter()
        .map(|b| if latency > 0.0 { b / latency } else { 0.0 })
        .collect();
    Ok(SimResult {
        samples,
        latency_ns: latency,
        ideal_latency_ns: ideal,
        period_ns: max_load.max(max_t),
        max_crossbar_load_ns: max_load,
        max_layer_time_ns: max_t,
        busy_fraction,
        trace,
    })
}
