//! The search's own random number generator: xoshiro256** seeded through SplitMix64.
//!
//! Owned by the search (no global RNG, never re-seeded inside the loop) and serialisable, so
//! a checkpoint stores its exact state and a resumed run draws the same numbers.

use serde::{Deserialize, Serialize};

/// xoshiro256** (Blackman & Vigna): fast, 256-bit state, good statistical quality.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Xoshiro256 {
    s: [u64; 4],
}

/// The old name, kept while `search/mod.rs` and `checkpoint.rs` are being rewritten (they
/// still say `Rng`); remove once they name [`Xoshiro256`].
pub type Rng = Xoshiro256;

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Xoshiro256 {
    pub fn seed(seed: u64) -> Xoshiro256 {
        let mut x = seed;
        let s = [
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ];
        // SplitMix64 never yields four zeros from one seed, but the all-zero state is the
        // generator's only fixed point, so guard it anyway (a checkpoint could be edited).
        Xoshiro256 { s }.fixed()
    }

    /// Replaces the all-zero state (xoshiro's fixed point) by a valid one.
    fn fixed(mut self) -> Xoshiro256 {
        if self.s == [0; 4] {
            self.s[0] = 1;
        }
        self
    }

    /// Rebuilds a generator from a stored state.
    pub fn from_state(s: [u64; 4]) -> Xoshiro256 {
        Xoshiro256 { s }.fixed()
    }

    pub fn state(&self) -> [u64; 4] {
        self.s
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` without modulo bias (Lemire's multiply-and-reject). `n` must be > 0.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "Xoshiro256::below(0)");
        let n = n as u64;
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as usize;
            }
        }
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniformly chosen element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_state_restores() {
        let mut a = Xoshiro256::seed(7);
        let mut b = Xoshiro256::seed(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = Xoshiro256::from_state(a.state());
        assert_eq!(a.next_u64(), c.next_u64());
        assert_ne!(Xoshiro256::seed(7).next_u64(), Xoshiro256::seed(8).next_u64());
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut r = Xoshiro256::seed(1);
        let mut counts = [0usize; 3];
        for _ in 0..30_000 {
            counts[r.below(3)] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        for _ in 0..1000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
