"""The learn stage: build a target's training set, cross-validate it by groups, fit the final model."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from xgboost import XGBRegressor

from sulfml.config import RunConfig
from sulfml.model.blend import NeuralMember, blend, fit_member, network_predict
from sulfml.model.conformal import Calibration, calibrate
from sulfml.model.cv import CVResult, group_labels, grouped_folds, regression_metrics
from sulfml.model.domain import DomainModel
from sulfml.model.estimator import make_regressor


@dataclass(frozen=True)
class TrainingSet:
    """The rows, features, target values and CV groups of one target."""

    target: str
    materials: pd.DataFrame
    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    censored: np.ndarray

    def rows(self, idx: np.ndarray) -> TrainingSet:
        """The training set of the rows `idx` only."""
        return replace(self, materials=self.materials.iloc[idx], X=self.X.iloc[idx], y=self.y[idx],
                       groups=self.groups[idx], censored=self.censored[idx])

    @property
    def data_hash(self) -> str:
        """Hash of the material keys, target values and feature names: 'the same data'."""
        h = hashlib.sha256()
        h.update("\n".join(self.materials["material_key"].astype(str)).encode())
        h.update(np.round(self.y, 6).tobytes())
        h.update("\n".join(self.X.columns).encode())
        return h.hexdigest()[:16]

    @property
    def families(self) -> tuple[str, ...]:
        """Every structural family (`family_*` feature) a training row has, in `rules.FAMILIES` order."""
        from sulfml.featurize.family import row_families
        from sulfml.featurize.rules import FAMILIES

        present = set(row_families(self.X.to_numpy(float), list(self.X.columns)))
        return tuple(f for f in FAMILIES if f in present)

    @property
    def elements(self) -> tuple[str, ...]:
        """Every element present in a training composition."""
        return tuple(sorted({el for c in self.materials["composition"] for el in json.loads(c)}))


def featurize_materials(materials: pd.DataFrame, preset: str, n_jobs: int | None = None) -> pd.DataFrame:
    """Features of the materials view (composition JSON, notation, tags, family, structure columns)."""
    from sulfml.featurize.presets import featurize

    frame = materials.copy()
    frame["composition"] = frame["composition"].map(json.loads)
    frame["cif_path"] = frame["cif_path"].fillna("")
    return featurize(frame, preset, n_jobs=n_jobs)


def training_set(materials: pd.DataFrame, features: pd.DataFrame, target: str, config: RunConfig) -> TrainingSet:
    """Select a target's rows and values.

    `log10_sigma` uses every material; censored ones are trained at the config's substitute value.
    `ea_eV` uses the materials with a reported activation energy.
    """
    if target == "log10_sigma":
        rows = materials
        y = rows["log10_sigma"].to_numpy(float).copy()
        if config.censoring.strategy != "substitute":
            raise ValueError(f"unknown censoring strategy {config.censoring.strategy!r}")
        censored = rows["censored"].to_numpy(bool)
        y[censored] = config.censoring.log10_value
    elif target == "ea_eV":
        rows = materials[materials["ea_eV"].notna()]
        y = rows["ea_eV"].to_numpy(float)
        censored = np.zeros(len(rows), bool)
    else:
        raise ValueError(f"unknown target {target!r}")
    return TrainingSet(
        target=target,
        materials=rows,
        X=features.loc[rows.index],
        y=y,
        groups=group_labels(rows, config.cv.group_by),
        censored=censored,
    )


def cross_validate(ts: TrainingSet, params: dict, config: RunConfig, n_jobs: int | None = None,
                   on_fold: Callable[[int, float, float], None] | None = None) -> CVResult:
    """Grouped K-fold CV with the config's folds and seed; out-of-fold predictions and metrics.

    The metrics score every row (censored ones at their substitute); `mae_uncensored` leaves them out.
    `on_fold(fold, fold_mae, running_mae)` is called after each fold (running_mae: over the rows predicted
    so far); tuning uses it to prune, and may raise to stop.
    """
    oof = np.full(len(ts.y), np.nan)
    folds = grouped_folds(ts.groups, config.cv.n_splits, config.seed)
    for k, (train_idx, test_idx) in enumerate(folds):
        model = make_regressor(params, config.seed, n_jobs)
        model.fit(ts.X.iloc[train_idx], ts.y[train_idx])
        oof[test_idx] = model.predict(ts.X.iloc[test_idx])
        if on_fold is not None:
            done = ~np.isnan(oof)
            on_fold(k, float(np.mean(np.abs(oof[test_idx] - ts.y[test_idx]))),
                    float(np.mean(np.abs(oof[done] - ts.y[done]))))
    return cv_result(ts, oof, folds)


def cv_result(ts: TrainingSet, oof: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> CVResult:
    """The CV metrics of out-of-fold predictions: every row scored (censored ones at their substitute),
    `mae_uncensored` without them, and each fold's MAE."""
    unc = ~ts.censored
    metrics = regression_metrics(ts.y, oof)
    metrics["mae_uncensored"] = float(np.mean(np.abs(oof[unc] - ts.y[unc])))
    fold_mae = tuple(float(np.mean(np.abs(oof[test_idx] - ts.y[test_idx]))) for _, test_idx in folds)
    return CVResult(oof=oof, fold_mae=fold_mae, metrics=metrics)


