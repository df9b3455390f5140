"""The hyperparameter search space, declared once: what a trial samples, its text form, and its digest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class Range:
    """One searched hyperparameter: a closed interval, sampled uniformly or log-uniformly."""

    kind: type
    low: float
    high: float
    log: bool = False
    step: int | None = None


# `suggest_params` samples exactly these, nothing else.
# `n_estimators` is a searched value rather than early stopping, so that a trial's model is
# fully described by its parameters and `sulfml train` rebuilds it exactly from the written config.
# Its range and max_depth's are capped so that 100 trials of 5-fold CV on the full data fit in
# about 20 minutes on 2 cores (a depth-10 tree costs about 3 times a depth-6 one here).
SEARCH_SPACE: dict[str, Range] = {
    "n_estimators": Range(int, 100, 800, step=50),
    "learning_rate": Range(float, 0.01, 0.3, log=True),
    "max_depth": Range(int, 2, 8),
    "min_child_weight": Range(float, 0.5, 20.0, log=True),
    "subsample": Range(float, 0.5, 1.0),
    "colsample_bytree": Range(float, 0.3, 1.0),
    "gamma": Range(float, 1e-8, 1.0, log=True),
    "reg_alpha": Range(float, 1e-8, 10.0, log=True),
    "reg_lambda": Range(float, 1e-8, 10.0, log=True),
}


def describe_search_space() -> str:
    """The search space as text, one hyperparameter a line (for `--help` and the README)."""
    lines = []
    for name, r in SEARCH_SPACE.items():
        scale = "log" if r.log else (f"step {r.step}" if r.step else "uniform")
        lines.append(f"{name}: {r.kind.__name__} in [{r.low:g}, {r.high:g}] ({scale})")
    return "\n".join(lines)


def suggest_params(trial: optuna.Trial) -> dict[str, Any]:
    """Sample one point of `SEARCH_SPACE`.

    Args:
        trial: the Optuna trial that records the choices.

    Returns:
        XGBoost hyperparameters, as plain ints and floats.
    """
    params: dict[str, Any] = {}
    for name, r in SEARCH_SPACE.items():
        if r.kind is int:
            params[name] = trial.suggest_int(name, int(r.low), int(r.high), step=r.step or 1, log=r.log)
        else:
            params[name] = trial.suggest_float(name, r.low, r.high, log=r.log)
    return params


def space_digest() -> str:
    """A short hash of `SEARCH_SPACE`: trials drawn from another space do not belong in the same study."""
    text = json.dumps({k: [r.kind.__name__, r.low, r.high, r.log, r.step] for k, r in SEARCH_SPACE.items()})
    return hashlib.sha256(text.encode()).hexdigest()[:12]
