//! Variation operators on OFA MobileNetV3-small genomes (SPEC §10): uniform random sampling,
//! mutation that re-draws each gene with probability 0.1, and uniform crossover.

use super::nsga2::Operators;
use super::rng::Xoshiro256;
use crate::network::ofa::{BLOCKS, DEPTHS, EXPANDS, Genome, KERNELS, STAGES};

/// Probability that mutation re-draws a gene.
pub const MUTATION_RATE: f64 = 0.1;

/// A uniformly random genome.
pub fn random_genome(rng: &mut Xoshiro256) -> Genome {
    Genome {
        ks: (0..BLOCKS).map(|_| rng.pick(&KERNELS)).collect(),
        e: (0..BLOCKS).map(|_| rng.pick(&EXPANDS)).collect(),
        d: (0..STAGES).map(|_| rng.pick(&DEPTHS)).collect(),
    }
}

/// Each gene re-drawn uniformly from its allowed values with probability `rate` (a re-draw
/// may land on the same value).
pub fn mutate(g: &Genome, rate: f64, rng: &mut Xoshiro256) -> Genome {
    let mut c = g.clone();
    let mut redraw = |v: &mut Vec<usize>, allowed: &[usize]| {
        for x in v.iter_mut() {
            if rng.chance(rate) {
                *x = rng.pick(allowed);
            }
        }
    };
    redraw(&mut c.ks, &KERNELS);
    redraw(&mut c.e, &EXPANDS);
    redraw(&mut c.d, &DEPTHS);
    c
}

/// Uniform crossover: every gene from either parent with probability ½.
pub fn crossover(a: &Genome, b: &Genome, rng: &mut Xoshiro256) -> Genome {
    let mut pick = |x: &[usize], y: &[usize]| -> Vec<usize> {
        x.iter()
            .zip(y)
            .map(|(&p, &q)| if rng.chance(0.5) { p } else { q })
            .collect()
    };
    Genome {
        ks: pick(&a.ks, &b.ks),
        e: pick(&a.e, &b.e),
        d: pick(&a.d, &b.d),
    }
}

/// The OFA search space as NSGA-II operators; genomes describing the same network (differing
/// only in skipped blocks) count as duplicates.
pub struct OfaOps;

impl Operators for OfaOps {
    type Genome = Genome;
    type Key = Genome;

    fn random(&self, rng: &mut Xoshiro256) -> Genome {
        random_genome(rng)
    }
    fn mutate(&self, g: &Genome, rng: &mut Xoshiro256) -> Genome {
        mutate(g, MUTATION_RATE, rng)
    }
    fn crossover(&self, a: &Genome, b: &Genome, rng: &mut Xoshiro256) -> Genome {
        crossover(a, b, rng)
    }
    fn key(&self, g: &Genome) -> Genome {
        g.canonical()
    }
}

#[cfg(test)]
mod tests {
    use super::Xoshiro256;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn operators_keep_genomes_valid(seed in any::<u64>(), rate in 0.0f64..=1.0) {
            let mut rng = Xoshiro256::seed(seed);
            let a = random_genome(&mut rng);
            let b = random_genome(&mut rng);
            prop_assert!(a.validate().is_ok());
            let m = mutate(&a, rate, &mut rng);
            prop_assert!(m.validate().is_ok());
            let c = crossover(&a, &m, &mut rng);
            prop_assert!(c.validate().is_ok());
            // Every gene of a crossover child comes from one of its parents.
            let d = crossover(&a, &b, &mut rng);
            for (i, x) in d.ks.iter().enumerate() {
                prop_assert!(*x == a.ks[i] || *x == b.ks[i]);
            }
            for (i, x) in d.d.iter().enumerate() {
                prop_assert!(*x == a.d[i] || *x == b.d[i]);
            }
        }
    }

    #[test]
    fn mutation_rate_is_about_one_tenth() {
        let mut rng = Xoshiro256::seed(5);
        let g = Genome::smallest();
        let genes = 2 * BLOCKS + STAGES;
        let mut changed = 0usize;
        let trials = 2000;
        for _ in 0..trials {
            let m = mutate(&g, MUTATION_RATE, &mut rng);
            changed += g.ks.iter().zip(&m.ks).filter(|(x, y)| x != y).count();
            changed += g.e.iter().zip(&m.e).filter(|(x, y)| x != y).count();
            changed += g.d.iter().zip(&m.d).filter(|(x, y)| x != y).count();
        }
        // A re-draw changes the value 2/3 of the time: expected 0.1·2/3 per gene.
        let frac = changed as f64 / (trials * genes) as f64;
        assert!((frac - 0.1 * 2.0 / 3.0).abs() < 0.01, "{frac}");
        assert_eq!(mutate(&g, 0.0, &mut rng), g);
    }

    #[test]
    fn random_genomes_cover_every_value() {
        let mut rng = Xoshiro256::seed(9);
        let mut seen_d = std::collections::BTreeSet::new();
        let mut seen_k = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let g = random_genome(&mut rng);
            seen_d.extend(g.d.iter().copied());
            seen_k.extend(g.ks.iter().copied());
        }
        assert_eq!(seen_d.into_iter().collect::<Vec<_>>(), DEPTHS.to_vec());
        assert_eq!(seen_k.into_iter().collect::<Vec<_>>(), KERNELS.to_vec());
    }
}
