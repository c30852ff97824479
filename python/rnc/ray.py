"""rnc on Ray: the ask/tell search with accuracy scored by a pool of Ray actors, and design
sweeps of ``rnc.compile`` jobs run as Ray tasks. Needs the optional dependency ``ray``
(``pip install "rnc[ray]"``).

>>> import rnc.ray
>>> s = rnc.ray.search(budget=168, evaluate=MyScorer, resources={"num_gpus": 1}, actors=4,
...                    population=50, generations=100, out="run", resume=True)
>>> table = rnc.ray.sweep(["mbv3-small", "squeezenet1_1"], [128, 256],
...                       duplicate=["none", "auto"], out="sweep")

Ray is started on first use when it is not already (``address=None``: the cluster named by
``RAY_ADDRESS``, else a local instance; ``address="auto"``: the running cluster).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import tempfile
import time
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

try:
    import ray
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "rnc.ray needs the package 'ray': pip install \"rnc[ray]\" (or pip install ray)"
    ) from e

from . import _errors
from ._errors import OptionsError

# rnc.SearchError comes with rnc.Search; until then a stand-in of the same shape.
SearchError = getattr(_errors, "SearchError", None) or type(
    "SearchError", (_errors.Error, ValueError), {"__module__": "rnc"})

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["search", "sweep", "Progress"]


def _ensure_ray(address: Optional[str]) -> None:
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=True)


# ---------------------------------------------------------------------------------------
# search


class Progress(NamedTuple):
    """What ``progress`` gets after every scored candidate and at the end of each
    generation: the generation being scored (0 is the initial population) of
    ``generations``, its candidates ``done`` of ``total``, the estimated seconds left for the
    whole search (None until one candidate is scored), candidates re-run after their actor
    died so far, the live actor handles (each has ``pid.remote()``), and the seconds this
    call has spent scoring (the accuracy phase, without the driver's hardware side)."""

    generation: int
    generations: int
    done: int
    total: int
    eta_s: Optional[float]
    retried: int
    actors: Tuple[Any, ...]
    scoring_s: float


class _Scorer:
    """One actor: builds the evaluator once (a class is instantiated with its arguments, so a
    model is loaded once per actor), then scores many genomes."""

    def __init__(self, evaluate: Any, args: Sequence[Any], kwargs: Mapping[str, Any]):
        if isinstance(evaluate, type):
            self._fn = evaluate(*args, **dict(kwargs))
        else:
            self._fn = evaluate

    def pid(self) -> int:
        return os.getpid()

    def score(self, cid: int, genome: Dict[str, Any]) -> Tuple[int, float]:
        return cid, float(self._fn(genome))


def _eta_text(s: Optional[float]) -> str:
    if s is None:
        return "--:--"
    s = int(round(s))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


class _Printer:
    """Progress lines on stderr, at most one a second plus one per finished generation."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        finished = p.done == p.total
        if not finished and now - self._last < 1.0:
            return
        self._last = now
        retried = f", {p.retried} retried" if p.retried else ""
        print(f"rnc.ray: generation {p.generation}/{p.generations}: {p.done}/{p.total} "
              f"candidates{retried}, ETA {_eta_text(p.eta_s)}", file=sys.stderr, flush=True)


class _Pool:
    """Ray actors scoring candidates, one in flight per actor. An actor that dies takes only
    its in-flight candidate with it: that candidate goes back in the queue, a replacement
    actor is started, and a result is recorded once per candidate id."""

    def __init__(self, cls: Any, n: int, evaluate: Any, args: Sequence[Any],
                 kwargs: Mapping[str, Any], max_retries: int):
        self._cls = cls
        self._n = n
        self._init = (evaluate, tuple(args), dict(kwargs))
        self._max_retries = max_retries
        self.actors: List[Any] = [self._start() for _ in range(n)]
        self.retried = 0

    def _start(self) -> Any:
        return self._cls.remote(*self._init)

    def score(self, batch: Sequence[Any], on_done: Callable[[int], None]) -> Dict[int, float]:
        queue = list(reversed(batch))  # pop() takes the first candidate
        attempts: Dict[int, int] = {}
        results: Dict[int, float] = {}
        in_flight: Dict[Any, Tuple[Any, Any]] = {}  # ref -> (actor, candidate)
        idle = list(self.actors)
        while queue or in_flight:
            while queue and idle:
                actor = idle.pop(0)
                c = queue.pop()
                in_flight[actor.score.remote(c.id, c.genome)] = (actor, c)
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                actor, c = in_flight.pop(ref)
                try:
                    cid, acc = ray.get(ref)
                except ray.exceptions.RayActorError as e:
                    # The actor's process or node is gone: replace it, retry the candidate.
                    attempts[c.id] = attempts.get(c.id, 0) + 1
                    if attempts[c.id] > self._max_retries:
                        raise SearchError(
                            f"candidate {c.id}: its actor died {attempts[c.id]} times "
                            f"(last: {e}); giving up after max_retries={self._max_retries}"
                        ) from e
                    self.retried += 1
                    self.actors = [a for a in self.actors if a is not actor]
                    fresh = self._start()
                    self.actors.append(fresh)
                    idle.append(fresh)
                    queue.append(c)
                    continue
                except ray.exceptions.RayTaskError as e:
                    cause = getattr(e, "cause", None) or e  # the evaluator's own exception
                    raise SearchError(
                        f"evaluate failed on candidate {c.id} (genome {json.dumps(c.genome)}):"
                        f" {type(cause).__name__}: {cause}"
                    ) from e
                idle.append(actor)
                if cid != c.id or cid in results:
                    # Cannot happen with one task per candidate in flight; guard the record.
                    continue
                results[cid] = acc
                on_done(len(results))
        return results

    def shutdown(self) -> None:
        for a in self.actors:
            ray.kill(a)
        self.actors = []


def search(budget: int = 168, evaluate: Any = None, *,
           resources: Optional[Mapping[str, Any]] = None, actors: int = 1,
           population: int = 50, generations: int = 100, seed: int = 1,
           out: PathLike = "rnc-search", resume: bool = False,
           evaluate_args: Sequence[Any] = (), evaluate_kwargs: Optional[Mapping[str, Any]] = None,
           progress: Union[bool, Callable[[Progress], Any]] = True, max_retries: int = 3,
           address: Optional[str] = None, **options: Any):
    """Run the ask/tell search (:class:`rnc.Search`) with each generation's candidates scored
    in parallel by ``actors`` Ray actors; returns the finished :class:`rnc.Search`.

    ``evaluate`` scores one genome (a dict) with an accuracy in 0..1. A class is instantiated
    once in each actor (with ``evaluate_args``/``evaluate_kwargs``) and its instances called
    per genome, so a model is loaded once and scores many genomes; a function is called as
    is. ``resources`` are the Ray options of each actor, passed as given
    (``{"num_gpus": 1}``, ``{"num_cpus": 4, "memory": 8e9}``, custom resources); default one
    CPU. The driver's rnc does the hardware side; actors only score.

    Faults: a candidate whose actor dies (process killed, node lost) is scored again on
    another actor, up to ``max_retries`` times; each candidate is told exactly once. An
    exception raised by ``evaluate`` stops the search with :class:`rnc.SearchError`.

    The search writes ``evolution.csv``, ``pareto.json`` and ``checkpoint.json`` in ``out``
    after every generation. ``resume=True`` continues from ``out``'s checkpoint when there is
    one (a killed driver, rerun with the same arguments, ends with the same files as an
    uninterrupted run), else starts afresh.

    ``progress``: True prints generation, candidates done and ETA on stderr; a function gets
    a :class:`Progress`; False is silent. Other keyword ``options`` go to :class:`rnc.Search`
    (``input``, ``effort``, ``hardware``, ``space``, ``build``, ``accuracy``, ``objectives``).
    """
    from . import Search

    if evaluate is None:
        raise OptionsError("rnc.ray.search needs evaluate=fn(genome) -> accuracy (or a class)",
                           "evaluate")
    if int(actors) < 1:
        raise OptionsError(f"actors must be at least 1, not {actors}", "actors")
    out = os.fspath(out)
    if resume and os.path.exists(os.path.join(out, "checkpoint.json")):
        keep = {k: options[k] for k in ("build", "hardware", "effort") if k in options}
        s = Search.resume(out, generations=int(generations), **keep)
    else:
        s = Search(budget=budget, population=population, generations=generations, seed=seed,
                   out=out, **options)
    if s.done:
        return s

    report: Optional[Callable[[Progress], Any]]
    if progress is True:
        report = _Printer()
    elif progress is False or progress is None:
        report = None
    else:
        report = progress

    _ensure_ray(address)
    opts = dict(resources) if resources is not None else {"num_cpus": 1}
    # Actors are not restarted by Ray: the pool replaces a dead one itself, so a lost task is
    # re-run on purpose, once, and never twice by Ray behind the pool's back.
    cls = ray.remote(_Scorer).options(max_restarts=0, max_task_retries=0, **opts)
    pool = _Pool(cls, int(actors), evaluate, evaluate_args, evaluate_kwargs or {},
                 int(max_retries))
    gen_seconds: List[float] = []
    scored_before = [0.0]  # seconds spent scoring in the generations before this one
    try:
        while not s.done:
            t0 = time.monotonic()
            batch = s.ask()
            g = 0 if s.generation is None else s.generation + 1
            started = time.monotonic()

            def on_done(done: int, g: int = g, total: int = len(batch),
                        started: float = started) -> None:
                if report is None:
                    return
                elapsed = time.monotonic() - started
                left_here = elapsed / done * (total - done) if done else None
                later = s.generations - g
                per_gen = (sum(gen_seconds) / len(gen_seconds) if gen_seconds
                           else (elapsed / done * total if done else None))
                eta = (None if left_here is None or per_gen is None
                       else left_here + later * per_gen)
                report(Progress(g, s.generations, done, total, eta, pool.retried,
                                tuple(pool.actors),
                                scored_before[0] + (elapsed if total else 0.0)))

            results = pool.score(batch, on_done) if batch else {}
            scored_before[0] += time.monotonic() - started
            missing = [c.id for c in batch if c.id not in results]
            if missing:
                raise SearchError(f"candidates {missing} of generation {g} were not scored")
            s.tell({c.id: results[c.id] for c in batch})
            gen_seconds.append(time.monotonic() - t0)
            if not batch:
                on_done(0)
    finally:
        pool.shutdown()
    return s


# ---------------------------------------------------------------------------------------
# sweep


def _label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=@+-]+", "_", text).strip("_") or "net"


def _network_spec(n: Any) -> Tuple[str, Tuple[Any, ...]]:
    """A network as something a worker can rebuild: (label, spec)."""
    from . import Network

    if isinstance(n, Mapping):
        d = dict(n)
        inp = d.get("input")
        if "zoo" in d:
            name = str(d["zoo"])
            inp = 64 if inp is None else int(inp)
            label = d.get("label") or f"{name}@{inp}"
            return str(label), ("zoo", name, inp, int(d.get("classes", 10)))
        if "onnx" in d:
            path = os.fspath(d["onnx"])
            label = d.get("label") or os.path.basename(path).split(".")[0]
            return str(label), ("onnx", _read(path), None if inp is None else int(inp), label)
        raise OptionsError(f"network {d!r}: a dict names {{'zoo': ...}} or {{'onnx': ...}}",
                           "networks")
    if isinstance(n, (str, os.PathLike)):
        path = os.fspath(n)
        if os.path.exists(path):
            label = os.path.basename(path).split(".")[0]
            return label, ("onnx", _read(path), None, label)
        return path, ("zoo", path, 64, 10)
    if isinstance(n, Network):
        raise OptionsError(
            f"network {n.name!r}: an rnc.Network cannot travel to a Ray worker; pass a zoo "
            "name, an ONNX path, {'zoo': name, 'input': N} or a function returning the "
            "network", "networks")
    if callable(n):
        return _label(getattr(n, "__name__", "net")), ("call", n)
    raise OptionsError(f"network {n!r}: not a zoo name, ONNX path, dict or function",
                       "networks")


def _read(path: str) -> bytes:
    from ._errors import FileError

    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise FileError(f"{path}: cannot read: {e.strerror}", path) from e


def _build(spec: Tuple[Any, ...]):
    from . import Network

    kind = spec[0]
    if kind == "zoo":
        return Network.zoo(spec[1], input=spec[2], classes=spec[3])
    if kind == "onnx":
        return Network.from_onnx(spec[1], input=spec[2], name=spec[3])
    net = spec[1]()
    if not isinstance(net, Network):
        raise TypeError(f"the network function returned {type(net).__name__}, "
                        "not an rnc.Network")
    return net


def _compile_job(spec: Tuple[Any, ...], budget: int, options: Dict[str, Any],
                 hardware: Optional[Tuple[Optional[bytes], Dict[str, str]]],
                 plots: bool) -> Dict[str, Any]:
    """In a Ray worker: build the network, rnc.compile it, return its summary and files (the
    driver writes them, so workers need no shared file system). Errors come back as text."""
    import rnc

    try:
        with tempfile.TemporaryDirectory(prefix="rnc-sweep-") as d:
            hw = None
            if hardware is not None:
                text, overrides = hardware
                config = None
                if text is not None:
                    config = os.path.join(d, "SimConfig.ini")
                    with open(config, "wb") as f:
                        f.write(text)
                hw = rnc.Hardware(config, **overrides)
            c = rnc.compile(_build(spec), crossbars=budget, hardware=hw, **options)
            run = os.path.join(d, "run")
            c.save(run, plots=plots)
            files = {}
            for name in sorted(os.listdir(run)):
                with open(os.path.join(run, name), "rb") as f:
                    files[name] = f.read()
            return {"summary": c.summary, "files": files}
    except Exception as e:  # a failed job is a row with its error, not a lost sweep
        return {"error": f"{type(e).__name__}: {e}"}


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _cell(v: Any) -> Any:
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v)
    if isinstance(v, bool):
        return str(v).lower()
    return v


def sweep(networks: Sequence[Any], budgets: Sequence[int], *, out: PathLike = "rnc-sweep",
          hardware: Any = None, resources: Optional[Mapping[str, Any]] = None,
          plots: bool = False, progress: bool = True, address: Optional[str] = None,
          **grid: Any):
    """Compile every network × budget × grid combination as a Ray task (``rnc.compile`` in
    the worker) and gather the results into one table; returns it as an :class:`rnc.Table`
    (``.to_pandas()`` for a DataFrame).

    ``networks``: zoo names, ONNX paths, ``{"zoo": name, "input": 64, "classes": 10}``,
    ``{"onnx": path, "input": N}`` (each may add ``"label"``), or functions returning an
    :class:`rnc.Network` (called in the worker). ``grid``: ``rnc.compile`` options, a list or
    tuple of values to sweep (``duplicate=["none", "auto"]``, ``depth_split=[1, 2]``) or a
    single value for every job. ``hardware`` is an :class:`rnc.Hardware`; ``resources`` the
    Ray options of each task (default one CPU).

    Writes ``out/sweep.csv`` (one row per job, in job order: job, network, budget, the
    swept options, status ``ok``/``error``, error, run folder, then summary.json's fields)
    and ``out/<run>/`` with each successful job's compile files (``plots``: also the trace
    and pictures). A job that fails is a row with its error.
    """
    out = os.fspath(out)
    specs = [_network_spec(n) for n in networks]
    budgets = [int(b) for b in budgets]
    axes = [(k, list(v) if isinstance(v, (list, tuple)) else [v]) for k, v in grid.items()]
    swept = [k for k, v in grid.items() if isinstance(v, (list, tuple))]
    combos: List[Dict[str, Any]] = [{}]
    for k, values in axes:
        combos = [dict(c, **{k: v}) for c in combos for v in values]
    hw = None
    if hardware is not None:
        hw = (None if hardware.config is None else _read(hardware.config),
              dict(hardware.overrides))

    jobs = []
    for label, spec in specs:
        for b in budgets:
            for opts in combos:
                jobs.append((label, spec, b, opts))

    _ensure_ray(address)
    task = ray.remote(_compile_job).options(**(dict(resources) if resources else {"num_cpus": 1}))
    # Each network (ONNX bytes) goes to the object store once, not once per job.
    shared: Dict[int, Any] = {}
    for _, spec, _, _ in jobs:
        if id(spec) not in shared:
            shared[id(spec)] = ray.put(spec)
    refs = [task.remote(shared[id(spec)], b, opts, hw, plots) for _, spec, b, opts in jobs]
    index = {ref: i for i, ref in enumerate(refs)}
    results: List[Optional[Dict[str, Any]]] = [None] * len(jobs)
    pending = list(refs)
    started = time.monotonic()
    last = 0.0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for ref in ready:
            try:
                results[index[ref]] = ray.get(ref)
            except ray.exceptions.RayError as e:  # the worker died past Ray's retries
                results[index[ref]] = {"error": f"{type(e).__name__}: {e}"}
        done = len(jobs) - len(pending)
        now = time.monotonic()
        if progress and (now - last >= 1.0 or not pending):
            last = now
            eta = (now - started) / done * len(pending)
            print(f"rnc.ray: sweep {done}/{len(jobs)} jobs, ETA {_eta_text(eta)}",
                  file=sys.stderr, flush=True)

    os.makedirs(out, exist_ok=True)
    rows = []
    for i, ((label, _, b, opts), r) in enumerate(zip(jobs, results)):
        r = r or {"error": "no result"}
        row: Dict[str, Any] = {"job": i, "network": label, "budget": b}
        for k in swept:
            row[k] = _cell(opts[k])
        if "error" in r:
            row.update(status="error", error=r["error"], run="")
        else:
            run = _label("-".join([f"{i:03d}", label, f"b{b}"]
                                  + [f"{k}={opts[k]}" for k in swept]))
            d = os.path.join(out, run)
            os.makedirs(d, exist_ok=True)
            for name, data in r["files"].items():
                _write_atomic(os.path.join(d, name), data)
            row.update(status="ok", error="", run=run)
            for k, v in r["summary"].items():
                if k not in row:
                    row[k] = _cell(v)
        rows.append(row)

    columns: List[str] = []
    for row in rows:
        for k in row:
            if k not in columns:
                columns.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: row.get(k, "") for k in columns})
    _write_atomic(os.path.join(out, "sweep.csv"), buf.getvalue().encode("utf-8"))

    from . import Table

    return Table(rows)
