//! The crate's SplitMix64 generator ([`crate::rng::Rng`]), re-exported under its old path:
//! sampling subnets, shuffling and initialising weights draw the same sequences as before.

pub use crate::rng::Rng;
