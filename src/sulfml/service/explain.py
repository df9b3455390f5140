"""Why a prediction came out as it did: XGBoost's own per-row feature contributions (`pred_contribs`,
TreeSHAP), named in a chemist's words.

The features are built as the predict pipeline builds them (the same parse, the same featurizer, the kNN
target features appended by the model), so each target's contributions plus its bias add up to the
prediction at 25 °C that `Predictor.predict` gives (tests/service/test_explain.py checks it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sulfml.featurize.descriptions import describe_feature

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
        prediction: the model's output (25 °C), `bias + sum(all contributions)`.
        bias: the model's starting value (the average of its training targets, roughly).
        top: the largest contributions by absolute value, largest first.
        rest: the sum of all the other contributions.
    """

    target: str
    prediction: float
    bias: float
    top: list[Contribution]
    rest: float


def feature_matrix(predictor: Predictor, formulas: list[str]) -> tuple[np.ndarray, list[str | None]]:
    """The model's feature rows of `formulas` (composition only: no CIF), as the predict pipeline builds them.

    Returns:
        (matrix with one row per formula, NaN rows for the unreadable ones; the parser's error per formula,
        None where it was read).
    """
    from sulfml.parse.bulk import read_many
    from sulfml.parse.formula import parse_formula
    from sulfml.service.pipeline import _FeatureRows, features
    from sulfml.service.structure import no_structure

    bundle = predictor.bundle
    parsed = read_many(formulas)
    rows = _FeatureRows()
    where: list[int] = []
    errors: list[str | None] = []
    for i, text in enumerate(formulas):
        if parsed.ok[i]:
            if bundle.uses_structure:  # structure presets featurize row by row, from a feature dict
                feat = {"composition": parsed.composition(i), "notation": "glass" if parsed.glass[i] else "plain",
                        "tags": "", "family": None}
                where.append(rows.add_dict(feat | no_structure()))
            else:
                where.append(int(rows.add_parsed(parsed, np.array([i]))[0]))
            errors.append(None)
            continue
        # what the pipeline's fast reader leaves: the full parser, as the pipeline does
        p = parse_formula(text)
        if not p.ok:
            where.append(-1)
            errors.append(p.error or "unreadable formula")
            continue
        feat = {"composition": p.composition, "notation": p.notation, "tags": ";".join(p.tags), "family": None}
        where.append(rows.add_dict(feat | no_structure()))
        errors.append(None)
    names = bundle.models["log10_sigma"].card["feature_names"]
    X = np.full((len(formulas), len(names)), np.nan)
    if rows.n:
        built = features(rows, bundle)
        for i, j in enumerate(where):
            if j >= 0:
                X[i] = built[j]
    return X, errors


def explain(predictor: Predictor, formula: str, top: int = 6) -> dict[str, Explanation] | None:
    """Each target's prediction for `formula` at 25 °C split into feature contributions.

    Args:
        predictor: the models.
        formula: one formula, as `Predictor.predict` reads it.
        top: how many of the largest contributions to name.

    Returns:
        {target: Explanation}, or None when the formula cannot be read (its row in `predict` says why).
    """
    X, errors = feature_matrix(predictor, [formula])
    if errors[0] is not None:
        return None
    out = {}
    for target, model in predictor.bundle.models.items():
        contribs = model.contributions(X)[0].astype(float)
        values = model.booster_input(X)[0].astype(float)
        names = model.input_names
        order = np.argsort(-np.abs(contribs[:-1]), kind="stable")[:top]
        chosen = [Contribution(names[j], describe_feature(names[j], target),
                               None if math.isnan(values[j]) else float(values[j]), float(contribs[j]))
                  for j in order.tolist()]
        shown = sum(c.contribution for c in chosen)
        out[target] = Explanation(target, float(contribs.sum()), float(contribs[-1]), chosen,
                                  float(contribs[:-1].sum() - shown))
    return out
