"""Polymorphs: does the model tell two crystal structures of one composition apart?

The data's polymorph pairs are the compositions (composition key and additive; crystalline or state unknown)
measured at room temperature in two or more space groups. The measurements are grouped here by
(composition, space group) whatever the materials table's identity is: each paper counts once (the median of its
values), and a polymorph's value is the median over its papers, as `sulfml.data.table.aggregate_materials` does
with `one_per_paper`. Censored values (upper bounds) are left out, so every compared value is a measurement.

Leave-pair-out: for each composition with a pair more than `GAP_LOG10` decades apart, the model is trained on
every material except that composition's (all its space groups) and every paper that measured it
(`exclude_leaks`), then predicts each of its polymorphs from its composition, the crystalline state and its space
group. A pair is called right when the predicted order of its two polymorphs is the measured one; a tie (the same
prediction for both) is wrong. The structure preset (`STRUCTURE_PRESET`, or the config's when it reads space
groups; trained on each polymorph apart, `AGGREGATION_PER_POLYMORPH`) is compared with the composition preset
(the config's, when it does not; one value per composition and state), which gives both polymorphs one answer
and so can only tie: its sign accuracy is 0 by construction, the baseline the space group must beat.
With more than `MAX_FITS` such compositions they are held out in `FOLDS` folds of compositions instead of one at
a time (said in the result's info).
"""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import combinations

import numpy as np
import pandas as pd

from sulfml.config import RunConfig
from sulfml.data.table import AGGREGATION_ONE_PER_PAPER, AGGREGATION_PER_POLYMORPH, SOURCE_ORDER
from sulfml.model.cv import grouped_folds
from sulfml.workflows.benchmarks.core import (
    BenchmarkData,
    BenchmarkResult,
    blend_weights,
    exclude_leaks,
    fit_on,
    mae,
    prediction_columns,
    scores,
    selected_measurements,
    training_rows,
)

GAP_LOG10 = 0.5  # a pair is scored when its polymorphs' values differ by more than this (decades)
STRUCTURE_PRESET = "structure-v2"  # the space-group preset, when the config's preset reads no space group
COMPOSITION_PRESET = "chemistry-v3"  # the shipped composition preset, when the config's reads space groups
# Held-out compositions are fitted one at a time up to this many, else in `FOLDS` folds of compositions: each fit
# is the config's kNN + XGBoost model (six boosters with the shipped config's inner kNN folds), twice (structure
# and composition preset); the data's 12 compositions one at a time took over 30 min per seed on 2 shared cores.
MAX_FITS = 5
FOLDS = 5
SPACE_GROUP_COLUMN = "sg_number"  # a preset with this column reads the space group
_STATES = ("crystalline", "unknown")
_COMPOSITION = ["composition_key", "additive"]


def _reads_space_group(preset: str) -> bool:
    from sulfml.featurize.presets import get_preset

    return SPACE_GROUP_COLUMN in get_preset(preset).feature_names()


def presets_compared(preset: str) -> tuple[str, str]:
    """(structure preset, composition preset) for a config's preset: the config's own on its side."""
    if _reads_space_group(preset):
        return preset, COMPOSITION_PRESET
    return STRUCTURE_PRESET, preset


def configs_compared(config: RunConfig) -> dict[str, RunConfig]:
    """The config of each side: the structure preset learns each polymorph apart (`AGGREGATION_PER_POLYMORPH`),
    the composition preset one value per composition and state (the config's aggregation, or one per paper when
    the config's is per polymorph)."""
    structure, composition = presets_compared(config.preset)
    aggregation = config.data.aggregation
    if aggregation == AGGREGATION_PER_POLYMORPH:
        aggregation = AGGREGATION_ONE_PER_PAPER
    return {
        "structure": replace(config, preset=structure,
                             data=replace(config.data, aggregation=AGGREGATION_PER_POLYMORPH)),
        "composition": replace(config, preset=composition, data=replace(config.data, aggregation=aggregation)),
    }


