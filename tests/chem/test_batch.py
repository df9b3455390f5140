"""Padded composition arrays (`chem/batch.py`): the display scale, vectorized over blocks of rows, against its rule
read one row at a time."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sulfml.chem import batch as batch_module
from sulfml.chem.batch import DISPLAY_MAX, display_scale
from sulfml.chem.elements import ANION_CHARGE, element_tables

_WHOLE, _DECIMALS = 1e-6, 4


def _one_row(els: np.ndarray, amounts: np.ndarray, present: np.ndarray) -> float:
    """`display_scale`'s rule for one row, target by target in plain Python (NumPy only for the base's sum)."""
    anion_rows = {element_tables().index[el] for el in ANION_CHARGE}
    amounts = np.where(present, amounts, 0.0)
    base = float(np.where(present & np.isin(els, list(anion_rows)), amounts, 0.0)[None, :].sum(axis=1)[0])
    if not base > 0:
        base = min((a for a, p in zip(amounts.tolist(), present.tolist(), strict=True) if p), default=0.0)
    base = base if base > 0 else 1.0
    chosen, best, best_n = 0, float("inf"), 1
    for target in range(1, DISPLAY_MAX + 1):
        xs = [a * (target / base) for a in amounts.tolist()]
        whole = [abs(x - float(np.rint(x))) < _WHOLE for x in xs]
        places = sum(abs(x * 10.0 ** k - float(np.rint(x * 10.0 ** k))) >= _WHOLE * 10.0 ** k
                     for x, p in zip(xs, present.tolist(), strict=True) if p for k in range(_DECIMALS))
        if not chosen and all(w or not p for w, p in zip(whole, present.tolist(), strict=True)) \
                and max(xs, default=0.0) <= DISPLAY_MAX + _WHOLE:
            chosen = target
        score = -100.0 * sum(w and p for w, p in zip(whole, present.tolist(), strict=True)) + places + target / 4
        if score < best:
            best, best_n = score, target
    return (chosen or best_n) / base


_AMOUNTS = st.one_of(
    st.integers(1, 30).map(float),
    st.tuples(st.integers(1, 60), st.sampled_from([2, 3, 4, 7, 10, 100, 1000])).map(lambda t: t[0] / t[1]),
    st.integers(1, 99999).map(lambda k: k / 1000),
    st.floats(1e-4, 50.0),
)
_ELEMENTS = st.sampled_from(["Li", "P", "S", "Cl", "Br", "I", "O", "Ge", "La", "Zr", "Na", "F", "N"])
_ROWS = st.lists(st.dictionaries(_ELEMENTS, _AMOUNTS, max_size=6), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(_ROWS, st.sampled_from([1.0, 0.1, 3.0, 1 / 3]), st.sampled_from([1, 3, 4096]))
def test_display_scale_is_its_rule_row_by_row(rows, scale, block) -> None:
    index = element_tables().index
    width = max(1, *(len(r) for r in rows))
    els = np.zeros((len(rows), width), dtype=np.int64)
    amounts = np.zeros((len(rows), width))
    present = np.zeros((len(rows), width), dtype=bool)
    for i, row in enumerate(rows):
        for j, (el, x) in enumerate(row.items()):
            els[i, j], amounts[i, j], present[i, j] = index[el], x * scale, True
    saved = batch_module._SCALE_BLOCK
    batch_module._SCALE_BLOCK = block  # blocks of one row, a few rows and the whole batch
    try:
        got = display_scale(els, amounts, present)
    finally:
        batch_module._SCALE_BLOCK = saved
    want = [_one_row(els[i], amounts[i], present[i]) for i in range(len(rows))]
    assert got.tolist() == want
