//! What the library-level tests share: τ of the default hardware, compile options, temp dirs.

#![allow(dead_code)]

use rnc::compile::{CompileOptions, Effort};
use rnc::duplicate::DuplicateMode;
use rnc::hardware::HwConfig;
use rnc::network::Schedule;
use rnc::pack::{PackOptions, Rules};
use std::path::PathBuf;

/// τ(rows, cols) of the embedded default configuration at 8 input bits.
pub fn tau_default() -> impl Fn(usize, usize) -> f64 + Sync {
    let hw = HwConfig::embedded_default();
    move |r, c| hw.latency_ns(r, c, 8)
}

/// Pipeline options: `budget` crossbars, chain schedule, 8 samples, the given rules.
pub fn options(budget: usize, rules: Rules, dup: DuplicateMode, effort: Effort) -> CompileOptions {
    CompileOptions {
        budget,
        duplicate: dup,
        pack: PackOptions {
            rules,
            generations: effort.table().pack_generations,
            ..PackOptions::default()
        },
        schedule: Schedule::Chain,
        effort,
        samples: 8,
        ..Default::default()
    }
}

/// The physical rule preset: no threshold, no max load, one layer's tiles on a block diagonal.
pub const PHYSICAL: Rules = Rules {
    layer_threshold: -1,
    max_load: 0,
    time_budget_ns: None,
    exclusive_ns: None,
    window: None,
    diagonal: true,
};

/// A fresh, empty directory under the system temp dir, unique to this process and `name`.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rnc-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
