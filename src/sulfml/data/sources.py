"""Where the public datasets come from: a data directory, or the pinned upstream files fetched into a cache.

The pins (address, commit, sha256, licence) live in `sources.toml` beside this module.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from tqdm import tqdm

from sulfml.caches import user_cache_dir
from sulfml.errors import DataSourceError, DataUnavailableError, InputError

DATA_DIR_ENV = "SULFML_DATA_DIR"
URL_BASE_ENV = "SULFML_DATA_URL"  # replaces the upstream host, e.g. a mirror served on 127.0.0.1
VERIFY_ENV = "SULFML_VERIFY"  # "0" skips the sha256 check of a data directory you curate yourself



@dataclass(frozen=True)
class SourceFile:
    """One pinned upstream file of a public dataset."""

    source: str
    name: str
    path: str
    commit: str
    sha256: str

    @property
    def relpath(self) -> str:
        """Where the file sits inside a data directory: `<source>/<name>`."""
        return f"{self.source}/{self.name}"

    def url(self, base: str) -> str:
        """The download address under `base` (the upstream host or a mirror with the same layout)."""
        return f"{base.rstrip('/')}/{self.commit}/{self.path}"


@cache
def _spec() -> dict:
    return tomllib.loads(files("sulfml.data").joinpath("sources.toml").read_text("utf-8"))


def source_names() -> list[str]:
    """The public sources, in the order they are loaded."""
    return [k for k, v in _spec().items() if isinstance(v, dict)]


def source_files(source: str | None = None) -> list[SourceFile]:
    """The pinned files of one source, or of all sources."""
    names = [source] if source else source_names()
    return [SourceFile(source=s, **f) for s in names for f in _spec()[s]["files"]]


# The review tables that ship inside the package (data/review/, see its README.md): no download, no pin.
REVIEW_INFO = {"licence": "CC BY 4.0",
               "citation": "Su et al., Energy Mater. 2022, 2, 200005, doi 10.20517/energymater.2022.01"}


def source_info(source: str) -> dict:
    """Licence and citation of a source (`review`: the shipped review tables, or one of `source_names`)."""
    if source == "review":
        return dict(REVIEW_INFO)
    return {k: v for k, v in _spec()[source].items() if k != "files"}


def default_cache_dir() -> Path:
    """The user cache (`sulfml.caches.user_cache_dir`)."""
    return user_cache_dir()


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_digests(paths: Iterable[str | os.PathLike]) -> list[dict[str, str]]:
    """`{"name": ..., "sha256": ...}` per file, in order: what a table key or a model card records of the
    user's own files (the name, not the path, which says nothing of the content and may be private).

    Raises:
        InputError: a file is missing or cannot be read.
    """
    out = []
    for path in map(Path, paths):
        try:
            out.append({"name": path.name, "sha256": sha256_of(path)})
        except FileNotFoundError:
            raise InputError(f"measurements file not found: {path}") from None
        except IsADirectoryError:
            raise InputError(f"measurements file {path} is a directory, not a file") from None
        except OSError as exc:
            raise InputError(f"cannot read measurements file {path}: {exc.strerror or exc}") from None
    return out


def _download(url: str, dest: Path, progress: bool) -> None:
    tmp = dest.with_suffix(dest.suffix + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataUnavailableError(f"cannot download {url}: {exc}; without network, point SULFML_DATA_DIR at a "
                                   "folder holding the files") from exc
    tmp.replace(dest)


def resolve_data_dir(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    url_base: str | None = None,
    progress: bool = True,
    verify: bool | None = None,
) -> Path:
    """Find a directory holding every pinned file, downloading into the cache when none is given.

    Args:
        data_dir: a directory laid out as `<source>/<file>`; defaults to $SULFML_DATA_DIR. Its files
            are used as they are (a local mirror), but still checked against their sha256.
        download: fetch missing files into the user cache when no data directory is given.
        url_base: the host to fetch from; defaults to $SULFML_DATA_URL, else the pinned upstream.
        progress: show a progress bar while downloading.
        verify: check a given data directory against the pins (default: yes, unless $SULFML_VERIFY=0).
            Downloads are always checked.

    Returns:
        The data directory.

    Raises:
        DataSourceError: a file is missing, cannot be fetched, or its sha256 differs from the pin
            (the message names the file).
    """
    given = data_dir or os.environ.get(DATA_DIR_ENV)
    root = Path(given) if given else default_cache_dir() / "datasets"
    base = url_base or os.environ.get(URL_BASE_ENV) or _spec()["url_base"]
    if verify is None:
        verify = os.environ.get(VERIFY_ENV, "1") != "0"
    for f in source_files():
        path = root / f.relpath
        if not path.exists():
            if given or not download:
                raise DataSourceError(f"missing dataset file {path} (expected {f.relpath} in {root})")
            _download(f.url(base), path, progress)
        elif given and not verify:
            continue
        got = sha256_of(path)
        if got != f.sha256:
            if not given:
                # a corrupt download must not poison the cache for the next run
                path.unlink(missing_ok=True)
            raise DataSourceError(f"sha256 mismatch for {f.relpath}: expected {f.sha256}, got {got} ({path})")
    return root
