"""The MLflow store: which URI to use, pointing MLflow at it, and waiting out a store locked by another process.

Every other tracking module goes through `retry_locked` for calls that write to the store.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from sulfml.errors import StoreBusyError, StoreError, UserError

EXPERIMENT = "sulfml"

T = TypeVar("T")
_RETRY_WAITS = (0.2, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0)
# sqlite result codes (the low byte of an extended code): another connection holds the lock, or the file is
# being created by another process
_SQLITE_TRANSIENT = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN}
# extended sqlite codes of two processes inserting the same row
_SQLITE_DUPLICATE = {sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY}
# PostgreSQL SQLSTATEs of two workers creating the same row, table or object at once
_PG_TRANSIENT = {"23505", "42P07", "42710"}


def tracking_uri(uri: str | None = None) -> str:
    """The store to use: `uri`, else $MLFLOW_TRACKING_URI, else `sqlite:///<cwd>/mlflow.db`."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def configure(uri: str | None = None, experiment: str = EXPERIMENT) -> str:
    """Point MLflow at the store and experiment; returns the URI used.

    Raises:
        StoreError: the store cannot be opened or used (the message hides any password).
        StoreBusyError: it stayed locked by another process.
    """
    import mlflow

    resolved = tracking_uri(uri)
    # a bar per downloaded bundle file is noise on the terminal and in CI logs
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    try:
        with _store_init_lock(resolved):
            # the first use of a sqlite store creates and migrates its tables: one process at a time
            retry_locked(mlflow.set_experiment, experiment)
            retry_locked(mlflow.MlflowClient().search_registered_models, max_results=1)
    except Exception as exc:
        if isinstance(exc, KeyboardInterrupt | UserError):
            raise
        reason = getattr(exc, "message", None) or str(exc)
        raise StoreError(f"cannot use the MLflow store {_masked(resolved)}: "
                         f"{type(exc).__name__}: {' '.join(reason.split())[:300]}") from exc
    return resolved


def open_existing(uri: str | None = None) -> str:
    """Point MLflow at an existing store to read it; returns the URI. Unlike `configure` it creates nothing:
    no database file, no tables, no experiment, no lock file.

    Raises:
        StoreError: a local store (a sqlite file or a file-store directory) that does not exist or is not
            an MLflow store, or a store that cannot be used.
    """
    import mlflow

    resolved = tracking_uri(uri)
    path = local_store_path(resolved)
    if path is not None:
        if not path.exists():
            raise StoreError(f"no MLflow store at {path} (reading a store does not create one)")
        if resolved.startswith("sqlite:") and not _sqlite_has_registry(path):
            raise StoreError(f"cannot use the MLflow store {path}: it has no model registry tables")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    return resolved


def local_store_path(uri: str) -> Path | None:
    """The file or directory of a local store (`sqlite:///path`, `file:` or a bare path); None for servers."""
    from urllib.parse import unquote, urlparse

    if uri.startswith("sqlite:"):
        rest = uri[len("sqlite:"):].split("?")[0]
        if not rest.startswith("///") or rest in ("///", "///:memory:"):
            return None
        return Path(unquote(rest[3:]))
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):  # a bare path (C:\ on Windows)
        return Path(uri)
    return None


def _sqlite_has_registry(path: Path) -> bool:
    """Whether a sqlite file has MLflow's registry tables (opened read-only: nothing is written)."""
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        rows = con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'registered_models'")
        return rows.fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        con.close()


def masked(uri: str) -> str:
    """The URI with any password hidden (for messages)."""
    return _masked(uri)


def _masked(uri: str) -> str:
    """The URI with any password hidden."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", uri)


@contextlib.contextmanager
def _store_init_lock(uri: str) -> Iterator[None]:
    """An exclusive lock on `<db>.lock` beside a local sqlite store (a no-op for other stores)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: rely on the retries alone
        yield
        return
    db = Path(uri[len(prefix):].split("?")[0])
    try:
        fh = open(db.with_name(db.name + ".lock"), "a")  # noqa: SIM115 - held for the block
    except OSError:  # e.g. no such directory: MLflow says so when it opens the store
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def retry_locked(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Call an MLflow function, retrying while the store is locked by another process.

    Two `sulfml train` processes writing one local sqlite store meet "database is locked" (and, on a fresh
    store, both create the same tables or experiment). Waits up to ~20 s in total, then raises a clear
    error instead of a traceback.

    Raises:
        StoreBusyError: the store was still locked after the last wait.
    """
    for wait in (*_RETRY_WAITS, None):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not _transient(exc):
                raise
            if wait is None:
                raise StoreBusyError(f"the MLflow store stayed locked by another process: {exc}") from exc
            time.sleep(wait)
    raise AssertionError("unreachable")


def _transient(exc: BaseException) -> bool:
    """A store error that goes away when retried: a busy sqlite store, or two processes creating one thing.

    MLflow wraps the database error (an `MlflowException` caused by SQLAlchemy's, caused by the driver's),
    so the whole chain is searched for a driver error with a transient code.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

    for e in _chain(exc):
        if isinstance(e, MlflowException) and e.error_code == ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            return True  # e.g. two processes creating the experiment
        if isinstance(e, sqlite3.Error):
            code = getattr(e, "sqlite_errorcode", None) or 0
            if code & 0xFF in _SQLITE_TRANSIENT or code in _SQLITE_DUPLICATE or _sqlite_table_exists(e):
                return True
        if getattr(e, "pgcode", None) in _PG_TRANSIENT:
            return True
    return False


def _sqlite_table_exists(e: sqlite3.Error) -> bool:
    """Two processes migrating a fresh sqlite store at once: one meets "table ... already exists".

    sqlite reports it with the generic SQLITE_ERROR code, so only the message tells it from a real error;
    this is the one place a message is read. (On POSIX `_store_init_lock` prevents the race; this covers
    systems without `fcntl`.)
    """
    return getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_ERROR and "already exists" in str(e)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, what caused it (explicitly or while handling), and SQLAlchemy's wrapped driver error, once each."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__, getattr(e, "orig", None)]
