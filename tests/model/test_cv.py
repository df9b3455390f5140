"""Grouped folds and metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sulfml.model.cv import group_labels, grouped_folds, regression_metrics


def test_metrics_on_a_known_case():
    m = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 4.0])
    assert m["mae"] == pytest.approx(0.375)
    assert m["rmse"] == pytest.approx(np.sqrt((0.25 + 1.0) / 4))
    assert m["r2"] == pytest.approx(1 - 1.25 / 5.0)
    assert m["spearman"] == pytest.approx(0.9486832980505138)
    assert m["n"] == 4


def test_groups_fall_back_to_composition():
    frame = pd.DataFrame({"paper": ["10.1/a", None, "", "10.1/a"], "composition_key": ["k1", "k2", "k3", "k4"]})
    assert list(group_labels(frame)) == ["10.1/a", "composition:k2", "composition:k3", "10.1/a"]
    assert list(group_labels(frame, "composition")) == ["k1", "k2", "k3", "k4"]
    with pytest.raises(ValueError):
        group_labels(frame, "year")


def test_grouped_folds_never_split_a_group_and_are_seeded():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 40, size=300).astype(str)
    folds = grouped_folds(groups, 5, seed=3)
    assert len(folds) == 5
    seen = np.concatenate([test for _, test in folds])
    assert sorted(seen) == list(range(300))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    sizes = [len(test) for _, test in folds]
    assert max(sizes) - min(sizes) < 0.25 * 300 / 5
    again = grouped_folds(groups, 5, seed=3)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again, strict=True))
    other = grouped_folds(groups, 5, seed=4)
    assert any(len(a[1]) != len(b[1]) or (a[1] != b[1]).any() for a, b in zip(folds, other, strict=True))
    with pytest.raises(ValueError):
        grouped_folds(np.array(["a", "b"]), 5, seed=0)