def polymorph_groups(measurements: pd.DataFrame) -> pd.DataFrame:
    """One row per (composition, additive, space group) of the room-temperature, uncensored Li measurements of
    crystalline (or state unknown) materials with a space group 1-230, for compositions measured in two or more
    space groups: its value (median over papers of each paper's median), papers, and what a prediction needs
    (the composition's composition and text columns, the same for each of its polymorphs; state crystalline;
    the space group; a CIF when one of its rows has one)."""
    m = measurements[measurements["room_temperature"] & measurements["log10_sigma"].notna()
                     & ~measurements["censored"].astype(bool) & measurements["state"].fillna("unknown").isin(_STATES)]
    sg = pd.to_numeric(m["space_group_number"], errors="coerce")
    m = m[sg.between(1, 230) & (sg == sg.round())]
    m = m[m["composition"].map(lambda c: "Li" in json.loads(c))]
    if m.empty:
        return _empty_groups()
    m = m.assign(additive=m["additive"].fillna(""), space_group_number=m["space_group_number"].astype(float),
                 paper=m["paper"].where(m["paper"].notna(), m["source"] + " row " + m["source_row_id"].astype(str)))
    n_groups = m.groupby(_COMPOSITION)["space_group_number"].transform("nunique")
    m = m[n_groups >= 2]
    # every polymorph of a composition is predicted from the same composition and text (its first row's, by
    # source order as the materials table takes them): only the structure tells them apart
    m = m.assign(_order=m["source"].map(SOURCE_ORDER)).sort_values(["_order", "source_row_id"])
    first_of = {k: row for k, row in m.groupby(_COMPOSITION, sort=False).head(1).set_index(_COMPOSITION).iterrows()}
    rows = []
    for (key, additive, sg_number), g in m.groupby([*_COMPOSITION, "space_group_number"], sort=True):
        per_paper = g.groupby("paper")["log10_sigma"].median()
        first = first_of[(key, additive)]
        cif = g["cif_path"].dropna()
        rows.append({
            "id": f"{key}|{additive}|{int(sg_number)}", "formula": first["formula"], "composition": first["composition"],
            "composition_key": key, "additive": additive, "notation": first["notation"], "tags": first["tags"],
            "family": first["family"], "state": "crystalline", "space_group_number": sg_number,
            "cif_path": cif.iloc[0] if len(cif) else None, "log10_sigma": float(np.median(per_paper)),
            "n_papers": int(len(per_paper)), "papers": "|".join(sorted(per_paper.index)),
        })
    return pd.DataFrame(rows) if rows else _empty_groups()


def _empty_groups() -> pd.DataFrame:
    return pd.DataFrame(columns=["id", "formula", "composition", "composition_key", "additive", "notation", "tags",
                                 "family", "state", "space_group_number", "cif_path", "log10_sigma", "n_papers",
                                 "papers"])


def polymorph_pairs(groups: pd.DataFrame) -> pd.DataFrame:
    """Every pair of two space groups of one composition: ids, space groups, values and their difference (a − b)."""
    rows = []
    for (key, additive), g in groups.groupby(_COMPOSITION, sort=True):
        for a, b in combinations(g.itertuples(index=False), 2):
            rows.append({"composition_key": key, "additive": additive, "formula": a.formula, "id_a": a.id,
                         "id_b": b.id, "space_group_a": int(a.space_group_number),
                         "space_group_b": int(b.space_group_number), "y_a": a.log10_sigma, "y_b": b.log10_sigma,
                         "difference": a.log10_sigma - b.log10_sigma})
    columns = ["composition_key", "additive", "formula", "id_a", "id_b", "space_group_a", "space_group_b", "y_a",
               "y_b", "difference"]
    return pd.DataFrame(rows, columns=columns)


