"""Files that ship inside the package (configs, the review's tables, the champion bundle, schemas), found
with `importlib.resources`, never relative to a checkout."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def shipped_path(*parts: str) -> Path:
    """The installed path of a file or folder inside the `sulfml` package.

    sulfml is installed unzipped (a wheel or an editable install), so its resources are real files; the
    readers that take a `Path` (MLflow, pandas, the bundle loader) can use them as they are.

    Raises:
        FileNotFoundError: the package does not hold it (a broken install).
    """
    resource = files("sulfml").joinpath(*parts)
    path = Path(str(resource))
    if not path.exists():
        raise FileNotFoundError(f"sulfml is missing its shipped file {'/'.join(parts)} (reinstall sulfml)")
    return path
