"""rnc: compile neural networks onto RRAM crossbar compute-in-memory accelerators.

A ten-line tour::

    import rnc
    net = rnc.Network.zoo("mbv3-small", input=64)          # or from_onnx / from_torch / ofa
    print(len(net.layers), net.layers[0]["box"])           # weight layers and their boxes
    c = rnc.compile(net, crossbars=168, duplicate="auto")  # duplicate, pack, simulate
    print(c.summary["speedup"], c.summary["crossbars_used"])
    c.save("out", plots=True)                              # the files `rnc compile --out` writes

Keyword options are the CLI's flags with underscores (``--layer-threshold`` is
``layer_threshold``), with the same defaults and checks. Errors are :class:`rnc.Error`
subclasses that are also ``ValueError`` or ``OSError``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from . import _rnc
from ._errors import (
    CancelledError,
    ConfigError,
    DoesNotFitError,
    Error,
    FileError,
    InternalError,
    NetworkError,
    OptionsError,
    SearchError,
)

__version__ = _rnc.version()

__all__ = [
    "Network",
    "Hardware",
    "Compilation",
    "Search",
    "Candidate",
    "Table",
    "compile",
    "Error",
    "OptionsError",
    "NetworkError",
    "ConfigError",
    "DoesNotFitError",
    "FileError",
    "SearchError",
    "CancelledError",
    "InternalError",
    "__version__",
]

PathLike = Union[str, "os.PathLike[str]"]


class Table(list):
    """A list of row dicts (one per layer, tile or execution) that can become a DataFrame."""

    def to_pandas(self):
        """The rows as a ``pandas.DataFrame`` (needs pandas)."""
        try:
            import pandas
        except ImportError as e:
            raise ImportError(
                "Table.to_pandas() needs the package 'pandas' (pip install pandas)"
            ) from e
        return pandas.DataFrame(list(self))


def _csv_rows(text: Union[str, bytes]) -> Table:
    """CSV text as dicts, numbers parsed (int where whole, else float)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")

    def value(v: str) -> Any:
        try:
            return int(v)
        except ValueError:
            pass
        try:
            return float(v)
        except ValueError:
            return v

    return Table({k: value(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text)))


