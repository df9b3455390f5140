"""Parity and feature-importance plots (PNG), shared by training runs and benchmarks."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

UNITS = {"log10_sigma": "log10 σ (S/cm)", "ea_eV": "Ea (eV)"}


def _save(fig, path: str | Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def parity_plot(y_true, y_pred, path: str | Path, title: str, target: str = "log10_sigma",
                censored=None) -> Path:
    """Predicted against reported values, with the y = x line; censored points drawn apart."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    cens = np.zeros(len(y_true), bool) if censored is None else np.asarray(censored, bool)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    ax.scatter(y_true[~cens], y_pred[~cens], s=12, alpha=0.6, label="measured")
    if cens.any():
        ax.scatter(y_true[cens], y_pred[cens], s=18, marker="v", color="tab:red", alpha=0.7,
                   label="upper bound (censored)")
    lo = float(np.nanmin([y_true.min(), y_pred.min()]))
    hi = float(np.nanmax([y_true.max(), y_pred.max()]))
    pad = 0.05 * (hi - lo or 1)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="black", lw=1)
    unit = UNITS.get(target, target)
    ax.set_xlabel(f"reported {unit}")
    ax.set_ylabel(f"predicted {unit}")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def importance_plot(names, importances, path: str | Path, title: str, top: int = 25) -> Path:
    """The `top` features by gain importance, as horizontal bars."""
    imp = np.asarray(importances, float)
    order = np.argsort(imp)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(order) + 1.2), dpi=120)
    ax.barh([names[i] for i in order], imp[order])
    ax.set_xlabel("gain importance")
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
    return _save(fig, path)
