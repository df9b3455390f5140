"""Training the neural composition model (a small re-implementation of CrabNet's idea) with torch.

The architecture and its NumPy forward pass are described in `sulfml.model.neural_forward`, which predicts with
the weights this module exports. Torch is an optional extra (`pip install sulfml[neural]`): it is imported only
inside the functions that train, so `import sulfml.model.neural` works without it.

Each fit runs in a fresh Python process (`fit_network` starts `python -m sulfml.model.neural`): torch keeps
state between fits in one process (a second CrabNet fit in one process crashed with torch 2.13), and a fresh
process also frees its memory. The parent sends the encoded rows in an `.npz` file and reads the weights back;
it never imports torch itself.

Training: L1 loss on the standardised target (the censored rows at the config's substitute value, as the trees
are trained), AdamW, a cosine learning rate, then the weights averaged over the last epochs (stochastic weight
averaging, as CrabNet does). The seed fixes the initial weights, the batch order and dropout; torch runs on one
thread, so a fit is reproducible.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sulfml.errors import ConfigError, InputError, InternalError
from sulfml.model.neural_forward import (
    ELEMENT_INPUT_WIDTH,
    FORMAT,
    EncodedCompositions,
    NetworkWeights,
    element_inputs,
    encode,
    forward,
    fraction_encoding,
)


@dataclass(frozen=True)
class NetworkParams:
    """The network's size and training schedule.

    Attributes:
        d_model: width of each element's vector.
        n_heads: attention heads (they split `d_model`).
        n_layers: transformer encoder layers.
        d_ff: hidden width of each layer's feed-forward block.
        dropout: dropout in the layers while training.
        n_freq: frequencies of the fractional encoding.
        epochs: passes over the training rows.
        batch_size: rows per optimiser step.
        lr: peak learning rate (AdamW).
        weight_decay: AdamW's decoupled weight decay.
        swa_fraction: the last fraction of the epochs whose weights are averaged into the exported network.
    """

    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 128
    dropout: float = 0.1
    n_freq: int = 6
    epochs: int = 150
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    swa_fraction: float = 0.25

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ConfigError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        if self.epochs < 1 or not 0 < self.swa_fraction <= 1:
            raise ConfigError("epochs must be >= 1 and swa_fraction in (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        """The parameters as plain JSON values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkParams:
        """Parameters from `to_dict`'s output (unknown keys are an error)."""
        return cls(**data)


@dataclass(frozen=True)
class NetworkFit:
    """A fitted network and what its fit measured.

    Attributes:
        weights: the exported network (predict with `neural_forward.predict`).
        torch_train_pred: torch's own predictions on the training rows (eval mode), which the NumPy forward
            reproduces.
        seconds: wall time of the fit's process (torch's import included).
    """

    weights: NetworkWeights
    torch_train_pred: np.ndarray
    seconds: float


def fit_network(compositions: Sequence[Any], y: np.ndarray, params: NetworkParams | None = None, seed: int = 0,
                context: np.ndarray | None = None, context_names: Sequence[str] = ()) -> NetworkFit:
    """Train a network in a fresh process and return its weights.

    Args:
        compositions: element -> amount mappings (or the materials table's JSON text), one per training row.
        y: the target per row (censored rows already at their substitute value).
        params: size and schedule; default `NetworkParams()`.
        seed: fixes initial weights, batch order and dropout.
        context: optional (rows, len(context_names)) per-row values the head reads beside the pooled vector.
        context_names: names of the context columns (kept in the weights' metadata).

    Raises:
        InternalError: the training process failed (its stderr is in the message).
    """
    params = params or NetworkParams()
    y = np.asarray(y, float)
    enc = encode(compositions)
    if len(y) != len(enc.index) or not np.isfinite(y).all():
        raise InputError("y must be one finite value per composition")
    ctx = np.zeros((len(y), 0)) if context is None else np.asarray(context, float)
    if ctx.shape != (len(y), len(context_names)):
        raise InputError(f"context must be ({len(y)}, {len(context_names)}), got {ctx.shape}")
    with tempfile.TemporaryDirectory(prefix="sulfml-neural-") as tmp:
        inp, out = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(inp, index=enc.index, fraction=enc.fraction, present=enc.present, context=ctx, y=y,
                 job=np.array(json.dumps({"params": params.to_dict(), "seed": int(seed),
                                          "context": list(context_names)})))
        # One thread: the machines this runs on are small and shared, and one thread keeps a fit reproducible.
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "sulfml.model.neural", str(inp), str(out)], env=env,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - t
        if done.returncode != 0:
            raise InternalError(f"the network's training process failed ({done.returncode}): "
                                f"{done.stderr.strip()[-2000:]}")
        weights = NetworkWeights.load(out)
        with np.load(out, allow_pickle=False) as data:
            torch_pred = np.asarray(data["torch_train_pred"], float)
    arrays = {k: v for k, v in weights.arrays.items() if k != "torch_train_pred"}
    meta = {**weights.meta, "process_seconds": round(seconds, 2)}
    return NetworkFit(NetworkWeights(arrays, meta), torch_pred, seconds)


# --------------------------------------------------------------------------- the training process (torch)


