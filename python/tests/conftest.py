"""Shared fixtures: the repository's ONNX fixtures and the rnc CLI for parity checks."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ONNX = REPO / "tests" / "fixtures" / "onnx"
LAYERS = REPO / "tests" / "fixtures" / "layers"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def onnx_dir() -> Path:
    return ONNX


@pytest.fixture(scope="session")
def cli() -> str:
    """The rnc binary: $RNC_CLI, else target/release/rnc (built with cargo when missing)."""
    env = os.environ.get("RNC_CLI")
    if env:
        return env
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    exe = target / "release" / "rnc"
    if not exe.exists():
        if shutil.which("cargo") is None:
            pytest.skip("no rnc binary and no cargo to build one (set RNC_CLI)")
        subprocess.run(
            ["cargo", "build", "--release", "--bin", "rnc"], cwd=REPO, check=True
        )
    return str(exe)


def run_cli(cli, *args, check=True):
    p = subprocess.run([cli, *map(str, args)], capture_output=True)
    if check and p.returncode != 0:
        raise AssertionError(f"rnc {' '.join(map(str, args))} failed: {p.stderr.decode()}")
    return p
