#!/usr/bin/env bash
# The Python package's tests: a virtual environment on Debian's python3 that sees the system's
# torch and torchvision, maturin + pytest + ruff in it, the wheel built from ./python and
# installed, then ruff and pytest on python/tests.
# Usage: scripts/test-python.sh   (run from anywhere; scripts/test.sh calls it)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
VENV="${RNC_VENV:-$TARGET/py-venv}"

# Debian's CPU builds of PyTorch for the from_torch tests, and venv support.
if ! "$PY" -c "import torch, torchvision, pandas, venv, ensurepip" 2>/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-torch python3-torchvision python3-pandas >/dev/null
    else
        echo "missing python3-torch/python3-torchvision/python3-pandas/python3-venv: run 'sudo apt-get install -y python3-venv python3-torch python3-torchvision python3-pandas'" >&2
        exit 1
    fi
fi

export PATH="$VENV/bin:$PATH"   # the maturin build backend runs `maturin` from PATH
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv --system-site-packages "$VENV"
fi
# Test tools (installed once into the venv; ruff only lints).
if ! "$VENV/bin/python" -c "import maturin, pytest, ruff" 2>/dev/null; then
    "$VENV/bin/pip" install -q --disable-pip-version-check "maturin>=1.9,<2" pytest ruff
fi
# Ray for rnc.ray and its tests (python/tests/test_ray.py): the optional extra "ray".
if ! "$VENV/bin/python" -c "import ray" 2>/dev/null; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "ray>=2.9"
fi

"$VENV/bin/ruff" check python examples/notebook.py examples/ray_evaluator.py
# The wheel, as a user gets it from `pip install ./python` (maturin, release build; the
# venv's maturin instead of a fresh isolated one).
"$VENV/bin/pip" install -q --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps ./python
# The CLI for the parity tests.
cargo build --release --bin rnc
export RNC_CLI="$TARGET/release/rnc"
# Run from outside the source folder so `import rnc` is the installed wheel.
cd "$TARGET" && "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$OLDPWD/python/tests"
