"""What every benchmark shares: the leakage rule, censored scoring, fitting, and writing the results."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sulfml.config import RunConfig
from sulfml.data.table import DataTable, aggregate_materials
from sulfml.model.cv import regression_metrics
from sulfml.model.estimator import make_regressor
from sulfml.model.train import TargetModel, featurize_materials, fit_target, training_set

OBELIX_CENSORED_LOG10 = -15.0  # the OBELiX authors score "<1E-10" as 1e-15 S/cm
TRAINING_SET_COLUMNS = ["formula", "doi", "source", "source_row_id", "raw_formula", "material_key", "paper"]


@dataclass(frozen=True)
class BenchmarkData:
    """The inputs of a benchmark: the merged table and the run config (hyperparameters, preset, seed)."""

    table: DataTable
    config: RunConfig


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
        """Write metrics.json, predictions.csv, training_set.csv and parity.png into `out_dir`."""
        from sulfml.model.plots import parity_plot

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps({**self.metrics, "info": self.info}, indent=2,
                                                     sort_keys=True, default=_jsonable))
        self.predictions.to_csv(out / "predictions.csv", index=False)
        self.training_set.to_csv(out / "training_set.csv", index=False)
        p = self.predictions
        cens = p["censored"].to_numpy(bool) if "censored" in p else None
        parity_plot(p["y_true"], p["y_pred"], out / "parity.png", target=self.target, censored=cens,
                    title=f"benchmark {self.name}: MAE {self.metrics['mae']:.3f} (n={self.metrics['n']})")
        return out


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


@dataclass(frozen=True)
class FittedTarget:
    """A model fitted on a benchmark's training rows, and those rows.

    `model` is set when the fit was calibrated (`fit_on(..., calibrated=True)`): the full `TargetModel`
    with its domain and conformal calibration, exactly as `sulfml train` builds it.
    """

    regressor: Any  # `make_regressor`'s: an XGBRegressor, or a KnnFeatureRegressor around one
    materials: pd.DataFrame
    preset: str
    model: TargetModel | None = None

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predict materials-like rows (composition JSON, notation, tags, family, structure columns)."""
        X = featurize_materials(frame, self.preset)
        return self.regressor.predict(X)

    def predict_interval(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(prediction, lower, upper, kNN distance) of materials-like rows; needs a calibrated fit."""
        if self.model is None:
            raise ValueError("fit with calibrated=True to get intervals")
        X = featurize_materials(frame, self.preset)
        pred = self.regressor.predict(X).astype(float)
        dist = self.model.domain.distance(X)[0]
        hw = self.model.calibration.halfwidth(pred, dist)
        return pred, pred - hw, pred + hw, dist


def fit_on(measurements: pd.DataFrame, target: str, config: RunConfig, calibrated: bool = False) -> FittedTarget:
    """Aggregate the training measurements to materials and fit one target with the config.

    With `calibrated`, fit as `sulfml train` does (grouped CV, domain, conformal calibration).
    """
    materials = aggregate_materials(measurements, config.data.aggregation)
    features = featurize_materials(materials, config.preset)
    ts = training_set(materials, features, target, config)
    if calibrated:
        tm = fit_target(ts, config)
        return FittedTarget(regressor=tm.regressor, materials=ts.materials, preset=config.preset, model=tm)
    model = make_regressor(config.params.get(target, {}), config.seed)
    model.fit(ts.X, ts.y)
    return FittedTarget(regressor=model, materials=ts.materials, preset=config.preset)


def selected_measurements(data: BenchmarkData) -> pd.DataFrame:
    """The measurements of the sources the config trains on."""
    m = data.table.measurements
    return m[m["source"].isin(data.config.data.sources)]


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
