"""Waiting out a locked store: what counts as transient is decided by exception type and database error code."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, TEMPORARILY_UNAVAILABLE

from sulfml.errors import StoreBusyError
from sulfml.tracking import store


def _locked_error(tmp_path) -> MlflowException:
    """What MLflow raises when another process holds a sqlite store's write lock."""
    db = tmp_path / "busy.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("create table t(x)")
    holder.execute("begin exclusive")
    engine = sa.create_engine(f"sqlite:///{db}", connect_args={"timeout": 0})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("insert into t values (1)"))
    except sa.exc.OperationalError as exc:
        try:  # as MLflow's session maker wraps it
            raise MlflowException(str(exc), error_code=TEMPORARILY_UNAVAILABLE) from exc
        except MlflowException as wrapped:
            return wrapped
    finally:
        holder.close()
        engine.dispose()
    raise AssertionError("the store was not locked")


def test_transient_errors_are_told_by_type_and_code(tmp_path):
    assert store._transient(_locked_error(tmp_path))
    assert store._transient(MlflowException("Experiment(name=sulfml) already exists",
                                            error_code=RESOURCE_ALREADY_EXISTS))
    not_db = tmp_path / "notes.db"
    not_db.write_text("this is not sqlite\n" * 100)
    with pytest.raises(sqlite3.DatabaseError) as info:
        sqlite3.connect(not_db).execute("select * from sqlite_master")
    assert not store._transient(info.value)
    # a message alone does not make an error transient
    assert not store._transient(ValueError("database is locked"))


def test_retry_locked_waits_then_gives_up(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "_RETRY_WAITS", (0.0, 0.0))
    locked = _locked_error(tmp_path)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise locked
        return "done"

    assert store.retry_locked(flaky) == "done" and len(calls) == 3

    def always():
        raise locked

    with pytest.raises(StoreBusyError, match="stayed locked"):
        store.retry_locked(always)
    def not_a_store_error():
        calls.append(1)
        raise ValueError("database is locked")

    calls.clear()
    with pytest.raises(ValueError):
        store.retry_locked(not_a_store_error)
    assert len(calls) == 1
