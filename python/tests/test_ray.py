"""rnc.ray on a local Ray instance (127.0.0.1, 4 logical CPUs) that the tests start and stop:
a sweep with a failing job, the CLI's Ray evaluator, and the search under faults (an actor
killed mid-generation, the driver killed and resumed)."""

import csv
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
import rnc  # noqa: E402
import rnc.ray  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FILES = ("evolution.csv", "pareto.json", "checkpoint.json")
needs_search = pytest.mark.skipif(not hasattr(rnc, "Search"), reason="rnc.Search not built")


@pytest.fixture(scope="module")
def cluster():
    # The evaluators below are defined in this test module: ship them to workers by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    # A single-node instance of this test's own (Ray 2.60 advertises the machine's address
    # for 127.0.0.1, but nothing joins it).
    ctx = ray.init(address="local", num_cpus=4, include_dashboard=False,
                   _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        yield ctx.address_info["gcs_address"]
    finally:
        ray.shutdown()


def toy_accuracy(genome):
    """Deterministic stand-in for a trained network's accuracy (bigger subnets score higher)."""
    cap = sum(genome["e"][i] * genome["ks"][i] ** 2 / 294
              for i in range(16) if i % 4 < genome["d"][i // 4])
    return round(0.70 + 0.22 * (1.0 - math.exp(-cap / 5.0)), 6)


class SlowScorer:
    """A stateful evaluator: 'loads a model' once per actor, sleeps per candidate."""

    def __init__(self, delay):
        self.delay = delay
        self.loaded = os.getpid()

    def __call__(self, genome):
        time.sleep(self.delay)
        return toy_accuracy(genome)


SEARCH = dict(budget=168, population=8, generations=3, seed=3, input=32)


def reference_run(out):
    """The same search without Ray, uninterrupted."""
    s = rnc.Search(out=str(out), **SEARCH)
    s.run(accuracy=toy_accuracy)
    return {f: (out / f).read_bytes() for f in FILES}


# --- sweep ------------------------------------------------------------------------------

def test_sweep_three_networks_three_budgets_with_one_failing_job(cluster, tmp_path):
    nets = ["squeezenet1_1", {"zoo": "mbv3-small", "input": 32},
            {"zoo": "squeezenet1_1", "input": 32}]
    budgets = [48, 128, 168]  # mbv3-small@32 needs over 100 crossbars: the one failing job
    table = rnc.ray.sweep(nets, budgets, out=tmp_path / "sw", seed=1, effort="fast",
                          progress=False)
    assert len(table) == 9
    with open(tmp_path / "sw" / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9
    assert [int(r["job"]) for r in rows] == list(range(9))
    failed = [r for r in rows if r["status"] == "error"]
    assert len(failed) == 1
    assert failed[0]["network"] == "mbv3-small@32" and failed[0]["budget"] == "48"
    assert failed[0]["error"].startswith("DoesNotFitError")
    assert "does not fit in 48 crossbars" in failed[0]["error"]
    assert failed[0]["run"] == "" and failed[0]["speedup"] == ""

    builds = {"squeezenet1_1": ("squeezenet1_1", 64), "mbv3-small@32": ("mbv3-small", 32),
              "squeezenet1_1@32": ("squeezenet1_1", 32)}
    for row, trow in zip(rows, table):
        if row["status"] != "ok":
            continue
        name, inp = builds[row["network"]]
        direct = rnc.compile(rnc.Network.zoo(name, input=inp), crossbars=int(row["budget"]),
                             seed=1, effort="fast")
        want = direct.summary
        for k, v in want.items():
            if k == "network":  # the column is the sweep's label of the network
                continue
            if isinstance(v, (dict, list)):
                assert json.loads(row[k]) == v, k
            elif isinstance(v, bool):
                assert row[k] == str(v).lower(), k
            else:
                assert trow[k] == v, k
                assert row[k] == str(v), k
        run = tmp_path / "sw" / row["run"]
        assert json.loads((run / "summary.json").read_text()) == want
        ref = Path(direct.save(tmp_path / "direct" / row["run"], plots=False))
        names = sorted(os.listdir(ref))
        assert sorted(os.listdir(run)) == names and "pack.csv" in names
        for n in names:
            assert (run / n).read_bytes() == (ref / n).read_bytes(), n


def test_sweep_grid_lists_are_swept_and_scalars_fixed(cluster, tmp_path):
    table = rnc.ray.sweep(["squeezenet1_1"], [64], out=tmp_path / "g",
                          duplicate=["none", "auto"], seed=2, effort="fast", progress=False)
    assert [r["duplicate"] for r in table] == ["none", "auto"]
    assert all(r["seed"] == 2 and r["status"] == "ok" for r in table)
    assert table[1]["crossbars_used"] > table[0]["crossbars_used"]
    pytest.importorskip("pandas")
    assert list(table.to_pandas()["duplicate"]) == ["none", "auto"]


def test_sweep_rejects_unknown_network_kinds(cluster, tmp_path):
    with pytest.raises(rnc.OptionsError, match="cannot travel"):
        rnc.ray.sweep([rnc.Network.zoo("squeezenet1_1")], [64], out=tmp_path / "x")


# --- the CLI's Ray evaluator ----------------------------------------------------------

def test_ray_evaluator_gives_the_plain_evaluators_results(cluster, cli, tmp_path):
    env = dict(os.environ, RAY_ADDRESS=cluster)
    runs = {}
    for name, cmd in [("plain", "evaluator.py"), ("ray", "ray_evaluator.py --actors 2")]:
        out = tmp_path / name
        acc = f"external:{sys.executable} {REPO / 'examples' / cmd}"
        p = subprocess.run([cli, "search", "--budget", "168", "--population", "6",
                            "--generations", "1", "--input", "32", "--seed", "2",
                            "--accuracy", acc, "--out", str(out)],
                           capture_output=True, env=env, timeout=300)
        assert p.returncode == 0, p.stderr.decode()
        runs[name] = {f: (out / f).read_bytes() for f in ("evolution.csv", "pareto.json")}
    assert runs["ray"] == runs["plain"]


# --- the search under faults ----------------------------------------------------------

@needs_search
def test_search_survives_an_actor_killed_mid_generation(cluster, tmp_path):
    want = reference_run(tmp_path / "ref")
    seen = []
    pids = {}
    killed = []

    def progress(p):
        seen.append(p)
        if not pids:
            pids.update({i: ray.get(a.pid.remote()) for i, a in enumerate(p.actors)})
        if not killed and p.generation >= 1 and p.total - p.done >= 3:
            # A moment later the pool has handed out the next candidates: every actor is
            # busy when its process is killed.
            killed.append(pids[0])
            threading.Timer(0.03, os.kill, (pids[0], signal.SIGKILL)).start()

    s = rnc.ray.search(evaluate=SlowScorer, evaluate_args=(0.1,), actors=2,
                       out=tmp_path / "run", progress=progress, **SEARCH)
    assert s.done and killed
    assert seen[-1].retried >= 1
    got = {f: (tmp_path / "run" / f).read_bytes() for f in FILES}
    ids = [r["id"] for r in csv.DictReader(got["evolution.csv"].decode().splitlines())]
    assert len(ids) == len(set(ids))
    assert sorted(ids, key=int) == sorted(
        (r["id"] for r in csv.DictReader(want["evolution.csv"].decode().splitlines())), key=int)
    assert got["pareto.json"] == want["pareto.json"]
    assert got["evolution.csv"] == want["evolution.csv"]


def failing(genome):
    if sum(genome["ks"]) > 0:
        raise RuntimeError("no GPU memory")
    return 0.5


@needs_search
def test_search_stops_on_an_evaluator_error_naming_the_candidate(cluster, tmp_path):
    with pytest.raises(rnc.SearchError, match=r"candidate \d+ .*: RuntimeError: no GPU memory$"):
        rnc.ray.search(evaluate=failing, actors=1, out=tmp_path / "run", progress=False,
                       max_retries=1, **SEARCH)
    assert not (tmp_path / "run" / "checkpoint.json").exists()


DRIVER = textwrap.dedent("""
    import math, sys, time
    import ray, rnc.ray

    def acc(genome):
        time.sleep(0.05)
        cap = sum(genome["e"][i] * genome["ks"][i] ** 2 / 294
                  for i in range(16) if i % 4 < genome["d"][i // 4])
        return round(0.70 + 0.22 * (1.0 - math.exp(-cap / 5.0)), 6)

    ray.init(address=sys.argv[1], log_to_driver=False)
    rnc.ray.search(evaluate=acc, actors=2, out=sys.argv[2], resume=True, progress=True,
                   **SEARCH)
    print("finished", file=sys.stderr, flush=True)
""")


@needs_search
def test_search_killed_driver_resumes_to_identical_files(cluster, tmp_path):
    want = reference_run(tmp_path / "ref")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.replace("**SEARCH", ", ".join(f"{k}={v!r}"
                                                           for k, v in SEARCH.items())))
    out = tmp_path / "run"
    cmd = [sys.executable, str(script), cluster, str(out)]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in p.stderr:  # generation 1 fully scored: kill at once, wherever it is
        lines.append(line)
        if "generation 1/3: " in line and "ETA" in line:
            done, total = line.split(": ")[2].split(" ")[0].split("/")
            if done == total:
                p.send_signal(signal.SIGKILL)
                break
    p.wait(timeout=120)
    assert p.returncode == -signal.SIGKILL, "".join(lines)
    assert (out / "checkpoint.json").exists()
    assert (out / "evolution.csv").read_bytes() != want["evolution.csv"]

    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "finished" in r.stderr
    got = {f: (out / f).read_bytes() for f in FILES}
    assert got == want
