"""The Arrhenius law's constants and the one fit of a measured σ(T) series, in the σT form.

It sits in `data/` because measured records carry their fit (`data search`); `sulfml.service.physics`
re-exports the constants and moves predictions along the same law.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ROOM_T_K = 298.15
K_B_EV = 8.617333262e-5
# A series is fitted when it has σ at this many distinct temperatures or more.
MIN_FIT_TEMPERATURES = 3
# A slope over a few kelvin is noise, not an activation energy (Li7La3Zr2O12's papers at 25-29 °C fitted -1.5 eV)
MIN_FIT_SPAN_K = 50.0


def arrhenius_fit(temperature_k: np.ndarray | Sequence[float],
                  log10_sigma: np.ndarray | Sequence[float]) -> tuple[float, float, float]:
    """ln(σT) = ln A − Ea/kT fitted by least squares to one series.

    Args:
        temperature_k: the temperatures (K), at least two distinct ones.
        log10_sigma: log10 σ (S/cm) at each temperature.

    Returns:
        (Ea in eV, log10 σ at 298.15 K, R² of the fit in ln(σT)).
    """
    t = np.asarray(temperature_k, float)
    ln_sigma_t = np.asarray(log10_sigma, float) * np.log(10) + np.log(t)
    design = np.column_stack([np.ones_like(t), 1 / t])
    coef, *_ = np.linalg.lstsq(design, ln_sigma_t, rcond=None)
    resid = ln_sigma_t - design @ coef
    total = ((ln_sigma_t - ln_sigma_t.mean()) ** 2).sum()
    r2 = 1 - (resid**2).sum() / total if total > 0 else 1.0
    log10_rt = (coef[0] + coef[1] / ROOM_T_K - np.log(ROOM_T_K)) / np.log(10)
    return float(-coef[1] * K_B_EV), float(log10_rt), float(r2)


@dataclass(frozen=True)
class ArrheniusFit:
    """A measured series' fit: log10(σT) = A − Ea / (k ln10 · T).

    Attributes:
        ea_eV: the activation energy (eV).
        log10_prefactor: A, log10 of σT's prefactor (σ in S/cm, T in K).
        log10_sigma_rt: the fit's log10 σ at 298.15 K.
        r2: the fit's R² (in log σT).
        n_points: the measurements fitted.
        temperature_min_K: the lowest temperature fitted.
        temperature_max_K: the highest temperature fitted.
    """

    ea_eV: float
    log10_prefactor: float
    log10_sigma_rt: float
    r2: float
    n_points: int
    temperature_min_K: float
    temperature_max_K: float

    def log10_sigma_at(self, temperature_k: float) -> float:
        """The fit's log10 σ (S/cm) at `temperature_k`."""
        return (self.log10_prefactor - self.ea_eV / (K_B_EV * math.log(10) * temperature_k)
                - math.log10(temperature_k))


def fit_series(temperature_k: Sequence[float], log10_sigma: Sequence[float]) -> ArrheniusFit | None:
    """The Arrhenius fit of one material's measured σ(T), or None below `MIN_FIT_TEMPERATURES` distinct
    temperatures or a span under `MIN_FIT_SPAN_K`. The caller passes measured values only (no upper bounds, no
    unstated temperatures)."""
    t = np.asarray(temperature_k, float)
    y = np.asarray(log10_sigma, float)
    if len(np.unique(t)) < MIN_FIT_TEMPERATURES or np.ptp(t) < MIN_FIT_SPAN_K:
        return None
    ea, log10_rt, r2 = arrhenius_fit(t, y)
    prefactor = log10_rt + math.log10(ROOM_T_K) + ea / (K_B_EV * math.log(10) * ROOM_T_K)
    return ArrheniusFit(ea_eV=ea, log10_prefactor=float(prefactor), log10_sigma_rt=log10_rt, r2=r2,
                        n_points=int(len(t)), temperature_min_K=float(t.min()), temperature_max_K=float(t.max()))
