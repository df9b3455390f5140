"""The electrolyte family classifier, vectorized over a batch: the data's family label when it names a structure
family, else the composition's (the windows and element sets of `rules.py`, first match in `rules.FAMILY_ORDER`).

`family_codes` classifies by composition alone, `family_index` lets the label decide first,
`electrolyte_family` is `ElectrolyteFamily`'s one-hot and `row_families` reads a family back from those columns.
The composition rule reads the anions and framework cations of `descriptors._Ions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import numpy as np

from sulfml.chem.batch import CompositionBatch
from sulfml.chem.elements import element_tables
from sulfml.featurize import rules
from sulfml.featurize.descriptors import _batch, _Ions, _per_block, _sum_cols, _text_columns
from sulfml.featurize.element_stats import _output

_GLASS = rules.FLAG_LABELS.index("is_glass")


def family_codes(compositions: Iterable[Any] | CompositionBatch, glass: Sequence[bool] | np.ndarray | None = None
                 ) -> np.ndarray:
    """Index into `rules.FAMILIES` of each row's family by composition alone (the data label not consulted).

    Args:
        compositions: element symbol -> amount mappings, or a `composition_batch`.
        glass: per row, True for a glass: only the thiophosphate pattern (without its Ch/P window) applies.
    """
    batch = _batch(compositions)
    glass_rows = np.zeros(len(batch), dtype=bool) if glass is None else np.asarray(glass, dtype=bool)
    if glass_rows.shape != (len(batch),):
        raise ValueError(f"expected {len(batch)} glass flags, got {glass_rows.shape}")
    out = _per_block(batch, 1, None, lambda sl, ions: _family(ions, glass_rows[sl])[:, None])
    return out[:, 0].astype(np.int64)


def family_index(compositions: Iterable[Any] | CompositionBatch, notation: Sequence[Any] | None = None,
                 tags: Sequence[Any] | None = None, family: Sequence[Any] | None = None) -> np.ndarray:
    """Index into `rules.FAMILIES` of each row's family: the data label when it names a structure family,
    else the composition (a glass by notation, tag or label: the thiophosphate pattern or "other")."""
    batch = _batch(compositions)
    flags, label_family = _text_columns(notation, tags, family, len(batch))
    return _label_or_composition(label_family, family_codes(batch, flags[:, _GLASS]))


def electrolyte_family(compositions: Iterable[Any] | CompositionBatch, notation: Sequence[Any] | None = None,
                       tags: Sequence[Any] | None = None, family: Sequence[Any] | None = None,
                       out: np.ndarray | None = None) -> np.ndarray:
    """`ElectrolyteFamily` for many rows: `family_index` one-hot, columns as `rules.FAMILY_LABELS`."""
    codes = family_index(compositions, notation, tags, family)
    out = _output(out, len(codes), len(rules.FAMILY_LABELS))
    out[:] = _one_hot(codes)
    return out


def row_families(X: np.ndarray, columns: Sequence[str]) -> list[str | None]:
    """Each feature row's family (`rules.FAMILIES`) read back from its `rules.FAMILY_LABELS` one-hot columns;
    None for a row without one, or for every row of a matrix without those columns."""
    position = {c: j for j, c in enumerate(columns)}
    if not len(X) or any(c not in position for c in rules.FAMILY_LABELS):
        return [None] * len(X)
    onehot = np.asarray(X, float)[:, [position[c] for c in rules.FAMILY_LABELS]]
    best = onehot.argmax(axis=1)
    return [rules.FAMILIES[b] if onehot[r, b] > 0 else None for r, b in enumerate(best.tolist())]


def _one_hot(codes: np.ndarray) -> np.ndarray:
    return (codes[:, None] == np.arange(len(rules.FAMILIES))[None, :]).astype(float)


def _label_or_composition(label_family: np.ndarray, composition_family: np.ndarray) -> np.ndarray:
    """The data label's family where it names one (>= 0), else the composition's."""
    return np.where(label_family >= 0, label_family, composition_family)


def _family(ions: _Ions, glass: np.ndarray) -> np.ndarray:
    """Index into `FAMILIES` of each row's family by composition (rules.py: windows and element sets)."""
    ix = element_tables().index
    idx, dense, anion = ions.index, ions.dense, ions.anion
    li, n_a, t = ions.li, ions.n_anion, ions.t
    glass = np.asarray(glass, dtype=bool)
    code = np.full(len(li), rules.FAMILIES.index("other"))
    undecided = li > 0

    def amount(elements: Sequence[str]) -> np.ndarray:
        return _sum_cols([dense[:, ix[el]] for el in elements])

    def within(x: np.ndarray, window: rules.Window) -> np.ndarray:
        return (window[0] <= x) & (x <= window[1])

    def div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # NaN where the denominator is 0: it fails every window.
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)

    def assign(mask: np.ndarray, family: str) -> None:
        hit = undecided & mask
        code[hit] = rules.FAMILIES.index(family)
        undecided[hit] = False

    hal = _sum_cols([anion[el] for el in rules.HALOGENS])
    chal_s = _sum_cols([anion[el] for el in rules.CHALCOGENS])
    o = anion["O"]
    ch = chal_s + o
    sulfide = (n_a > 0) & (chal_s >= rules.MAIN_ANION_SHARE * n_a)
    oxide = (n_a > 0) & (o >= rules.MAIN_ANION_SHARE * n_a)
    # Dopants (under MINOR_SHARE of the framework atoms) do not count in "only these cations".
    major = ions.fw_entry & (ions.fw_amt >= rules.MINOR_SHARE * t[:, None])

    def only(allowed: Iterable[str]) -> np.ndarray:
        ok = np.zeros(dense.shape[1], dtype=bool)
        ok[[ix[el] for el in allowed]] = True
        return ~(major & ~ok[idx]).any(1)

    def has_major(elements: Iterable[str]) -> np.ndarray:
        cols = [ix[el] for el in elements]
        return cast("np.ndarray", (major & np.isin(idx, cols)).any(1))  # `major` is 2-D: one bool per row

    p = amount(rules.THIOPHOSPHATE_CATIONS)
    thiophosphate = (sulfide & only(rules.THIOPHOSPHATE_CATIONS) & has_major(rules.THIOPHOSPHATE_CATIONS)
                     & (anion["S"] >= rules.MAIN_ANION_SHARE * n_a)
                     & (glass | within(div(ch, p), rules.THIOPHOSPHATE_CH_PER_P)))
    # A glass has no crystalline family: the thiophosphate pattern or nothing.
    assign(glass & thiophosphate, "thiophosphate")
    undecided &= ~glass

    a_t, li_t = div(n_a, t), div(li, t)
    m, q = amount(rules.LGPS_M), amount(rules.LGPS_Q)
    rare_earth = amount(rules.GARNET_RARE_EARTHS)
    garnet_a = rare_earth + amount(rules.GARNET_ALKALINE_EARTHS)
    nasicon_x = amount(rules.NASICON_X)
    nasicon_m = t - nasicon_x
    perovskite_b = amount(rules.PEROVSKITE_B)
    perovskite_a = garnet_a + amount(rules.PEROVSKITE_ALKALI)
    lisicon_x = amount(rules.LISICON_X)
    matches = {
        "argyrodite": ((t > 0) & (sulfide | ((ch >= rules.MAIN_ANION_SHARE * n_a) & (hal > 0)))
                       & only(rules.ARGYRODITE_CATIONS) & within(a_t, rules.ARGYRODITE_A_PER_T)
                       & (div(hal, t) <= rules.ARGYRODITE_MAX_X_PER_T) & within(li_t, rules.ARGYRODITE_LI_PER_T)),
        "LGPS": (sulfide & (t > 0) & (m > 0) & (q > 0) & only((*rules.LGPS_M, *rules.LGPS_Q))
                 & within(div(m, q), rules.LGPS_M_PER_Q) & within(a_t, rules.LGPS_A_PER_T)
                 & within(li_t, rules.LGPS_LI_PER_T)),
        "thio-LISICON": (sulfide & (t > 0) & only(rules.THIO_LISICON_CATIONS) & has_major(rules.THIO_LISICON_KEY)
                         & within(a_t, rules.THIO_LISICON_A_PER_T)),
        "thiophosphate": thiophosphate,
        "anti-perovskite": ((ch > 0) & (hal > 0) & within(div(hal, ch), rules.ANTI_PEROVSKITE_X_PER_CH)
                            & within(div(li, ch), rules.ANTI_PEROVSKITE_LI_PER_CH)
                            & (t <= rules.ANTI_PEROVSKITE_MAX_T_PER_CH * ch)),
        "garnet": (oxide & (rare_earth > 0) & (amount(rules.GARNET_B) > 0)
                   & within(div(o, garnet_a), rules.GARNET_O_PER_A)),
        "NASICON": (oxide & (nasicon_x > 0) & (nasicon_m > 0) & within(div(o, nasicon_x), rules.NASICON_O_PER_X)
                    & within(div(nasicon_x, nasicon_m), rules.NASICON_X_PER_M)),
        "perovskite": (oxide & (perovskite_b > 0) & (perovskite_a > 0)
                       & within(div(o, perovskite_b), rules.PEROVSKITE_O_PER_B)
                       & within(div(perovskite_a + li, perovskite_b), rules.PEROVSKITE_A_LI_PER_B)),
        "LISICON": (oxide & (lisicon_x > 0) & only((*rules.LISICON_X, *rules.LISICON_OTHER_CATIONS))
                    & within(div(o, lisicon_x), rules.LISICON_O_PER_X)
                    & within(div(li, lisicon_x), rules.LISICON_LI_PER_X)),
    }
    for family in rules.FAMILY_ORDER:
        assign(matches[family], family)
    return code
