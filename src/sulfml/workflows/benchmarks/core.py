"""What every benchmark shares: the leakage rule, censored scoring, fitting, and writing the results."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sulfml.config import RunConfig
from sulfml.data.table import DataTable, aggregate_materials, select_sources
from sulfml.errors import UserError
from sulfml.featurize import rules
from sulfml.featurize.family import family_index
from sulfml.model.cv import regression_metrics
from sulfml.model.train import (
    FittedModel,
    Predictions,
    TargetModel,
    TrainingSet,
    featurize_materials,
    fit_model,
    fit_target,
    predict_with_halfwidth,
    training_set,
)

OBELIX_CENSORED_LOG10 = -15.0  # the OBELiX authors score "<1E-10" as 1e-15 S/cm
# The XGBoost seeds of the accuracy ablation (scripts/experiments/ablation.py): a config's seed is repeated with the first
# two of these that differ from it, so the shipped configs (seed 42) are measured on the ablation's seeds.
SEED_POOL = (42, 7, 2026)
N_SEEDS = 3
TRAINING_SET_COLUMNS = ["formula", "doi", "source", "source_row_id", "raw_formula", "material_key", "paper"]


@dataclass(frozen=True)
class BenchmarkData:
    """The inputs of a benchmark: the merged table, the run config (hyperparameters, preset, seed) and where
    that config came from (written into the results' info, see `registry.benchmark_config`)."""

    table: DataTable
    config: RunConfig
    origin: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchmarkResult:
    """Scores, per-row predictions and the audited training rows of one benchmark.

    Attributes:
        name: benchmark name.
        target: `log10_sigma` or `ea_eV` (the target of the headline metrics and parity plot).
        metrics: at least mae, rmse, r2, spearman, n; extra scores beside them.
        predictions: at least id, formula, y_true, y_pred.
        training_set: every training row: formula, doi, source (and where it came from).
        info: anything else worth keeping (exclusion counts, config digest).
    """

    name: str
    target: str
    metrics: dict
    predictions: pd.DataFrame
    training_set: pd.DataFrame
    info: dict = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> Path:
        """Write metrics.json, predictions.csv, training_set.csv and parity.png into `out_dir`.

        A result of several seeds (`combine_seeds`) plots its first seed's predictions, titled with the
        mean and range of the MAE over the seeds.
        """
        from sulfml.model.plots import parity_plot

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps({**self.metrics, "info": self.info}, indent=2,
                                                     sort_keys=True, default=_jsonable))
        self.predictions.to_csv(out / "predictions.csv", index=False)
        self.training_set.to_csv(out / "training_set.csv", index=False)
        p = self.predictions
        title = f"benchmark {self.name}: MAE {self.metrics['mae']:.3f} (n={self.metrics['n']})"
        if "seed" in p:
            seeds = self.metrics["seeds"]
            p = p[p["seed"] == seeds[0]]
            if len(seeds) > 1:  # two lines: the plotted seed's MAE, then the seeds' mean and range
                spread = self.metrics["spread"]["mae"]
                first = self.metrics["per_seed"][str(seeds[0])]
                title = (f"benchmark {self.name}, seed {seeds[0]}: MAE {first['mae']:.3f} (n={first['n']})\n"
                         f"{len(seeds)} seeds: MAE {spread['mean']:.3f} ({spread['min']:.3f}-{spread['max']:.3f})")
        cens = p["censored"].to_numpy(bool) if "censored" in p else None
        parity_plot(p["y_true"], p["y_pred"], out / "parity.png", target=self.target, censored=cens, title=title)
        return out


def default_seeds(config: RunConfig, n: int = N_SEEDS) -> tuple[int, ...]:
    """The `n` seeds a benchmark repeats with: the config's seed, then `SEED_POOL`'s others, then 0, 1, ...

    Raises:
        UserError: `n` < 1.
    """
    if n < 1:
        raise UserError(f"a benchmark needs at least one seed, got {n}")
    seeds = list(dict.fromkeys((config.seed, *SEED_POOL)))
    extra = (s for s in range(n + len(seeds)) if s not in seeds)
    return tuple(seeds[:n] + [next(extra) for _ in range(n - len(seeds))])


