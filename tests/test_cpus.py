"""How many cores sulfml uses."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from sulfml.cpus import available_cpus, one_blas_thread, resolve_n_jobs


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_one_blas_thread_inside_and_the_setting_back_after():
    np.ones((2, 2)) @ np.ones((2, 2))  # NumPy's BLAS is loaded
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert before
        with one_blas_thread():
            assert set(_blas_threads()) == {1}
        assert _blas_threads() == before


def test_n_jobs_never_exceeds_the_machine():
    assert resolve_n_jobs(None) == available_cpus()
    assert resolve_n_jobs(10**6) == available_cpus()
    assert resolve_n_jobs(1) == 1
    with pytest.raises(ValueError):
        resolve_n_jobs(0)
