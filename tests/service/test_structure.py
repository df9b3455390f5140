"""A CIF at predict time: its space group names the polymorph, and the bond-valence picture (BVSE) is shown
beside the ML answer, with a warning where the two disagree strongly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sulfml.service.predictor import Predictor
from sulfml.service.structure import (
    BVSE_CLOSED_EV,
    FAST_LOG10_SIGMA,
    bvse_check,
    bvse_disagreements,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cif"


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.default()


def test_a_cif_gives_its_polymorph_and_the_bvse_cross_check(predictor):
    # each test has its own, empty cache (tests/conftest.py): the descriptors are computed here
    out = predictor.predict(
        pd.DataFrame({"formula": ["", "Li10GeP2S12", "Li10GeP2S12"],
                                        "cif": [str(FIXTURES / "li6ps5cl.cif"), str(FIXTURES / "li10gep2s12.cif"),
                                                ""]}))
    argyrodite, lgps, plain = out.itertuples()
    assert (argyrodite.formula, argyrodite.space_group, argyrodite.state) == ("Li6PS5Cl", 216, "crystalline")
    assert lgps.space_group == 137
    for row in (argyrodite, lgps):
        assert 0.05 < row.bvse_barrier_eV < BVSE_CLOSED_EV and row.bvse_dimension in (1.0, 2.0, 3.0)
        # the disordered Li sublattice is said once
        assert row.warning.count("partially occupied") == 1
    assert np.isnan(plain.bvse_barrier_eV) and np.isnan(plain.bvse_dimension)


def test_the_check_says_when_bvse_and_the_model_disagree():
    barrier = np.array([np.nan, np.nan, 1.5, 0.2, 0.2, 0.5])
    computed = np.array([True, False, True, True, True, True])
    log10 = np.array([-3.0, -3.0, -2.0, -9.0, -3.0, -3.0])
    notes = bvse_disagreements(barrier, computed, log10)
    assert set(notes) == {0, 2, 3}  # no path yet fast; a 1.5 eV path yet fast; an open path yet insulating
    assert "does not percolate in 3D" in notes[0] and "1.50 eV" in notes[2] and "insulator" in notes[3]
    # the thresholds are where the notes start: a fast answer just at the bound is not flagged
    assert bvse_disagreements(np.array([np.nan]), np.array([True]), np.array([FAST_LOG10_SIGMA])) == {}


def test_an_unreadable_cif_is_a_row_error_not_a_crash(predictor, tmp_path):
    bad = tmp_path / "bad.cif"
    bad.write_text("data_x\n_cell_length_a 5\n", encoding="utf-8")
    assert not bvse_check(bad).computed
    out = predictor.predict(pd.DataFrame({"formula": ["Li3PS4"], "cif": [str(bad)]}))
    assert out["error"][0].startswith("cannot read CIF") and pd.isna(out["log10_sigma"][0])


def test_a_blank_space_group_cell_is_unknown_whatever_its_type(predictor):
    cells = [None, float("nan"), pd.NA, "", "  "]
    out = predictor.predict(pd.DataFrame({"formula": ["Li6PS5Cl"] * len(cells),
                                          "space_group": pd.Series(cells, dtype=object)}))
    assert (out["error"] == "").all() and len(set(out["log10_sigma"].round(9))) == 1
    assert all(sg is None for sg in out["space_group"])
    floats = predictor.predict(pd.DataFrame({"formula": ["Li6PS5Cl", "Li6PS5Cl"], "space_group": [216.0, np.nan]}))
    assert list(floats["space_group"]) == [216, None]
