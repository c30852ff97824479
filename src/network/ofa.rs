//! OFA MobileNetV3-small subnets described by a genome (SPEC §10).
//!
//! Layout: stem conv 3→16 (stride 2), a fixed first block (depthwise 3x3 + pointwise 16→16,
//! identity shortcut), 4 stages of up to 4 inverted-residual blocks with widths 24, 40, 48, 96
//! and strides 2, 2, 1, 2 (squeeze-excite in the last three), then a 1x1 expand to 576, global
//! pooling, a 1x1 mix to 1280 and the classifier.

use super::zoo::squeeze_excite;
use super::{ConvSpec, Network, NetworkBuilder, NetworkError};
use serde::{Deserialize, Serialize};
use std::fmt;

pub const KERNELS: [usize; 3] = [3, 5, 7];
pub const EXPANDS: [usize; 3] = [3, 4, 6];
pub const DEPTHS: [usize; 3] = [2, 3, 4];
pub const STAGES: usize = 4;
pub const BLOCKS_PER_STAGE: usize = 4;
pub const BLOCKS: usize = STAGES * BLOCKS_PER_STAGE;
const STAGE_WIDTH: [usize; STAGES] = [24, 40, 48, 96];
const STAGE_STRIDE: [usize; STAGES] = [2, 2, 1, 2];
const STAGE_SE: [bool; STAGES] = [false, true, true, true];

/// A subnet: kernel size and expand ratio per block, depth per stage.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Genome {
    pub ks: Vec<usize>,
    pub e: Vec<usize>,
    pub d: Vec<usize>,
}

/// A genome that is not a valid OFA MobileNetV3-small subnet.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenomeError {
    #[error("genome field '{field}' has {got} values, expected {want}")]
    Length {
        field: &'static str,
        got: usize,
        want: usize,
    },
    #[error("genome field '{field}'[{index}] = {value} is not one of {allowed:?}")]
    Value {
        field: &'static str,
        index: usize,
        value: usize,
        allowed: &'static [usize],
    },
    #[error("genome is not valid JSON of the form {{\"ks\":[16],\"e\":[16],\"d\":[4]}}: {0}")]
    Json(String),
}

impl Genome {
    /// Parses `{"ks":[…],"e":[…],"d":[…]}` (extra keys ignored) and validates it.
    pub fn from_json(text: &str) -> Result<Genome, GenomeError> {
        let g: Genome = serde_json::from_str(text).map_err(|e| GenomeError::Json(e.to_string()))?;
        g.validate()?;
        Ok(g)
    }

    pub fn validate(&self) -> Result<(), GenomeError> {
        let fields: [(&'static str, &Vec<usize>, usize, &'static [usize]); 3] = [
            ("ks", &self.ks, BLOCKS, &KERNELS),
            ("e", &self.e, BLOCKS, &EXPANDS),
            ("d", &self.d, STAGES, &DEPTHS),
        ];
        for (field, v, want, allowed) in fields {
            if v.len() != want {
                return Err(GenomeError::Length {
                    field,
                    got: v.len(),
                    want,
                });
            }
            if let Some((index, &value)) = v.iter().enumerate().find(|(_, x)| !allowed.contains(x)) {
                return Err(GenomeError::Value {
                    field,
                    index,
                    value,
                    allowed,
                });
            }
        }
        Ok(())
    }

    /// Whether block `i` (0..16) is used under this genome's depths.
    pub fn active(&self, i: usize) -> bool {
        i % BLOCKS_PER_STAGE < self.d[i / BLOCKS_PER_STAGE]
    }

    /// The genome with genes of inactive blocks set to a canonical value, so that genomes
    /// describing the same network compare equal.
    pub fn canonical(&self) -> Genome {
        let mut g = self.clone();
        for i in 0..BLOCKS {
            if !g.active(i) {
                g.ks[i] = KERNELS[0];
                g.e[i] = EXPANDS[0];
            }
        }
        g
    }

    /// The largest subnet of the space.
    pub fn largest() -> Genome {
        Genome {
            ks: vec![7; BLOCKS],
            e: vec![6; BLOCKS],
            d: vec![4; STAGES],
        }
    }

    /// The smallest subnet of the space.
    pub fn smallest() -> Genome {
        Genome {
            ks: vec![3; BLOCKS],
            e: vec![3; BLOCKS],
            d: vec![2; STAGES],
        }
    }
}

