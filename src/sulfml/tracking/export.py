"""Exporting the champion pair from the registry into a bundle directory: checked, then swapped into place
in one step so that a failure at any point leaves the directory as it was."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sulfml.tracking.bundle import TARGET_DIRS, Bundle, write_card
from sulfml.tracking.integrity import (
    CHECKSUMMED,
    NETWORK_FILE,
    BundleError,
    read_card,
    read_verified,
    scan_for_pickles,
)
from sulfml.tracking.registry import ALIAS, MODEL_NAMES
from sulfml.tracking.store import retry_locked

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion


def download_champions(dest: str | Path, alias: str = ALIAS, versions: dict[str, str] | None = None) -> Path:
    """Copy the aliased version of both models (or the given `versions`, target -> version), as bundle files,
    into `dest/<target>/`.

    The registry's files are checked (no pickles, card schema, checksums) and the new bundle is built in a
    temporary directory beside `dest`, loaded once, then swapped into place in one step: a process killed
    at any point leaves `dest` as it was or fully replaced, never half written.

    Raises:
        MlflowException: no version holds the alias.
        BundleError: a registry artifact was tampered with or is damaged; `dest` is left untouched.
    """
    import mlflow

    dest = Path(dest)
    client = mlflow.MlflowClient()
    if versions is None:
        chosen = {target: retry_locked(client.get_model_version_by_alias, name, alias)
                  for target, name in MODEL_NAMES.items()}
    else:
        chosen = {target: retry_locked(client.get_model_version, name, str(versions[target]))
                  for target, name in MODEL_NAMES.items()}
    if dest.exists() and not dest.is_dir():
        raise BundleError(f"cannot export the models to {dest}: it is a file, not a directory")
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in dest.parent.glob(f".{dest.name}.new-*"):  # left by an export killed an hour ago or more
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.new-", dir=dest.parent))
    try:
        if dest.is_dir():  # keep what is not ours (models/README.md)
            for item in dest.iterdir():
                if item.name in TARGET_DIRS.values():
                    continue
                if item.is_dir() and not item.is_symlink():
                    shutil.copytree(item, staging / item.name, symlinks=True)
                else:
                    shutil.copy2(item, staging / item.name, follow_symlinks=False)
        for target, mv in chosen.items():
            _export_version(mv, staging / TARGET_DIRS[target], alias if versions is None else None)
        Bundle.from_dir(staging)  # what lands in dest loads
        staging.chmod(0o755)
        _swap_into_place(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # after the swap, this holds the previous bundle
    return dest


def _export_version(mv: ModelVersion, out: Path, alias: str | None) -> None:
    """Download one registered version's bundle files into `out`, checked against its own card."""
    import mlflow

    run_id = mv.tags.get("source_run_id") or mv.run_id
    where = f"registry artifact {mv.name} v{mv.version} (run {run_id})"
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(retry_locked(mlflow.artifacts.download_artifacts, run_id=run_id, artifact_path="bundle",
                                dst_path=tmp))
        scan_for_pickles(src, where)
        card = read_card(src, where, "logged by an older sulfml; retrain to register a version with "
                                     "checksummed files")
        # the neural member's network travels with its card (and is checked against it) when it has one
        for name in (*CHECKSUMMED, *((NETWORK_FILE,) if "neural" in card else ())):
            (out / name).write_bytes(read_verified(src / name, card, where))
    card["registered_version"] = int(mv.version)
    if alias is not None:  # a version asked for by number holds no alias
        card["alias"] = alias
    write_card(card, out)


def _swap_into_place(new: Path, dest: Path) -> None:
    """Make `new` become `dest`; afterwards `new` holds the old `dest` (if there was one).

    On Linux, renameat2(RENAME_EXCHANGE) swaps the two directories atomically. Elsewhere two renames are
    used, with a window of microseconds in which `dest` is absent.
    """
    if not dest.exists():
        os.rename(new, dest)
        return
    if _exchange(new, dest):
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
    os.rmdir(old)
    os.rename(dest, old)
    os.rename(new, dest)
    os.rename(old, new)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
