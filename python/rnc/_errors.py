"""The exceptions rnc raises. Every one is an :class:`rnc.Error`, and also the built-in
exception that fits, so ``except ValueError`` and ``except OSError`` work as usual."""

from typing import Optional


class Error(Exception):
    """Base class of every error rnc raises."""


class OptionsError(Error, ValueError):
    """A bad option (keyword argument); ``.option`` names it (the CLI's flag name,
    underscored), e.g. ``"crossbars"``."""

    def __init__(self, message: str, option: Optional[str] = None):
        super().__init__(message)
        self.option = option


class NetworkError(Error, ValueError):
    """A model, genome or ONNX file that rnc cannot read or map."""


class ConfigError(Error, ValueError):
    """A hardware configuration (SimConfig.ini or an override) that is invalid."""


class DoesNotFitError(Error, ValueError):
    """The network does not fit the crossbar budget. ``.least_crossbars`` is a proven lower
    bound on the crossbars it needs, when known (``find_solution=True`` finds a budget that
    fits)."""

    def __init__(self, message: str, least_crossbars: Optional[int] = None):
        super().__init__(message)
        self.least_crossbars = least_crossbars


class FileError(Error, OSError):
    """A file or folder that cannot be read or written; ``.filename`` names it."""

    def __init__(self, message: str, filename: Optional[str] = None):
        super().__init__(message)
        self.filename = filename

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class SearchError(Error, ValueError):
    """A search that cannot start, resume or take an answer: settings that differ from a
    checkpoint's, an output folder that already holds a search, an accuracy for a candidate
    that was not asked, ... (the message says which)."""


class CancelledError(Error):
    """The ``progress`` callback of :func:`rnc.compile` returned False. (Ctrl-C raises
    ``KeyboardInterrupt`` as usual.)"""


class InternalError(Error, RuntimeError):
    """A defect in rnc itself (please report it), not a problem with the input."""


__all__ = [
    "Error",
    "OptionsError",
    "NetworkError",
    "ConfigError",
    "DoesNotFitError",
    "FileError",
    "SearchError",
    "CancelledError",
    "InternalError",
]