def sign_right(measured: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per pair, whether the predicted difference has the measured one's sign; a tie (0) is wrong."""
    measured, predicted = np.asarray(measured, float), np.asarray(predicted, float)
    return (np.sign(predicted) == np.sign(measured)) & (predicted != 0)


def polymorphs(data: BenchmarkData) -> BenchmarkResult:
    """Leave-pair-out sign accuracy on the data's polymorph pairs (see the module docstring)."""
    config = data.config
    meas = selected_measurements(data)
    groups = polymorph_groups(meas)
    pairs = polymorph_pairs(groups)
    apart = pairs[pairs["difference"].abs() > GAP_LOG10].reset_index(drop=True)
    configs = configs_compared(config)

    held = apart[_COMPOSITION].drop_duplicates().reset_index(drop=True)
    if len(held) > MAX_FITS:
        folds = grouped_folds(np.arange(len(held)), FOLDS, config.seed)
        units = [held.iloc[te] for _, te in folds]
        leave_out = (f"{len(held)} compositions held out in {FOLDS} folds of compositions (more than {MAX_FITS}: "
                     "one fit per composition would be too slow); each fold's model never saw its compositions "
                     "nor their papers")
    else:
        units = [held.iloc[[i]] for i in range(len(held))]
        leave_out = "one composition (all its polymorphs) at a time"

    predictions, audits = [], []
    weights: dict[str, list] = {side: [] for side in configs}
    for unit_index, unit in enumerate(units):
        keys = set(zip(unit["composition_key"], unit["additive"], strict=True))
        test = groups[[k in keys for k in zip(groups["composition_key"], groups["additive"], strict=True)]]
        test_meas = meas[meas["composition_key"].isin(set(unit["composition_key"]))]
        train, _ = exclude_leaks(meas, test_meas)
        preds = {}
        for side, side_config in configs.items():
            fitted = fit_on(train, "log10_sigma", side_config)
            preds[side] = fitted.predictions(test)
            weights[side].append(preds[side].weight)
            if side == "structure":
                audits.append(training_rows(train, fitted.materials).assign(held_out=unit_index))
        predictions.append(pd.DataFrame({
            "id": test["id"].to_numpy(), "formula": test["formula"].to_numpy(),
            "composition_key": test["composition_key"].to_numpy(), "additive": test["additive"].to_numpy(),
            "space_group_number": test["space_group_number"].to_numpy(), "y_true": test["log10_sigma"].to_numpy(),
            **prediction_columns(preds["structure"]),
            **prediction_columns(preds["composition"], "y_pred_composition"),
            "n_papers": test["n_papers"].to_numpy(), "held_out": unit_index,
        }))
    columns = ["id", "formula", "composition_key", "additive", "space_group_number", "y_true", "y_pred",
               "y_pred_composition", "n_papers", "held_out"]
    pred = pd.concat(predictions, ignore_index=True) if predictions else pd.DataFrame(columns=columns)

    by_id = pred.set_index("id")
    scored = apart.assign(
        pred_structure=[by_id.at[a, "y_pred"] - by_id.at[b, "y_pred"] for a, b in zip(apart["id_a"], apart["id_b"],
                                                                                         strict=True)],
        pred_composition=[by_id.at[a, "y_pred_composition"] - by_id.at[b, "y_pred_composition"]
                          for a, b in zip(apart["id_a"], apart["id_b"], strict=True)])
    right = sign_right(scored["difference"], scored["pred_structure"])
    right_comp = sign_right(scored["difference"], scored["pred_composition"])
    scored = scored.assign(right_structure=right, right_composition=right_comp)

    y_true, y_pred = pred["y_true"].to_numpy(float), pred["y_pred"].to_numpy(float)
    metrics = scores(y_true, y_pred) if len(pred) else {"mae": float("nan"), "rmse": float("nan"),
                                                         "r2": float("nan"), "spearman": float("nan"), "n": 0}
    n_apart = len(scored)
    metrics |= {
        "n_compositions": int(groups[_COMPOSITION].drop_duplicates().shape[0]),
        "n_polymorphs": len(groups),
        "n_pairs": len(pairs),
        "n_pairs_apart": n_apart,
        "sign_accuracy": float(right.mean()) if n_apart else float("nan"),
        "n_sign_right": int(right.sum()),
        "n_ties": int((scored["pred_structure"] == 0).sum()),
        "sign_accuracy_composition": float(right_comp.mean()) if n_apart else float("nan"),
        "n_sign_right_composition": int(right_comp.sum()),
        "n_ties_composition": int((scored["pred_composition"] == 0).sum()),
        "mae_composition": mae(y_true, pred["y_pred_composition"].to_numpy(float)),
        "n_fits": 2 * len(units),
    } | blend_weights(weights)
    info = {
        "presets": {side: c.preset for side, c in configs.items()},
        "aggregations": {side: c.data.aggregation for side, c in configs.items()},
        "gap_log10": GAP_LOG10,
        "leave_out": leave_out,
        "polymorph_rule": "room-temperature uncensored measurements of crystalline (or state unknown) Li materials "
                          "with a space group, grouped by (composition key, additive, space group); one median per "
                          "paper, then the median over papers",
        "excluded": "every measurement sharing a composition or a paper (DOI) with the held-out composition's "
                    "measurements (benchmarks.core.exclude_leaks)",
        "predicted_with": "the composition, the crystalline state and the space group (and the CIF a polymorph's "
                          "rows give, which only a CIF preset reads)",
        "pairs": [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
                  for row in scored.drop(columns=["composition_key", "additive"]).to_dict("records")],
    }
    training = pd.concat(audits, ignore_index=True) if audits else pd.DataFrame(
        columns=["formula", "doi", "source", "held_out"])
    return BenchmarkResult("polymorphs", "log10_sigma", metrics, pred, training, info)
