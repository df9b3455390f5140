"""The reading rules `formula` (the full parser) and `bulk` (its NumPy fast path) share: which texts are
missing values, the largest amount, and how amounts are rounded. Imports neither pymatgen nor pandas."""

from __future__ import annotations

import numpy as np

MAX_AMOUNT = 1e6  # per element, in the scale written: far above any formula or glass percentage
# What spreadsheets and programs write for an empty cell; NaN would otherwise read as sodium nitride.
# Case matters: "Na" is sodium, "NA" is not available.
MISSING_VALUES = frozenset({"NaN", "nan", "NAN", "None", "none", "NONE", "null", "NULL", "Null", "NA", "N/A",
                            "n/a", "#N/A", "#NA", "nil", "missing", "?", "-", "--", "---"})
# Amounts are rounded to this many decimals once read, so float noise of the arithmetic (0.7 * 2) is gone.
AMOUNT_DECIMALS = 10


def python_round(x: np.ndarray, digits: int) -> np.ndarray:
    """Python's `round(v, digits)` of each value (correctly rounded decimal, half to even), for v >= 0.

    `rint(x * 10**digits) / 10**digits` is that whenever the product is below 2**52 (the integer is exact,
    the division correctly rounded) and farther from a half-integer than its rounding error; the few
    others take Python's round. `np.round` skips that check and differs now and then.
    """
    p = x * 10.0**digits
    y = np.rint(p)
    off = p - y  # from the nearest integer: unsure near 0.5, as a rounding error is below p * 2**-52
    np.abs(off, out=off)
    off -= 0.5
    np.abs(off, out=off)
    unsure = p >= 2.0**52
    p *= 2.3e-16
    unsure |= ~(off > p)
    y /= 10.0**digits
    if unsure.any():
        y[unsure] = [round(v, digits) for v in x[unsure].tolist()]
    return y
