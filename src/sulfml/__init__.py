"""sulfml: room-temperature Li-ion conductivity and activation energy of solid electrolytes.

`import sulfml` loads nothing heavy and changes nothing (no environment variables, no files); the
`Predictor` is imported when it is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sulfml._version import __version__

__all__ = ["Predictor", "__version__"]

if TYPE_CHECKING:
    from sulfml.service.predictor import Predictor


def __getattr__(name: str) -> Any:
    if name == "Predictor":
        from sulfml.service.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'sulfml' has no attribute {name!r}")
