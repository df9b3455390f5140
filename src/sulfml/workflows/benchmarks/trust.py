"""Benchmarks of what makes a prediction trustworthy: interval coverage for new papers, and σ(T) away from
room temperature for held-out materials."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sulfml.data.table import aggregate_materials
from sulfml.model.conformal import coverage_and_width
from sulfml.model.cv import grouped_folds
from sulfml.model.train import featurize_materials, fit_target, predict_with_halfwidth, training_set
from sulfml.service.physics import K_B_EV, ROOM_T_K, arrhenius_shift
from sulfml.service.predictor import Predictor
from sulfml.workflows.benchmarks.core import (
    BenchmarkData,
    BenchmarkResult,
    blend_weights,
    exclude_leaks,
    fit_on,
    leak_groups,
    mae,
    scores,
    selected_measurements,
    training_rows,
)
from sulfml.workflows.benchmarks.suites import family_splits

TEMPERATURE_BINS_K = (278.0, 323.15, 373.15, 473.15, 673.15, 1200.0)


def intervals(data: BenchmarkData) -> BenchmarkResult:
    """Coverage and width of the calibrated intervals on paper-grouped held-out folds, both targets.

    Each outer fold's model is trained exactly as `sulfml train` trains (inner grouped CV, domain,
    conformal calibration) on the other folds' papers only, then its intervals are scored on the
    held-out papers. Censored σ values are bounds, so coverage is scored on the uncensored rows.
    """
    config = data.config
    meas = selected_measurements(data)
    mats = aggregate_materials(meas, config.data.aggregation)
    features = featurize_materials(mats, config.preset)
    metrics: dict[str, Any]
    frames, metrics, audit = [], {}, []
    weights: dict[str, list] = {}
    for target in ("log10_sigma", "ea_eV"):
        ts = training_set(mats, features, target, config)
        outer = leak_groups(ts.materials)  # inner CV (as `sulfml train` runs it) keeps ts.groups
        pred, lo, hi, dist, inside_domain = (np.full(len(ts.y), np.nan) for _ in range(5))
        fold_of = np.zeros(len(ts.y), int)
        for k, (tr, te) in enumerate(grouped_folds(outer, config.cv.n_splits, config.seed + 1)):
            tm = fit_target(ts.rows(tr), config)
            weights.setdefault(target, []).append(tm.neural.weight if tm.neural is not None else None)
            d = tm.domain.distance(ts.X.iloc[te])[0]
            p, hw = predict_with_halfwidth(tm.regressor, tm.calibration, ts.X.iloc[te], d, tm.neural,
                                           ts.materials.iloc[te])
            pred[te], lo[te], hi[te], dist[te] = p, p - hw, p + hw, d
            inside_domain[te] = d <= tm.domain.threshold
            fold_of[te] = k
        unc = ~ts.censored
        covered = (ts.y >= lo) & (ts.y <= hi)
        overall = coverage_and_width(ts.y[unc], lo[unc], hi[unc])
        key = "sigma" if target == "log10_sigma" else "ea"
        metrics |= {f"{key}_coverage": overall["coverage"], f"{key}_median_width": overall["median_width"],
                    f"{key}_mean_width": overall["mean_width"], f"{key}_n": overall["n"],
                    f"{key}_mae": mae(ts.y[unc], pred[unc])}
        for name, sel in (("in_domain", inside_domain == 1), ("outside_domain", inside_domain == 0)):
            part = coverage_and_width(ts.y[unc & sel], lo[unc & sel], hi[unc & sel])
            metrics |= {f"{key}_coverage_{name}": part["coverage"], f"{key}_median_width_{name}": part["median_width"],
                        f"{key}_n_{name}": part["n"]}
        frames.append(pd.DataFrame({
            "target": target, "id": ts.materials["material_key"].to_numpy(),
            "formula": ts.materials["formula"].to_numpy(), "y_true": ts.y, "y_pred": pred, "y_lo": lo, "y_hi": hi,
            "covered": covered, "censored": ts.censored, "knn_distance": dist, "in_domain": inside_domain == 1,
            "fold": fold_of, "group": outer,
        }))
        rows = training_rows(meas, ts.materials).assign(target=target)
        rows["test_fold"] = rows["material_key"].map(dict(zip(ts.materials["material_key"], fold_of, strict=True)))
        audit.append(rows)
    family_frame, family_metrics, family_audit, weights["log10_sigma_family"] = _family_intervals(meas, mats, config)
    metrics |= family_metrics | blend_weights(weights)
    audit += family_audit
    predictions = pd.concat([f.assign(folds="grouped") for f in frames] + [family_frame], ignore_index=True)
    sig = predictions[(predictions["target"] == "log10_sigma") & (predictions["folds"] == "grouped")]
    metrics = scores(sig["y_true"], sig["y_pred"]) | metrics | {"nominal": config.cv.interval_coverage}
    info = {"method": "grouped 5-fold outer CV; each outer model calibrated on its own inner grouped CV",
            "family_method": "log10 σ on leave-one-family-out folds (the family benchmark's splits, "
                             "`suites.family_splits`), each model trained and calibrated as `sulfml train` does; "
                             "metrics sigma_family_*, rows with folds = family",
            "targets": {"coverage": "within 5 points of nominal, on grouped and on family folds",
                        "sigma_median_width": "< 3 log10 units"},
            "training_rows": "every measurement of the materials trained on, with the fold that tested them "
                             "(trained on in every other fold)"}
    return BenchmarkResult("intervals", "log10_sigma", metrics, predictions, pd.concat(audit, ignore_index=True),
                           info)


def _family_intervals(meas: pd.DataFrame, mats: pd.DataFrame, config) -> tuple[pd.DataFrame, dict, list, list]:
    """σ intervals on the leave-one-family-out folds: (rows, `sigma_family_*` metrics, audited training rows,
    each fold's network weight: None without the network)."""
    frames, audit, weights = [], [], []
    by_family: dict[str, dict] = {}
    for name, held, train in family_splits(meas, mats):
        if not len(held):
            continue
        fitted = fit_on(train, "log10_sigma", config, calibrated=True)
        assert fitted.model is not None  # calibrated=True
        pred, lo, hi, dist = fitted.predict_interval(held)
        cens = held["censored"].to_numpy(bool)
        y = np.where(cens, config.censoring.log10_value, held["log10_sigma"].to_numpy(float))
        frames.append(pd.DataFrame({
            "target": "log10_sigma", "id": held["material_key"].to_numpy(), "formula": held["formula"].to_numpy(),
            "y_true": y, "y_pred": pred, "y_lo": lo, "y_hi": hi, "covered": (y >= lo) & (y <= hi), "censored": cens,
            "knn_distance": dist, "in_domain": dist <= fitted.model.domain.threshold, "fold": -1, "group": "",
            "held_out_family": name, "folds": "family"}))
        audit.append(training_rows(train, fitted.materials).assign(target="log10_sigma", held_out_family=name))
        by_family[name] = coverage_and_width(y[~cens], lo[~cens], hi[~cens])
        weights.append(fitted.fitted.weight)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["target", "folds"])
    unc = ~frame["censored"].to_numpy(bool) if len(frame) else np.zeros(0, bool)
    overall = coverage_and_width(*(frame[c].to_numpy(float)[unc] if len(frame) else np.zeros(0)
                                   for c in ("y_true", "y_lo", "y_hi")))
    metrics = {"sigma_family_coverage": overall["coverage"], "sigma_family_median_width": overall["median_width"],
               "sigma_family_mean_width": overall["mean_width"], "sigma_family_n": overall["n"],
               "sigma_family_by_family": {k: {"coverage": v["coverage"], "median_width": v["median_width"],
                                              "n": v["n"]} for k, v in by_family.items()}}
    return frame, metrics, audit, weights


def _bin_label(t: float) -> str:
    edges = TEMPERATURE_BINS_K
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if a <= t < b:
            return f"{a - 273.15:.0f}-{b - 273.15:.0f} °C"
    return "other"


def temperature(data: BenchmarkData) -> BenchmarkResult:
    """σ(T) on the Liverpool measurements away from room temperature, for materials held out of training.

    Materials measured away from 25 °C are split into paper-grouped folds; each fold's models are trained
    (as `sulfml train` does) without those compositions and papers, then `predict` is asked for σ at each
    measurement's temperature. The σT form (shipped) is compared with the plain σ form and with no shift.
    """
    from sulfml.tracking.bundle import Bundle

    config = data.config
    meas = selected_measurements(data)
    far = meas[(meas["source"] == "liverpool") & ~meas["room_temperature"] & meas["log10_sigma"].notna()
               & ~meas["censored"]]
    keys = far["composition_key"].drop_duplicates().to_numpy()
    paper_of = far.groupby("composition_key")["paper"].first().reindex(keys).fillna("").astype(str).to_numpy()
    groups = np.where(paper_of == "", keys, paper_of)
    frames, audit = [], []
    weights: dict[str, list] = {"log10_sigma": [], "ea_eV": []}
    for k, (_, te) in enumerate(grouped_folds(groups, config.cv.n_splits, config.seed)):
        held = set(keys[te])
        test_rows = meas[meas["composition_key"].isin(held)]
        train, _ = exclude_leaks(meas, test_rows)
        fits = [fit_on(train, t, config, calibrated=True) for t in weights]
        for target, fit in zip(weights, fits, strict=True):
            weights[target].append(fit.fitted.weight)
        bundle = Bundle.from_models([f.model for f in fits])
        rows = far[far["composition_key"].isin(held)]
        out = Predictor(bundle, f"fold {k}").predict(pd.DataFrame({
            "formula": rows["formula"].to_numpy(), "temperature_C": (rows["temperature_K"] - 273.15).to_numpy()}))
        t = rows["temperature_K"].to_numpy(float)
        log_t = out["log10_sigma"].to_numpy(float)
        ea = out["ea_eV"].to_numpy(float)
        log_rt = log_t - arrhenius_shift(0.0, ea, t)
        frames.append(pd.DataFrame({
            "id": rows["source_row_id"].to_numpy(), "formula": rows["formula"].to_numpy(), "temperature_K": t,
            "y_true": rows["log10_sigma"].to_numpy(float), "y_pred": log_t,
            "y_pred_sigma_form": log_rt - ea / (K_B_EV * np.log(10)) * (1 / t - 1 / ROOM_T_K),
            "y_pred_no_shift": log_rt, "y_lo": out["log10_sigma_lo"].to_numpy(float),
            "y_hi": out["log10_sigma_hi"].to_numpy(float), "ea_pred": ea, "fold": k,
            "basis": out["basis"].to_numpy(), "error": out["error"].to_numpy(),
        }))
        audit.append(training_rows(train, pd.concat([f.materials for f in fits])).assign(test_fold=k))
    p = pd.concat(frames, ignore_index=True)
    p = p[p["error"] == ""].drop(columns="error")
    p["bin"] = p["temperature_K"].map(_bin_label)
    metrics = scores(p["y_true"], p["y_pred"])
    metrics |= {"mae_sigma_form": mae(p["y_true"], p["y_pred_sigma_form"]),
                "mae_no_shift": mae(p["y_true"], p["y_pred_no_shift"]),
                "interval_coverage": coverage_and_width(p["y_true"], p["y_lo"], p["y_hi"])["coverage"],
                "n_materials": int(p["formula"].nunique()),
                # a held-out material is never in its fold's training data, so never answered known first
                "n_known_first": int((p["basis"] != "model").sum())}
    by_bin = {}
    for name, g in p.groupby("bin", sort=False):
        by_bin[name] = {"n": len(g), "mae": mae(g["y_true"], g["y_pred"]),
                        "mae_sigma_form": mae(g["y_true"], g["y_pred_sigma_form"]),
                        "mae_no_shift": mae(g["y_true"], g["y_pred_no_shift"]),
                        "coverage": coverage_and_width(g["y_true"], g["y_lo"], g["y_hi"])["coverage"]}
    order = [_bin_label(a) for a in TEMPERATURE_BINS_K[:-1]]
    metrics["by_temperature"] = {b: by_bin[b] for b in order if b in by_bin}
    metrics |= blend_weights(weights)
    info = {"form": "sigma*T = A exp(-Ea/kT) (shipped); sigma form and no shift shown for comparison",
            "excluded": "every measurement sharing a composition or a paper with the held-out materials"}
    return BenchmarkResult("temperature", "log10_sigma", metrics, p, pd.concat(audit, ignore_index=True), info)
