"""The neural composition model's forward pass in NumPy: what predicts with a trained network, without torch.

The network (trained by `sulfml.model.neural`, a small re-implementation of CrabNet's idea) reads a composition
as a set of elements, each with its fraction:

* element embedding: a vector per element, learned as a linear map of fixed element properties
  (`element_inputs`: the magpie table and MEGNet-16 vectors the package ships); exported as one (118, d) table;
* fractional encoding: sinusoids of the fraction and of its logarithm (`fraction_encoding`), mapped linearly
  to d and added to the element's vector;
* a few pre-norm transformer encoder layers over the elements of the composition (no positions: the elements
  are a set, so the answer does not depend on their order);
* fraction-weighted pooling, optionally joined by per-row context (the state one-hot), and a two-layer head.

The weights file is `.npz` read with `allow_pickle=False`; its metadata is one JSON string in it. This module
imports no torch, so the predict path never loads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from sulfml.chem.batch import composition_batch
from sulfml.chem.elements import MAGPIE_FEATURES, element_embedding, element_tables
from sulfml.errors import BundleError, InputError

FORMAT = "sulfml-neural-1"
META_KEY = "__meta__"
LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default, which the training uses
LOG_FRACTION_DECADES = 4.0  # the log-fraction encoding spans 1e-4 .. 1; smaller fractions sit at its floor


@cache
def element_inputs() -> np.ndarray:
    """(118, F) fixed properties the element embedding is learned from: the magpie table standardised over the
    elements, then the MEGNet-16 vector (0 where it has none) and a flag for having one."""
    magpie = element_tables().magpie
    sd = magpie.std(axis=0)
    magpie = (magpie - magpie.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    megnet = element_embedding("megnet16")
    has = ~np.isnan(megnet).any(axis=1)
    out = np.concatenate([magpie, np.where(has[:, None], megnet, 0.0), has[:, None].astype(float)], axis=1)
    out.setflags(write=False)
    return out


ELEMENT_INPUT_WIDTH = len(MAGPIE_FEATURES) + 16 + 1


def fraction_encoding(frac: np.ndarray, n_freq: int) -> np.ndarray:
    """(..., 4 n_freq + 2) features of fractions in [0, 1]: sin and cos at `n_freq` octave-spaced frequencies of
    the fraction and of its scaled logarithm, plus both values themselves. Padding (fraction 0) gets the
    log floor; pooling gives it no weight."""
    frac = np.asarray(frac, float)
    log = np.clip(np.log10(np.maximum(frac, 10.0 ** -LOG_FRACTION_DECADES)) / LOG_FRACTION_DECADES + 1.0, 0.0, 1.0)
    omega = np.pi * 2.0 ** np.arange(n_freq)
    parts = [frac[..., None], log[..., None]]
    for x in (frac, log):
        parts += [np.sin(x[..., None] * omega), np.cos(x[..., None] * omega)]
    return np.concatenate(parts, axis=-1)


@dataclass(frozen=True)
class EncodedCompositions:
    """Compositions as the network reads them.

    Attributes:
        index: (rows, width) element rows of `ElementTables` (0 where padded).
        fraction: (rows, width) fractions summing to 1 per row (0 where padded).
        present: (rows, width) True for real entries.
    """

    index: np.ndarray
    fraction: np.ndarray
    present: np.ndarray


def encode(compositions: Iterable[Any]) -> EncodedCompositions:
    """The compositions (element -> amount mappings, or the JSON text the materials table stores) in their
    canonical form (`CompositionBatch.canonical`): however a composition is scaled or ordered, it gives the
    same numbers in the same order.

    Raises:
        InputError: an unknown element, or a composition without any element.
    """
    try:
        batch = composition_batch(compositions).canonical()
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    amount = np.where(batch.present, batch.amount, 0.0)
    total = amount.sum(axis=1)
    if len(total) and not (total > 0).all():
        raise InputError(f"a composition without elements (row {int(np.argmin(total > 0))})")
    return EncodedCompositions(batch.index, amount / total[:, None], batch.present)


@dataclass(frozen=True)
class NetworkWeights:
    """A trained network: its arrays (float32, names as `forward` reads them) and its metadata.

    The metadata holds `format`, `n_layers`, `n_heads`, `n_freq`, the target's `y_center` and `y_scale`, the
    `context` column names and whatever the training records (its parameters, seed, time).
    """

    arrays: Mapping[str, np.ndarray]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        """Write the `.npz` file (no pickles: every entry is a numeric array or one JSON string)."""
        entries: dict[str, Any] = {k: np.asarray(v) for k, v in self.arrays.items()}
        entries[META_KEY] = np.array(json.dumps(dict(self.meta), sort_keys=True))
        np.savez(Path(path), **entries)

    @classmethod
    def load(cls, path: str | Path) -> NetworkWeights:
        """Read a file `save` wrote.

        Raises:
            BundleError: not a network file of this format.
        """
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                meta = json.loads(str(data[META_KEY]))
                arrays = {k: data[k] for k in data.files if k != META_KEY}
        except (OSError, ValueError, KeyError) as exc:
            raise BundleError(f"{path} is not a network weights file: {exc}") from exc
        if meta.get("format") != FORMAT:
            raise BundleError(f"{path}: network format {meta.get('format')!r}, expected {FORMAT!r}")
        return cls(arrays, meta)

    @property
    def context(self) -> tuple[str, ...]:
        """Names of the per-row context columns the head reads (empty: none)."""
        return tuple(self.meta.get("context", ()))


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + LAYER_NORM_EPS) * gain + bias


def _linear(x: np.ndarray, w: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    return x @ w[f"{name}.weight"].astype(float).T + w[f"{name}.bias"].astype(float)


def forward(weights: NetworkWeights, encoded: EncodedCompositions, context: np.ndarray | None = None) -> np.ndarray:
    """The network's predictions (in the target's units) for encoded compositions.

    Args:
        weights: the trained network.
        encoded: `encode(...)` of the compositions.
        context: (rows, len(weights.context)) values of the context columns, when the network has any.

    Raises:
        InputError: context missing or of the wrong width.
    """
    w, meta = weights.arrays, weights.meta
    n = len(encoded.index)
    if weights.context:
        if context is None or np.shape(context) != (n, len(weights.context)):
            raise InputError(f"the network needs {len(weights.context)} context columns "
                             f"({', '.join(weights.context)}) for {n} rows")
    present = encoded.present
    x = w["element_embedding"].astype(float)[encoded.index]
    x = x + _linear(fraction_encoding(encoded.fraction, int(meta["n_freq"])), w, "fraction")
    heads = int(meta["n_heads"])
    rows, width, d = x.shape
    dh = d // heads
    # Padded keys get no attention; every row has at least one real key, so no row of scores is all -inf.
    blocked = np.where(present, 0.0, -np.inf)[:, None, None, :]
    for i in range(int(meta["n_layers"])):
        p = f"layers.{i}"
        h = _layer_norm(x, w[f"{p}.norm1.weight"], w[f"{p}.norm1.bias"])
        qkv = _linear(h, w, f"{p}.qkv").reshape(rows, width, 3, heads, dh).transpose(2, 0, 3, 1, 4)
        scores = qkv[0] @ qkv[1].transpose(0, 1, 3, 2) / np.sqrt(dh) + blocked
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attn = scores / scores.sum(axis=-1, keepdims=True)
        mixed = (attn @ qkv[2]).transpose(0, 2, 1, 3).reshape(rows, width, d)
        x = x + _linear(mixed, w, f"{p}.out")
        h = _layer_norm(x, w[f"{p}.norm2.weight"], w[f"{p}.norm2.bias"])
        x = x + _linear(np.maximum(_linear(h, w, f"{p}.ff1"), 0.0), w, f"{p}.ff2")
    x = _layer_norm(x, w["norm.weight"], w["norm.bias"])
    pooled = np.einsum("rwd,rw->rd", x, np.where(present, encoded.fraction, 0.0))
    if weights.context:
        pooled = np.concatenate([pooled, np.asarray(context, float)], axis=1)
    hidden = np.maximum(_linear(pooled, w, "head1"), 0.0)
    out = _linear(hidden, w, "head2")[:, 0]
    return out * float(meta["y_scale"]) + float(meta["y_center"])


def predict(weights: NetworkWeights, compositions: Sequence[Any], context: np.ndarray | None = None,
            batch_size: int = 2048) -> np.ndarray:
    """`forward` for compositions (element -> amount mappings or their JSON text), in blocks of `batch_size`
    rows so that memory stays bounded on a large screen."""
    out = np.empty(len(compositions))
    for start in range(0, len(compositions), batch_size):
        sl = slice(start, start + batch_size)
        ctx = None if context is None else np.asarray(context, float)[sl]
        out[sl] = forward(weights, encode(compositions[sl]), ctx)
    return out
