"""The accuracy benchmarks: the official OBELiX split, Ea by grouped CV, the review's sulfides,
leave-one-family-out (the interval and temperature benchmarks are in `trust.py`, the registry in `registry.py`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sulfml.data.table import aggregate_materials
from sulfml.model.conformal import coverage_and_width
from sulfml.model.cv import grouped_folds
from sulfml.model.train import cv_result, featurize_materials, training_set
from sulfml.workflows.benchmarks.core import (
    OBELIX_CENSORED_LOG10,
    BenchmarkData,
    BenchmarkResult,
    blend_weights,
    censored_aware_mae,
    exclude_leaks,
    fit_on,
    leak_groups,
    mae,
    material_families,
    out_of_fold,
    prediction_columns,
    scores,
    selected_measurements,
    training_rows,
)

# Published test MAEs (log10 S/cm) on the OBELiX split, from Therrien et al. (OBELiX paper).
OBELIX_ANCHORS = {"random forest": 1.59, "MLP": 1.72, "graph networks (CIF subset)": ">= 2.7"}
LOFO_FAMILIES = ("argyrodite", "LGPS", "thio-LISICON", "thiophosphate")
# Five folds whatever the config's CV says, so every config is measured on the same kind of split; the models
# themselves are fitted with the config's own CV (a network's weight is chosen on it, as `sulfml train` does).
EA_FOLDS = 5


def obelix(data: BenchmarkData) -> BenchmarkResult:
    """Official OBELiX test split (121 entries); train on everything else minus test compositions and papers."""
    meas = selected_measurements(data)
    is_test = (meas["source"] == "obelix") & (meas["split"] == "test")
    test = meas[is_test].reset_index(drop=True)
    train, removed = exclude_leaks(meas[~is_test], test)
    fitted = fit_on(train, "log10_sigma", data.config, calibrated=True)
    pred, lo, hi, dist = fitted.predict_interval(test)
    assert fitted.model is not None  # predict_interval raised otherwise
    # with the network, its part and the trees' beside the blend (`pred`, what the intervals are around)
    parts = prediction_columns(fitted.predictions(test)) if fitted.fitted.neural is not None else {}
    cens = test["censored"].to_numpy(bool)
    bound = test["log10_sigma"].to_numpy(float)
    y_true = np.where(cens, OBELIX_CENSORED_LOG10, bound)
    has_cif = test["cif_path"].notna().to_numpy()
    metrics = scores(y_true, pred) | {
        "mae_censored_aware": censored_aware_mae(bound, pred, cens),
        "n_censored": int(cens.sum()),
        "mae_uncensored": mae(y_true[~cens], pred[~cens]),
    } | structure_subsets(y_true, pred, cens, has_cif)
    ivl = coverage_and_width(y_true[~cens], lo[~cens], hi[~cens])
    metrics |= {"interval_coverage": ivl["coverage"], "interval_median_width": ivl["median_width"],
                "interval_mean_width": ivl["mean_width"], "interval_n": ivl["n"],
                "interval_nominal": fitted.model.calibration.confidence,
                # an upper bound is consistent with the interval when the interval reaches below it
                "interval_consistent_censored": float(np.mean(lo[cens] <= bound[cens])) if cens.any() else np.nan}
    metrics |= blend_weights({"log10_sigma": [fitted.fitted.weight]})
    predictions = pd.DataFrame({
        "id": test["source_row_id"], "formula": test["formula"], "y_true": y_true, "y_pred": pred,
        **{k: v for k, v in parts.items() if k != "y_pred"}, "censored": cens,
        "bound_log10": np.where(cens, bound, np.nan), "has_cif": has_cif,
        "space_group_number": test["space_group_number"], "doi": test["doi"],
        "y_lo": lo, "y_hi": hi, "knn_distance": dist, "in_domain": dist <= fitted.model.domain.threshold,
    })
    info = {"anchors_mae": OBELIX_ANCHORS, "scoring": "censored test values (<1E-10) count as log10 = -15",
            "structure_inputs": f"every test entry is predicted with the structure its row gives, as a user's "
                                f"--cif / --space-group would give it: {int(has_cif.sum())} with their CIF (cif_path), "
                                f"{int(test['space_group_number'].notna().sum())} with a space group; a preset "
                                f"with structure features ({data.config.preset} here) reads them",
            "excluded_training_rows": removed["leak"].value_counts().to_dict(),
            "n_training_materials": len(fitted.materials)}
    return BenchmarkResult("obelix", "log10_sigma", metrics, predictions, training_rows(train, fitted.materials),
                           info)


def structure_subsets(y_true: np.ndarray, y_pred: np.ndarray, censored: np.ndarray, has_cif: np.ndarray) -> dict:
    """The OBELiX MAE on the test entries with a CIF and on the rest, each also without the censored entries
    (which count as log10 = -15 and carry much of the CIF subset's error): flat keys (`mae_cif_subset`,
    `mae_cif_subset_uncensored`, `mae_no_cif`, `mae_no_cif_uncensored` and their `n_`) and the same as the
    `by_structure` table the summary prints."""
    parts = {"cif_subset": has_cif, "cif_subset_uncensored": has_cif & ~censored,
             "no_cif": ~has_cif, "no_cif_uncensored": ~has_cif & ~censored}
    labels = {"cif_subset": "CIF", "cif_subset_uncensored": "CIF, uncensored", "no_cif": "no CIF",
              "no_cif_uncensored": "no CIF, uncensored"}
    out: dict = {}
    for key, sel in parts.items():
        out[f"mae_{key}"] = mae(y_true[sel], y_pred[sel])
        out[f"n_{key}"] = int(sel.sum())
    out["by_structure"] = {labels[k]: {"n": out[f"n_{k}"], "mae": out[f"mae_{k}"]} for k in parts}
    return out


def ea(data: BenchmarkData) -> BenchmarkResult:
    """Grouped 5-fold CV (`EA_FOLDS`) of Ea over every material with Ea, beside the mean predictor; a held-out
    material shares no paper and no composition with the training folds (`leak_groups`). Each fold's model is
    the config's (`core.fit_predict`)."""
    config = data.config
    meas = selected_measurements(data)

    def run(measurements: pd.DataFrame):
        mats = aggregate_materials(measurements, config.data.aggregation)
        ts = training_set(mats, featurize_materials(mats, config.preset), "ea_eV", config)
        outer = leak_groups(ts.materials)  # the models' own CV (as `sulfml train` runs it) keeps ts.groups
        folds = grouped_folds(outer, EA_FOLDS, config.seed)
        pred, weights = out_of_fold(ts, folds, config)
        mean_pred = np.empty(len(ts.y))
        fold_of = np.empty(len(ts.y), int)
        for k, (tr, te) in enumerate(folds):
            mean_pred[te] = ts.y[tr].mean()
            fold_of[te] = k
        return ts, cv_result(ts, pred.value, folds), pred, weights, mean_pred, fold_of, outer

    ts, cv, pred, weights, mean_pred, fold_of, outer = run(meas)
    las_ts, las_cv, _, las_weights, las_mean, _, _ = run(meas[meas["source"] == "laskowski"])
    metrics = cv.metrics | {
        "mae_mean_predictor": mae(ts.y, mean_pred),
        "mae_laskowski_only": las_cv.metrics["mae"],
        "mae_mean_predictor_laskowski_only": mae(las_ts.y, las_mean),
        "n_laskowski_only": las_cv.metrics["n"],
    } | blend_weights({"ea_eV": weights, "ea_eV_laskowski_only": las_weights})
    predictions = pd.DataFrame({
        "id": ts.materials["material_key"].to_numpy(), "formula": ts.materials["formula"].to_numpy(),
        "y_true": ts.y, **prediction_columns(pred), "y_mean_predictor": mean_pred, "fold": fold_of, "group": outer,
    })
    rows = training_rows(meas, ts.materials)
    fold_by_key = dict(zip(ts.materials["material_key"], fold_of, strict=True))
    rows["test_fold"] = rows["material_key"].map(fold_by_key)  # trained on in every other fold
    info = {"anchors_mae_eV": {"magpie + XGBoost, Laskowski rows": 0.099, "mean predictor, Laskowski rows": 0.159},
            "groups": "materials sharing any paper or their composition, joined (benchmarks.core.leak_groups)"}
    return BenchmarkResult("ea", "ea_eV", metrics, predictions, rows, info)


