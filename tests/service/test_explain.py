"""The "why" of a prediction: XGBoost's pred_contribs over the booster's full input (kNN features included)
add up to the prediction the pipeline gives, for every kind of formula the pipeline reads."""

from __future__ import annotations

import numpy as np
import pytest

from sulfml.service.explain import explain, feature_matrix
from sulfml.service.predictor import Predictor

FORMULAS = ["Li6PS5Cl", "70Li2S-30P2S5", "Li₆PS₅Cl", "Li10Ge(P0.925Sb0.075)2S12", "Li7La3Zr2O12",
            "0.4LiI-0.6Li4SnS4", "NaCl"]


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.default()


@pytest.mark.parametrize("state", [None, "crystalline", "glass", "glass-ceramic", "unknown"])
def test_contributions_cover_the_booster_input_and_sum_to_the_prediction(predictor, state):
    X, errors = feature_matrix(predictor, FORMULAS, state)
    assert errors == [None] * len(FORMULAS)
    table = predictor.predict(FORMULAS, state=state, known_first=False)  # 25 °C: the models' own outputs
    for target, model in predictor.bundle.models.items():
        contribs = model.contributions(X)
        assert contribs.shape == (len(FORMULAS), len(model.input_names) + 1)
        assert len(model.input_names) == len(model.card["feature_names"]) + len(model.card["knn"]["features"])
        assert np.allclose(contribs.sum(axis=1), model.predict_array(X), atol=1e-4)
        assert np.allclose(contribs.sum(axis=1), table[target].to_numpy(float), atol=1e-4)
        knn = [j for j, n in enumerate(model.input_names) if n.startswith("knn_")]
        assert np.abs(contribs[:, knn]).sum() > 0  # the kNN columns take part


def test_explain_names_the_largest_contributions_in_words(predictor):
    why = explain(predictor, "Li10GeP2S12", top=4)
    assert why is not None and set(why) == {"log10_sigma", "ea_eV"}
    for e in why.values():
        assert len(e.top) == 4
        assert e.bias + sum(c.contribution for c in e.top) + e.rest == pytest.approx(e.prediction, abs=1e-6)
        assert [abs(c.contribution) for c in e.top] == sorted((abs(c.contribution) for c in e.top), reverse=True)
        assert all(c.description != c.feature for c in e.top)


def test_an_unreadable_formula_has_no_explanation(predictor):
    assert explain(predictor, "Li6PS5Cl(") is None
    X, errors = feature_matrix(predictor, ["Li3PS4", "bad(", "Xx2"])
    assert errors[0] is None and "malformed" in errors[1] and "unknown element" in errors[2]
    assert np.isfinite(X[0]).any() and np.isnan(X[1]).all() and np.isnan(X[2]).all()
    _, errors = feature_matrix(predictor, ["Li3PS4"], state="liquid")
    assert errors[0] and "liquid" in errors[0]
