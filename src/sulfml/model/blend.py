"""The neural member of a target: the network (`sulfml.model.neural`) blended with the target's trees.

A config asks for it with a `[targets.<target>.neural]` table (`sulfml.config.NEURAL_DEFAULTS`). Training
(`fit_member`) fits the network on the trees' own grouped CV folds, each fit in its own process, so that every
training row has the network's out-of-fold prediction beside the trees'; the network's weight is chosen on
those (`choose_weight`, never on a test set) or fixed by the config; then the network is fitted on every row.
The blended out-of-fold predictions are what the CV metrics and the interval calibration see.

`blend` is the one rule both training and prediction apply: (1 − w)·trees + w·network. Predicting needs only
NumPy (`network_predict` runs `sulfml.model.neural_forward`); nothing here imports torch.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, cast

import numpy as np

from sulfml.chem.batch import CompositionBatch, composition_batch
from sulfml.config import BLEND_CV, RunConfig
from sulfml.errors import BundleError, ConfigError
from sulfml.featurize.descriptors import material_state
from sulfml.featurize.rules import STATE_LABELS
from sulfml.model.neural import NetworkParams
from sulfml.model.neural_forward import NetworkWeights, encode, forward

# The network's weights tried by `choose_weight` (0: the trees alone, 1: the network alone).
BLEND_GRID: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))
NEURAL_EXTRA = "pip install 'sulfml[neural]'"
_PREDICT_BLOCK = 2048  # rows per forward pass: memory stays bounded on a large screen


def blend(trees: np.ndarray, network: np.ndarray, weight: float) -> np.ndarray:
    """The blended prediction: (1 − weight)·trees + weight·network."""
    return (1.0 - weight) * np.asarray(trees, float) + weight * np.asarray(network, float)


def choose_weight(y: np.ndarray, trees: np.ndarray, network: np.ndarray) -> float:
    """The weight of `BLEND_GRID` whose blend of the out-of-fold predictions has the lowest MAE against `y`
    (the smaller weight on a tie: the network has to earn its share)."""
    y = np.asarray(y, float)
    maes = [float(np.mean(np.abs(blend(trees, network, w) - y))) for w in BLEND_GRID]
    return float(BLEND_GRID[int(np.argmin(maes))])


def network_params(table: dict[str, Any]) -> NetworkParams:
    """The network's parameters of a `[targets.<target>.neural]` table (defaults: `NetworkParams`'s).

    Raises:
        ConfigError: parameters that do not fit together (a width the heads cannot split).
    """
    names = {f.name for f in fields(NetworkParams)}
    return NetworkParams(**{k: v for k, v in table.items() if k in names})


def torch_available() -> bool:
    """Whether torch can be imported (it is not imported here)."""
    return importlib.util.find_spec("torch") is not None


def check_neural_config(config: RunConfig, source: str = "the config") -> None:
    """Fail before any data is read when the config asks for a network that cannot be trained here.

    Raises:
        ConfigError: the network's parameters do not fit together, or torch (the `neural` extra) is missing.
    """
    targets = config.neural_targets
    for target in targets:
        table = config.neural(target)
        assert table is not None  # a target of `neural_targets`
        try:
            network_params(table)
        except ConfigError as exc:
            raise ConfigError(f"{source}: [targets.{target}.neural]: {exc}") from None
    if targets and not torch_available():
        raise ConfigError(f"{source} asks for the neural member of {', '.join(targets)} "
                          f"([targets.<target>.neural]), which trains with torch; torch is not installed. "
                          f"Install the neural extra ({NEURAL_EXTRA}), or set enabled = false in that table")


def state_context(states: Sequence[Any]) -> np.ndarray:
    """The network's per-row context: the state one-hot (columns `STATE_LABELS`; None or NaN: unknown)."""
    return material_state(list(states))


def network_predict(weights: NetworkWeights, compositions: Sequence[Any] | CompositionBatch,
                    states: Sequence[Any]) -> np.ndarray:
    """The network's predictions of compositions (mappings, the materials table's JSON text, or a
    `CompositionBatch`) in their states, in blocks of rows.

    Raises:
        BundleError: the network reads another context than the state one-hot.
    """
    if weights.context not in ((), STATE_LABELS):
        raise BundleError(f"the network reads context {list(weights.context)}, not the state one-hot "
                          f"{list(STATE_LABELS)}")
    batch = composition_batch(compositions)
    context = state_context(states) if weights.context else None
    out = np.empty(len(batch))
    for start in range(0, len(batch), _PREDICT_BLOCK):
        sl = slice(start, start + _PREDICT_BLOCK)
        # `encode` reads compositions through `composition_batch`, which takes a batch as it is
        rows = cast(Any, batch.rows(sl))
        out[sl] = forward(weights, encode(rows), None if context is None else context[sl])
    return out


