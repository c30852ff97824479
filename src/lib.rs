//! rnc compiles neural networks onto RRAM crossbar compute-in-memory accelerators.
//!
//! The pipeline, one module per stage, data flowing one way:
//! [`network`] → [`partition`] → duplicate → pack → simulate → [`report`],
//! with the hardware model feeding per-tile latencies. See `ARCHITECTURE.md`.

pub mod accuracy;
pub mod api;
pub mod compile;
pub mod duplicate;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod hardware;
pub mod html;
pub mod network;
pub mod optimize;
pub mod pack;
pub mod partition;
pub mod plots;
pub mod refine;
pub mod report;
pub mod rng;
pub mod search;
pub mod simulate;
pub mod timeline;

pub use api::{
    Budget, Compilation, CompileOptions, DepthSplit, Effort, Error, Target, compile, compile_with,
};