@dataclass(frozen=True)
class TargetModel:
    """A fitted target model with everything its card records."""

    target: str
    regressor: XGBRegressor  # or a KnnFeatureRegressor (sulfml.model.knn) around one
    training: TrainingSet
    cv: CVResult
    config: RunConfig
    trained_at: str
    domain: DomainModel
    calibration: Calibration
    temperature_range_K: tuple[float, float] | None = None
    family_temperature_range_K: dict[str, tuple[float, float]] | None = None
    # The network blended with the trees, when the config asks for it; `cv` is then the blend's and
    # `trees_cv` the trees' own.
    neural: NeuralMember | None = None
    trees_cv: CVResult | None = None

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Feature names, in the order the model expects."""
        return tuple(self.training.X.columns)

    def card(self) -> dict:
        """The JSON card stored beside the XGBoost model (with the kNN reference set when there is one)."""
        from sulfml._version import __version__
        from sulfml.data.sources import file_digests

        knn = {"knn": self.regressor.to_dict()} if hasattr(self.regressor, "to_dict") else {}
        # a model trained on the user's own (maybe private) files says so: their names and sha256
        extra = {"extra_data": file_digests(self.config.data.extra)} if self.config.data.extra else {}
        neural = {"neural": self.neural.card()} if self.neural is not None else {}
        return knn | extra | neural | {
            "target": self.target,
            "preset": self.config.preset,
            "feature_names": list(self.feature_names),
            "metrics": {f"cv_{k}": v for k, v in self.cv.metrics.items()},
            "cv_fold_mae": list(self.cv.fold_mae),
            "interval": self.calibration.to_dict(),
            "domain": {"elements": list(self.training.elements), "families": list(self.training.families),
                       "threshold": self.domain.threshold,
                       "quantile": self.domain.quantile, "k": self.domain.k, "features": list(self.domain.features),
                       "n_reference": int(len(self.domain.matrix))},
            "temperature_range_K": list(self.temperature_range_K) if self.temperature_range_K else None,
            "family_temperature_range_K": {f: list(r) for f, r in (self.family_temperature_range_K or {}).items()},
            "censoring": {"strategy": self.config.censoring.strategy,
                          "log10_value": self.config.censoring.log10_value},
            "n_train": int(len(self.training.y)),
            "data_hash": self.training.data_hash,
            "config_name": self.config.name,
            "config_digest": self.config.digest,
            "package_version": __version__,
            "trained_at": self.trained_at,
        }


def oof_knn_distance(model, ts: TrainingSet, folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray | None:
    """Each row's `knn_distance_mean` (the model's kNN feature) to the rows of the other CV folds, as a query
    from a new paper sees the training set; None for a model without kNN features."""
    if not hasattr(model, "neighbour_columns"):
        return None
    from sulfml.model.knn import fraction_columns
    from sulfml.model.knn_features import KNN_FEATURES, neighbour_features

    x = np.nan_to_num(ts.X.to_numpy(float)[:, fraction_columns(ts.X.columns)])
    out = np.full(len(ts.y), np.nan)
    column = KNN_FEATURES.index("knn_distance_mean")
    for train_idx, test_idx in folds:
        out[test_idx] = neighbour_features(x[train_idx], ts.y[train_idx], x[test_idx], int(model.k))[:, column]
    return out


def predict_with_halfwidth(model, calibration: Calibration, X: pd.DataFrame, distance: np.ndarray,
                           member: NeuralMember | None = None, rows: pd.DataFrame | None = None
                           ) -> tuple[np.ndarray, np.ndarray]:
    """The predictions of feature rows X and their intervals' half-widths (`calibration.halfwidth`), with the
    model's kNN features searched once for both when the model has them. With the target's neural `member`
    the prediction is the blend (what its calibration was fitted on), the network reading the `composition`
    and `state` columns of `rows` (the materials of X's rows)."""
    knn = None
    if hasattr(model, "neighbour_columns"):
        inputs = model.neighbour_columns(X)
        prediction = model.xgb_.predict(inputs).astype(float)  # what `model.predict(X)` computes from these
        knn = inputs["knn_distance_mean"].to_numpy(float) if "knn_distance_mean" in calibration.inputs else None
    else:
        prediction = model.predict(X).astype(float)
    if member is not None:
        prediction = blend(prediction, member_predict(member, X, rows), member.weight)
    return prediction, calibration.halfwidth(prediction, distance, knn)


def _states(rows: pd.DataFrame) -> list:
    """Each row's state (the network's context): None for every row of a table without a state column."""
    return rows["state"].tolist() if "state" in rows else [None] * len(rows)


def member_predict(member: NeuralMember, X: pd.DataFrame, rows: pd.DataFrame | None) -> np.ndarray:
    """The network's predictions of the feature rows X, read from `rows` (the materials of X's rows: their
    `composition` and `state` columns).

    Raises:
        ValueError: `rows` is missing or does not match X.
    """
    if rows is None or len(rows) != len(X):
        raise ValueError("the neural member needs the materials of the rows (composition, state)")
    return network_predict(member.weights, rows["composition"].tolist(), _states(rows))


@dataclass(frozen=True)
class Predictions:
    """A model's predictions of some rows and their parts.

    Attributes:
        value: what the model answers: the blend when it has a neural member, else the trees' prediction.
        trees: the trees' prediction.
        network: the network's prediction (None without a neural member).
        weight: the network's share of the blend (None without a neural member).
    """

    value: np.ndarray
    trees: np.ndarray
    network: np.ndarray | None = None
    weight: float | None = None


@dataclass(frozen=True)
class FittedModel:
    """A target's model fitted as `fit_target` fits it, without the domain and the intervals: the trees on every
    training row and, when the config asks for it, the neural member (`fit_model`)."""

    regressor: Any  # `make_regressor`'s: an XGBRegressor, or a KnnFeatureRegressor around one
    neural: NeuralMember | None = None

    @property
    def weight(self) -> float | None:
        """The network's share of the blend; None without a neural member."""
        return None if self.neural is None else self.neural.weight

    def predict(self, X: pd.DataFrame, rows: pd.DataFrame | None = None) -> Predictions:
        """The predictions of feature rows X; with a neural member, `rows` are their materials (composition,
        state) and the answer is the blend, the weight chosen when the member was fitted."""
        trees = np.asarray(self.regressor.predict(X), float)
        if self.neural is None:
            return Predictions(trees, trees)
        network = member_predict(self.neural, X, rows)
        return Predictions(blend(trees, network, self.neural.weight), trees, network, self.neural.weight)


def fit_neural(ts: TrainingSet, config: RunConfig, folds: list[tuple[np.ndarray, np.ndarray]],
               trees_oof: np.ndarray, log: Callable[[str], None] | None = None) -> NeuralMember | None:
    """The target's neural member fitted on the training rows (`sulfml.model.blend.fit_member`) when the config
    asks for one, else None: the network's out-of-fold predictions on the trees' `folds`, its weight chosen
    on those beside the trees' `trees_oof` (only training rows are seen), then the network on every row."""
    table = config.neural(ts.target)
    if table is None:
        return None
    return fit_member(ts.materials["composition"].tolist(), _states(ts.materials), ts.y, folds, trees_oof, table,
                      config.seed, log)


def fit_model(ts: TrainingSet, config: RunConfig, n_jobs: int | None = None,
              log: Callable[[str], None] | None = None) -> FittedModel:
    """Fit a target's model on every row of `ts` as `fit_target` does, without its domain and intervals: the
    trees and, when the config asks for it, the neural member, its weight chosen on the out-of-fold
    predictions of these rows' own grouped CV (`ts.groups`, the config's folds and seed). Without one, only
    the trees are fitted (no CV). This is what a benchmark fits on its training rows."""
    params = config.params.get(ts.target, {})
    model = make_regressor(params, config.seed, n_jobs)
    model.fit(ts.X, ts.y)
    if config.neural(ts.target) is None:
        return FittedModel(model)
    cv = cross_validate(ts, params, config, n_jobs)
    folds = list(grouped_folds(ts.groups, config.cv.n_splits, config.seed))
    return FittedModel(model, fit_neural(ts, config, folds, cv.oof, log))


@dataclass(frozen=True)
class FittedParts:
    """What `fit_target` builds before it calibrates: the CV, the final model, the folds and the domain with
    each training row's held-out distance (an interval experiment calibrates other rules on them)."""

    cv: CVResult
    model: Any
    folds: list[tuple[np.ndarray, np.ndarray]]
    domain: DomainModel
    held_out_distance: np.ndarray


def fit_parts(ts: TrainingSet, config: RunConfig, n_jobs: int | None = None) -> FittedParts:
    """Cross-validate, fit the final model on every row and build its domain, as `fit_target` does."""
    params = config.params.get(ts.target, {})
    cv = cross_validate(ts, params, config, n_jobs)
    model = make_regressor(params, config.seed, n_jobs)
    model.fit(ts.X, ts.y)
    folds = list(grouped_folds(ts.groups, config.cv.n_splits, config.seed))
    importance = model.get_booster().get_score(importance_type="gain")
    domain, held_out_distance = DomainModel.fit(ts.X, ts.materials, importance, folds, k=config.domain.k,
                                                n_features=config.domain.n_features,
                                                quantile=config.domain.quantile)
    return FittedParts(cv, model, folds, domain, held_out_distance)


def fit_target(ts: TrainingSet, config: RunConfig, n_jobs: int | None = None,
               log: Callable[[str], None] | None = None) -> TargetModel:
    """Cross-validate, fit the final model on every row, then build its domain and calibrate its intervals.

    The domain (built with the config's `[domain]` settings) and the interval calibration both use the CV's
    paper-grouped folds, so the threshold and the coverage describe materials from papers the model has not seen.
    With the target's neural member on (`RunConfig.neural`), the network is fitted on the same folds
    (`sulfml.model.blend.fit_member`), and the CV metrics and the calibration are the blend's out-of-fold
    predictions'; the domain stays the trees' (its distances come from their features, not from errors).
    `log` gets a line per network fit.
    """
    parts = fit_parts(ts, config, n_jobs)
    cv, model, folds, domain, held_out_distance = (parts.cv, parts.model, parts.folds, parts.domain,
                                                   parts.held_out_distance)
    trees_cv = None
    neural = fit_neural(ts, config, folds, cv.oof, log)
    if neural is not None:
        trees_cv, cv = cv, cv_result(ts, blend(cv.oof, neural.oof, neural.weight), folds)
    calibration = calibrate(cv.oof, held_out_distance, ts.y, ~ts.censored, config.cv.interval_coverage,
                            config.seed, threshold=domain.threshold,
                            knn_distance_mean=oof_knn_distance(model, ts, folds))
    return TargetModel(target=ts.target, regressor=model, training=ts, cv=cv, config=config,
                       trained_at=datetime.now(UTC).isoformat(timespec="seconds"), domain=domain,
                       calibration=calibration, neural=neural, trees_cv=trees_cv)