impl fmt::Display for Genome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let j = |v: &[usize]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",");
        write!(
            f,
            "{{\"ks\":[{}],\"e\":[{}],\"d\":[{}]}}",
            j(&self.ks),
            j(&self.e),
            j(&self.d)
        )
    }
}

/// OFA's channel rounding: nearest multiple of `divisor`, never below 90% of `v`.
pub fn make_divisible(v: usize, divisor: usize) -> usize {
    let mut n = ((v + divisor / 2) / divisor * divisor).max(divisor);
    if (n as f64) < 0.9 * v as f64 {
        n += divisor;
    }
    n
}

/// Builds the subnet at a square `input` size with `classes` outputs.
pub fn build(genome: &Genome, input: usize, classes: usize) -> Result<Network, NetworkError> {
    genome.validate().map_err(|e| NetworkError::InvalidLayer {
        name: "genome".into(),
        why: e.to_string(),
    })?;
    let mut b = NetworkBuilder::new("ofa-mbv3-small", 3, [input, input])?;
    let x = b.input();
    let stem = b.conv("first_conv.conv", &x, ConvSpec::square(16, 3, 2))?;
    let y = b.conv(
        "blocks.0.conv.depth_conv.conv",
        &stem,
        ConvSpec::square(16, 3, 1).groups(16),
    )?;
    let y = b.conv("blocks.0.conv.point_linear.conv", &y, ConvSpec::square(16, 1, 1))?;
    let mut x = b.merge(&y, &stem);
    let mut block_no = 1;
    for stage in 0..STAGES {
        for pos in 0..genome.d[stage] {
            let g = stage * BLOCKS_PER_STAGE + pos;
            let (k, e) = (genome.ks[g], genome.e[g]);
            let out = STAGE_WIDTH[stage];
            let s = if pos == 0 { STAGE_STRIDE[stage] } else { 1 };
            let mid = make_divisible(x.channels * e, 8);
            let p = format!("blocks.{block_no}.conv");
            let h = b.conv(
                &format!("{p}.inverted_bottleneck.conv"),
                &x,
                ConvSpec::square(mid, 1, 1),
            )?;
            let mut h = b.conv(
                &format!("{p}.depth_conv.conv"),
                &h,
                ConvSpec::square(mid, k, s).groups(mid),
            )?;
            if STAGE_SE[stage] {
                h = squeeze_excite(
                    &mut b,
                    &h,
                    make_divisible(mid / 4, 8),
                    &format!("{p}.depth_conv.se.fc.reduce"),
                    &format!("{p}.depth_conv.se.fc.expand"),
                )?;
            }
            let y = b.conv(&format!("{p}.point_linear.conv"), &h, ConvSpec::square(out, 1, 1))?;
            x = if pos > 0 { b.merge(&y, &x) } else { y };
            block_no += 1;
        }
    }
    let x = b.conv("final_expand_layer.conv", &x, ConvSpec::square(576, 1, 1))?;
    let x = b.global_pool(&x);
    let x = b.conv("feature_mix_layer.conv", &x, ConvSpec::square(1280, 1, 1))?;
    b.linear("classifier.linear", &x, classes);
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_divisible_matches_ofa() {
        assert_eq!(make_divisible(18, 8), 24);
        assert_eq!(make_divisible(30, 8), 32);
        assert_eq!(make_divisible(36, 8), 40);
        assert_eq!(make_divisible(72, 8), 72);
    }

    #[test]
    fn genome_errors_name_the_field() {
        let mut g = Genome::largest();
        g.ks[3] = 4;
        assert!(matches!(
            g.validate(),
            Err(GenomeError::Value {
                field: "ks",
                index: 3,
                value: 4,
                ..
            })
        ));
        let g = Genome {
            d: vec![2; 3],
            ..Genome::largest()
        };
        assert!(matches!(
            g.validate(),
            Err(GenomeError::Length {
                field: "d",
                got: 3,
                want: 4
            })
        ));
        assert!(Genome::from_json("{\"ks\":1}").is_err());
    }

    #[test]
    fn canonical_ignores_inactive_blocks() {
        let mut a = Genome::smallest();
        let mut b = Genome::smallest();
        a.ks[3] = 7;
        b.e[15] = 6;
        assert_eq!(a.canonical(), b.canonical());
    }
}
