"""Temperature and the Arrhenius law: reading a temperature, and moving log10 σ from 25 °C to another one.

The constants (and the fit of a measured series) live in `sulfml.data.arrhenius`, below this layer."""

from __future__ import annotations

import math

import numpy as np

from sulfml.data.arrhenius import K_B_EV, ROOM_T_K

__all__ = ["K_B_EV", "MAX_T_K", "ROOM_T_K", "SHIFT_NOTE_FROM_K", "arrhenius_shift", "temperature_kelvin"]

MAX_T_K = 3000.0  # far above the melting point of any solid electrolyte: a typo, not a question
# Rows further than this from 25 °C are shifted along the Arrhenius law and say so.
SHIFT_NOTE_FROM_K = 10.0


def arrhenius_shift(log10_sigma_rt: np.ndarray | float, ea_ev: np.ndarray | float,
                    temperature_k: np.ndarray | float) -> np.ndarray:
    """log10 σ at T from log10 σ at 298.15 K and Ea, by the σT form of the Arrhenius law.

    σ·T = A·exp(−Ea/kT), the form of ionic hopping (Nernst–Einstein) in which Ea is usually fitted, so
    log10 σ(T) = log10 σ(T0) + log10(T0/T) − Ea/(k ln 10)·(1/T − 1/T0).
    """
    t = np.asarray(temperature_k, float)
    return (np.asarray(log10_sigma_rt, float) + np.log10(ROOM_T_K / t)
            - np.asarray(ea_ev, float) / (K_B_EV * math.log(10)) * (1.0 / t - 1.0 / ROOM_T_K))


def temperature_kelvin(value: object) -> tuple[float | None, str]:
    """Kelvin from a temperature in °C (a number or its text; blank means 25 °C).

    Returns:
        (kelvin, "") or (None, the reason it cannot be used).
    """
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()
    if not text:
        return ROOM_T_K, ""
    try:
        t_c = float(text)
    except ValueError:
        return None, f"temperature_C is not a number: {text!r}"
    if not math.isfinite(t_c):
        return None, f"temperature_C is not a finite number: {text!r}"
    # to 1e-9 K: -40 °C is 233.15 K, not the float sum's 233.14999999999998
    t_k = round(t_c + 273.15, 9)
    if t_k <= 0:
        return None, f"temperature below absolute zero: {t_c:g} °C = {t_k:g} K"
    if t_k > MAX_T_K:
        return None, f"temperature {t_c:g} °C is above {MAX_T_K:g} K, where no solid electrolyte exists"
    return t_k, ""
