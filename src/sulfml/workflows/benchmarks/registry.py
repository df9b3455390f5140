"""The benchmark registry (name -> benchmark function), the config a benchmark runs when none is given, and
the runner that repeats one over seeds, times it, writes its files and logs it to MLflow. It sits above the
benchmark modules, which import only `core`."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from sulfml.config import RunConfig, resolve_config
from sulfml.errors import ConfigError, UnknownNameError
from sulfml.model.blend import check_neural_config
from sulfml.tracking.store import configure
from sulfml.workflows.benchmarks.core import (
    BenchmarkData,
    BenchmarkResult,
    check_seeds,
    combine_seeds,
    default_seeds,
    numeric_leaves,
)
from sulfml.workflows.benchmarks.polymorphs import polymorphs
from sulfml.workflows.benchmarks.suites import ea, family, obelix, review
from sulfml.workflows.benchmarks.sulfides import sulfides
from sulfml.workflows.benchmarks.trust import intervals, temperature
from sulfml.workflows.benchmarks.user import user

BENCHMARKS: dict[str, Callable[[BenchmarkData], BenchmarkResult]] = {
    "obelix": obelix, "ea": ea, "review": review, "family": family,
    "intervals": intervals, "temperature": temperature, "sulfides": sulfides,
    "polymorphs": polymorphs,  # leave-pair-out: is the order of two polymorphs of one composition learned?
    "user": user,  # the user's own measurements (a table built with them), leave-one-paper-out
}


def benchmark_config(name_or_path: str | Path | None = None,
                     bundle_dir: str | Path | None = None) -> tuple[RunConfig, dict[str, Any]]:
    """The config to benchmark, and where it came from.

    A config file or shipped config name is read as given. Without one, the config is the one the shipped
    model was trained with: its cards' `config_name`, read as a shipped config, so a benchmark measures the
    model users get rather than a default nobody ships.

    Args:
        name_or_path: a config file, a shipped config's name, or None.
        bundle_dir: the bundle whose cards name the config (default: the one shipped with sulfml).

    Returns:
        (the config, a description for the results' info: `config_source`, `config_path` and, from the
        bundle, its cards' config name and digest and a `config_note` when the digest differs).

    Raises:
        ConfigError: the config cannot be read, or the bundle's config is not a shipped config.
        BundleError: the bundle cannot be read or its cards do not name one config.
    """
    if name_or_path is not None:
        path = resolve_config(name_or_path)
        return RunConfig.from_toml(path), {"config_source": "given", "config_path": str(path)}
    from sulfml.tracking.bundle import Bundle

    bundle = Bundle.from_dir(bundle_dir)
    name, digest = bundle.trained_with
    try:
        path = resolve_config(name)
    except ConfigError as exc:
        raise ConfigError(f"the model bundle {bundle.origin} was trained with config {name!r}, which is not a "
                          f"shipped config ({exc})") from None
    config = RunConfig.from_toml(path)
    origin = {"config_source": f"the config the model bundle {bundle.origin} was trained with (its cards)",
              "config_path": str(path), "bundle_config_name": name, "bundle_config_digest": digest}
    if digest != config.digest:
        origin["config_note"] = (f"the bundle's cards record digest {digest}, the shipped config {name!r} has "
                                 f"{config.digest} now (its file changed since the bundle was trained, e.g. "
                                 "its layout)")
    return config, origin


def run_benchmark(name: str, data: BenchmarkData, out_dir: str | Path, tracking_uri: str | None = None,
                  log: Callable[[str], None] = print, seeds: Sequence[int] | None = None) -> BenchmarkResult:
    """Run one benchmark once per seed, write the seeds' combined files, and log an MLflow run tagged
    `sulfml.benchmark`.

    Args:
        name: a key of `BENCHMARKS`.
        data: the table and config (its seed is replaced by each seed in turn: folds, XGBoost, kNN folds).
        out_dir: where metrics.json, predictions.csv, training_set.csv and parity.png go.
        tracking_uri: the MLflow store (default: the configured one).
        log: where progress lines go.
        seeds: the seeds; None for `default_seeds` (the config's seed and two more).

    Returns:
        The seeds' combined result (`combine_seeds`): mean metrics with their spread and each seed's.

    Raises:
        UnknownNameError: no benchmark has that name.
        ConfigError: the config asks for a neural member that cannot be trained here (`check_neural_config`).
    """
    import mlflow

    if name not in BENCHMARKS:
        raise UnknownNameError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    # a network that cannot be trained here fails now, not after the trees of the first folds
    check_neural_config(data.config, data.origin.get("config_path", f"config {data.config.name!r}"))
    seeds = check_seeds(seeds) if seeds is not None else default_seeds(data.config)
    t0 = time.perf_counter()
    per_seed: dict[int, BenchmarkResult] = {}
    for seed in seeds:
        t = time.perf_counter()
        per_seed[seed] = BENCHMARKS[name](replace(data, config=replace(data.config, seed=seed)))
        m = per_seed[seed].metrics
        log(f"benchmark {name}, seed {seed}: MAE {m['mae']:.3f} (n={m['n']}) in {time.perf_counter() - t:.0f} s")
    seconds = time.perf_counter() - t0
    combined = combine_seeds(per_seed)
    result = replace(combined, info={**combined.info, **data.origin, "seconds": round(seconds, 1),
                                     "config": data.config.name, "config_digest": data.config.digest,
                                     "table_key": data.table.key})
    out = result.write(out_dir)
    configure(tracking_uri)
    with mlflow.start_run(run_name=f"benchmark:{name}"):
        mlflow.set_tags({"sulfml.benchmark": name, "sulfml.target": result.target})
        mlflow.log_params({"config.name": data.config.name, "config.digest": data.config.digest,
                           "preset": data.config.preset, "table_key": data.table.key,
                           "seeds": ",".join(map(str, seeds))})
        means = {k: v for k, v in result.metrics.items() if k not in ("spread", "per_seed")}
        spread = {f"{path}.{stat}": v for path, s in result.metrics["spread"].items() for stat, v in s.items()
                  if stat != "mean"}
        mlflow.log_metrics({_metric_key(k): v for k, v in (numeric_leaves(means) | spread).items()
                            if np.isfinite(v)})
        mlflow.log_artifacts(str(out), artifact_path="benchmark")
    for line in summary(result):
        log(line)
    log(f"-> {out} ({seconds:.0f} s)")
    return result


def _metric_key(path: str) -> str:
    """A metric path as MLflow takes it (letters, digits, `_-. /` only: `25-50 °C` becomes `25-50 _C`)."""
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", path)


def summary(result: BenchmarkResult) -> list[str]:
    """The lines that tell a benchmark's result: the MAE's mean and spread over the seeds, the config, and
    each `by_*` table of MAEs (and what the info says about one that is missing)."""
    m = result.metrics
    seeds, mae = m["seeds"], m["spread"]["mae"]
    if len(seeds) > 1:
        head = (f"MAE {mae['mean']:.3f} ± {mae['std']:.3f} (min {mae['min']:.3f}, max {mae['max']:.3f}) over "
                f"seeds {', '.join(map(str, seeds))}")
    else:
        head = f"MAE {mae['mean']:.3f} (seed {seeds[0]}; one seed, no spread)"
    lines = [f"benchmark {result.name}: {head}; n={m['n']}; config {result.info.get('config')}"]
    for key, table in m.items():
        if key.startswith("by_") and isinstance(table, dict):
            cells = [f"{k} {v['mae']:.3f} (n={v['n']})" for k, v in table.items()
                     if isinstance(v, dict) and "mae" in v and "n" in v]
            lines.append(f"  MAE {key.replace('_', ' ')}: " + ", ".join(cells))
    lines += [f"  {key.replace('_', ' ')}: {text}" for key, text in result.info.items()
              if key.startswith("by_") and isinstance(text, str)]
    return lines
