"""Predicting with a neural member: (1 − w)·trees + w·network, the interval around the blend, known first and
the neighbours as before, the explanation naming the network's share, and never an import of torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from sulfml.featurize.descriptors import material_state
from sulfml.model.neural_forward import NetworkWeights, predict
from sulfml.service.explain import explain
from sulfml.service.pipeline import feature_matrix
from sulfml.service.predictor import Predictor
from sulfml.tracking.integrity import NETWORK_FILE

# Formulas and the compositions they are read as (the network is fed these directly below).
FORMULAS = {"Li6PS5Cl": {"Li": 6, "P": 1, "S": 5, "Cl": 1}, "Li3PS4": {"Li": 3, "P": 1, "S": 4},
            "Li7P3S11": {"Li": 7, "P": 3, "S": 11}, "Li10GeP2S12": {"Li": 10, "Ge": 1, "P": 2, "S": 12},
            "Li3YCl6": {"Li": 3, "Y": 1, "Cl": 6}, "Li2.9In0.1Cl3Br0.5": {"Li": 2.9, "In": 0.1, "Cl": 3, "Br": 0.5}}


def _network_alone(folder, state: str) -> np.ndarray:
    """The network of `folder`'s log10_sigma model, run by `neural_forward` on the compositions themselves."""
    weights = NetworkWeights.load(folder / "log10_sigma" / NETWORK_FILE)
    return predict(weights, list(FORMULAS.values()), material_state([state] * len(FORMULAS)))


@pytest.mark.parametrize("state", ["crystalline", "glass"])
def test_the_prediction_is_the_blend_of_the_trees_and_the_numpy_network(neural_bundle, state):
    blended = Predictor.from_dir(neural_bundle).predict(list(FORMULAS), state=state, known_first=False)
    trees = Predictor.default().predict(list(FORMULAS), state=state, known_first=False)
    net = _network_alone(neural_bundle, state)
    expected = 0.6 * trees["log10_sigma"].to_numpy(float) + 0.4 * net
    np.testing.assert_allclose(blended["log10_sigma"].to_numpy(float), expected, rtol=0, atol=1e-9)
    assert not np.allclose(net, trees["log10_sigma"].to_numpy(float), atol=1e-3)  # the network changes something
    # the interval is centred on the blend (25 °C: no temperature shift); Ea has no network and is unchanged
    mid = (blended["log10_sigma_lo"] + blended["log10_sigma_hi"]).to_numpy(float) / 2
    np.testing.assert_allclose(mid, expected, rtol=0, atol=1e-9)
    for column in ("ea_eV", "ea_lo", "ea_hi"):
        np.testing.assert_array_equal(blended[column].to_numpy(float), trees[column].to_numpy(float))
    assert blended["neighbors"].tolist() == trees["neighbors"].tolist()


def test_known_materials_are_still_answered_from_their_measurements(neural_bundle):
    blended = Predictor.from_dir(neural_bundle).predict(["Li6PS5Cl", "Li10GeP2S12"])
    trees = Predictor.default().predict(["Li6PS5Cl", "Li10GeP2S12"])
    assert blended["basis"].tolist() == trees["basis"].tolist() and (blended["measured_n_papers"] > 0).all()
    np.testing.assert_array_equal(blended["measured_log10_sigma"], trees["measured_log10_sigma"])


def test_the_explanation_names_the_networks_share(neural_bundle):
    predictor = Predictor.from_dir(neural_bundle)
    why = explain(predictor, "Li3YCl6", state="crystalline")
    assert why is not None
    sigma, ea = why["log10_sigma"], why["ea_eV"]
    assert sigma.network_weight == 0.4 and "40% of this answer comes from a neural network" in sigma.note
    assert sigma.bias + sum(c.contribution for c in sigma.top) + sigma.rest == pytest.approx(sigma.prediction)
    row = predictor.predict(["Li3YCl6"], state="crystalline", known_first=False).iloc[0]
    assert sigma.blended == pytest.approx(row["log10_sigma"], abs=1e-6)
    assert sigma.network_prediction == pytest.approx(_network_alone(neural_bundle, "crystalline")[4], abs=1e-9)
    assert ea.network_weight == 0.0 and ea.note == "" and ea.blended is None


NEURAL_TABLE = """
[targets.log10_sigma.neural]
blend = 0.5
d_model = 8
n_heads = 2
n_layers = 1
d_ff = 16
n_freq = 2
epochs = 3
batch_size = 16
"""


@pytest.mark.slow
def test_a_bundle_trained_with_the_network_predicts_the_blend_without_torch(small_config, mini_data_dir, tmp_path):
    # the mini data trained with a tiny network beside the σ trees (real torch fits, each in its own process),
    # logged, registered and exported as `sulfml train` does
    pytest.importorskip("torch")
    from sulfml.workflows.train import train

    small_config.write_text(small_config.read_text() + NEURAL_TABLE)
    lines: list[str] = []
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    models = tmp_path / "models"
    train(small_config, data_dir=mini_data_dir, tracking_uri=uri, models_dir=models, log=lines.append)
    card = json.loads((models / "log10_sigma" / "card.json").read_text())
    neural = card["neural"]
    assert neural["weight"] == 0.5 and neural["blend"] == 0.5 and set(neural["oof_mae"]) == {"network", "trees", "blend"}
    assert card["metrics"]["cv_mae"] == pytest.approx(neural["oof_mae"]["blend"])
    assert NETWORK_FILE in card["checksums"] and not (models / "ea_eV" / NETWORK_FILE).exists()
    assert any("network weight 0.5" in line for line in lines)
    # a fresh process predicts from the exported bundle and never imports torch
    code = ("import json, sys; from sulfml.service.predictor import Predictor; "
            f"out = Predictor.from_dir({str(models)!r}).predict({list(FORMULAS)!r}, state='crystalline', "
            "known_first=False); "
            "print(json.dumps({'y': out['log10_sigma'].tolist(), "
            "'torch': sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["torch"] == []
    # what it predicted is (1 − w)·trees + w·network, the network run by NumPy on the compositions themselves
    predictor = Predictor.from_dir(models)
    X, errors = feature_matrix(predictor.bundle, list(FORMULAS), ["crystalline"] * len(FORMULAS))
    assert errors == [None] * len(FORMULAS)
    trees = predictor.bundle.models["log10_sigma"].predict_array(X)
    expected = 0.5 * trees + 0.5 * _network_alone(models, "crystalline")
    np.testing.assert_allclose(answer["y"], expected, rtol=0, atol=1e-9)
    # the registry's champion (what the pyfunc model and `--registry` serve) carries the network too
    served = Predictor.from_registry(uri)
    assert served.bundle.models["log10_sigma"].network is not None
    np.testing.assert_array_equal(served.predict(list(FORMULAS), known_first=False)["log10_sigma"],
                                  predictor.predict(list(FORMULAS), known_first=False)["log10_sigma"])
