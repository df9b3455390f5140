"""sulfml: room-temperature Li-ion conductivity and activation energy of solid electrolytes.

`import sulfml` loads nothing heavy and changes nothing (no environment variables, no files); the
`Predictor` and `parse_formula` are imported when they are first used. The errors are sulfml's one root,
`SulfmlError`, and its `UserError` family (`sulfml.errors`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sulfml._version import __version__
from sulfml.errors import (
    BundleError,
    ConfigError,
    DataSourceError,
    InputError,
    ScreenError,
    SulfmlError,
    UserError,
)

__all__ = ["BundleError", "ConfigError", "DataSourceError", "InputError", "Predictor", "ScreenError",
           "SulfmlError", "UserError", "__version__", "parse_formula"]

if TYPE_CHECKING:
    from sulfml.parse.formula import parse_formula
    from sulfml.service.predictor import Predictor

_LAZY = {"Predictor": "sulfml.service.predictor", "parse_formula": "sulfml.parse.formula"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sulfml' has no attribute {name!r}")
