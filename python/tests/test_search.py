"""rnc.Search: ask/tell byte parity with `rnc search --accuracy external:...`, resume after a
kill, a custom space, errors."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO, run_cli

import rnc

SMALL = dict(budget=168, population=6, generations=2, seed=3)


def evaluator_accuracy():
    """examples/evaluator.py's toy accuracy, rounded as that program prints it."""
    spec = importlib.util.spec_from_file_location("evaluator", REPO / "examples/evaluator.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return lambda genome: round(mod.accuracy(None, genome), 6)


def cli_search(cli, out, **kw):
    args = ["search", "--out", out, "--accuracy",
            f"external:{sys.executable} {REPO / 'examples/evaluator.py'}"]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", v]
    run_cli(cli, *args)


def test_ask_tell_is_byte_identical_to_the_cli(cli, tmp_path):
    cli_search(cli, tmp_path / "cli", **SMALL)
    acc = evaluator_accuracy()
    s = rnc.Search(**SMALL, out=tmp_path / "py")
    asked = 0
    while not s.done:
        batch = s.ask()
        assert batch == s.ask()  # asking again gives the same generation
        asked += len(batch)
        assert all(set(c.genome) == {"ks", "e", "d"} for c in batch)
        s.tell({c.id: acc(c.genome) for c in batch})
    assert asked > 0 and s.generation == 2
    for name in ("evolution.csv", "pareto.json"):
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    front = s.pareto
    assert front and front == sorted(front, key=lambda m: -m["speedup"])
    assert len(s.evolution) == 6 * 3


def test_run_shortcut_matches_ask_tell(tmp_path):
    acc = evaluator_accuracy()
    a = rnc.Search(**SMALL, out=tmp_path / "a")
    while not a.done:
        a.tell({c.id: acc(c.genome) for c in a.ask()})
    seen = []
    rnc.Search(**SMALL, out=tmp_path / "b").run(accuracy=acc,
                                                progress=lambda s: seen.append(s.generation))
    assert seen == [0, 1, 2]
    for name in ("evolution.csv", "pareto.json", "checkpoint.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


KILLED = textwrap.dedent("""
    import importlib.util, sys, time
    import rnc
    spec = importlib.util.spec_from_file_location("evaluator", sys.argv[2])
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    s = rnc.Search(budget=168, population=6, generations=4, seed=3, out=sys.argv[1])
    while not s.done:
        batch = s.ask()
        s.tell({c.id: round(mod.accuracy(None, c.genome), 6) for c in batch})
        print(s.generation, flush=True)
        time.sleep(30 if s.generation == 1 else 0)
""")


def test_resume_after_kill(tmp_path):
    acc = evaluator_accuracy()
    full = rnc.Search(budget=168, population=6, generations=4, seed=3, out=tmp_path / "full")
    full.run(accuracy=acc)
    out = tmp_path / "killed"
    evaluator = str(REPO / "examples/evaluator.py")
    p = subprocess.Popen([sys.executable, "-c", KILLED, str(out), evaluator],
                         stdout=subprocess.PIPE, text=True)
    try:
        for line in p.stdout:
            if line.strip() == "1":
                break
        os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait()
    assert json.loads((out / "checkpoint.json").read_text())["generation"] == 1
    s = rnc.Search.resume(out)
    assert s.generation == 1 and not s.done
    s.run(accuracy=acc)
    for name in ("evolution.csv", "pareto.json", "checkpoint.json"):
        assert (out / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name


def test_custom_space(tmp_path):
    built = []

    def build(genome):
        built.append(genome)
        net = rnc.Network.zoo("squeezenet1_1", input=genome["input"], classes=genome["classes"])
        return net

    space = {"input": [32, 48, 64], "classes": [10, 100]}
    s = rnc.Search(budget=64, population=4, generations=1, seed=1, out=tmp_path / "c",
                   space=space, build=build)
    s.run(accuracy=lambda g: 0.5 + g["input"] / 1000 - g["classes"] / 10000)
    assert built and all(set(g) == {"input", "classes"} for g in built)
    assert all(g["input"] in (32, 48, 64) and g["classes"] in (10, 100) for g in built)
    # each network built once: a genome seen before is not built again
    assert len({json.dumps(g, sort_keys=True) for g in built}) == len(built)
    front = s.pareto
    assert front and all(set(m["genome"]) == {"input", "classes"} for m in front)
    # the custom space resumes with its builder
    again = rnc.Search.resume(tmp_path / "c", build=build, generations=2)
    again.run(accuracy=lambda g: 0.5)
    assert again.generation == 2


def test_custom_build_errors(tmp_path):
    def bad(genome):
        raise KeyError("no such layer")

    s = rnc.Search(budget=64, population=4, generations=1, out=tmp_path / "e",
                   space={"w": [1, 2]}, build=bad)
    with pytest.raises(KeyError, match="no such layer"):
        s.ask()
    s2 = rnc.Search(budget=64, population=4, generations=1, out=tmp_path / "f",
                    space={"w": [1, 2]}, build=lambda g: "not a network")
    with pytest.raises(TypeError, match="rnc.Network or ONNX bytes"):
        s2.ask()


def test_onnx_bytes_from_build(tmp_path, onnx_dir):
    import gzip

    data = gzip.decompress((onnx_dir / "squeezenet1_1_64.onnx.gz").read_bytes())
    s = rnc.Search(budget=64, population=2, generations=0, out=tmp_path / "o",
                   space={"x": [0]}, build=lambda g: data)
    s.run(accuracy=lambda g: 0.9)
    assert s.pareto[0]["accuracy"] == 0.9


def test_search_errors(tmp_path):
    s = rnc.Search(**SMALL, out=tmp_path / "s")
    batch = s.ask()
    with pytest.raises(rnc.SearchError) as e:
        s.tell({10_000: 0.5})
    assert isinstance(e.value, ValueError)
    with pytest.raises(rnc.SearchError):
        s.tell({c.id: 1.5 for c in batch})  # accuracy outside 0..1
    s.tell({c.id: 0.5 for c in batch})
    with pytest.raises(rnc.SearchError, match="already holds a search"):
        rnc.Search(**SMALL, out=tmp_path / "s")
    with pytest.raises(rnc.FileError):
        rnc.Search.resume(tmp_path / "nothing")
    with pytest.raises(rnc.OptionsError):
        rnc.Search(space={"w": [1]}, out=tmp_path / "x")  # no build
    with pytest.raises(rnc.SearchError):
        rnc.Search(budget=0, out=tmp_path / "y")


def test_hardware_only(tmp_path):
    s = rnc.Search(budget=168, population=4, generations=1, out=tmp_path / "h", accuracy=None)
    assert s.ask() == []
    s.tell({})
    s.run()
    assert s.done and s.pareto[0]["accuracy"] is None


def test_three_objectives_are_byte_identical_to_the_cli(cli, tmp_path):
    cli_search(cli, tmp_path / "cli", objectives="accuracy,speedup,energy", **SMALL)
    acc = evaluator_accuracy()
    s = rnc.Search(**SMALL, out=tmp_path / "py", objectives=("accuracy", "speedup", "energy"))
    assert s.objectives == ("accuracy", "speedup", "energy")
    s.run(accuracy=acc)
    for name in ("evolution.csv", "pareto.json"):
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    assert all(m["energy_nj"] > 0 for m in s.pareto)
    assert all("energy_nj" in row for row in s.evolution)


def test_objectives_errors_and_hardware_energy(tmp_path):
    with pytest.raises(rnc.OptionsError):
        rnc.Search(out=tmp_path / "a", objectives=("accuracy", "energy"))
    with pytest.raises(rnc.OptionsError):
        rnc.Search(out=tmp_path / "b", objectives=("speedup", "power"))
    with pytest.raises(rnc.OptionsError):
        rnc.Search(out=tmp_path / "c", accuracy=None, objectives=("accuracy", "speedup"))
    s = rnc.Search(budget=168, population=4, generations=1, out=tmp_path / "h",
                   objectives="speedup,energy")
    assert s.objectives == ("speedup", "energy")
    s.run()
    assert s.done and all(m["accuracy"] is None and m["energy_nj"] > 0 for m in s.pareto)
