#!/usr/bin/env bash
# The project's one test command: installs what the tests need, then runs them.
# Usage: scripts/test.sh   (run from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."

# The Rust toolchain is required; everything else is installed when missing.
command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs) first" >&2; exit 1; }

cargo test --release --all-targets
