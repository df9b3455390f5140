"""Why a prediction came out as it did: XGBoost's own per-row feature contributions (`pred_contribs`,
TreeSHAP), named in a chemist's words.

The features are built by the predict pipeline's own stages (state, parse, featurize; the model appends the
kNN target features), so each target's contributions plus its bias add up to the prediction at 25 °C that
`Predictor.predict` gives (tests/service/test_explain.py checks it, in every state). A target with a neural
member (`sulfml.model.blend`) answers with a blend of its trees and the network: the contributions explain the
trees' share, and the explanation says how much of the answer comes from the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sulfml.featurize.descriptions import describe_feature
from sulfml.model.blend import blend

if TYPE_CHECKING:
    from sulfml.service.predictor import Predictor


@dataclass(frozen=True)
class Contribution:
    """One booster input's share of a prediction.

    Attributes:
        feature: the column name the model uses.
        description: the same in words (`sulfml.featurize.descriptions`).
        value: the feature's value for this material (None when missing).
        contribution: what it adds to the prediction, in the target's unit.
    """

    feature: str
    description: str
    value: float | None
    contribution: float


@dataclass(frozen=True)
class Explanation:
    """A prediction at 25 °C split into the average (`bias`) and per-feature contributions.

    Attributes:
        target: `log10_sigma` or `ea_eV`.
        prediction: the trees' output (25 °C), `bias + sum(all contributions)`.
        bias: the model's starting value (the average of its training targets, roughly).
        top: the largest contributions by absolute value, largest first.
        rest: the sum of all the other contributions.
        network_weight: the neural network's share of the model's answer (0: the trees alone).
        network_prediction: the network's own answer (None without one).
        blended: the model's answer, `(1 − network_weight)·prediction + network_weight·network_prediction`.
        note: what the network adds, in words ('' without one).
    """

    target: str
    prediction: float
    bias: float
    top: list[Contribution]
    rest: float
    network_weight: float = 0.0
    network_prediction: float | None = None
    blended: float | None = None
    note: str = ""


def feature_matrix(predictor: Predictor, formulas: list[str], state: str | None = None
                   ) -> tuple[np.ndarray, list[str | None]]:
    """The model's feature rows of `formulas` (composition only: no CIF), built by the predict pipeline's own
    stages (states, parse, featurize), so they are the rows `Predictor.predict` predicts from.

    Args:
        predictor: the models.
        formulas: the texts, as `Predictor.predict` reads them.
        state: the state of every row (None: what each formula implies).

    Returns:
        (matrix with one row per formula, NaN rows for the ones that cannot be predicted; the error per
        formula, None where it was read).
    """
    from sulfml.service.pipeline import feature_matrix as model_rows

    return model_rows(predictor.bundle, formulas, [state] * len(formulas))


def explain(predictor: Predictor, formula: str, top: int = 6, state: str | None = None
            ) -> dict[str, Explanation] | None:
    """Each target's prediction for `formula` at 25 °C split into feature contributions.

    Args:
        predictor: the models.
        formula: one formula, as `Predictor.predict` reads it.
        top: how many of the largest contributions to name.
        state: its state (None: what the formula implies), as `Predictor.predict` takes it.

    Returns:
        {target: Explanation}, or None when the formula cannot be read (its row in `predict` says why).
    """
    X, errors = feature_matrix(predictor, [formula], state)
    if errors[0] is not None:
        return None
    out = {}
    network_rows = None
    for target, model in predictor.bundle.models.items():
        contribs = model.contributions(X)[0].astype(float)
        values = model.booster_input(X)[0].astype(float)
        names = model.input_names
        order = np.argsort(-np.abs(contribs[:-1]), kind="stable")[:top]
        chosen = [Contribution(names[j], describe_feature(names[j], target),
                               None if math.isnan(values[j]) else float(values[j]), float(contribs[j]))
                  for j in order.tolist()]
        shown = sum(c.contribution for c in chosen)
        trees = float(contribs.sum())
        extra: dict = {}
        if model.network is not None:
            if network_rows is None:
                from sulfml.service.pipeline import network_rows as rows_of

                network_rows = rows_of(predictor.bundle, [formula], [state])
            w = model.network_weight
            net = float(model.network_prediction(*network_rows)[0])
            answer = float(blend(np.array([trees]), np.array([net]), w)[0])
            extra = {"network_weight": w, "network_prediction": net, "blended": answer,
                     "note": f"{w:.0%} of this answer comes from a neural network over the composition, which "
                             f"says {net:.2f}; the contributions explain the trees' {trees:.2f} "
                             f"({1 - w:g} × {trees:.2f} + {w:g} × {net:.2f} = {answer:.2f})"}
        out[target] = Explanation(target, trees, float(contribs[-1]), chosen,
                                  float(contribs[:-1].sum() - shown), **extra)
    return out