class Network:
    """A network as rnc sees it: its weight layers (Conv, Linear) and the data edges between
    them. Build one with :meth:`zoo`, :meth:`from_onnx`, :meth:`from_torch` or :meth:`ofa`."""

    __slots__ = ("_net", "_layers")

    def __init__(self, _net: Any):
        if not isinstance(_net, _rnc.Net):
            raise TypeError(
                "build a Network with Network.zoo(), from_onnx(), from_torch() or ofa()"
            )
        self._net = _net
        self._layers: Optional[Table] = None

    @classmethod
    def zoo(cls, name: str, input: int = 64, classes: int = 10) -> "Network":
        """A built-in model: ``"mbv3-small"``, ``"squeezenet1_1"`` or ``"resnet18"``.

        >>> rnc.Network.zoo("squeezenet1_1", input=64).name
        'squeezenet1_1'
        """
        return cls(_rnc.zoo(name, int(input), int(classes)))

    @classmethod
    def ofa(cls, genome: Union[Mapping[str, Sequence[int]], str], input: int = 64,
            classes: int = 10) -> "Network":
        """An OFA MobileNetV3-small subnet from its genome: ``{"ks": [16 kernel sizes],
        "e": [16 expand ratios], "d": [4 depths]}`` (a dict or its JSON text)."""
        text = genome if isinstance(genome, str) else json.dumps(dict(genome))
        return cls(_rnc.ofa(text, int(input), int(classes)))

    @classmethod
    def from_onnx(cls, path_or_bytes: Union[PathLike, bytes, bytearray, memoryview],
                  input: Optional[int] = None, skip_unsupported: bool = False,
                  name: Optional[str] = None) -> "Network":
        """An ONNX model from a file (``.onnx`` or ``.onnx.gz``) or from its bytes.

        ``input`` is the square input side (default: the model's own); ``skip_unsupported``
        leaves out weight-bearing ops rnc cannot map (listed in :attr:`skipped`)."""
        inp = None if input is None else int(input)
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            return cls(_rnc.onnx_bytes(bytes(path_or_bytes), name or "model", inp,
                                       bool(skip_unsupported)))
        return cls(_rnc.onnx_file(os.fspath(path_or_bytes), inp, bool(skip_unsupported)))

    @classmethod
    def from_torch(cls, module: Any, example_input: Any, skip_unsupported: bool = False,
                   **export_kwargs: Any) -> "Network":
        """A PyTorch ``nn.Module``, exported through ``torch.onnx`` at the example input's
        shape (batch 1 is enough). The module is exported in eval mode and left as it was.

        >>> import torch, torchvision
        >>> m = torchvision.models.squeezenet1_1(num_classes=10)
        >>> net = rnc.Network.from_torch(m, torch.zeros(1, 3, 64, 64))
        """
        try:
            import torch
        except ImportError as e:
            raise ImportError(
                "rnc.Network.from_torch needs the package 'torch' (PyTorch): pip install torch, "
                "or on Debian apt-get install python3-torch"
            ) from e
        kwargs: Dict[str, Any] = {"opset_version": 13, "do_constant_folding": True}
        try:
            import inspect

            if "dynamo" in inspect.signature(torch.onnx.export).parameters:
                # The TorchScript exporter needs nothing beyond torch itself.
                kwargs["dynamo"] = False
        except (TypeError, ValueError):
            pass
        kwargs.update(export_kwargs)
        buf = io.BytesIO()
        was_training = bool(getattr(module, "training", False))
        module.eval()
        try:
            with torch.no_grad():
                torch.onnx.export(module, example_input, buf, **kwargs)
        finally:
            module.train(was_training)
        return cls.from_onnx(buf.getvalue(), skip_unsupported=skip_unsupported,
                             name=type(module).__name__)

    @property
    def name(self) -> str:
        """The model's name (zoo name, ONNX file stem, or the module's class name)."""
        return self._net.name

    @property
    def input_hw(self) -> tuple:
        """Input height and width in pixels."""
        return tuple(self._net.input_hw)

    @property
    def skipped(self) -> List[str]:
        """ONNX nodes left out under ``skip_unsupported=True``."""
        return list(self._net.skipped)

    def inspect(self, xbar: Optional[str] = None, depth_split: int = 1,
                depthwise: str = "serial") -> Dict[str, Any]:
        """What ``rnc inspect --json`` prints: layers with boxes and tiles, edges, totals and
        the crossbar lower bounds, for the given crossbar size and depthwise options."""
        return json.loads(self._net.inspect_json(xbar, int(depth_split), depthwise))

    @property
    def layers(self) -> Table:
        """The weight layers as ``rnc inspect --json`` lists them (128x128 crossbars, depth
        split 1): index, name, kind, in/out channels, kernel, stride, padding, dilation,
        groups, input_hw, output_hw, box {rows, cols, cycles}, tiles."""
        if self._layers is None:
            self._layers = Table(self.inspect()["layers"])
        return self._layers

    @property
    def edges(self) -> List[tuple]:
        """Data dependences between weight layers, as (from, to) layer indices."""
        return [tuple(e) for e in self.inspect()["edges"]]

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        h, w = self.input_hw
        return f"<rnc.Network {self.name!r} at {h}x{w}: {len(self.layers)} weight layers>"


def _ini_value(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (list, tuple)):
        return ",".join(_ini_value(x) for x in v)
    return str(v)


class Hardware:
    """The hardware model: an MNSIM 2.0 ``SimConfig.ini`` (``config``; default: the embedded
    reference configuration, 128x128 crossbars) with ``KEY=VALUE`` overrides as keyword
    arguments, as ``rnc --set`` (a key present in several sections: ``**{"Section/Key": v}``).

    >>> hw = rnc.Hardware(Xbar_Size=(256, 256), Subarray_Size=256)
    >>> hw.xbar
    '256x256'
    """

    __slots__ = ("_hw", "config", "overrides")

    def __init__(self, config: Optional[PathLike] = None, **overrides: Any):
        self.config = None if config is None else os.fspath(config)
        self.overrides = {k: _ini_value(v) for k, v in overrides.items()}
        self._hw = _rnc.Hw(self.config, list(self.overrides.items()))

    @property
    def xbar(self) -> str:
        """Crossbar size as ``"ROWSxCOLS"``."""
        return self._hw.xbar

    @property
    def source(self) -> str:
        """Where the configuration came from."""
        return self._hw.source

    def activation(self, rows: int, cols: int, bits: int = 8, indata: int = 0,
                   rdata: int = 0) -> Dict[str, float]:
        """The cost of one crossbar activation, as ``rnc hw --json``: latency_ns and its parts
        (xbar_ns, dac_ns, adc_ns, digital_ns, buffer_write_ns, buffer_read_ns), area_um2,
        power_w, energy_nj.

        >>> round(rnc.Hardware().activation(128, 128, 8)["latency_ns"], 6)
        152.77319
        """
        return json.loads(self._hw.activation_json(int(rows), int(cols), int(bits), int(indata),
                                                   int(rdata)))

    def __repr__(self) -> str:
        return f"<rnc.Hardware {self.source} {self.xbar}>"


from ._compile import Compilation, compile  # noqa: E402
from ._search import Candidate, Search  # noqa: E402