def review(data: BenchmarkData) -> BenchmarkResult:
    """Train on everything but the review's compositions; predict its Tables 1 and 2."""
    meas = selected_measurements(data)
    test = meas[meas["source"] == "review"].reset_index(drop=True)
    train, removed = exclude_leaks(meas[meas["source"] != "review"], test)
    sigma = fit_on(train, "log10_sigma", data.config)
    ea_model = fit_on(train, "ea_eV", data.config)
    sigma_pred, ea_pred = sigma.predictions(test), ea_model.predictions(test)
    pred = sigma_pred.value
    table = test["source_row_id"].str.split(":").str[0]
    predictions = pd.DataFrame({
        "id": test["source_row_id"], "formula": test["raw_formula"], "table": table,
        "y_true": test["log10_sigma"], **prediction_columns(sigma_pred), "ea_true": test["ea_eV"],
        **prediction_columns(ea_pred, "ea_pred"), "temperature_K": test["temperature_K"],
        "reference": test["reference"],
    })
    metrics = scores(predictions["y_true"], pred)
    for t in ("table1", "table2"):
        sel = predictions["table"] == t
        metrics[f"mae_{t}"] = mae(predictions.loc[sel, "y_true"], predictions.loc[sel, "y_pred"])
        metrics[f"n_{t}"] = int(sel.sum())
    has_ea = predictions["ea_true"].notna()
    metrics["mae_ea_table2"] = mae(predictions.loc[has_ea, "ea_true"], predictions.loc[has_ea, "ea_pred"])
    metrics["n_ea_table2"] = int(has_ea.sum())
    metrics |= blend_weights({"log10_sigma": [sigma_pred.weight], "ea_eV": [ea_pred.weight]})
    both = pd.concat([sigma.materials, ea_model.materials]).drop_duplicates("material_key")
    info = {"excluded_training_rows": removed["leak"].value_counts().to_dict(),
            "note": "rows at 27/30 °C are compared with the room-temperature prediction"}
    return BenchmarkResult("review", "log10_sigma", metrics, predictions, training_rows(train, both), info)


