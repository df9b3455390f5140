"""Ablation: Ea fitted to Liverpool multi-temperature series (σT Arrhenius) as extra Ea training data.

Usage: SULFML_DATA_DIR=... .venv/bin/python scripts/experiments/liverpool_ea_fit.py
Prints how many series fit, how the fitted Ea agree with reported ones, and the grouped-CV Ea MAE (tuned.toml)
on the materials with a reported Ea, without and with the fitted materials added to each training fold
(never one sharing a composition or a paper with the test fold).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from sulfml.config import RunConfig
from sulfml.data.arrhenius import arrhenius_fit
from sulfml.data.table import aggregate_materials, build_table
from sulfml.model.cv import grouped_folds
from sulfml.model.estimator import make_regressor
from sulfml.model.train import featurize_materials, training_set


def arrhenius_fits(meas: pd.DataFrame, max_t_k: float = 600.0, min_r2: float = 0.95) -> dict[str, float]:
    """Ea of each Liverpool composition measured at ≥ 3 temperatures below `max_t_k`, from ln(σT) vs 1/T."""
    liv = meas[(meas["source"] == "liverpool") & meas["log10_sigma"].notna() & ~meas["censored"]]
    fits = {}
    for key, g in liv.groupby("composition_key"):
        g = g[g["temperature_K"] < max_t_k]
        if g["temperature_K"].nunique() < 3:
            continue
        ea, _, r2 = arrhenius_fit(g["temperature_K"].to_numpy(float), g["log10_sigma"].to_numpy(float))
        if r2 > min_r2 and 0.05 < ea < 1.5:
            fits[key] = ea
    return fits


def main() -> None:
    logging.disable(logging.INFO)
    cfg = RunConfig.from_toml("src/sulfml/configs/tuned.toml")
    meas = build_table().measurements
    fits = arrhenius_fits(meas)
    mats = aggregate_materials(meas, cfg.data.aggregation)
    feats = featurize_materials(mats, cfg.preset)
    ts = training_set(mats, feats, "ea_eV", cfg)
    extra = mats[mats["ea_eV"].isna() & mats["composition_key"].isin(fits)]
    both = mats[mats["ea_eV"].notna() & mats["composition_key"].isin(fits)]
    print(f"Liverpool Arrhenius fits: {len(fits)}; new Ea materials: {len(extra)}; with a reported Ea: {len(both)}")
    print(f"fitted vs reported Ea, MAE: {np.mean(np.abs(both['composition_key'].map(fits) - both['ea_eV'])):.4f} eV")
    x_extra, y_extra = feats.loc[extra.index], extra["composition_key"].map(fits).to_numpy()
    params = cfg.params["ea_eV"]
    for add in (False, True):
        oof = np.full(len(ts.y), np.nan)
        for tr, te in grouped_folds(ts.groups, cfg.cv.n_splits, cfg.seed):
            X, y = ts.X.iloc[tr], ts.y[tr]
            if add:
                ok = (~extra["composition_key"].isin(set(ts.materials["composition_key"].iloc[te]))
                      & ~extra["paper"].isin(set(ts.groups[te]))).to_numpy()
                X, y = pd.concat([X, x_extra[ok]]), np.concatenate([y, y_extra[ok]])
            oof[te] = make_regressor(params, cfg.seed).fit(X, y).predict(ts.X.iloc[te])
        label = "with the fitted Ea added" if add else "reported Ea only"
        print(f"grouped CV Ea MAE, {label}: {np.mean(np.abs(oof - ts.y)):.4f} eV (n={len(ts.y)})")


if __name__ == "__main__":
    import argparse

    # no options: --help shows the docstring, and nothing is measured
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
