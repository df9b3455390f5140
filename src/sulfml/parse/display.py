"""How a formula's amounts are written when it is shown: the text a reader sees, never a material's identity
(that is `sulfml.chem.composition.composition_key`). Imports neither pymatgen nor pandas.

A plain formula is shown as written (`written_formula`): its element order, groups and amounts, without
whitespace, explicit ones or trailing zeros. A derived formula (a glass, a host with a dopant, a screen
candidate) is shown with at most `DERIVED_DECIMALS` decimals (`rounded_formula`,
`sulfml.parse.reduced.derived_formulas`).
"""

from __future__ import annotations

import re

import numpy as np

from sulfml.parse.rules import AMOUNT_DECIMALS

# A derived amount is shown to this many decimals: amounts are read to about 1e-4, and a reader compares
# Li6.3P0.7Si0.3S5Cl, not Li6.29999999P0.70000001...
DERIVED_DECIMALS = 4
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_SPACE = re.compile(r"\s+")
# A number `written_formula` writes differently: 1 (1., 1.0), a leading zero (05) or dot (.5), a trailing dot
# or zero after the dot (0.50), more than AMOUNT_DECIMALS decimals. A text without one is shown as it is.
REWRITTEN = re.compile(r"(?<![\d.])(?:1(?:\.0*)?(?![\d.])|0\d|\.)|\.\d*0(?!\d)|\.(?!\d)|\.\d{"
                       + str(AMOUNT_DECIMALS + 1) + "}")


def amount_text(amount: float, decimals: int = AMOUNT_DECIMALS) -> str:
    """An amount as a formula writes it: "" for 1, a whole number without a point, else positional with at
    most `decimals` decimals (never an exponent); an amount that would round to 0 keeps its first
    significant digit, so no element is shown with 0.

    Args:
        amount: a non-negative amount.
        decimals: the most decimals shown.
    """
    rounded = round(amount, decimals)
    if rounded == 0 and amount > 0:
        return np.format_float_positional(amount, precision=1, unique=False, fractional=False, trim="-")
    if rounded == 1:
        return ""
    if rounded == int(rounded):
        return str(int(rounded))
    return np.format_float_positional(rounded, trim="-")


def rounded_formula(text: str, decimals: int = DERIVED_DECIMALS) -> str:
    """A formula text with each amount written by `amount_text` to at most `decimals` decimals, in the text's
    order and groups, without whitespace: Li6.299999PS5Cl1.0 -> Li6.3PS5Cl."""
    return _NUMBER.sub(lambda m: amount_text(float(m.group()), decimals), _SPACE.sub("", text))


def written_formula(text: str) -> str:
    """A plain formula as it was written (its element order, groups and amounts), without whitespace, explicit
    ones or trailing zeros, and without float noise past the parser's `AMOUNT_DECIMALS`:
    Li6PS5Cl0.50Br0.5 -> Li6PS5Cl0.5Br0.5, La0.62 Li0.14(Mg0.5W0.5)1O3 -> La0.62Li0.14(Mg0.5W0.5)O3.

    Args:
        text: the chemistry of a plain formula (symbols, amounts, bracketed groups): no coefficient in front,
            no state words or names.
    """
    return rounded_formula(text, AMOUNT_DECIMALS)
