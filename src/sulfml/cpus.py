"""How many cores sulfml may use: what the machine has and this process is allowed, never more."""

from __future__ import annotations

import os


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