def check_seeds(seeds: Iterable[int]) -> tuple[int, ...]:
    """The seeds as a tuple, refused unless there is at least one and they are distinct integers >= 0.

    Raises:
        UserError: no seed, a repeated seed, or one that is not a non-negative integer.
    """
    seeds = tuple(seeds)
    if not seeds:
        raise UserError("a benchmark needs at least one seed")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 0]
    if bad:
        raise UserError(f"seeds must be non-negative integers, got {', '.join(map(repr, bad))}")
    twice = sorted({s for s in seeds if seeds.count(s) > 1})
    if twice:
        raise UserError(f"seeds listed more than once: {', '.join(map(str, twice))}")
    return tuple(int(s) for s in seeds)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool | np.bool_)


def _mean_over_seeds(values: list[Any]) -> Any:
    """The seeds' mean of one metric: nested tables leaf by leaf, an integer that every seed agrees on (a row
    count) kept as it is, anything that is not a number taken from the first seed."""
    first = values[0]
    if isinstance(first, dict):
        keys = list(dict.fromkeys(k for v in values if isinstance(v, dict) for k in v))
        return {k: _mean_over_seeds([v[k] for v in values if isinstance(v, dict) and k in v]) for k in keys}
    if not all(_is_number(v) for v in values):
        return first
    if all(isinstance(v, int | np.integer) for v in values) and len(set(values)) == 1:
        return int(first)
    return float(np.mean(np.asarray(values, float)))


def numeric_leaves(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Every number in a (nested) metrics table, by its dotted path (`by_family.LGPS.mae`)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out |= numeric_leaves(value, f"{prefix}{key}.")
        elif _is_number(value):
            out[f"{prefix}{key}"] = float(value)
    return out


def seed_spread(per_seed: list[dict]) -> dict[str, dict[str, float]]:
    """Per metric (dotted path), the mean, sample standard deviation (NaN for one seed), min and max over the
    seeds' values; NaN values (an empty selection) are left out, so a metric NaN in every seed stays NaN."""
    paths = list(dict.fromkeys(p for m in per_seed for p in numeric_leaves(m)))
    leaves = [numeric_leaves(m) for m in per_seed]
    out = {}
    for path in paths:
        v = np.array([lv[path] for lv in leaves if path in lv and np.isfinite(lv[path])])
        if not len(v):
            out[path] = {"mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan")}
            continue
        out[path] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else float("nan"),
                     "min": float(v.min()), "max": float(v.max())}
    return out


def combine_seeds(results: dict[int, BenchmarkResult]) -> BenchmarkResult:
    """One result from the same benchmark run with several seeds (in the order given).

    Its metrics are the seeds' means (`_mean_over_seeds`), beside `seeds`, `spread` (`seed_spread`) and
    `per_seed` (each seed's own metrics). Its predictions are every seed's, with a `seed` column. Its training
    set is the seeds' common one when every seed trained on the same rows (the same folds), else every seed's
    with a `seed` column. Its info is the first seed's.
    """
    seeds = list(results)
    first = results[seeds[0]]
    per_seed = [results[s].metrics for s in seeds]
    metrics = _mean_over_seeds(per_seed) | {
        "seeds": seeds, "spread": seed_spread(per_seed),
        "per_seed": {str(s): m for s, m in zip(seeds, per_seed, strict=True)},
    }
    predictions = pd.concat([results[s].predictions.assign(seed=s) for s in seeds], ignore_index=True)
    sets = [results[s].training_set for s in seeds]
    same = all(t.equals(sets[0]) for t in sets[1:])
    training = sets[0] if same else pd.concat([t.assign(seed=s) for s, t in zip(seeds, sets, strict=True)],
                                              ignore_index=True)
    info = first.info | {"training_set": "the same rows for every seed" if same else
                         "each seed's rows (its folds differ), with a seed column"}
    return BenchmarkResult(first.name, first.target, metrics, predictions, training, info)


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON serializable: {type(x)}")


def dois_of(frame: pd.DataFrame) -> set[str]:
    """Every DOI named by the rows (a row may list several, joined by `|`)."""
    return {d for ds in frame["doi"].dropna() for d in str(ds).split("|") if d}