def family_splits(meas: pd.DataFrame, mats: pd.DataFrame) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """The leave-one-family-out splits: per family of `LOFO_FAMILIES`, (family, its materials, the training
    measurements: every other measurement minus those sharing a composition or a paper with them)."""
    fam = material_families(mats)
    out = []
    for name in LOFO_FAMILIES:
        held = mats[fam == name]
        test_meas = meas[meas["material_key"].isin(set(held["material_key"]))]
        out.append((name, held, exclude_leaks(meas, test_meas)[0]))
    return out


def family(data: BenchmarkData) -> BenchmarkResult:
    """Leave one sulfide family out at a time; compare with the same materials under ordinary grouped CV
    (folds of `leak_groups`). Every fit is the config's model (`core.fit_on`, `core.fit_predict`)."""
    meas = selected_measurements(data)
    config = data.config
    mats = aggregate_materials(meas, config.data.aggregation)
    ts = training_set(mats, featurize_materials(mats, config.preset), "log10_sigma", config)
    cv, cv_weights = out_of_fold(ts, grouped_folds(leak_groups(ts.materials), config.cv.n_splits, config.seed),
                                 config)
    cv_pred = pd.Series(cv.value, index=mats.index)
    y = pd.Series(ts.y, index=mats.index)
    preds, rows, metrics_by, lofo_weights = [], [], {}, []
    for name, held, train in family_splits(meas, mats):
        fitted = fit_on(train, "log10_sigma", config)
        parts = fitted.predictions(held)
        p = parts.value
        lofo_weights.append(parts.weight)
        preds.append(pd.DataFrame({"id": held["material_key"], "formula": held["formula"], "family": name,
                                   "y_true": y[held.index].to_numpy(), **prediction_columns(parts),
                                   "y_pred_grouped_cv": cv_pred[held.index].to_numpy()}))
        rows.append(training_rows(train, fitted.materials).assign(held_out_family=name))
        metrics_by[name] = {"n": len(held), "mae_lofo": mae(y[held.index], p),
                            "mae_grouped_cv": mae(y[held.index], cv_pred[held.index])}
    predictions = pd.concat(preds, ignore_index=True)
    metrics = scores(predictions["y_true"], predictions["y_pred"])
    metrics["mae_grouped_cv_same_materials"] = mae(predictions["y_true"], predictions["y_pred_grouped_cv"])
    for name, m in metrics_by.items():
        key = name.replace("-", "_").lower()
        metrics |= {f"mae_lofo_{key}": m["mae_lofo"], f"mae_cv_{key}": m["mae_grouped_cv"], f"n_{key}": m["n"]}
    metrics |= blend_weights({"log10_sigma_lofo": lofo_weights, "log10_sigma_grouped_cv": cv_weights})
    info = {"families": list(LOFO_FAMILIES), "family_rule": "data label when it names a family, else the "
            "composition pattern (sulfml.featurize.family.family_index)",
            "excluded": "composition and paper (DOI) of every held-out material"}
    return BenchmarkResult("family", "log10_sigma", metrics, predictions,
                           pd.concat(rows, ignore_index=True), info)
