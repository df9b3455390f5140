"""The users' chemistry: σ of the Li sulfides by leak-free grouped cross-validation.

Every Li material whose composition holds S is tested once. Folds are made of `leak_groups` (materials that
share a paper, a DOI or their composition, joined transitively), so a test material's papers and composition
are never trained on. Each fold's model learns from everything else: every source and every chemistry, minus
the fold's groups, which also takes out any non-sulfide that shares a paper or composition with a test sulfide.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from sulfml.data.table import aggregate_materials
from sulfml.model.cv import grouped_folds
from sulfml.model.train import featurize_materials, training_set
from sulfml.parse.state import STATES
from sulfml.workflows.benchmarks.core import (
    BenchmarkData,
    BenchmarkResult,
    blend_weights,
    call_accuracy,
    leak_groups,
    mae,
    mae_by,
    material_families,
    out_of_fold,
    prediction_columns,
    scores,
    selected_measurements,
    training_rows,
)

# Five folds whatever the config's CV says, so every config is measured on the same kind of split (as `ea`).
SULFIDE_FOLDS = 5
# The calls a screen makes: σ above 1e-4 S/cm (worth a look) and above 1e-3 S/cm (a fast conductor).
CALLS_LOG10: dict[str, float] = {"1e-4": -4.0, "1e-3": -3.0}
# `sulfml.featurize.rules.FAMILIES` as the report names the sulfide families; any other family is "other".
REPORT_FAMILIES: dict[str, str] = {"argyrodite": "argyrodite", "LGPS": "LGPS", "thio-LISICON": "thio-LISICON",
                                   "thiophosphate": "Li2S-P2S5"}
FAMILY_ORDER: tuple[str, ...] = (*REPORT_FAMILIES.values(), "other")
# The values of the materials' `state` column; a missing state counts as unknown.
STATE_ORDER: tuple[str, ...] = STATES
NO_STATE = "no state labels (the materials table has no state column)"


def is_sulfide(materials: pd.DataFrame) -> np.ndarray:
    """Per material, whether its composition holds both Li and S."""
    return np.array([{"Li", "S"} <= set(json.loads(c)) for c in materials["composition"]], dtype=bool)


def report_family(families: np.ndarray) -> np.ndarray:
    """`rules.FAMILIES` names (see `material_families`) as the benchmark reports them (`FAMILY_ORDER`)."""
    return np.array([REPORT_FAMILIES.get(str(f), "other") for f in families], dtype=object)


def sulfide_metrics(predictions: pd.DataFrame) -> dict:
    """The benchmark's scores of its predictions.

    Args:
        predictions: one row per tested material with `y_true`, `y_pred` (log10 S/cm), `censored`,
            `y_mean_predictor`, `family` (a `FAMILY_ORDER` name) and, when the materials have one, `state`.

    Returns:
        mae, rmse, r2, spearman and n over every row; `mae_uncensored`, `n_censored`, the mean predictor's
        MAE; per call of `CALLS_LOG10` its accuracy and the share of materials measured above it; `by_family`
        and, with a `state` column, `by_state` ({name: {"n", "mae"}}).
    """
    y, p = predictions["y_true"].to_numpy(float), predictions["y_pred"].to_numpy(float)
    cens = predictions["censored"].to_numpy(bool)
    metrics = scores(y, p) | {"mae_uncensored": mae(y[~cens], p[~cens]), "n_censored": int(cens.sum()),
                              "mae_mean_predictor": mae(y, predictions["y_mean_predictor"])}
    for label, threshold in CALLS_LOG10.items():
        metrics[f"call_accuracy_above_{label}"] = call_accuracy(y, p, threshold)
        metrics[f"share_above_{label}"] = float(np.mean(y > threshold)) if len(y) else float("nan")
    metrics["by_family"] = mae_by(predictions["family"], y, p, FAMILY_ORDER)
    if "state" in predictions:
        states = predictions["state"].where(predictions["state"].notna(), "unknown")
        metrics["by_state"] = mae_by(states, y, p, STATE_ORDER)
    return metrics


def sulfides(data: BenchmarkData) -> BenchmarkResult:
    """Grouped 5-fold CV over the Li sulfides; each fold trains on every material outside its groups."""
    config = data.config
    meas = selected_measurements(data)
    mats = aggregate_materials(meas, config.data.aggregation)
    ts = training_set(mats, featurize_materials(mats, config.preset), "log10_sigma", config)
    groups = leak_groups(ts.materials)
    sulfide = is_sulfide(ts.materials)
    tested = np.flatnonzero(sulfide)
    mean_pred = np.full(len(tested), np.nan)
    fold_of = np.full(len(tested), -1)
    held_in = np.full(len(ts.y), -1)  # the fold whose groups take each material out of training, -1 for none
    folds = []  # (training rows, tested rows) of the training set
    for k, (_, te) in enumerate(grouped_folds(groups[tested], SULFIDE_FOLDS, config.seed)):
        held = np.isin(groups, groups[tested[te]])  # the fold's sulfides and whatever shares a group with them
        folds.append((np.flatnonzero(~held), tested[te]))
        mean_pred[te] = ts.y[~held & sulfide].mean()
        fold_of[te] = k
        held_in[held] = k
    pred, weights = out_of_fold(ts, folds, config)
    n_train = [len(train) for train, _ in folds]
    test = ts.materials.iloc[tested]
    families = material_families(test)
    predictions = pd.DataFrame({
        "id": test["material_key"].to_numpy(), "formula": test["formula"].to_numpy(),
        "family": report_family(families), "family_rule": families, "y_true": ts.y[tested],
        **{k: v[tested] for k, v in prediction_columns(pred).items()},
        "y_mean_predictor": mean_pred, "censored": ts.censored[tested], "fold": fold_of,
        "group": groups[tested], "dois": test["dois"].to_numpy(),
    })
    if "state" in test:
        predictions.insert(4, "state", test["state"].to_numpy())
    rows = training_rows(meas, ts.materials)
    held_by_key = pd.Series(held_in, index=ts.materials["material_key"].to_numpy())
    # trained on in every fold but this one (empty: in every fold), as the `ea` and `intervals` audits say
    rows["test_fold"] = rows["material_key"].map(held_by_key).where(lambda f: f >= 0).astype("Int64")
    rows["tested"] = rows["material_key"].isin(set(test["material_key"]))
    sulfide_groups = pd.Series(groups[tested]).value_counts()
    info = {
        "folds": SULFIDE_FOLDS,
        "tested": "every Li material whose composition holds S",
        "groups": "materials sharing any paper (DOI or review reference) or their composition, joined "
                  "(benchmarks.core.leak_groups); a fold's groups are left out of its training",
        "trained_on": "every material of every source and chemistry outside the fold's groups",
        "n_groups": int(len(sulfide_groups)), "largest_group_sulfides": int(sulfide_groups.iloc[0]),
        "test_fold_sizes": [int((fold_of == k).sum()) for k in range(SULFIDE_FOLDS)],
        "training_materials_per_fold": n_train,
        "family_rule": "data label when it names a family, else the composition pattern "
                       "(sulfml.featurize.family.family_index); thiophosphate is reported as Li2S-P2S5",
        "calls": "a material is above a threshold when its log10 σ is greater than the threshold's",
        "mean_predictor": "the mean log10 σ of the fold's training sulfides",
        "scoring": "censored σ counts as the config's substitute value, as training sees it; "
                   "mae_uncensored leaves those rows out",
    }
    metrics = sulfide_metrics(predictions) | blend_weights({"log10_sigma": weights})
    if "by_state" not in metrics:
        info["by_state"] = NO_STATE
    return BenchmarkResult("sulfides", "log10_sigma", metrics, predictions, rows, info)