def exclude_leaks(measurements: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop every training row that shares a composition or a paper with the test rows.

    Compositions are compared as fractional compositions rounded to 3 decimals (`composition_key`);
    papers by DOI (any of a row's DOIs).

    Returns:
        (kept rows, removed rows with a `leak` column saying why).
    """
    keys = set(test["composition_key"])
    dois = dois_of(test)
    same_comp = measurements["composition_key"].isin(keys)
    same_paper = measurements["doi"].map(
        lambda d: isinstance(d, str) and bool(set(d.split("|")) & dois)).astype(bool)
    leak = np.where(same_comp & same_paper, "composition and paper",
                    np.where(same_comp, "composition", np.where(same_paper, "paper", "")))
    removed = measurements[leak != ""].assign(leak=leak[leak != ""])
    return measurements[leak == ""], removed


def censored_aware_mae(y_true: np.ndarray, y_pred: np.ndarray, censored: np.ndarray) -> float:
    """MAE where, for an upper bound, any prediction at or below the bound counts as exact."""
    err = np.abs(y_pred - y_true)
    err = np.where(censored, np.maximum(y_pred - y_true, 0.0), err)
    return float(np.mean(err))


def mae(y_true, y_pred) -> float:
    """Mean absolute error; NaN for an empty selection rather than a warning."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    return float(np.mean(np.abs(y_pred - y_true))) if len(y_true) else float("nan")


def scores(y_true, y_pred) -> dict:
    """The headline metrics (mae, rmse, r2, spearman, n)."""
    return regression_metrics(np.asarray(y_true, float), np.asarray(y_pred, float))


def call_accuracy(y_true, y_pred, threshold: float) -> float:
    """Share of rows where the prediction makes the measurement's call "above `threshold`" (or "not above").

    Args:
        y_true, y_pred: measured and predicted values (log10 S/cm for σ).
        threshold: the call's boundary, in the same units; a value equal to it is not above.

    Returns:
        The accuracy in [0, 1]; NaN for an empty selection.
    """
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    return float(np.mean((y_true > threshold) == (y_pred > threshold))) if len(y_true) else float("nan")


def mae_by(labels, y_true, y_pred, order: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """`{label: {"n": rows, "mae": MAE}}` per label: those in `order` first (even when absent, n = 0 and
    MAE NaN, so every run reports the same keys), then any other label present, sorted."""
    labels = np.asarray(labels, dtype=object)
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    present = sorted({str(x) for x in labels} - set(order))
    return {name: {"n": int((labels == name).sum()), "mae": mae(y_true[labels == name], y_pred[labels == name])}
            for name in (*order, *present)}


def material_families(materials: pd.DataFrame) -> np.ndarray:
    """Each material's structural family, one of `sulfml.featurize.rules.FAMILIES`: the data label when it
    names a family, else the composition pattern (the rule the `family_*` features use)."""
    codes = family_index([json.loads(c) for c in materials["composition"]], materials["notation"].tolist(),
                         materials["tags"].tolist(), materials["family"].tolist())
    return np.array([rules.FAMILIES[int(c)] for c in codes], dtype=object)


@dataclass(frozen=True)
class FittedTarget:
    """A model fitted on a benchmark's training rows, and those rows.

    `fitted` is the config's model (`sulfml.model.train.fit_model`: the trees, and the neural member when the
    config asks for it). `model` is set when the fit was calibrated (`fit_on(..., calibrated=True)`): the full
    `TargetModel` with its domain and conformal calibration, exactly as `sulfml train` builds it.
    """

    fitted: FittedModel
    materials: pd.DataFrame
    preset: str
    model: TargetModel | None = None

    @property
    def regressor(self) -> Any:
        """The trees (`make_regressor`'s: an XGBRegressor, or a KnnFeatureRegressor around one)."""
        return self.fitted.regressor

    def predictions(self, frame: pd.DataFrame) -> Predictions:
        """The predictions of materials-like rows (composition JSON, notation, tags, family, state, structure
        columns) and their parts."""
        return self.fitted.predict(featurize_materials(frame, self.preset), frame)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predict materials-like rows: the blend when the config has the neural member, else the trees."""
        return self.predictions(frame).value

    def predict_interval(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(prediction, lower, upper, kNN distance) of materials-like rows; needs a calibrated fit."""
        if self.model is None:
            raise ValueError("fit with calibrated=True to get intervals")
        X = featurize_materials(frame, self.preset)
        dist = self.model.domain.distance(X)[0]
        pred, hw = predict_with_halfwidth(self.regressor, self.model.calibration, X, dist, self.model.neural, frame)
        return pred, pred - hw, pred + hw, dist


def fit_on(measurements: pd.DataFrame, target: str, config: RunConfig, calibrated: bool = False) -> FittedTarget:
    """Aggregate the training measurements to materials and fit one target with the config.

    Without `calibrated`, fit the config's model alone (`sulfml.model.train.fit_model`: the trees, and the
    neural member when the config asks for it, its weight chosen on these rows' out-of-fold predictions); with
    it, fit as `sulfml train` does (grouped CV, domain, conformal calibration).
    """
    materials = aggregate_materials(measurements, config.data.aggregation)
    features = featurize_materials(materials, config.preset)
    ts = training_set(materials, features, target, config)
    if calibrated:
        tm = fit_target(ts, config)
        return FittedTarget(FittedModel(tm.regressor, tm.neural), ts.materials, config.preset, tm)
    return FittedTarget(fit_model(ts, config), ts.materials, config.preset)


def fit_predict(ts: TrainingSet, train_idx: np.ndarray, test_idx: np.ndarray, config: RunConfig) -> Predictions:
    """Fit the config's model (`sulfml.model.train.fit_model`) on the rows `train_idx` of a training set and
    predict its rows `test_idx`: the one way a cross-validated benchmark fits a fold. A neural member's weight
    is chosen on the out-of-fold predictions of the training rows' own grouped CV (`ts.groups`, as `sulfml
    train` groups them), never on a test row."""
    fitted = fit_model(ts.rows(np.asarray(train_idx)), config)
    return fitted.predict(ts.X.iloc[test_idx], ts.materials.iloc[test_idx])


def out_of_fold(ts: TrainingSet, folds: Sequence[tuple[np.ndarray, np.ndarray]], config: RunConfig
                ) -> tuple[Predictions, list[float | None]]:
    """Each fold's `fit_predict`: (the predictions of every row, NaN where no fold tests it, with their parts;
    each fold's network weight, None without the network)."""
    value, trees, network = (np.full(len(ts.y), np.nan) for _ in range(3))
    weights: list[float | None] = []
    for train_idx, test_idx in folds:
        p = fit_predict(ts, train_idx, test_idx, config)
        value[test_idx], trees[test_idx] = p.value, p.trees
        if p.network is not None:
            network[test_idx] = p.network
        weights.append(p.weight)
    return Predictions(value, trees, network if any(w is not None for w in weights) else None), weights


def prediction_columns(p: Predictions, name: str = "y_pred") -> dict[str, np.ndarray]:
    """The predictions' columns: `name` (the answer) and, when the network is on, `name_trees` and
    `name_network` (its parts, so the trees and the network alone can be scored from the same run)."""
    parts = {f"{name}_trees": p.trees, f"{name}_network": p.network} if p.network is not None else {}
    return {name: p.value} | parts


def blend_weights(weights: Mapping[str, Sequence[float | None]]) -> dict[str, dict[str, list[float]]]:
    """The metrics' record of the network's weight in each fit, `{"blend_weights": {fits: [weight per fold]}}`
    (fits: a target, or what a benchmark names its set of fits), or {} when the network is off. Across seeds
    the metrics keep the first seed's at the top and each seed's under `per_seed` (`combine_seeds`).
    """
    kept = {k: [float(w) for w in ws if w is not None] for k, ws in weights.items()}
    kept = {k: ws for k, ws in kept.items() if ws}
    return {"blend_weights": kept} if kept else {}


def selected_measurements(data: BenchmarkData) -> pd.DataFrame:
    """The measurements of the sources the config trains on (the user's too, when the table holds them)."""
    return select_sources(data.table.measurements, data.config.data.sources)


def leak_groups(materials: pd.DataFrame) -> np.ndarray:
    """Fold groups for cross-validated benchmarks: materials that share any paper (DOI or review reference of
    any of their measurements) or their composition are joined into one group, transitively, so a held-out
    material's papers and composition are never trained on. (Grouping by each material's first paper, as
    training's CV does, lets a material reported by several papers share one with the training folds.)"""
    parent = list(range(len(materials)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    columns = (materials[c].tolist() for c in ("papers", "dois", "composition_key"))
    for i, (papers, dois, comp) in enumerate(zip(*columns, strict=True)):
        tokens = {t for text in (papers, dois) if isinstance(text, str) for t in text.split("|") if t}
        for token in tokens | {f"composition:{comp}"}:
            a, b = root(i), root(owner.setdefault(token, i))
            parent[max(a, b)] = min(a, b)
    return np.array([f"group:{root(i)}" for i in range(len(materials))])


def training_rows(measurements: pd.DataFrame, materials: pd.DataFrame) -> pd.DataFrame:
    """The measurements behind the training materials, in the audited `training_set.csv` layout."""
    rows = measurements[measurements["material_key"].isin(set(materials["material_key"]))
                        & measurements["room_temperature"]]
    return rows[TRAINING_SET_COLUMNS].sort_values(["source", "source_row_id"]).reset_index(drop=True)
