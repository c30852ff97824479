//! Accuracy sources for the search: where a candidate's accuracy comes from.
//!
//! Every source implements [`AccuracySource`]; the search asks for a whole generation at
//! once so sources that batch (an external GPU pipeline, a predictor) can.

pub mod external;

pub use external::ExternalEvaluator;

use crate::network::ofa::Genome;

/// One candidate to score: a search-wide unique id and its genome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub id: u64,
    pub genome: Genome,
}

/// Gives accuracies (fractions in 0..=1) for candidates.
pub trait AccuracySource: Send {
    /// Short name recorded in outputs, e.g. `none`, `predictor`, `external:./eval.py`.
    fn name(&self) -> String;

    /// False for the hardware-only mode: the search then has a single objective and says so.
    fn is_real(&self) -> bool {
        true
    }

    /// Accuracies of `batch`, in the same order. An error names the failing candidate.
    fn evaluate(&mut self, batch: &[Candidate]) -> anyhow::Result<Vec<f64>>;
}

/// Hardware-only search: no accuracy objective.
pub struct NoAccuracy;

impl AccuracySource for NoAccuracy {
    fn name(&self) -> String {
        "none".into()
    }
    fn is_real(&self) -> bool {
        false
    }
    fn evaluate(&mut self, batch: &[Candidate]) -> anyhow::Result<Vec<f64>> {
        Ok(vec![0.0; batch.len()])
    }
}

pub mod data;
#[cfg(feature = "train")]
pub mod infer;
pub mod nonideal;
#[cfg(feature = "train")]
pub mod nonideal_net;
pub mod predictor;
#[cfg(feature = "train")]
pub mod supernet;
