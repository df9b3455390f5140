"""Honest benchmarks: no benchmark trains on a material or a paper it tests on, and each writes what it saw.

`BENCHMARKS` maps a name to a function `(BenchmarkData) -> BenchmarkResult`; `run_benchmark` repeats one over
seeds and reports the mean and spread; `benchmark_config` gives the config to run (by default the one the
shipped model was trained with).
"""

from sulfml.workflows.benchmarks.core import BenchmarkData, BenchmarkResult, default_seeds
from sulfml.workflows.benchmarks.registry import BENCHMARKS, benchmark_config, run_benchmark

__all__ = ["BENCHMARKS", "BenchmarkData", "BenchmarkResult", "benchmark_config", "default_seeds", "run_benchmark"]
