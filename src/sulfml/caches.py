"""Where sulfml keeps what it can recompute (downloads, built tables, CIF descriptors): the user cache directory,
in the bottom layer so that every layer can find it."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "SULFML_CACHE_DIR"


def user_cache_dir() -> Path:
    """The user cache: $SULFML_CACHE_DIR, else $XDG_CACHE_HOME/sulfml, else ~/.cache/sulfml."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sulfml"