def _module(n_context: int, params: NetworkParams):
    """The torch network; parameter names are the weights file's keys (`neural_forward.forward` reads them)."""
    import torch
    from torch import nn

    class Layer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            d = params.d_model
            self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.ff1, self.ff2 = nn.Linear(d, params.d_ff), nn.Linear(params.d_ff, d)
            self.drop = nn.Dropout(params.dropout)

        def forward(self, x, blocked):
            rows, width, d = x.shape
            heads = params.n_heads
            qkv = self.qkv(self.norm1(x)).reshape(rows, width, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
            scores = qkv[0] @ qkv[1].transpose(-1, -2) / (d // heads) ** 0.5 + blocked
            attn = self.drop(torch.softmax(scores, dim=-1))
            mixed = (attn @ qkv[2]).permute(0, 2, 1, 3).reshape(rows, width, d)
            x = x + self.drop(self.out(mixed))
            return x + self.drop(self.ff2(self.drop(torch.relu(self.ff1(self.norm2(x))))))

    class Network(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            d = params.d_model
            self.register_buffer("element_table", torch.tensor(element_inputs(), dtype=torch.float32))
            self.embed = nn.Linear(ELEMENT_INPUT_WIDTH, d)
            self.fraction = nn.Linear(4 * params.n_freq + 2, d)
            self.layers = nn.ModuleList([Layer() for _ in range(params.n_layers)])
            self.norm = nn.LayerNorm(d)
            self.head1, self.head2 = nn.Linear(d + n_context, d), nn.Linear(d, 1)

        def element_embedding(self):
            return self.embed(self.element_table)

        def forward(self, index, frac_features, weight, blocked, context):
            x = self.element_embedding()[index] + self.fraction(frac_features)
            for layer in self.layers:
                x = layer(x, blocked)
            pooled = (self.norm(x) * weight.unsqueeze(-1)).sum(dim=1)
            if context.shape[1]:
                pooled = torch.cat([pooled, context], dim=1)
            return self.head2(torch.relu(self.head1(pooled))).squeeze(-1)

    return Network()


def train(enc: EncodedCompositions, y: np.ndarray, params: NetworkParams, seed: int,
          context: np.ndarray | None = None, context_names: Sequence[str] = ()) -> tuple[NetworkWeights, np.ndarray]:
    """Train in this process (with torch) and export; `fit_network` calls it in a fresh process.

    Returns:
        The weights, and torch's predictions on the training rows with them (eval mode).
    """
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    context = np.zeros((len(y), 0)) if context is None else np.asarray(context, float)
    center, scale = float(np.mean(y)), float(np.std(y)) or 1.0
    f32 = torch.float32
    index = torch.as_tensor(enc.index, dtype=torch.long)
    frac_features = torch.as_tensor(fraction_encoding(enc.fraction, params.n_freq), dtype=f32)
    weight = torch.as_tensor(np.where(enc.present, enc.fraction, 0.0), dtype=f32)
    blocked = torch.as_tensor(np.where(enc.present, 0.0, -np.inf)[:, None, None, :], dtype=f32)
    ctx = torch.as_tensor(context, dtype=f32)
    target = torch.as_tensor((y - center) / scale, dtype=f32)

    net = _module(context.shape[1], params)
    opt = torch.optim.AdamW(net.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    steps_per_epoch = -(-len(y) // params.batch_size)
    swa_start = params.epochs - max(1, round(params.swa_fraction * params.epochs))
    # Cosine from the peak to a tenth of it until averaging starts; averaging runs at that floor.
    floor = 0.1

    def lr_at(step: int) -> float:
        progress = min(1.0, step / max(1, swa_start * steps_per_epoch))
        return floor + (1 - floor) * 0.5 * (1 + np.cos(np.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    averaged: dict[str, torch.Tensor] = {}
    n_averaged = 0
    for epoch in range(params.epochs):
        net.train()
        for batch in np.array_split(rng.permutation(len(y)), steps_per_epoch):
            b = torch.as_tensor(batch)
            pred = net(index[b], frac_features[b], weight[b], blocked[b], ctx[b])
            loss = torch.nn.functional.l1_loss(pred, target[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if epoch >= swa_start:
            n_averaged += 1
            with torch.no_grad():
                for name, p in net.state_dict().items():
                    if name in averaged:
                        averaged[name] += (p - averaged[name]) / n_averaged
                    else:
                        averaged[name] = p.detach().clone()
    net.load_state_dict(averaged)
    net.eval()
    with torch.no_grad():
        torch_pred = net(index, frac_features, weight, blocked, ctx).double().numpy() * scale + center
        state = {k: v.numpy().astype(np.float32) for k, v in net.state_dict().items() if k != "element_table"
                 and not k.startswith("embed.")}
        state["element_embedding"] = net.element_embedding().numpy().astype(np.float32)
    meta = {"format": FORMAT, "n_layers": params.n_layers, "n_heads": params.n_heads, "n_freq": params.n_freq,
            "y_center": center, "y_scale": scale, "context": list(context_names), "params": params.to_dict(),
            "seed": int(seed), "n_train": int(len(y)), "train_seconds": round(time.perf_counter() - t0, 2),
            "torch": torch.__version__}
    return NetworkWeights(state, meta), torch_pred


def _main(argv: Sequence[str]) -> int:
    """The training process: `python -m sulfml.model.neural IN.npz OUT.npz` (what `fit_network` runs)."""
    inp, out = argv
    with np.load(inp, allow_pickle=False) as data:
        job = json.loads(str(data["job"]))
        enc = EncodedCompositions(data["index"], data["fraction"], data["present"])
        y, context = data["y"], data["context"]
    weights, torch_pred = train(enc, y, NetworkParams.from_dict(job["params"]), job["seed"], context,
                                job["context"])
    # The export is checked here, where torch's answer is known: the NumPy forward must reproduce it.
    gap = float(np.max(np.abs(forward(weights, enc, context if context.shape[1] else None) - torch_pred),
                       initial=0.0))
    meta = {**weights.meta, "export_max_abs_diff": gap}
    NetworkWeights({**weights.arrays, "torch_train_pred": torch_pred}, meta).save(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
