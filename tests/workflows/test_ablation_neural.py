"""The ablation script's neural round: the blend's weight choice and the cache of the network's predictions."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd


def _rows(n: int, offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"composition": [json.dumps({"Li": 1 + i + offset, "S": 1}) for i in range(n)],
                         "state": ["crystalline"] * n})


def test_network_predictions_are_cached_by_rows_targets_and_seed(ablation, monkeypatch, tmp_path):
    import sulfml.model.neural as neural
    import sulfml.model.neural_forward as forward

    fits = []

    def fake_fit(compositions, y, params, seed, context=None, context_names=()):
        fits.append((len(compositions), seed))
        meta = {"train_seconds": 0.0, "export_max_abs_diff": 0.0}
        return SimpleNamespace(weights=SimpleNamespace(meta=meta, value=float(np.mean(y)) + seed), seconds=0.0)

    monkeypatch.setattr(neural, "fit_network", fake_fit)
    monkeypatch.setattr(forward, "predict", lambda w, comps, ctx: np.full(len(comps), w.value))
    monkeypatch.setattr(ablation, "NEURAL_CACHE", tmp_path / "cache")
    tr, te, y = _rows(5), _rows(3, offset=10), np.arange(5.0)

    first = ablation.neural_predictions(tr, y, te, seed=1)
    assert len(fits) == 1 and first.tolist() == [3.0, 3.0, 3.0]
    again = ablation.neural_predictions(tr, y, te, seed=1)
    assert len(fits) == 1 and again.tolist() == first.tolist()  # a rerun is free
    ablation.neural_predictions(tr, y + 1.0, te, seed=1)  # other targets
    ablation.neural_predictions(tr, y, te, seed=2)  # another seed
    ablation.neural_predictions(tr, y, _rows(3, offset=20), seed=1)  # other test rows
    assert len(fits) == 4
    logged = [json.loads(line) for line in (tmp_path / "cache" / "fits.jsonl").read_text().splitlines()]
    assert len(logged) == 4 and len({r["digest"] for r in logged}) == 4
    assert not list((tmp_path / "cache").glob("*.tmp.npy"))
