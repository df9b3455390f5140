"""How many cores sulfml may use: what the machine has and this process is allowed, never more."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any


def available_cpus() -> int:
    """CPUs this process may use: the smaller of the machine's count and the affinity mask."""
    total = os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        total = min(total, len(os.sched_getaffinity(0)))
    return max(total, 1)


def resolve_n_jobs(n_jobs: int | None) -> int:
    """`n_jobs`, or `available_cpus()` when None, never more than `available_cpus()`.

    Raises:
        ValueError: n_jobs < 1.
    """
    limit = available_cpus()
    if n_jobs is None:
        return limit
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1, got {n_jobs}")
    return min(n_jobs, limit)


@cache
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS on one thread.

    Where sulfml parallelises a stage itself (the two targets in two threads, the k-d tree's workers,
    XGBoost's own threads), the BLAS threads of its small matrix products only spin against them: on two
    cores they doubled the CPU time of the nearest-neighbour searches. The previous setting comes back on
    exit.
    """
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield
