//! NSGA-II (Deb et al. 2002), generic over the problem: fast non-dominated sorting,
//! crowding distance, binary tournament, elitist survival over parents ∪ children, with
//! constraint-domination (any feasible solution dominates every infeasible one).
//!
//! The pieces are free functions so a driver that needs to checkpoint between generations
//! (the OFA search) can step through them; [`run`] strings them together for closed-form
//! problems (the ZDT tests).

use super::rng::Xoshiro256;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashSet;
use std::hash::Hash;

/// One solution's objective values (all minimised) and constraint violation (0 = feasible).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub objectives: Vec<f64>,
    pub violation: f64,
}

impl Evaluation {
    pub fn feasible(objectives: Vec<f64>) -> Evaluation {
        Evaluation {
            objectives,
            violation: 0.0,
        }
    }

    pub fn is_feasible(&self) -> bool {
        self.violation <= 0.0
    }
}

/// Constraint-domination: feasible beats infeasible; of two infeasible, the smaller violation
/// wins; of two feasible, Pareto dominance (no objective worse, one strictly better).
pub fn dominates(a: &Evaluation, b: &Evaluation) -> bool {
    match (a.is_feasible(), b.is_feasible()) {
        (true, false) => true,
        (false, true) => false,
        (false, false) => a.violation < b.violation,
        (true, true) => {
            let mut strictly = false;
            for (x, y) in a.objectives.iter().zip(&b.objectives) {
                if x > y {
                    return false;
                }
                if x < y {
                    strictly = true;
                }
            }
            strictly
        }
    }
}

