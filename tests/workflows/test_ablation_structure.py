"""The ablation script's structure round: its paired bootstrap and its structure-residual model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def test_paired_bootstrap(ablation):
    mean, lo, hi = ablation.paired_bootstrap(np.full(30, -0.2))
    assert mean == lo == hi == pytest.approx(-0.2)
    diff = np.random.default_rng(1).normal(0.1, 1.0, 400)
    mean, lo, hi = ablation.paired_bootstrap(diff)
    assert lo < mean < hi and mean == pytest.approx(diff.mean())
    assert hi - lo == pytest.approx(2 * 1.96 * diff.std() / np.sqrt(len(diff)), rel=0.2)
    assert all(np.isnan(ablation.paired_bootstrap(np.array([]))))


def test_bootstrap_against_the_composition_model_pairs_entries_over_the_seeds(ablation):
    ids = [f"e{i}" for i in range(6)]
    y = [-3.0, -4.0, -15.0, -5.0, -6.0, -2.0]
    cif = [True, True, True, False, False, True]
    cens = [False, False, True, False, False, False]
    preds = {}
    for s in ablation.SEEDS:
        base = {"id": ids, "y_true": y, "censored": cens, "has_cif": cif}
        preds[(ablation.STRUCTURE_BASE, s)] = {**base, "y_pred": [v + 1.0 for v in y]}
        preds[("better", s)] = {**base, "y_pred": [v + 0.5 for v in y]}
    out = ablation.bootstrap_vs_base(preds, "better")
    assert out["cif"][:3] == pytest.approx((-0.5, -0.5, -0.5)) and out["cif"][3] == 4
    assert out["cif_uncensored"][3] == 3 and out["all"][3] == 6
    del preds[("better", ablation.SEEDS[-1])]
    assert ablation.bootstrap_vs_base(preds, "better") == {}  # every seed or nothing


def test_structure_residual_corrects_only_where_the_space_group_is_known(ablation):
    from sulfml.featurize.presets import get_preset

    rng = np.random.default_rng(0)
    comp_cols = get_preset(ablation.COMPOSITION_PRESET).feature_names()[:5]
    n = 300
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=comp_cols)
    X["sg_number"] = np.where(rng.random(n) < 0.8, rng.choice([62.0, 230.0], n), np.nan)
    y = X[comp_cols[0]].to_numpy() + np.where(X["sg_number"] == 230.0, 2.0, 0.0)
    params = {"n_estimators": 60, "max_depth": 3, "learning_rate": 0.2}
    test = X.iloc[:40].copy()
    got = ablation.fit_structure_residual(params, 7, X.iloc[40:], y[40:], test)
    plain = ablation.fit_plain(params, 7, X.iloc[40:][comp_cols], y[40:], test[comp_cols])
    unknown = test["sg_number"].isna().to_numpy()
    assert unknown.any() and np.allclose(got[unknown], plain[unknown])
    err_got, err_plain = np.abs(got - y[:40])[~unknown], np.abs(plain - y[:40])[~unknown]
    assert err_got.mean() < err_plain.mean()
