"""rnc.compile and its result."""

from __future__ import annotations

import html
import json
import os
import tempfile
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Union

from . import _rnc

if TYPE_CHECKING:
    from . import Hardware, Network

PathLike = Union[str, "os.PathLike[str]"]


def _option_value(key: str, v: Any) -> Any:
    """Python spellings of CLI values: duplicate=True is the bare flag (auto), an xbar may be
    a (rows, cols) pair."""
    if key == "duplicate" and isinstance(v, bool):
        return "auto" if v else "none"
    if key == "xbar" and isinstance(v, (tuple, list)) and len(v) == 2:
        return f"{int(v[0])}x{int(v[1])}"
    return v


def compile(net: Network, crossbars: Optional[int] = None, *,
            hardware: Optional[Hardware] = None, input_bits: int = 8,
            progress: Optional[Callable[[str], Any]] = None, **options: Any) -> Compilation:
    """Compile ``net`` onto ``crossbars`` crossbars: partition, duplicate, pack, simulate and
    compare with the ISAAC-like baseline, as ``rnc compile`` does.

    Options are the CLI's flags, underscored, with its defaults (``rnc compile --help``):
    ``rules`` ("physical", "exclusive", "reference"), ``duplicate`` ("auto" or True, "none"
    or False, "area", "reference"), ``depth_split`` (a number or "auto"), ``depthwise``,
    ``packer``, ``find_solution``, ``layer_threshold``, ``max_load``,
    ``same_layer_diagonal``, ``seed``, ``samples``, ``schedule``, ``effort``,
    ``min_efficiency``, ``refine_moves``, ``xbar``. ``hardware`` is an
    :class:`rnc.Hardware` (default: the embedded configuration); ``progress(step)`` is
    called between mapping steps (return False to stop). The GIL is released while rnc
    works; Ctrl-C stops it with ``KeyboardInterrupt``.

    >>> c = rnc.compile(rnc.Network.zoo("squeezenet1_1"), crossbars=64, duplicate=True)
    >>> c.summary["speedup"] > 1
    True
    """
    from . import Hardware, Network

    if not isinstance(net, Network):
        raise TypeError(f"rnc.compile needs an rnc.Network, not {type(net).__name__}")
    if hardware is None:
        hardware = Hardware()
    elif not isinstance(hardware, Hardware):
        raise TypeError(f"hardware= needs an rnc.Hardware, not {type(hardware).__name__}")
    opts: Dict[str, Any] = {"crossbars": crossbars}
    for k, v in options.items():
        opts[k] = _option_value(k, v)
    comp = _rnc.compile(net._net, hardware._hw, int(input_bits), json.dumps(opts), progress)
    return Compilation(comp, net)


def _rows(text):
    from . import _csv_rows

    return _csv_rows(text)


class Compilation:
    """The result of :func:`rnc.compile`: the mapping, its simulation and its report."""

    __slots__ = ("_c", "network", "_summary", "_layers", "_pack")

    def __init__(self, _c: Any, network: "Network"):
        self._c = _c
        self.network = network
        self._summary: Optional[Dict[str, Any]] = None
        self._layers = None
        self._pack = None

    @property
    def summary(self) -> Dict[str, Any]:
        """``summary.json`` as a dict: crossbars used, lower bounds, utilisation, latency,
        ideal latency, baseline latency, speed-up, period, energy, the options used."""
        if self._summary is None:
            self._summary = json.loads(self._c.summary_json())
        return self._summary

    def summary_json(self) -> str:
        """The exact text of ``summary.json`` (what ``rnc compile --json`` prints)."""
        return self._c.summary_json()

    @property
    def partition(self) -> Dict[str, Any]:
        """``partition.json``: per layer its box, tiles and copies."""
        return json.loads(self._c.partition_json())

    @property
    def layers(self):
        """Per layer (a :class:`rnc.Table`): the ``partition.json`` entries (box, tiles,
        copies, time per sample)."""
        if self._layers is None:
            from . import Table

            p = self.partition
            self._layers = Table(p["layers"] if isinstance(p, dict) else p)
        return self._layers

    @property
    def pack(self):
        """Every placed tile copy, as the rows of ``pack.csv`` (a :class:`rnc.Table`)."""
        if self._pack is None:
            self._pack = _rows(self._c.pack_csv())
        return self._pack

    def trace(self, format: str = "rows"):
        """Every layer execution of the simulation: ``"rows"`` (a :class:`rnc.Table` of
        ``trace.csv``), ``"csv"`` (its bytes) or ``"chrome"`` (chrome://tracing JSON bytes)."""
        if format == "rows":
            return _rows(self._c.trace_csv())
        if format == "csv":
            return self._c.trace_csv()
        if format == "chrome":
            return self._c.trace_chrome()
        from ._errors import OptionsError

        raise OptionsError(f"trace format '{format}' is not one of: rows, csv, chrome", "format")

    def save(self, dir: PathLike, plots: bool = True) -> str:
        """Write the files of ``rnc compile --out DIR`` (summary.json, partition.json,
        pack.csv; with ``plots`` also trace.csv and the pictures) into ``dir``; returns it."""
        d = os.fspath(dir)
        self._c.save(d, bool(plots))
        return d

    def report_html(self) -> str:
        """The self-contained HTML report (``rnc report``) of this compilation."""
        with tempfile.TemporaryDirectory(prefix="rnc-") as d:
            self._c.save(d, True)
            return _rnc.report_html(d)

    def occupancy_svg(self) -> str:
        """The crossbar occupancy picture as SVG text."""
        with tempfile.TemporaryDirectory(prefix="rnc-") as d:
            self._c.save(d, False)
            return _rnc.occupancy_svg(d)

    def _repr_html_(self) -> str:
        s = self.summary
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td>{html.escape(_short(v))}</td></tr>"
            for k, v in s.items()
            if not isinstance(v, (dict, list))
        )
        return (
            f"<div><b>rnc compilation of {html.escape(self.network.name)}</b>"
            f"<table>{rows}</table>{self.occupancy_svg()}</div>"
        )

    def __repr__(self) -> str:
        s = self.summary
        keys = ("crossbars_used", "latency_ns", "speedup")
        parts = ", ".join(f"{k}={_short(s[k])}" for k in keys if k in s)
        return f"<rnc.Compilation {self.network.name}: {parts}>"


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
