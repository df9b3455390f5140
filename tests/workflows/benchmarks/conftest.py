"""The benchmarks' neural member in tests: a stand-in network (no torch, no time) and spies on where its weight
is chosen and where it predicts, with the checks every benchmark's blended run must pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sulfml.config import RunConfig
from sulfml.model.blend import blend
from sulfml.parse.formula import composition_key
from sulfml.workflows.benchmarks import BenchmarkResult

# A tiny network, as training reads the table (the stand-in below ignores its size)
NETWORK = {"epochs": 2, "d_model": 8, "n_heads": 2}


def _with_network(config: RunConfig, weight: str | float = "cv") -> RunConfig:
    for target in ("log10_sigma", "ea_eV"):
        config = config.with_params(target, {**config.params.get(target, {}),
                                             "neural": {**NETWORK, "blend": weight}})
    return config


@pytest.fixture
def with_network() -> Callable[..., RunConfig]:
    """(config, weight="cv") -> the config with the neural member of both targets on (a tiny network, its
    weight chosen on out-of-fold predictions, or the number given)."""
    return _with_network


def _keys(compositions) -> set[str]:
    return {composition_key(json.loads(c) if isinstance(c, str) else c) for c in compositions}


@dataclass
class NetworkRecord:
    """What the spies saw: every member fitted (its rows' composition keys, the weight chosen), every weight
    chooser's call (its number of rows and answer), and every prediction of a member (the rows' keys)."""

    members: list[dict[str, Any]] = field(default_factory=list)
    chooser: list[tuple[int, float]] = field(default_factory=list)
    predicted: list[dict[str, Any]] = field(default_factory=list)

    def weights(self) -> list[float]:
        return [m["member"].weight for m in self.members]


@pytest.fixture
def stand_in_network(monkeypatch, random_network_weights) -> NetworkRecord:
    """Network fits replaced by random networks centred on their rows' mean (`random_network`), torch taken as
    installed, and spies on `fit_member` (the rows a weight is chosen on), `choose_weight` and `member_predict`
    (the rows a fitted member predicts)."""
    from sulfml.model import blend as blend_module
    from sulfml.model import train as train_module
    from sulfml.model.neural import NetworkFit

    record = NetworkRecord()
    fits = []

    def fit_network(compositions, y, params=None, seed=0, context=None, context_names=()):
        y = np.asarray(y, float)
        fits.append(len(y))
        weights = random_network_weights(len(fits), float(np.median(y)), float(np.std(y)) / 10)
        return NetworkFit(weights, np.zeros(len(y)), 0.1)

    real_fit_member, real_choose, real_predict = (train_module.fit_member, blend_module.choose_weight,
                                                  train_module.member_predict)

    def fit_member(compositions, states, y, *args, **kwargs):
        member = real_fit_member(compositions, states, y, *args, **kwargs)
        record.members.append({"keys": _keys(compositions), "n": len(y), "member": member})
        return member

    def choose_weight(y, trees, network):
        w = real_choose(y, trees, network)
        record.chooser.append((len(y), w))
        return w

    def member_predict(member, X, rows):
        out = real_predict(member, X, rows)
        record.predicted.append({"member": member, "keys": _keys(rows["composition"]), "network": out})
        return out

    monkeypatch.setattr("sulfml.model.neural.fit_network", fit_network)
    monkeypatch.setattr(blend_module, "torch_available", lambda: True)
    monkeypatch.setattr(blend_module, "choose_weight", choose_weight)
    monkeypatch.setattr(train_module, "fit_member", fit_member)
    monkeypatch.setattr(train_module, "member_predict", member_predict)
    return record


def _check_blended_run(trees: BenchmarkResult, blended: BenchmarkResult, record: NetworkRecord,
                      answers: dict[str, Callable[[pd.DataFrame, dict], list[float]]]) -> None:
    """The checks of a benchmark run with the network beside the same run without it.

    Args:
        trees, blended: the benchmark's results without and with the network (same data, config and seed).
        record: the spies' record of the blended run.
        answers: per prediction column of the blended run (`y_pred`, `ea_pred`, ...), a function of its
            predictions and `blend_weights` giving each row's network weight (that of its row's fold).
    """
    weights = blended.metrics["blend_weights"]
    assert "blend_weights" not in trees.metrics
    # every weight the benchmark records is one chosen by a fit of its own, on that fit's rows only
    assert sorted(w for ws in weights.values() for w in ws) == sorted(record.weights())
    chosen = [(m["n"], m["member"].weight) for m in record.members if m["member"].blend == "cv"]
    assert chosen == record.chooser  # a fixed weight is the config's, no chooser called
    assert record.predicted
    fitted_on = {id(m["member"]): m["keys"] for m in record.members}
    for call in record.predicted:  # the rows a member predicts were never among those its weight was chosen on
        assert not fitted_on[id(call["member"])] & call["keys"]
    network_values = np.concatenate([c["network"] for c in record.predicted])
    p, t = blended.predictions, trees.predictions
    assert len(p) == len(t)
    for column, weight_of in answers.items():
        # the trees' part is exactly what the trees alone answer; the network's is what its members predicted
        np.testing.assert_array_equal(p[f"{column}_trees"].to_numpy(float), t[column].to_numpy(float))
        net = p[f"{column}_network"].to_numpy(float)
        assert np.isin(np.round(net, 9), np.round(network_values, 9)).all()
        w = np.asarray(weight_of(p, weights), float)
        np.testing.assert_allclose(p[column].to_numpy(float), blend(p[f"{column}_trees"], net, w), rtol=0,
                                   atol=1e-9)


@pytest.fixture
def check_blended_run() -> Callable[..., None]:
    """`_check_blended_run`: the checks of a benchmark run with the network beside the same run without it."""
    return _check_blended_run
