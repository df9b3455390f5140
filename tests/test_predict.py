"""The predict contract: one row per input, in order, errors without numbers, domain flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sulfml.predict import OUTPUT_COLUMNS, arrhenius_shift, predict, predict_frame
from sulfml.tracking.bundle import Bundle


@pytest.fixture
def bundle(trained) -> Bundle:
    return Bundle.from_dir(trained["models"])


def test_predict_rows_in_order_with_errors(bundle):
    out = predict(["Li6PS5Cl", "Xx2", "", "70Li2S-30P2S5", "NaCl", "Li2S-P2S5-LiI"], bundle=bundle)
    assert list(out.columns) == OUTPUT_COLUMNS
    assert list(out["input"]) == ["Li6PS5Cl", "Xx2", "", "70Li2S-30P2S5", "NaCl", "Li2S-P2S5-LiI"]
    good = out.iloc[[0, 3, 4]]
    assert good["error"].eq("").all() and np.isfinite(good["log10_sigma"].astype(float)).all()
    assert (good["log10_sigma_lo"] <= good["log10_sigma"]).all() and (good["log10_sigma"] <= good["log10_sigma_hi"]).all()
    assert (good["ea_lo"] <= good["ea_eV"]).all() and (good["ea_eV"] <= good["ea_hi"]).all()
    assert np.allclose(good["sigma_S_cm"], 10 ** good["log10_sigma"].astype(float))
    for i in (1, 2, 5):
        assert out.loc[i, "error"] and pd.isna(out.loc[i, "log10_sigma"])
    assert bool(out.loc[0, "in_domain"]) and out.loc[3, "formula"] == "Li7P3S11"
    assert not out.loc[4, "in_domain"] and "no lithium" in out.loc[4, "warning"]
    assert out.loc[0, "temperature_K"] == pytest.approx(298.15)


def test_unseen_element_is_out_of_domain(bundle):
    assert "U" not in bundle.elements
    out = predict(["Li2UO4"], bundle=bundle)
    assert not out.loc[0, "in_domain"] and "never seen" in out.loc[0, "warning"]


def test_temperature_shifts_with_predicted_ea(bundle):
    frame = pd.DataFrame({"formula": ["Li3PS4", "Li3PS4", "Li3PS4"], "temperature_C": ["25", "", "100"]})
    out = predict_frame(frame, bundle)
    assert out.loc[0, "log10_sigma"] == pytest.approx(out.loc[1, "log10_sigma"])
    assert out.loc[2, "temperature_K"] == pytest.approx(373.15)
    expected = arrhenius_shift(out.loc[0, "log10_sigma"], out.loc[0, "ea_eV"], 373.15)
    assert out.loc[2, "log10_sigma"] == pytest.approx(expected)
    assert out.loc[2, "log10_sigma"] > out.loc[0, "log10_sigma"]
    bad = predict_frame(pd.DataFrame({"formula": ["Li3PS4"], "temperature_C": ["hot"]}), bundle)
    assert "temperature_C" in bad.loc[0, "error"]


def test_arrhenius_shift_is_identity_at_room_temperature():
    assert arrhenius_shift(np.array([-3.0]), np.array([0.3]), np.array([298.15]))[0] == pytest.approx(-3.0)
    # 0.3 eV over 298 -> 348 K raises sigma by 0.3/(k ln10) * (1/298.15 - 1/348.15)
    assert arrhenius_shift(-3.0, 0.3, 348.15) == pytest.approx(-3.0 + 0.3 / (8.617333262e-5 * np.log(10))
                                                               * (1 / 298.15 - 1 / 348.15))


def test_cif_column_feeds_structure_and_a_bad_cif_fails_only_its_row(bundle, tmp_path):
    from pymatgen.core import Lattice, Structure

    cif = tmp_path / "licl.cif"
    Structure(Lattice.cubic(5.1), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(cif))
    frame = pd.DataFrame({"formula": ["LiCl", "LiCl"], "cif": [str(cif), str(tmp_path / "missing.cif")]})
    out = predict_frame(frame, bundle)
    assert out.loc[0, "error"] == "" and np.isfinite(out.loc[0, "log10_sigma"])
    assert "CIF" in out.loc[1, "error"] and pd.isna(out.loc[1, "log10_sigma"])
