"""A fast path for the common formula notations: plain formulas and coefficient-weighted glasses.

`parse_fast(text)` returns exactly what `sulfml.formula.parse_formula` returns for the texts it accepts
(one compiled regex, float arithmetic in the parser's order, pymatgen's reduced formula re-implemented),
and None for anything else, which then goes to `parse_formula`. It imports neither pymatgen nor pandas.
"""

from __future__ import annotations

import math
import re

_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)"
_EL = r"[A-Z][a-z]?"
# A compound that starts with an element: symbols with amounts, and one level of (groups) with multipliers.
_COMPOUND = rf"{_EL}{_NUM}?(?:{_EL}{_NUM}?|\((?:{_EL}{_NUM}?)+\){_NUM}?)*"
_PLAIN = re.compile(_COMPOUND)
_GLASS = re.compile(rf"{_NUM}{_COMPOUND}(?:-{_NUM}{_COMPOUND})+")
_TOKEN = re.compile(rf"({_EL}|\(|\))({_NUM})?")
_COEF = re.compile(_NUM)

# pymatgen's Element.X (Pauling electronegativity) of the elements that have one; reduced formulas sort by it.
# Elements without one (noble gases, the heaviest) and the isotopes D and T go to parse_formula.
ELECTRONEGATIVITY: dict[str, float] = {
    "H": 2.2, "Li": 0.98, "Be": 1.57, "B": 2.04, "C": 2.55, "N": 3.04, "O": 3.44, "F": 3.98, "Na": 0.93,
    "Mg": 1.31, "Al": 1.61, "Si": 1.9, "P": 2.19, "S": 2.58, "Cl": 3.16, "K": 0.82, "Ca": 1, "Sc": 1.36,
    "Ti": 1.54, "V": 1.63, "Cr": 1.66, "Mn": 1.55, "Fe": 1.83, "Co": 1.88, "Ni": 1.91, "Cu": 1.9, "Zn": 1.65,
    "Ga": 1.81, "Ge": 2.01, "As": 2.18, "Se": 2.55, "Br": 2.96, "Kr": 3, "Rb": 0.82, "Sr": 0.95, "Y": 1.22,
    "Zr": 1.33, "Nb": 1.6, "Mo": 2.16, "Tc": 1.9, "Ru": 2.2, "Rh": 2.28, "Pd": 2.2, "Ag": 1.93, "Cd": 1.69,
    "In": 1.78, "Sn": 1.96, "Sb": 2.05, "Te": 2.1, "I": 2.66, "Xe": 2.6, "Cs": 0.79, "Ba": 0.89, "La": 1.1,
    "Ce": 1.12, "Pr": 1.13, "Nd": 1.14, "Pm": 1.13, "Sm": 1.17, "Eu": 1.2, "Gd": 1.2, "Tb": 1.1, "Dy": 1.22,
    "Ho": 1.23, "Er": 1.24, "Tm": 1.25, "Yb": 1.1, "Lu": 1.27, "Hf": 1.3, "Ta": 1.5, "W": 2.36, "Re": 1.9,
    "Os": 2.2, "Ir": 2.2, "Pt": 2.28, "Au": 2.54, "Hg": 2, "Tl": 1.62, "Pb": 2.33, "Bi": 2.02, "Po": 2,
    "At": 2.2, "Rn": 2.2, "Fr": 0.7, "Ra": 0.9, "Ac": 1.1, "Th": 1.3, "Pa": 1.5, "U": 1.38, "Np": 1.36,
    "Pu": 1.28, "Am": 1.3, "Cm": 1.3, "Bk": 1.3, "Cf": 1.3, "Es": 1.3, "Fm": 1.3, "Md": 1.3, "No": 1.3,
    "Lr": 1.3,
}
# pymatgen's Composition.special_formulas and amount tolerance.
SPECIAL_FORMULAS: dict[str, str] = {
    "LiO": "Li2O2", "NaO": "Na2O2", "KO": "K2O2", "HO": "H2O2", "CsO": "Cs2O2", "RbO": "Rb2O2",
    "O": "O2", "N": "N2", "F": "F2", "Cl": "Cl2", "H": "H2",
}
AMOUNT_TOLERANCE = 1e-8
# Amounts this small are dropped differently by pymatgen's Composition: left to parse_formula.
_SMALLEST = 1e-6
_LARGEST = 1e6  # sulfml.formula.MAX_AMOUNT: larger amounts are rejected there


def parse_fast(text):
    """`parse_formula(text)` for plain formulas and weighted glasses, or None when the text needs the full
    parser (anything else, and every rejection)."""
    if type(text) is not str:
        return None
    comp = _read(text)
    if comp is None:
        return None
    comp, notation = comp
    from sulfml.formula import ParsedFormula

    return ParsedFormula(text, comp, reduced_formula(comp), notation, None, (), None)


def read_fast(text: str) -> tuple[dict[str, float], str, str] | None:
    """(composition, reduced formula, notation) for the texts `parse_fast` accepts, else None."""
    found = _read(text) if type(text) is str else None
    if found is None:
        return None
    return found[0], reduced_formula(found[0]), found[1]


def _read(text: str) -> tuple[dict[str, float], str] | None:
    if not text or text == "NaN":  # a missing value to parse_formula, not sodium nitride
        return None
    first = text[0]
    if "A" <= first <= "Z":
        if _PLAIN.fullmatch(text) is None:
            return None
        raw = _compound(text)
        notation = "plain"
    elif "0" <= first <= "9" or first == ".":
        if _GLASS.fullmatch(text) is None:
            return None
        raw = {}
        for part in text.split("-"):
            m = _COEF.match(part)
            coef = float(m.group())
            sub = _compound(part[m.end():])
            if sub is None:
                return None
            for el, amt in sub.items():
                raw[el] = raw.get(el, 0.0) + amt * coef
        notation = "glass"
    else:
        return None
    if raw is None:
        return None
    comp = {}
    for el, amt in raw.items():
        if not math.isfinite(amt) or amt > _LARGEST:  # parse_formula says why
            return None
        amt = round(amt, 10)
        if amt != 0:
            if not amt >= _SMALLEST:
                return None
            comp[el] = amt
    return (comp, notation) if comp else None


def _compound(text: str) -> dict[str, float] | None:
    """Element amounts in the order and float arithmetic of `sulfml.formula._compound`."""
    comp: dict[str, float] = {}
    group: dict[str, float] | None = None
    for tok, num in _TOKEN.findall(text):
        if tok == "(":
            group = {}
        elif tok == ")":
            amount = float(num) if num else 1.0
            for el, amt in group.items():
                comp[el] = comp.get(el, 0.0) + amt * amount
            group = None
        else:
            if tok not in ELECTRONEGATIVITY:
                return None
            target = comp if group is None else group
            target[tok] = target.get(tok, 0.0) + 1.0 * (float(num) if num else 1.0)
    return comp


def _double_format(x: float, ignore_ones: bool = True):
    """pymatgen.util.string.formula_double_format."""
    if ignore_ones and math.isclose(x, 1, abs_tol=AMOUNT_TOLERANCE):
        return ""
    if math.isclose(x, round(x), abs_tol=AMOUNT_TOLERANCE, rel_tol=0):
        return round(x)
    return round(x, 8)


def _order(syms) -> list[str]:
    x = ELECTRONEGATIVITY
    return sorted(syms, key=lambda s: (x[s], s))


def reduced_formula(comp: dict[str, float]) -> str:
    """pymatgen's `Composition(comp).reduced_formula`, for elements with an electronegativity."""
    if not all(abs(v - round(v)) < AMOUNT_TOLERANCE for v in comp.values()):
        return "".join(f"{s}{_double_format(comp[s], False)}" for s in _order(comp))
    formula = _reduce({k: round(v) for k, v in comp.items()})[0]
    return SPECIAL_FORMULAS.get(formula, formula)


def _reduce(sym_amt: dict[str, float]) -> tuple[str, int]:
    """pymatgen.core.composition.reduce_formula (without IUPAC ordering)."""
    syms = [s for s in _order(sym_amt) if abs(sym_amt[s]) > AMOUNT_TOLERANCE]
    factor = 1
    if all(int(i) == i for i in sym_amt.values()):
        factor = abs(math.gcd(*(int(i) for i in sym_amt.values())))
    poly = []
    x = ELECTRONEGATIVITY
    if len(syms) >= 3 and x[syms[-1]] - x[syms[-2]] < 1.65:
        poly_form, poly_factor = _reduce({syms[i]: sym_amt[syms[i]] / factor for i in (-2, -1)})
        if poly_factor != 1:
            poly.append(f"({poly_form}){poly_factor}")
    syms = syms[: len(syms) - 2 if poly else len(syms)]
    parts = []
    for s in syms:
        parts.extend((s, str(_double_format(sym_amt[s] * 1.0 / factor))))
    return "".join([*parts, *poly]), factor


# INTERIM (replaced by the vectorized reader)
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402


@dataclass(frozen=True)
class ParsedBatch:
    ok: np.ndarray
    index: np.ndarray
    amount: np.ndarray
    present: np.ndarray
    formula: list
    glass: np.ndarray


def read_many(texts):
    from sulfml.featurize.fast import element_tables

    ix = element_tables().index
    rows = [read_fast(t) if type(t) is str else None for t in texts]
    n = len(rows)
    width = max([1, *(len(r[0]) for r in rows if r)])
    index = np.zeros((n, width), np.int64)
    amount = np.zeros((n, width))
    present = np.zeros((n, width), bool)
    for i, r in enumerate(rows):
        if r:
            for j, el in enumerate(sorted(r[0])):
                index[i, j] = ix[el]
                amount[i, j] = r[0][el]
                present[i, j] = True
    return ParsedBatch(np.array([r is not None for r in rows], bool), index, amount, present,
                       [r[1] if r else None for r in rows], np.array([bool(r) and r[2] == "glass" for r in rows]))
