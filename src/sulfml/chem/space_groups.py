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


class SpaceGroupError(InputError):
    """A space group that is neither a number from 1 to 230 nor a Hermann–Mauguin symbol."""


def crystal_system(number: Any) -> str | None:
    """The crystal system of an international space-group number, None when it is not an integer 1-230."""
    n = finite_or_nan(number)
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
    return SYMBOLS[number - 1]


def space_group_label(number: int, with_number: bool = True) -> str:
    """How a space group is shown to a reader: 'P4₂/nmc (137)', or 'P4₂/nmc' without its number."""
    symbol = re.sub(r"_(\d)", lambda m: "₀₁₂₃₄₅₆"[int(m.group(1))], space_group_symbol(number))
    return f"{symbol} ({number})" if with_number else symbol


# The short Hermann–Mauguin symbol of each number, 1 to 230: pymatgen's table (`sg_symbol_from_int_number`, the
# monoclinic full symbols P12_1/m1 written P2_1/m), held here so that showing a space group imports nothing
# (tests/chem/test_space_groups.py checks it against pymatgen).
SYMBOLS: tuple[str, ...] = (
    "P1", "P-1", "P2", "P2_1", "C2", "Pm", "Pc", "Cm", "Cc", "P2/m", "P2_1/m", "C2/m", "P2/c", "P2_1/c",
    "C2/c", "P222", "P222_1", "P2_12_12", "P2_12_12_1", "C222_1", "C222", "F222", "I222", "I2_12_12_1",
    "Pmm2", "Pmc2_1", "Pcc2", "Pma2", "Pca2_1", "Pnc2", "Pmn2_1", "Pba2", "Pna2_1", "Pnn2", "Cmm2", "Cmc2_1",
    "Ccc2", "Amm2", "Aem2", "Ama2", "Aea2", "Fmm2", "Fdd2", "Imm2", "Iba2", "Ima2", "Pmmm", "Pnnn", "Pccm",
    "Pban", "Pmma", "Pnna", "Pmna", "Pcca", "Pbam", "Pccn", "Pbcm", "Pnnm", "Pmmn", "Pbcn", "Pbca", "Pnma",
    "Cmcm", "Cmce", "Cmmm", "Cccm", "Cmme", "Ccce", "Fmmm", "Fddd", "Immm", "Ibam", "Ibca", "Imma", "P4",
    "P4_1", "P4_2", "P4_3", "I4", "I4_1", "P-4", "I-4", "P4/m", "P4_2/m", "P4/n", "P4_2/n", "I4/m", "I4_1/a",
    "P422", "P42_12", "P4_122", "P4_12_12", "P4_222", "P4_22_12", "P4_322", "P4_32_12", "I422", "I4_122",
    "P4mm", "P4bm", "P4_2cm", "P4_2nm", "P4cc", "P4nc", "P4_2mc", "P4_2bc", "I4mm", "I4cm", "I4_1md",
    "I4_1cd", "P-42m", "P-42c", "P-42_1m", "P-42_1c", "P-4m2", "P-4c2", "P-4b2", "P-4n2", "I-4m2", "I-4c2",
    "I-42m", "I-42d", "P4/mmm", "P4/mcc", "P4/nbm", "P4/nnc", "P4/mbm", "P4/mnc", "P4/nmm", "P4/ncc",
    "P4_2/mmc", "P4_2/mcm", "P4_2/nbc", "P4_2/nnm", "P4_2/mbc", "P4_2/mnm", "P4_2/nmc", "P4_2/ncm", "I4/mmm",
    "I4/mcm", "I4_1/amd", "I4_1/acd", "P3", "P3_1", "P3_2", "R3", "P-3", "R-3", "P312", "P321", "P3_112",
    "P3_121", "P3_212", "P3_221", "R32", "P3m1", "P31m", "P3c1", "P31c", "R3m", "R3c", "P-31m", "P-31c",
    "P-3m1", "P-3c1", "R-3m", "R-3c", "P6", "P6_1", "P6_5", "P6_2", "P6_4", "P6_3", "P-6", "P6/m", "P6_3/m",
    "P622", "P6_122", "P6_522", "P6_222", "P6_422", "P6_322", "P6mm", "P6cc", "P6_3cm", "P6_3mc", "P-6m2",
    "P-6c2", "P-62m", "P-62c", "P6/mmm", "P6/mcc", "P6_3/mcm", "P6_3/mmc", "P23", "F23", "I23", "P2_13",
    "I2_13", "Pm-3", "Pn-3", "Fm-3", "Fd-3", "Im-3", "Pa-3", "Ia-3", "P432", "P4_232", "F432", "F4_132",
    "I432", "P4_332", "P4_132", "I4_132", "P-43m", "F-43m", "I-43m", "P-43n", "F-43c", "I-43d", "Pm-3m",
    "Pn-3n", "Pm-3n", "Pn-3m", "Fm-3m", "Fm-3c", "Fd-3m", "Fd-3c", "Im-3m", "Ia-3d",
)


def _symbols() -> dict[int, str]:
    return dict(enumerate(SYMBOLS, start=1))


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


def finite_or_nan(x: Any) -> float:
    """A finite float, or NaN for None, NaN, infinities, blanks and text that is not a number."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan
