"""Seed bagging: several XGBoost models that differ only in their seed, averaged, saved as one booster.

A boosted model's prediction is its base score plus the sum of its trees' leaves, so the mean of n models is
one model whose trees are all of theirs with every leaf scaled by 1/n, and whose base score is the mean of
theirs. `merge_boosters` builds that model. It is an ordinary XGBoost booster: the bundle, the NumPy and C
tree evaluators, the MLflow flavour and `pred_contribs` (additive over trees) all take it as it is, and only
the number of trees grows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

# Seed of bag member i: the model's seed + i * BAG_SEED_STEP (far apart, so members never share a seed with
# another model's members in a seed sweep of small integers).
BAG_SEED_STEP = 1000


def member_seeds(seed: int, n: int) -> list[int]:
    """The seeds of a bag of `n` models around `seed` (the first is `seed` itself)."""
    return [seed + i * BAG_SEED_STEP for i in range(n)]


def _scaled_tree(tree: dict[str, Any], factor: float, new_id: int) -> dict[str, Any]:
    tree = dict(tree)
    leaf = np.asarray(tree["left_children"]) == -1
    cond = np.asarray(tree["split_conditions"], float)
    cond[leaf] *= factor  # a leaf's value is stored as its split condition
    tree["split_conditions"] = cond.tolist()
    tree["base_weights"] = (np.asarray(tree["base_weights"], float) * factor).tolist()
    tree["id"] = new_id
    return tree


def merge_boosters(boosters: Sequence[Any]):
    """One `xgboost.Booster` whose prediction is the mean of the boosters' predictions.

    Args:
        boosters: single-output tree boosters with the same features and objective.

    Raises:
        ValueError: no booster, or boosters that differ in features, objective or shape.
    """
    import xgboost as xgb

    if not boosters:
        raise ValueError("merge_boosters needs at least one booster")
    models = [json.loads(bytes(b.save_raw("json"))) for b in boosters]
    if len(models) == 1:
        return boosters[0].copy()
    first = models[0]["learner"]
    for m in models[1:]:
        other = m["learner"]
        for key in ("feature_names", "objective"):
            if other.get(key) != first.get(key):
                raise ValueError(f"boosters differ in {key}; only models of one feature set and objective merge")
    params = first["learner_model_param"]
    if params.get("num_target", "1") != "1" or params.get("num_class", "0") != "0":
        raise ValueError("only single-output regression boosters merge")
    factor = 1.0 / len(models)
    trees: list[dict[str, Any]] = []
    info: list[int] = []
    indptr = [0]
    for m in models:
        gbm = m["learner"]["gradient_booster"]["model"]
        if gbm["gbtree_model_param"].get("num_parallel_tree", "1") != "1":
            raise ValueError("boosters with parallel trees per round do not merge")
        for tree in gbm["trees"]:
            trees.append(_scaled_tree(tree, factor, len(trees)))
            info.append(0)
            indptr.append(len(trees))
    # base_score is stored as text, e.g. "[4.8688772E-1]"; the merged one is the members' mean
    bases = [float(str(m["learner"]["learner_model_param"]["base_score"]).strip("[]")) for m in models]
    merged = json.loads(json.dumps(models[0]))
    merged["learner"]["learner_model_param"]["base_score"] = f"[{float(np.mean(bases)):.9E}]"
    gbm = merged["learner"]["gradient_booster"]["model"]
    gbm["trees"], gbm["tree_info"], gbm["iteration_indptr"] = trees, info, indptr
    gbm["gbtree_model_param"]["num_trees"] = str(len(trees))
    booster = xgb.Booster()
    booster.load_model(bytearray(json.dumps(merged).encode()))
    return booster


def fit_bag(xgb_params: dict[str, Any], frames: Sequence[Any], y, sample_weight=None):
    """One `XGBRegressor` per frame (member i seeded by `member_seeds`), merged into one regressor.

    Args:
        xgb_params: keyword arguments of `XGBRegressor`; `random_state` is the bag's seed.
        frames: one training frame per member (members may see different derived columns, e.g. kNN features
            from different inner folds), all with the same columns and rows.
        y: targets.
        sample_weight: optional row weights.

    Returns:
        An `XGBRegressor` whose booster is the members' merge (the first member's regressor, so its sklearn
        attributes, feature names included, are those of a fitted model).
    """
    from xgboost import XGBRegressor

    seeds = member_seeds(int(xgb_params.get("random_state") or 0), len(frames))
    members = [XGBRegressor(**{**xgb_params, "random_state": s}).fit(f, y, sample_weight=sample_weight)
               for s, f in zip(seeds, frames, strict=True)]
    if len(members) > 1:
        members[0]._Booster = merge_boosters([m.get_booster() for m in members])
    return members[0]


class BaggedRegressor:
    """A seed bag of plain XGBoost models (no kNN features), with the scikit-learn regressor's methods.

    Args:
        xgb_params: keyword arguments of each member's `XGBRegressor`; `random_state` is the bag's seed.
        bag: members.
    """

    def __init__(self, xgb_params: dict[str, Any] | None = None, bag: int = 1):
        self.xgb_params = xgb_params
        self.bag = bag

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments (scikit-learn's `clone` contract)."""
        return {"xgb_params": self.xgb_params, "bag": self.bag}

    def fit(self, X, y, sample_weight=None) -> BaggedRegressor:
        """Fit every member on the same rows and merge them."""
        self.xgb_ = fit_bag(self.xgb_params or {}, [X] * self.bag, y, sample_weight)
        return self

    def predict(self, X) -> np.ndarray:
        """The members' mean prediction."""
        return self.xgb_.predict(X)

    def get_booster(self):
        """The merged booster."""
        return self.xgb_.get_booster()
