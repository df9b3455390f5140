"""Space groups: the one reader of a space group as people write it (230, "Ia-3d", "P4₂/nmc", "P 42/n m c"),
its short Hermann–Mauguin symbol and its crystal system. The symbols are pymatgen's tables (International
Tables for Crystallography, Vol. A)."""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

from sulfml.errors import InputError

# Last space-group number of each crystal system (International Tables, Vol. A).
_SYSTEM_BOUNDS: tuple[tuple[int, str], ...] = (
    (2, "triclinic"), (15, "monoclinic"), (74, "orthorhombic"), (142, "tetragonal"), (167, "trigonal"),
    (194, "hexagonal"), (230, "cubic"),
)
CRYSTAL_SYSTEM_NAMES: tuple[str, ...] = tuple(name for _, name in _SYSTEM_BOUNDS)
_SUBSCRIPTS = str.maketrans({"₀": "_0", "₁": "_1", "₂": "_2", "₃": "_3", "₄": "_4", "₅": "_5", "₆": "_6"})
_MINUS = str.maketrans({"−": "-", "–": "-", "‾": "-", "¯": "-"})
# A monoclinic full symbol with its unique axis b, P12_1/m1, is written P2_1/m.
_MONOCLINIC_FULL = re.compile(r"^([PABCI])1(\S+)1$")


class SpaceGroupError(InputError):
    """A space group that is neither a number from 1 to 230 nor a Hermann–Mauguin symbol."""


def crystal_system(number: Any) -> str | None:
    """The crystal system of an international space-group number, None when it is not an integer 1-230."""
    n = _number_or_nan(number)
    if not (1 <= n <= 230) or n != int(n):
        return None
    return next(name for last, name in _SYSTEM_BOUNDS if n <= last)


def space_group_number(value: Any) -> int | None:
    """The international number of a space group as written: a number (62, "62", 62.0) or a Hermann–Mauguin
    symbol ("Pnma", "P4_2/nmc", "P4₂/nmc", "P 42/n m c", "Ia−3d"). Blank or NaN: None.

    Raises:
        SpaceGroupError: neither a number 1-230 nor a symbol of the International Tables.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value == int(value) and 1 <= value <= 230:
            return int(value)
        raise SpaceGroupError(f"space group {value!r}: a number must be an integer from 1 to 230")
    text = str(value).strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.0*)?", text):
        if 1 <= float(text) <= 230:
            return int(float(text))
        raise SpaceGroupError(f"space group {text!r}: a number must be an integer from 1 to 230")
    found = _by_symbol().get(_compact(text))
    if found is None:
        found = _pymatgen_number(text.translate(_SUBSCRIPTS).translate(_MINUS))
    if found is None:
        raise SpaceGroupError(f"space group {text!r}: neither a number from 1 to 230 nor a Hermann-Mauguin "
                              "symbol (e.g. 62 or Pnma, 137 or P4_2/nmc)")
    return found


def space_group_symbol(number: int) -> str:
    """The short Hermann–Mauguin symbol of a space-group number, screw axes with an underscore: 137 ->
    'P4_2/nmc', 11 -> 'P2_1/m'."""
    return _symbols()[number]


def space_group_label(number: int, with_number: bool = True) -> str:
    """How a space group is shown to a reader: 'P4₂/nmc (137)', or 'P4₂/nmc' without its number."""
    symbol = re.sub(r"_(\d)", lambda m: "₀₁₂₃₄₅₆"[int(m.group(1))], space_group_symbol(number))
    return f"{symbol} ({number})" if with_number else symbol


@cache
def _symbols() -> dict[int, str]:
    from pymatgen.symmetry.groups import sg_symbol_from_int_number

    out = {}
    for n in range(1, 231):
        symbol = sg_symbol_from_int_number(n)
        m = _MONOCLINIC_FULL.match(symbol) if 3 <= n <= 15 else None
        out[n] = f"{m.group(1)}{m.group(2)}" if m else symbol
    return out


@cache
def _by_symbol() -> dict[str, int]:
    return {_compact(symbol): n for n, symbol in _symbols().items()}


def _compact(text: str) -> str:
    return re.sub(r"[\s_]", "", text.translate(_SUBSCRIPTS).translate(_MINUS))


def _pymatgen_number(text: str) -> int | None:
    from pymatgen.symmetry.groups import SpaceGroup

    try:
        return int(SpaceGroup(text).int_number)
    except Exception:  # pymatgen raises ValueError or KeyError for a symbol it does not know
        return None


def _number_or_nan(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan
