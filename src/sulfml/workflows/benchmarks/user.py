"""The lab's own chemistry: σ of the user's measurements (source `user`) by leave-one-paper-out.

Each fold is one of the user's papers: its room-temperature rows (paper = DOI, else reference; a row with
neither is a paper of its own composition, as `sulfml.data.table.clean` names it) are held out, together with
every material that shares a leak group with theirs (`core.leak_groups`: a paper, DOI or composition, joined
transitively), so a held-out paper's measurements, its other compositions and any public row of the same
composition are never trained on. Each fold's model learns from everything else: the public data and the
user's other papers. Every scored row is predicted once, by its paper's fold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sulfml.data.table import USER_SOURCE, aggregate_materials
from sulfml.errors import UserError
from sulfml.model.train import featurize_materials, training_set
from sulfml.parse.state import STATES
from sulfml.workflows.benchmarks.core import (
    BenchmarkData,
    BenchmarkResult,
    blend_weights,
    fit_predict,
    leak_groups,
    mae,
    mae_by,
    prediction_columns,
    scores,
    selected_measurements,
    training_rows,
)

NO_USER_ROWS = ("no measurements of the user's own were kept: none were given, or every row was rejected "
                "(the data info counts the rejections and says why)")


def user_metrics(predictions: pd.DataFrame) -> dict:
    """The benchmark's scores of its per-row predictions.

    Args:
        predictions: one row per scored measurement with `y_true`, `y_pred` (log10 S/cm), `censored`,
            `y_mean_predictor`, `paper` and `state`.

    Returns:
        mae, rmse, r2, spearman and n over every row; `mae_uncensored`, `n_censored`, `n_papers`, the mean
        predictor's MAE, and `by_paper` and `by_state` ({name: {"n", "mae"}}).
    """
    y, p = predictions["y_true"].to_numpy(float), predictions["y_pred"].to_numpy(float)
    cens = predictions["censored"].to_numpy(bool)
    return scores(y, p) | {
        "mae_uncensored": mae(y[~cens], p[~cens]), "n_censored": int(cens.sum()),
        "n_papers": int(predictions["paper"].nunique()),
        "mae_mean_predictor": mae(y, predictions["y_mean_predictor"]),
        "by_paper": mae_by(predictions["paper"], y, p),
        "by_state": mae_by(predictions["state"].fillna("unknown"), y, p, STATES),
    }


def user(data: BenchmarkData) -> BenchmarkResult:
    """Leave one of the user's papers out at a time; score its room-temperature σ rows.

    Raises:
        UserError: the table holds none of the user's measurements.
    """
    config = data.config
    meas = selected_measurements(data)
    mine = meas[meas["source"] == USER_SOURCE]
    if not len(mine):
        raise UserError(NO_USER_ROWS)
    mats = aggregate_materials(meas, config.data.aggregation)
    ts = training_set(mats, featurize_materials(mats, config.preset), "log10_sigma", config)
    groups = leak_groups(ts.materials)
    position = pd.Series(np.arange(len(ts.y)), index=ts.materials["material_key"].to_numpy())
    # the materials view holds Li-containing materials at room temperature: only those rows can be scored
    room = mine[mine["room_temperature"]]
    scored = room[room["material_key"].isin(position.index)]  # in the files' order, as the table keeps it
    not_scored = {"not at room temperature": int((~mine["room_temperature"]).sum()),
                  "no Li in the composition": int(len(room) - len(scored))}
    if not len(scored):
        raise UserError(f"none of the user's {len(mine)} kept measurements can be scored: "
                        + ", ".join(f"{n} {why}" for why, n in not_scored.items() if n))
    papers = list(dict.fromkeys(scored["paper"]))
    frames, audit, n_train, weights = [], [], [], []
    for k, paper in enumerate(papers):
        rows = scored[scored["paper"] == paper]
        idx = position[rows["material_key"]].to_numpy()
        held = np.isin(groups, groups[idx])  # the paper's materials and whatever shares a group with them
        train = np.flatnonzero(~held)
        pred = fit_predict(ts, train, idx, config)
        weights.append(pred.weight)
        censored = rows["censored"].to_numpy(bool)
        measured = rows["log10_sigma"].to_numpy(float)
        frames.append(pd.DataFrame({
            "id": rows["source_row_id"].to_numpy(), "formula": rows["formula"].to_numpy(),
            "raw_formula": rows["raw_formula"].to_numpy(), "paper": paper, "state": rows["state"].to_numpy(),
            # a censored σ counts as the config's substitute value, as training sees it
            "y_true": np.where(censored, config.censoring.log10_value, measured), "y_measured": measured,
            **prediction_columns(pred), "y_mean_predictor": float(ts.y[train].mean()),
            "censored": censored, "fold": k, "group": groups[idx],
        }))
        audit.append(training_rows(meas, ts.materials.iloc[train]).assign(fold=k, held_out_paper=paper))
        n_train.append(len(train))
    predictions = pd.concat(frames, ignore_index=True)
    info = {
        "folds": len(papers),
        "tested": "the user's room-temperature σ rows of Li materials (source user), one fold per paper",
        "papers": "a row's DOI, else its reference, else its composition (a paper of its own)",
        "held_out": "a fold's rows' materials and every material sharing a paper, DOI or composition with them, "
                    "joined (benchmarks.core.leak_groups)",
        "trained_on": "every other material: the public data and the user's other papers",
        "not_scored": not_scored,
        "training_materials_per_fold": n_train,
        "training_set": "per fold (column fold, held_out_paper), every measurement of the materials it trained on",
        "mean_predictor": "the mean log10 σ of the fold's training materials",
        "scoring": "censored σ counts as the config's substitute value, as training sees it; "
                   "mae_uncensored leaves those rows out",
    }
    metrics = user_metrics(predictions) | blend_weights({"log10_sigma": weights})
    return BenchmarkResult("user", "log10_sigma", metrics, predictions,
                           pd.concat(audit, ignore_index=True), info)