@dataclass(frozen=True)
class NeuralMember:
    """A target's fitted network and how it joins the trees.

    Attributes:
        weights: the network fitted on every training row.
        weight: the network's share of the blend.
        blend: how the weight was set: `"cv"` (chosen on the out-of-fold predictions) or the config's number.
        oof: the network's out-of-fold prediction of each training row (the trees' folds).
        oof_mae: out-of-fold MAE of the network, the trees and the blend (keys `network`, `trees`, `blend`).
        seconds: wall time of each fit's process, the folds' then the final one.
    """

    weights: NetworkWeights
    weight: float
    blend: str | float
    oof: np.ndarray
    oof_mae: dict[str, float]
    seconds: tuple[float, ...]

    def card(self) -> dict[str, Any]:
        """The card's `neural` section (the network file's sha256 is among the card's `checksums`)."""
        meta = self.weights.meta
        return {"weight": self.weight, "blend": self.blend, "oof_mae": dict(self.oof_mae),
                "params": dict(meta.get("params", {})), "context": list(self.weights.context),
                "seed": int(meta.get("seed", 0)), "n_train": int(meta.get("n_train", 0)),
                "fit_seconds": [round(s, 1) for s in self.seconds], "format": str(meta.get("format", ""))}


def fit_member(compositions: Sequence[Any], states: Sequence[Any], y: np.ndarray,
               folds: Sequence[tuple[np.ndarray, np.ndarray]], trees_oof: np.ndarray, table: dict[str, Any],
               seed: int, log: Callable[[str], None] | None = None) -> NeuralMember:
    """Fit the neural member of a target on its training rows.

    Args:
        compositions: each training row's composition (the materials table's JSON text or mappings).
        states: each row's state (the network's context).
        y: the target per row (censored rows at their substitute value, as the trees are trained).
        folds: the trees' grouped CV folds; the network's out-of-fold predictions come from the same ones.
        trees_oof: the trees' out-of-fold predictions on those folds.
        table: the target's `[targets.<target>.neural]` table (`RunConfig.neural`).
        seed: the run's seed (the network's initial weights, batch order and dropout).
        log: where a line per fit goes.

    Raises:
        ConfigError: torch is missing or the parameters do not fit together.
        InternalError: a fit's process failed.
    """
    from sulfml.model.neural import fit_network

    if not torch_available():
        raise ConfigError(f"the neural member trains with torch, which is not installed ({NEURAL_EXTRA})")
    params = network_params(table)
    y = np.asarray(y, float)
    comps, states = list(compositions), list(states)
    context = state_context(states)
    oof = np.full(len(y), np.nan)
    seconds = []
    for k, (train_idx, test_idx) in enumerate(folds):
        t0 = time.perf_counter()
        fit = fit_network([comps[i] for i in train_idx], y[train_idx], params, seed, context=context[train_idx],
                          context_names=STATE_LABELS)
        oof[test_idx] = network_predict(fit.weights, [comps[i] for i in test_idx], [states[i] for i in test_idx])
        seconds.append(fit.seconds)
        if log:
            log(f"  network fold {k + 1}/{len(folds)}: {len(train_idx)} rows ({time.perf_counter() - t0:.0f} s)")
    if np.isnan(oof).any():
        raise ValueError("the folds do not cover every training row")
    fixed = table.get("blend", BLEND_CV)
    weight = choose_weight(y, trees_oof, oof) if fixed == BLEND_CV else float(fixed)
    final = fit_network(comps, y, params, seed, context=context, context_names=STATE_LABELS)
    seconds.append(final.seconds)
    if log:
        log(f"  network on all {len(y)} rows ({final.seconds:.0f} s); its weight in the blend {weight:g}")

    def mae(pred: np.ndarray) -> float:
        return float(np.mean(np.abs(pred - y)))

    return NeuralMember(final.weights, weight, fixed, oof,
                        {"network": mae(oof), "trees": mae(trees_oof), "blend": mae(blend(trees_oof, oof, weight))},
                        tuple(seconds))
