"""rnc.Search: NSGA-II for accurate networks that run fast on a crossbar budget, ask/tell."""

from __future__ import annotations

import json
import os
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _rnc
from ._errors import FileError, OptionsError

if TYPE_CHECKING:
    from . import Hardware, Network, Table

PathLike = Union[str, "os.PathLike[str]"]
BuildFn = Callable[[Dict[str, Any]], Union["Network", bytes]]


class Candidate(NamedTuple):
    """A new network of the current generation: its search-wide ``id`` (as in
    evolution.csv) and its ``genome`` (OFA: ``{"ks": [...], "e": [...], "d": [...]}``; a
    custom space: ``{gene: value, ...}``)."""

    id: int
    genome: Dict[str, Any]


class Search:
    """An NSGA-II search over OFA MobileNetV3-small subnets (or your own ``space``) for
    accuracy and speed-up on ``budget`` crossbars, driven by you: ask for a generation's new
    candidates, measure their accuracy however you like, tell it back.

    >>> s = rnc.Search(budget=168, population=50, generations=100, seed=1, out="run")
    >>> while not s.done:
    ...     batch = s.ask()
    ...     s.tell({c.id: my_accuracy(c.genome) for c in batch})
    >>> s.pareto[0]["speedup"]

    Each ``tell`` rewrites ``evolution.csv``, ``pareto.json`` and ``checkpoint.json`` in
    ``out`` exactly as ``rnc search --out`` does (same settings and accuracies give the same
    bytes); :meth:`resume` continues a run that was stopped or killed.

    ``space={"width": [16, 24, 32], "depth": [2, 3]}`` searches your own space instead:
    ``build(genome)`` gets ``{"width": 24, "depth": 3}`` and returns an :class:`rnc.Network`
    (or ONNX bytes). ``accuracy`` names the accuracy objective in the checkpoint (``None``:
    a hardware-only search, speed-up alone, whose ``ask`` returns no candidates).

    ``objectives=("accuracy", "speedup", "energy")`` also minimises the energy per inference
    (``rnc search --objectives``); ``("speedup", "energy")`` is a hardware-only search with
    two objectives. Speed-up is always one; without ``objectives`` they are accuracy and
    speed-up (speed-up alone with ``accuracy=None``).

    When the search ends, its front is re-mapped at the compiler's default effort
    (``pareto.json``: ``speedup_default``, …); ``remap=False`` keeps the search's figures
    (``rnc search --no-remap``), saving seconds per front member.
    """

    __slots__ = ("_s", "_build", "out")

    def __init__(self, budget: int = 168, population: int = 50, generations: int = 100,
                 seed: int = 1, out: PathLike = "rnc-search", *, input: int = 64,
                 effort: str = "fast", hardware: Optional[Hardware] = None,
                 space: Optional[Mapping[str, Sequence[Any]]] = None,
                 build: Optional[BuildFn] = None, accuracy: Optional[str] = "python",
                 objectives: Optional[Sequence[str]] = None, remap: bool = True):
        from . import Hardware

        energy = False
        if objectives is not None:
            if isinstance(objectives, str):
                objectives = objectives.split(",")
            names = [str(o).strip().lower() for o in objectives]
            known = ("accuracy", "speedup", "energy")
            for n in names:
                if n not in known:
                    raise OptionsError(f"objectives: unknown objective {n!r}; expected accuracy, "
                                       "speedup or energy", "objectives")
                if names.count(n) > 1:
                    raise OptionsError(f"objectives: {n!r} is given twice", "objectives")
            if "speedup" not in names:
                raise OptionsError("objectives: speedup must be one of the objectives",
                                   "objectives")
            if "accuracy" in names:
                if accuracy is None:
                    raise OptionsError("objectives include accuracy but accuracy=None (a "
                                       "hardware-only search); name the accuracy objective or "
                                       "drop it from objectives", "objectives")
            else:
                accuracy = None
            energy = "energy" in names

        hw = hardware if hardware is not None else Hardware()
        space_json = None
        if space is not None:
            if build is None:
                raise OptionsError("a custom space needs build=fn (genome -> rnc.Network)",
                                   "build")
            space_json = json.dumps([[str(k), list(v)] for k, v in space.items()])
        elif build is not None:
            raise OptionsError("build= goes with space=: OFA subnets are built by rnc", "build")
        self.out = os.fspath(out)
        self._build = build
        self._s = _rnc.Session.create(self.out, int(budget), int(population), int(generations),
                                      int(seed), int(input), effort, hw._hw, accuracy,
                                      space_json, energy, bool(remap))

    @classmethod
    def resume(cls, out: PathLike, *, build: Optional[BuildFn] = None,
               hardware: Optional[Hardware] = None, effort: str = "fast",
               generations: Optional[int] = None, remap: bool = True) -> Search:
        """Continue the search in ``out`` from its checkpoint, with the settings recorded
        there (a custom space needs its ``build`` again; ``generations`` may raise the
        count). The outputs end byte-identical to an uninterrupted run's."""
        from . import Hardware

        out = os.fspath(out)
        path = os.path.join(out, "checkpoint.json")
        try:
            with open(path, encoding="utf-8") as f:
                settings = json.load(f)["settings"]
        except OSError as e:
            raise FileError(f"{path}: cannot read the checkpoint: {e.strerror}", path) from e
        except (ValueError, KeyError, TypeError) as e:
            raise FileError(f"{path}: not a checkpoint of rnc search ({e})", path) from e
        hw = hardware if hardware is not None else Hardware()
        self = cls.__new__(cls)
        self.out = out
        self._build = build
        self._s = _rnc.Session.resume(out, int(settings["budget"]), int(settings["input"]),
                                      effort, hw._hw, bool(remap))
        if generations is not None:
            self._s.set_generations(int(generations))
        return self

    def ask(self) -> List[Candidate]:
        """The next generation's new, feasible networks that need an accuracy (networks seen
        before reuse their accuracy). Asking again before :meth:`tell` gives the same list."""
        got = self._s.ask(self._build)
        return [Candidate(i, json.loads(g)) for i, g in got]

    def tell(self, accuracies: Union[Mapping[int, float], Iterable[Tuple[int, float]]]) -> None:
        """One accuracy (0..1) per asked candidate: ``{id: accuracy}`` or (id, accuracy)
        pairs. Completes the generation and writes the files."""
        items = accuracies.items() if isinstance(accuracies, Mapping) else accuracies
        self._s.tell([(int(i), float(a)) for i, a in items])

    def run(self, accuracy: Optional[Callable[[Dict[str, Any]], float]] = None,
            progress: Optional[Callable[[Search], Any]] = None) -> Search:
        """Ask and tell until done: ``accuracy(genome)`` scores each candidate (not needed for
        a hardware-only search); ``progress(search)`` is called after every generation."""
        while not self.done:
            batch = self.ask()
            if batch and accuracy is None:
                raise OptionsError("run() needs accuracy=fn(genome) -> float for this search",
                                   "accuracy")
            self.tell({c.id: accuracy(c.genome) for c in batch} if batch else {})
            if progress is not None:
                progress(self)
        return self

    @property
    def done(self) -> bool:
        """Whether every generation has been told."""
        return self._s.done

    @property
    def generation(self) -> Optional[int]:
        """The last completed generation (None before generation 0 is told)."""
        return self._s.generation

    @property
    def objectives(self) -> Tuple[str, ...]:
        """The objectives, in the order accuracy, speedup, energy (those the search has)."""
        return tuple(self._s.objectives)

    @property
    def generations(self) -> int:
        """The generations after generation 0."""
        return self._s.generations

    @property
    def pareto(self) -> List[Dict[str, Any]]:
        """The current front, best speed-up first (``pareto.json``)."""
        path = os.path.join(self.out, "pareto.json")
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    @property
    def evolution(self) -> Table:
        """Every candidate so far (``evolution.csv``) as a :class:`rnc.Table`."""
        from . import _csv_rows

        path = os.path.join(self.out, "evolution.csv")
        if not os.path.exists(path):
            return _csv_rows("")
        with open(path, encoding="utf-8") as f:
            return _csv_rows(f.read())

    def __repr__(self) -> str:
        g = self.generation
        at = "not started" if g is None else f"generation {g} of {self.generations}"
        return f"<rnc.Search in {self.out!r}: {at}>"
