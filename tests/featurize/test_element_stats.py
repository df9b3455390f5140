"""matminer's composition featurizers re-done on the element tables (`element_stats.py`), against matminer's own
through `presets.featurize` (cases in `conftest.py`)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from sulfml.chem import build, elements
from sulfml.chem.elements import MAGPIE_FEATURES, element_tables
from sulfml.featurize import element_stats
from sulfml.featurize.element_stats import element_statistics, matminer_columns


def test_enough_diverse_rows(batch_cases: pd.DataFrame) -> None:
    assert len(batch_cases) >= 500
    sizes = {len(c) for c in batch_cases["composition"]}
    assert set(range(1, 9)) <= sizes


def test_matminer_part_agrees(batch_cases: pd.DataFrame, matminer_reference: pd.DataFrame, assert_agrees) -> None:
    names = matminer_columns()
    got = element_statistics(batch_cases["composition"].tolist())
    max_diff = assert_agrees(batch_cases, names, matminer_reference[names].to_numpy(), got)
    print(f"matminer part: {len(batch_cases)} rows, max abs difference {max_diff:.3g}")
    # Not vacuous: the cases exercise both outcomes of the neutrality search and the NaN rows.
    possible = got[:, names.index("compound possible")]
    assert 0 < np.nansum(possible) < np.isfinite(possible).sum()
    assert np.isnan(got).all(1).sum() >= 3


def test_detects_a_wrong_table(batch_cases: pd.DataFrame, matminer_reference: pd.DataFrame, mismatches,
                               monkeypatch) -> None:
    tables = element_tables()
    magpie = tables.magpie.copy()
    magpie[tables.index["Li"], MAGPIE_FEATURES.index("MeltingT")] += 1e-6
    monkeypatch.setattr(element_stats, "element_tables", lambda: dataclasses.replace(tables, magpie=magpie))
    got = element_statistics(batch_cases["composition"].tolist())
    bad, _ = mismatches(matminer_reference[matminer_columns()].to_numpy(), got)
    assert bad.any()


def test_shipped_tables_equal_matminer_data() -> None:
    shipped = json.loads(elements.TABLE_PATH.read_text(encoding="utf-8"))
    assert shipped == build.build_element_tables()


def test_unknown_element_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown element 'Xx'"):
        element_statistics([{"Li": 1.0}, {"Xx": 2.0, "S": 1.0}])
    with pytest.raises(TypeError):
        element_statistics([3.0])


def test_empty_input_and_out() -> None:
    assert element_statistics([]).shape == (0, len(matminer_columns()))
    out = np.full((2, len(matminer_columns()) + 1), -1.0)
    element_statistics([{"Li": 2.0, "S": 1.0}, {}], out=out[:, 1:])
    assert (out[:, 0] == -1.0).all() and np.isnan(out[1, 1:]).all() and np.isfinite(out[0, 1:]).all()
    with pytest.raises(ValueError, match="shape"):
        element_statistics([{"Li": 1.0}], out=np.empty((2, 3)))


def test_single_element_and_ties_by_hand() -> None:
    names = matminer_columns()
    row = dict(zip(names, element_statistics([{"Li": 1.0, "Na": 1.0, "Cl": 2.0, "Br": 2.0}])[0], strict=True))
    # mode: Cl and Br tie for the largest amount; the smaller value wins (Z of Cl = 17).
    assert row["MagpieData mode Number"] == 17.0
    assert row["0-norm"] == 4.0
    assert math.isclose(row["2-norm"], math.sqrt(2 * (1 / 6) ** 2 + 2 * (1 / 3) ** 2))
    # Li+ + Na+ = 2 cannot be balanced by 2 Cl + 2 Br with odd states only (-1, 1, 3, 5, 7 each).
    assert row["compound possible"] == 0.0
    balanced = element_statistics([{"Li": 1.0, "Na": 1.0, "Cl": 1.0, "Br": 1.0}])[0]
    assert balanced[names.index("compound possible")] == 1.0
    single = dict(zip(names, element_statistics([{"Fe": 2.5}])[0], strict=True))
    assert (single["compound possible"], single["max ionic char"], single["avg ionic char"]) == (1.0, 0.0, 0.0)
    assert single["MagpieData range Number"] == 0.0


def test_small_blocks_give_the_same_numbers(batch_cases: pd.DataFrame, monkeypatch) -> None:
    comps = batch_cases["composition"].tolist()[::15]
    whole = element_statistics(comps)
    monkeypatch.setattr(element_stats, "_BLOCK", 7)
    monkeypatch.setattr(element_stats, "_COMBOS_PER_BLOCK", 16)
    np.testing.assert_array_equal(element_statistics(comps), whole)
