"""The benchmark registry (name -> benchmark function) and the runner that times one, writes its files and
logs it to MLflow. It sits above the benchmark modules, which import only `core`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sulfml.tracking.store import configure
from sulfml.workflows.benchmarks.core import BenchmarkData, BenchmarkResult
from sulfml.workflows.benchmarks.suites import ea, family, obelix, review
from sulfml.workflows.benchmarks.trust import intervals, temperature

BENCHMARKS: dict[str, Callable[[BenchmarkData], BenchmarkResult]] = {
    "obelix": obelix, "ea": ea, "review": review, "family": family,
    "intervals": intervals, "temperature": temperature,
}


def run_benchmark(name: str, data: BenchmarkData, out_dir: str | Path, tracking_uri: str | None = None,
                  log: Callable[[str], None] = print) -> BenchmarkResult:
    """Run one benchmark, write its files, and log an MLflow run tagged `sulfml.benchmark`."""
    import mlflow

    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    t0 = time.perf_counter()
    result = BENCHMARKS[name](data)
    seconds = time.perf_counter() - t0
    result = BenchmarkResult(result.name, result.target, result.metrics, result.predictions,
                             result.training_set, {**result.info, "seconds": round(seconds, 1),
                                                   "config": data.config.name,
                                                   "config_digest": data.config.digest,
                                                   "table_key": data.table.key})
    out = result.write(out_dir)
    configure(tracking_uri)
    with mlflow.start_run(run_name=f"benchmark:{name}"):
        mlflow.set_tags({"sulfml.benchmark": name, "sulfml.target": result.target})
        mlflow.log_params({"config.name": data.config.name, "config.digest": data.config.digest,
                           "preset": data.config.preset, "table_key": data.table.key})
        mlflow.log_metrics({k: float(v) for k, v in result.metrics.items()
                            if isinstance(v, int | float) and np.isfinite(v)})
        mlflow.log_artifacts(str(out), artifact_path="benchmark")
    log(f"benchmark {name}: MAE {result.metrics['mae']:.3f} (n={result.metrics['n']}) in {seconds:.0f} s "
        f"-> {out}")
    return result
