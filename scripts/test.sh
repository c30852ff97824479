#!/usr/bin/env bash
# The project's one test command: installs what the tests need, then runs them.
# Usage: scripts/test.sh   (run from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."

# The Rust toolchain is required; everything else is installed when missing.
command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs) first" >&2; exit 1; }

# Fashion-MNIST (Debian package) for the real-data supernet test.
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist
    else
        echo "Fashion-MNIST missing: run 'sudo apt-get install -y dataset-fashion-mnist'" >&2
        exit 1
    fi
fi

# Headless Chromium (Debian package) for the HTML report check; the test skips without it.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq chromium >/dev/null || echo "chromium not installed: the report's browser check will be skipped" >&2
fi

cargo test --release --all-targets
# The supernet (burn) is behind the `train` feature.
cargo test --release --all-targets --features train
# The Python package: venv on /usr/bin/python3 (+ Debian's torch), wheel via maturin, pytest.
scripts/test-python.sh
# Coverage-guided fuzzing: every target 20 s on its committed corpus (nightly + cargo-fuzz;
# without them the script replays the corpora, which cargo test above already did).
scripts/fuzz-smoke.sh 20
