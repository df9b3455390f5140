"""Grouped K-fold cross-validation and the regression metrics every report uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, R² and Spearman ρ of predictions, plus `n`."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    err = y_pred - y_true
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    rho = spearmanr(y_true, y_pred).statistic if len(y_true) > 2 else float("nan")
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "r2": float(1 - np.sum(err**2) / ss_tot) if ss_tot > 0 else float("nan"),
        "spearman": float(rho),
        "n": int(len(y_true)),
    }


def group_labels(frame: pd.DataFrame, group_by: str = "paper") -> np.ndarray:
    """One group per source paper (first DOI or review reference), else per composition.

    Args:
        frame: materials with `paper` and `composition_key` columns.
        group_by: `paper` or `composition`.
    """
    comp = frame["composition_key"].astype(str)
    if group_by == "composition":
        return comp.to_numpy()
    if group_by != "paper":
        raise ValueError(f"unknown group_by {group_by!r}: use 'paper' or 'composition'")
    paper = frame["paper"].where(frame["paper"].notna() & (frame["paper"] != ""), "composition:" + comp)
    return paper.astype(str).to_numpy()


def grouped_folds(groups: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded grouped K-fold: no group is split across folds; folds are balanced by row count.

    Groups are shuffled with `seed`, then each goes, largest first, to the fold with fewest rows,
    so the same groups and seed always give the same folds.
    """
    groups = np.asarray(groups)
    uniq, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if len(uniq) < n_splits:
        raise ValueError(f"{len(uniq)} groups cannot make {n_splits} folds")
    order = np.random.default_rng(seed).permutation(len(uniq))
    order = order[np.argsort(-counts[order], kind="stable")]
    fold_of_group = np.empty(len(uniq), int)
    sizes = np.zeros(n_splits, int)
    for g in order:
        k = int(np.argmin(sizes))
        fold_of_group[g] = k
        sizes[k] += counts[g]
    fold = fold_of_group[inverse]
    idx = np.arange(len(groups))
    return [(idx[fold != k], idx[fold == k]) for k in range(n_splits)]


@dataclass(frozen=True)
class CVResult:
    """Out-of-fold predictions and scores of one cross-validation."""

    oof: np.ndarray
    fold_mae: tuple[float, ...]
    metrics: dict[str, float]

