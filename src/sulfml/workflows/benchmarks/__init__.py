"""Honest benchmarks: no benchmark trains on a material or a paper it tests on, and each writes what it saw.

`BENCHMARKS` maps a name to a function `(BenchmarkData) -> BenchmarkResult`.
"""

from sulfml.workflows.benchmarks.core import BenchmarkData, BenchmarkResult
from sulfml.workflows.benchmarks.registry import BENCHMARKS, run_benchmark

__all__ = ["BENCHMARKS", "BenchmarkData", "BenchmarkResult", "run_benchmark"]