/// Fast non-dominated sort: fronts of indices (front 0 = non-dominated), each ascending.
pub fn non_dominated_sort(evals: &[Evaluation]) -> Vec<Vec<usize>> {
    let n = evals.len();
    let mut dominated_by = vec![0usize; n];
    let mut dominates_list: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in i + 1..n {
            if dominates(&evals[i], &evals[j]) {
                dominates_list[i].push(j);
                dominated_by[j] += 1;
            } else if dominates(&evals[j], &evals[i]) {
                dominates_list[j].push(i);
                dominated_by[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| dominated_by[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominates_list[i] {
                dominated_by[j] -= 1;
                if dominated_by[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(current);
        current = next;
    }
    fronts
}

/// Crowding distance of each member of `front` (same order): boundary solutions of every
/// objective get infinity, the others the normalised side lengths of their neighbours' cuboid.
pub fn crowding_distance(evals: &[Evaluation], front: &[usize]) -> Vec<f64> {
    let n = front.len();
    let mut dist = vec![0.0f64; n];
    if n <= 2 {
        return vec![f64::INFINITY; n];
    }
    let m = evals[front[0]].objectives.len();
    let mut order: Vec<usize> = (0..n).collect();
    for k in 0..m {
        let f = |i: usize| evals[front[i]].objectives[k];
        // Stable sort with index tie-break keeps the result independent of anything but input.
        order.sort_by(|&a, &b| f(a).total_cmp(&f(b)).then(a.cmp(&b)));
        let (lo, hi) = (f(order[0]), f(order[n - 1]));
        dist[order[0]] = f64::INFINITY;
        dist[order[n - 1]] = f64::INFINITY;
        let span = hi - lo;
        if span > 0.0 {
            for w in 1..n - 1 {
                dist[order[w]] += (f(order[w + 1]) - f(order[w - 1])) / span;
            }
        }
    }
    dist
}

/// Rank (front number) and crowding distance of every solution of a population.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranking {
    pub rank: Vec<usize>,
    pub crowding: Vec<f64>,
}

impl Ranking {
    pub fn of(evals: &[Evaluation]) -> Ranking {
        let mut rank = vec![0; evals.len()];
        let mut crowding = vec![0.0; evals.len()];
        for (r, front) in non_dominated_sort(evals).iter().enumerate() {
            for (&i, d) in front.iter().zip(crowding_distance(evals, front)) {
                rank[i] = r;
                crowding[i] = d;
            }
        }
        Ranking { rank, crowding }
    }

    /// The crowded-comparison order: lower rank first, then larger crowding distance.
    pub fn better(&self, a: usize, b: usize) -> Ordering {
        self.rank[a]
            .cmp(&self.rank[b])
            .then(self.crowding[b].total_cmp(&self.crowding[a]))
    }
}

/// Elitist survival: the `n` best of `evals` (front by front, the last front cut by crowding
/// distance), as indices in crowded-comparison order (ties by index).
pub fn select(evals: &[Evaluation], n: usize) -> Vec<usize> {
    let mut chosen = Vec::with_capacity(n);
    for front in non_dominated_sort(evals) {
        if chosen.len() >= n {
            break;
        }
        let d = crowding_distance(evals, &front);
        let mut by_crowding: Vec<usize> = (0..front.len()).collect();
        by_crowding.sort_by(|&a, &b| d[b].total_cmp(&d[a]).then(front[a].cmp(&front[b])));
        let take = (n - chosen.len()).min(front.len());
        chosen.extend(by_crowding[..take].iter().map(|&w| front[w]));
    }
    chosen
}

/// Binary tournament under the crowded-comparison order (ties go to the first draw).
pub fn tournament(rng: &mut Xoshiro256, ranking: &Ranking) -> usize {
    let n = ranking.rank.len();
    let a = rng.below(n);
    let b = rng.below(n);
    if ranking.better(b, a) == Ordering::Less {
        b
    } else {
        a
    }
}

/// Variation operators of a problem.
pub trait Operators {
    type Genome: Clone;
    /// Identity of a genome for duplicate avoidance (equal keys = same solution).
    type Key: Eq + Hash;
    fn random(&self, rng: &mut Xoshiro256) -> Self::Genome;
    fn mutate(&self, g: &Self::Genome, rng: &mut Xoshiro256) -> Self::Genome;
    fn crossover(&self, a: &Self::Genome, b: &Self::Genome, rng: &mut Xoshiro256) -> Self::Genome;
    fn key(&self, g: &Self::Genome) -> Self::Key;
}

/// Draws attempts per child before a duplicate is accepted (small spaces may have no new one).
pub const DUPLICATE_RETRIES: usize = 20;

/// `n` random genomes, distinct where possible.
pub fn initial<O: Operators>(ops: &O, rng: &mut Xoshiro256, n: usize) -> Vec<O::Genome> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut g = ops.random(rng);
        for _ in 1..DUPLICATE_RETRIES {
            if !seen.contains(&ops.key(&g)) {
                break;
            }
            g = ops.random(rng);
        }
        seen.insert(ops.key(&g));
        out.push(g);
    }
    out
}

/// `n` children of `parents`: the first ⌊n/2⌋ by mutation of a tournament winner, the rest by
/// crossover of two tournament winners; a child equal to a parent or an earlier child is
/// redrawn (up to [`DUPLICATE_RETRIES`] times).
pub fn offspring<O: Operators>(
    ops: &O,
    rng: &mut Xoshiro256,
    parents: &[O::Genome],
    ranking: &Ranking,
    n: usize,
) -> Vec<O::Genome> {
    let mut seen: HashSet<O::Key> = parents.iter().map(|g| ops.key(g)).collect();
    let mut out = Vec::with_capacity(n);
    for c in 0..n {
        let mut child = None;
        for _ in 0..DUPLICATE_RETRIES {
            let g = if c < n / 2 {
                ops.mutate(&parents[tournament(rng, ranking)], rng)
            } else {
                let a = tournament(rng, ranking);
                let b = tournament(rng, ranking);
                ops.crossover(&parents[a], &parents[b], rng)
            };
            let fresh = !seen.contains(&ops.key(&g));
            child = Some(g);
            if fresh {
                break;
            }
        }
        let Some(g) = child else { break };
        seen.insert(ops.key(&g));
        out.push(g);
    }
    out
}

/// A problem that can be evaluated in one call per generation.
pub trait Problem: Operators {
    fn evaluate(&mut self, batch: &[Self::Genome]) -> Vec<Evaluation>;
}

/// Runs NSGA-II for `generations` generations after the initial population; returns the final
/// population with its evaluations.
pub fn run<P: Problem>(
    problem: &mut P,
    rng: &mut Xoshiro256,
    population: usize,
    generations: usize,
) -> Vec<(P::Genome, Evaluation)> {
    let mut genomes = initial(problem, rng, population);
    let mut evals = problem.evaluate(&genomes);
    for _ in 0..generations {
        let ranking = Ranking::of(&evals);
        let children = offspring(problem, rng, &genomes, &ranking, population);
        let child_evals = problem.evaluate(&children);
        genomes.extend(children);
        evals.extend(child_evals);
        let keep = select(&evals, population);
        genomes = keep.iter().map(|&i| genomes[i].clone()).collect();
        evals = keep.iter().map(|&i| evals[i].clone()).collect();
    }
    genomes.into_iter().zip(evals).collect()
}

/// Hypervolume of a two-objective (minimised) point set w.r.t. `reference`; points not
/// strictly better than the reference in both objectives contribute nothing.
pub fn hypervolume_2d(points: &[[f64; 2]], reference: [f64; 2]) -> f64 {
    let mut p: Vec<[f64; 2]> = points
        .iter()
        .copied()
        .filter(|q| q[0] < reference[0] && q[1] < reference[1])
        .collect();
    p.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let mut hv = 0.0;
    let mut best_f2 = reference[1];
    for (i, q) in p.iter().enumerate() {
        if q[1] >= best_f2 {
            continue;
        }
        // Slab from this point's f1 to the next non-dominated point's f1 (or the reference).
        let next_f1 = p[i + 1..]
            .iter()
            .find(|r| r[1] < q[1])
            .map_or(reference[0], |r| r[0]);
        hv += (next_f1 - q[0]) * (reference[1] - q[1]);
        best_f2 = q[1];
    }
    hv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(o: &[f64]) -> Evaluation {
        Evaluation::feasible(o.to_vec())
    }

    fn inf(v: f64) -> Evaluation {
        Evaluation {
            objectives: vec![0.0, 0.0],
            violation: v,
        }
    }

    #[test]
    fn sort_hand_case() {
        // 0:(1,5) 1:(2,2) 2:(5,1) front 0; 3:(3,3) dominated by 1; 4:(4,4) by 1 and 3;
        // 5:(2,2) equals 1 → same front; 6: infeasible, 7: worse infeasible.
        let evals = vec![
            e(&[1.0, 5.0]),
            e(&[2.0, 2.0]),
            e(&[5.0, 1.0]),
            e(&[3.0, 3.0]),
            e(&[4.0, 4.0]),
            e(&[2.0, 2.0]),
            inf(1.0),
            inf(2.0),
        ];
        let fronts = non_dominated_sort(&evals);
        assert_eq!(fronts, vec![vec![0, 1, 2, 5], vec![3], vec![4], vec![6], vec![7]]);
    }

    #[test]
    fn constraint_domination() {
        assert!(dominates(&e(&[100.0, 100.0]), &inf(0.5)));
        assert!(!dominates(&inf(0.5), &e(&[100.0, 100.0])));
        assert!(dominates(&inf(0.5), &inf(1.0)));
        assert!(!dominates(&inf(1.0), &inf(1.0)));
        assert!(!dominates(&e(&[1.0, 2.0]), &e(&[2.0, 1.0])));
        assert!(!dominates(&e(&[1.0, 1.0]), &e(&[1.0, 1.0])));
    }

    #[test]
    fn crowding_hand_case() {
        // Points on a line f2 = 10 - f1 at f1 = 0, 1, 3, 10: span 10 in both objectives.
        let evals = vec![e(&[0.0, 10.0]), e(&[1.0, 9.0]), e(&[3.0, 7.0]), e(&[10.0, 0.0])];
        let d = crowding_distance(&evals, &[0, 1, 2, 3]);
        assert_eq!(d[0], f64::INFINITY);
        assert_eq!(d[3], f64::INFINITY);
        // point 1: neighbours 0 and 3 → (3-0)/10 + (10-7)/10 = 0.6
        assert!((d[1] - 0.6).abs() < 1e-12, "{d:?}");
        // point 2: neighbours 1 and 10 → (10-1)/10 + (9-0)/10 = 1.8
        assert!((d[2] - 1.8).abs() < 1e-12, "{d:?}");
        assert_eq!(crowding_distance(&evals, &[1, 2]), vec![f64::INFINITY; 2]);
    }

    #[test]
    fn select_cuts_last_front_by_crowding() {
        let evals = vec![
            e(&[0.0, 10.0]),
            e(&[1.0, 9.0]),
            e(&[3.0, 7.0]),
            e(&[10.0, 0.0]),
            e(&[11.0, 11.0]),
        ];
        // Front 0 has 4 members; keeping 3 drops the least crowded (index 1).
        assert_eq!(select(&evals, 3), vec![0, 3, 2]);
        assert_eq!(select(&evals, 5), vec![0, 3, 2, 1, 4]);
    }

    #[test]
    fn tournament_prefers_better() {
        let ranking = Ranking {
            rank: vec![0, 1],
            crowding: vec![0.0, f64::INFINITY],
        };
        let mut rng = Xoshiro256::seed(3);
        let wins = (0..1000).filter(|_| tournament(&mut rng, &ranking) == 0).count();
        // Index 0 wins unless both draws are 1 (p = 1/4).
        assert!((700..800).contains(&wins), "{wins}");
    }

    #[test]
    fn sort_hand_case_three_objectives() {
        // 0:(1,2,3) 1:(3,2,1) 2:(2,2,2) 6:(0,9,9) trade off; 5 equals 0; 3:(2,3,3) is
        // dominated by 0 and 2; 4:(3,3,3) by 0, 1, 2 and 3.
        let evals = vec![
            e(&[1.0, 2.0, 3.0]),
            e(&[3.0, 2.0, 1.0]),
            e(&[2.0, 2.0, 2.0]),
            e(&[2.0, 3.0, 3.0]),
            e(&[3.0, 3.0, 3.0]),
            e(&[1.0, 2.0, 3.0]),
            e(&[0.0, 9.0, 9.0]),
        ];
        assert_eq!(
            non_dominated_sort(&evals),
            vec![vec![0, 1, 2, 5, 6], vec![3], vec![4]]
        );
        assert!(dominates(&evals[2], &evals[3]));
        assert!(!dominates(&evals[0], &evals[5]));
        let r = Ranking::of(&evals);
        assert_eq!(r.rank, vec![0, 0, 0, 1, 2, 0, 0]);
    }

    #[test]
    fn crowding_hand_case_three_objectives() {
        // A(0,5,1) B(1,3,2) C(2,2,0) D(4,0,3) E(3,1,1.5); spans 4, 5, 3.
        let evals = vec![
            e(&[0.0, 5.0, 1.0]),
            e(&[1.0, 3.0, 2.0]),
            e(&[2.0, 2.0, 0.0]),
            e(&[4.0, 0.0, 3.0]),
            e(&[3.0, 1.0, 1.5]),
        ];
        let d = crowding_distance(&evals, &[0, 1, 2, 3, 4]);
        // A and D bound objective 0 (and 1), C is the least of objective 2.
        assert_eq!(d[0], f64::INFINITY);
        assert_eq!(d[2], f64::INFINITY);
        assert_eq!(d[3], f64::INFINITY);
        // B: (2-0)/4 + (5-2)/5 + (3-1.5)/3 = 0.5 + 0.6 + 0.5
        assert!((d[1] - 1.6).abs() < 1e-12, "{d:?}");
        // E: (4-2)/4 + (2-0)/5 + (2-1)/3
        assert!((d[4] - (0.5 + 0.4 + 1.0 / 3.0)).abs() < 1e-12, "{d:?}");
        // Survival of 4 of them drops E, the most crowded.
        assert_eq!(select(&evals, 4), vec![0, 2, 3, 1]);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        /// Populations of 1..40 solutions with k objectives on a coarse grid (many ties), a
        /// few infeasible.
        fn population() -> impl Strategy<Value = Vec<Evaluation>> {
            (1usize..=4).prop_flat_map(|k| {
                prop::collection::vec(
                    (
                        prop::collection::vec(0u8..6, k),
                        prop::option::weighted(0.15, 1u8..4),
                    ),
                    1..40,
                )
                .prop_map(|v| {
                    v.into_iter()
                        .map(|(o, viol)| Evaluation {
                            objectives: o.into_iter().map(f64::from).collect(),
                            violation: viol.map_or(0.0, f64::from),
                        })
                        .collect()
                })
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            #[test]
            fn fronts_are_non_dominated_layers(evals in population()) {
                let fronts = non_dominated_sort(&evals);
                let mut rank = vec![usize::MAX; evals.len()];
                for (r, f) in fronts.iter().enumerate() {
                    prop_assert!(!f.is_empty() && f.windows(2).all(|w| w[0] < w[1]));
                    for &i in f {
                        prop_assert_eq!(rank[i], usize::MAX, "index {} in two fronts", i);
                        rank[i] = r;
                    }
                }
                prop_assert!(rank.iter().all(|&r| r != usize::MAX), "an index in no front");
                for a in 0..evals.len() {
                    for b in 0..evals.len() {
                        // Nothing in the same or a later front dominates a member.
                        if rank[b] >= rank[a] {
                            prop_assert!(!dominates(&evals[b], &evals[a]), "{} dominates {}", b, a);
                        }
                    }
                    // A member of a later front has a reason: someone in the front before.
                    if rank[a] > 0 {
                        prop_assert!(fronts[rank[a] - 1].iter().any(|&b| dominates(&evals[b], &evals[a])));
                    }
                }
            }

            #[test]
            fn crowding_bounds_and_scale_invariance(evals in population(), scale in 0.5f64..20.0) {
                let feasible: Vec<Evaluation> = evals.into_iter().filter(Evaluation::is_feasible).collect();
                prop_assume!(!feasible.is_empty());
                let front: Vec<usize> = (0..feasible.len()).collect();
                let d = crowding_distance(&feasible, &front);
                prop_assert!(d.iter().all(|&x| x >= 0.0));
                if front.len() > 2 {
                    // The least and greatest of every objective are boundary solutions (one
                    // each at least; ties keep the lower index first).
                    let k = feasible[0].objectives.len();
                    for m in 0..k {
                        let lo = feasible.iter().map(|e| e.objectives[m]).fold(f64::INFINITY, f64::min);
                        let hi = feasible.iter().map(|e| e.objectives[m]).fold(f64::NEG_INFINITY, f64::max);
                        prop_assert!(front.iter().any(|&i| feasible[i].objectives[m] == lo && d[i].is_infinite()));
                        prop_assert!(front.iter().any(|&i| feasible[i].objectives[m] == hi && d[i].is_infinite()));
                    }
                }
                // Normalised by each objective's span: scaling one objective changes nothing.
                let scaled: Vec<Evaluation> = feasible
                    .iter()
                    .map(|e| {
                        let mut o = e.objectives.clone();
                        o[0] *= scale;
                        Evaluation::feasible(o)
                    })
                    .collect();
                let d2 = crowding_distance(&scaled, &front);
                for (x, y) in d.iter().zip(&d2) {
                    prop_assert!(x == y || (x - y).abs() < 1e-9, "{} vs {}", x, y);
                }
            }

            #[test]
            fn select_keeps_whole_fronts_then_the_least_crowded(evals in population(), n in 1usize..40) {
                let n = n.min(evals.len());
                let kept = select(&evals, n);
                prop_assert_eq!(kept.len(), n);
                let mut seen = kept.clone();
                seen.sort_unstable();
                seen.dedup();
                prop_assert_eq!(seen.len(), n);
                let rank = Ranking::of(&evals).rank;
                let worst = kept.iter().map(|&i| rank[i]).max().unwrap_or(0);
                // Every solution of a better front than the worst kept one is kept.
                for (i, &r) in rank.iter().enumerate() {
                    if r < worst {
                        prop_assert!(kept.contains(&i));
                    }
                }
            }
        }
    }

    #[test]
    fn hypervolume_hand_case() {
        let hv = hypervolume_2d(&[[0.5, 0.5]], [1.0, 1.0]);
        assert!((hv - 0.25).abs() < 1e-12);
        // Two points with a dominated third and one outside the reference box.
        let hv = hypervolume_2d(&[[0.2, 0.6], [0.6, 0.2], [0.7, 0.7], [1.5, 0.0]], [1.0, 1.0]);
        // Slab [0.2, 0.6) × (1 − 0.6) = 0.16 plus slab [0.6, 1.0) × (1 − 0.2) = 0.32.
        assert!((hv - 0.48).abs() < 1e-12, "{hv}");
    }
}
