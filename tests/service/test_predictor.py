"""The predict contract: one row per input, in order, errors without numbers, domain flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sulfml import Predictor
from sulfml.service.physics import arrhenius_shift
from sulfml.service.pipeline import OUTPUT_COLUMNS
from sulfml.service.predictor import STREAM_AHEAD
from sulfml.tracking.bundle import Bundle


@pytest.fixture
def bundle(trained) -> Bundle:
    return Bundle.from_dir(trained["models"])


def test_predict_rows_in_order_with_errors(bundle):
    out = Predictor(bundle, 'test').predict(["Li6PS5Cl", "Xx2", "", "70Li2S-30P2S5", "NaCl", "Li2S-P2S5-LiI"])
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
    out = Predictor(bundle, 'test').predict(["Li2UO4"])
    assert not out.loc[0, "in_domain"] and "never seen" in out.loc[0, "warning"]


def test_temperature_shifts_with_predicted_ea(bundle):
    frame = pd.DataFrame({"formula": ["Li3PS4", "Li3PS4", "Li3PS4"], "temperature_C": ["25", "", "100"]})
    out = _predict_frame(frame, bundle)
    assert out.loc[0, "log10_sigma"] == pytest.approx(out.loc[1, "log10_sigma"])
    assert out.loc[2, "temperature_K"] == pytest.approx(373.15)
    expected = arrhenius_shift(out.loc[0, "log10_sigma"], out.loc[0, "ea_eV"], 373.15)
    assert out.loc[2, "log10_sigma"] == pytest.approx(expected)
    assert out.loc[2, "log10_sigma"] > out.loc[0, "log10_sigma"]
    bad = _predict_frame(pd.DataFrame({"formula": ["Li3PS4"], "temperature_C": ["hot"]}), bundle)
    assert "temperature_C" in bad.loc[0, "error"]


def test_arrhenius_shift_is_identity_at_room_temperature():
    assert arrhenius_shift(np.array([-3.0]), np.array([0.3]), np.array([298.15]))[0] == pytest.approx(-3.0)
    # sigma*T form: 0.3 eV over 298 -> 348 K gives 0.3/(k ln10) * (1/298.15 - 1/348.15) minus log10(348.15/298.15)
    assert arrhenius_shift(-3.0, 0.3, 348.15) == pytest.approx(-3.0 + 0.3 / (8.617333262e-5 * np.log(10))
                                                               * (1 / 298.15 - 1 / 348.15) - np.log10(348.15 / 298.15))
    # with Ea = 0 only the 1/T prefactor remains
    assert arrhenius_shift(-3.0, 0.0, 596.3) == pytest.approx(-3.0 - np.log10(2.0))


def test_neighbors_and_distance_based_domain(bundle):
    from dataclasses import replace

    out = Predictor(bundle, 'test').predict(["Li6PS5Cl"])
    nb = out.loc[0, "neighbors"]
    assert len(nb) == 3 and [n["distance"] for n in nb] == sorted(n["distance"] for n in nb)
    assert {"formula", "state", "log10_sigma", "censored", "ea_eV", "sources", "papers", "measurements",
            "distance"} <= set(nb[0])
    assert bool(out.loc[0, "in_domain"])
    sig = bundle.models["log10_sigma"]
    strict = replace(bundle, models={**bundle.models, "log10_sigma": replace(sig, domain=replace(sig.domain, threshold=-1.0))})
    far = Predictor(strict, 'test').predict(["Li6PS5Cl0.5Br0.5", "Li6PS5Cl"])
    new = Predictor(bundle, 'test').predict(["Li6PS5Cl0.5Br0.5"])
    assert not far.loc[0, "in_domain"] and "far from the training materials" in far.loc[0, "warning"]
    assert far.loc[0, "log10_sigma"] == pytest.approx(new.loc[0, "log10_sigma"])   # still predicted
    # a training material is within what the model knows, however far its features put it
    assert far.loc[1, "basis"] != "model" and "far from" not in far.loc[1, "warning"]


def test_interval_widens_away_from_room_temperature(bundle):
    out = _predict_frame(pd.DataFrame({"formula": ["Li3PS4", "Li3PS4", "Li3PS4"],
                                      "temperature_C": ["25", "300", "1500"]}), bundle)
    width = out["log10_sigma_hi"] - out["log10_sigma_lo"]
    assert width[1] > width[0]          # the Ea interval adds to the band away from 25 °C
    lo, hi = bundle.temperature_range_K
    assert lo <= 373.15 <= hi
    assert "outside" in out.loc[2, "warning"] and out.loc[2, "error"] == ""
    # 300 °C is beyond the fixture's measurements (up to 373.15 K), 25 °C is not
    assert ("outside" in out.loc[1, "warning"]) == (not lo <= 573.15 <= hi)
    assert "outside" not in out.loc[0, "warning"]


@pytest.mark.parametrize("t, why", [("-300", "absolute zero"), ("1e6", "no solid electrolyte"),
                                    ("nan", "finite"), ("warm", "not a number")])
def test_bad_temperatures_fail_their_row_only(bundle, t, why):
    out = _predict_frame(pd.DataFrame({"formula": ["Li3PS4", "Li3PS4"], "temperature_C": [t, "25"]}), bundle)
    assert why in out.loc[0, "error"] and pd.isna(out.loc[0, "log10_sigma"])
    assert out.loc[1, "error"] == ""


DISORDERED_CIF = """data_Li6PS5Cl_disordered
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   9.85
_cell_length_b   9.85
_cell_length_c   9.85
_cell_angle_alpha   90
_cell_angle_beta   90
_cell_angle_gamma   90
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_as_xyz
  'x, y, z'
loop_
 _atom_site_label
 _atom_site_type_symbol
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Li1  Li  0.30  0.02  0.70  0.5
  Li2  Li  0.70  0.30  0.02  0.5
  Li3  Li  0.02  0.70  0.30  0.5
  P1   P   0.50  0.50  0.50  1.0
  S1   S   0.62  0.62  0.62  1.0
  S2   S   0.38  0.38  0.62  1.0
  S3   S   0.25  0.25  0.25  0.5
  Cl1  Cl  0.25  0.25  0.25  0.5
  Cl2  Cl  0.00  0.00  0.00  1.0
"""


def test_cif_predictions_survive_disorder_and_garbage(bundle, tmp_path):
    disordered = tmp_path / "disordered.cif"
    disordered.write_text(DISORDERED_CIF)
    garbage = tmp_path / "garbage.cif"
    garbage.write_text("data_x\n_cell_length_a oops\n")
    out = _predict_frame(pd.DataFrame({"formula": ["", "", "Li6PS5Cl"],
                                      "cif": [str(disordered), str(garbage), str(disordered)]}), bundle)
    assert out.loc[0, "error"] == "" and np.isfinite(out.loc[0, "log10_sigma"])
    assert "partially occupied" in out.loc[0, "warning"]
    assert "Li" in out.loc[0, "formula"] and "Cl" in out.loc[0, "formula"]   # the composition came from the CIF
    assert "composition only" in out.loc[0, "warning"]                        # composition-v1 bundle
    assert "CIF" in out.loc[1, "error"] and pd.isna(out.loc[1, "log10_sigma"])
    assert out.loc[2, "formula"] == "Li6PS5Cl" and "differs from the formula" in out.loc[2, "warning"]
    # the CIF's composition is named as a formula, not as a dict of float sums (4.000000000000001)
    assert "{" not in out.loc[2, "warning"] and "00000" not in out.loc[2, "warning"]
    assert "the CIF's composition Li3P2S5Cl3 differs" in out.loc[2, "warning"]  # Li1.5P1S2.5Cl1.5: no 1s


@pytest.mark.slow
def test_obelix_cifs_predict_without_crashing(bundle, tmp_path, mirror_dir):
    import tarfile

    with tarfile.open(mirror_dir / "obelix" / "all_cifs.tar.gz") as tar:
        members = [m for m in tar.getmembers() if m.name.endswith(".cif")][:12]
        for m in members:
            tar.extract(m, tmp_path, filter="data")
    paths = [str(tmp_path / m.name) for m in members]
    out = _predict_frame(pd.DataFrame({"formula": [""] * len(paths), "cif": paths}), bundle)
    assert len(out) == len(paths)
    ok = out["error"] == ""
    assert ok.sum() >= len(paths) - 1 and np.isfinite(out.loc[ok, "log10_sigma"].astype(float)).all()
    assert out.loc[~ok, "error"].str.contains("CIF").all()


def test_cif_column_feeds_structure_and_a_bad_cif_fails_only_its_row(bundle, tmp_path):
    from pymatgen.core import Lattice, Structure

    cif = tmp_path / "licl.cif"
    Structure(Lattice.cubic(5.1), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(cif))
    frame = pd.DataFrame({"formula": ["LiCl", "LiCl"], "cif": [str(cif), str(tmp_path / "missing.cif")]})
    out = _predict_frame(frame, bundle)
    assert out.loc[0, "error"] == "" and np.isfinite(out.loc[0, "log10_sigma"])
    assert "CIF" in out.loc[1, "error"] and pd.isna(out.loc[1, "log10_sigma"])


def _distinct_formulas(n: int) -> list[str]:
    """n distinct argyrodite, halide and glass variants."""
    out: list[str] = []
    for i in range(n):
        x = (i // 3 + 1) / (n + 1)
        out.append((f"Li{6 - x:.5f}PS{5 - x:.5f}Cl{1 + x:.5f}", f"Li{3 - x:.5f}Y{1 - x:.5f}Zr{x:.5f}Cl6",
                    f"{60 + 20 * x:.5f}Li2S-{40 - 20 * x:.5f}P2S5")[i % 3])
    assert len(set(out)) == n
    return out


def test_large_batches_agree_with_small_ones():
    """A large batch (k-d tree search, XGBoost's library) gives what small batches (full distance matrix,
    NumPy trees) give, with the shipped bundle and its nearest-neighbour features."""
    from sulfml.model.knn_features import _TREE_FROM
    from sulfml.model.trees import SMALL_BATCH

    bundle = Bundle.from_dir()
    texts = _distinct_formulas(_TREE_FROM + 100) + ["Li6PS5Cl", "Li7La3Zr2O12"]
    big = _run(pd.DataFrame({"formula": texts}), bundle)
    picks = [0, 1, 2, 500, 1001, len(texts) - 2, len(texts) - 1]
    small = _run(pd.DataFrame({"formula": [texts[i] for i in picks]}), bundle)
    assert len(picks) <= SMALL_BATCH
    for c in ("log10_sigma", "ea_eV"):
        assert [big.columns[c][i] for i in picks] == list(small.columns[c])  # float32 trees: identical
    for c in ("log10_sigma_lo", "log10_sigma_hi", "ea_lo", "ea_hi"):
        np.testing.assert_allclose([big.columns[c][i] for i in picks], small.columns[c], rtol=0, atol=1e-6)
    assert [big.neighbor_idx[i] for i in picks] == small.neighbor_idx
    assert big.columns["in_domain"][picks[0]] is True


def _predict_frame(frame: pd.DataFrame, bundle: Bundle) -> pd.DataFrame:
    return Predictor(bundle, "test").predict(frame)


def _run(frame: pd.DataFrame, bundle: Bundle):
    return Predictor(bundle, "test").run(frame)


def test_the_bundle_is_read_and_checked_once(trained, monkeypatch):
    from sulfml.tracking import bundle as bundle_module

    predictor = Predictor.from_dir(trained["models"])
    first = predictor.predict(["Li6PS5Cl", "Li3PS4"])

    def no_reload(*args, **kwargs):
        raise AssertionError("the bundle was loaded again")

    monkeypatch.setattr(bundle_module.Bundle, "from_dir", no_reload)
    monkeypatch.setattr(bundle_module.LoadedModel, "from_dir", no_reload)
    for _ in range(3):
        pd.testing.assert_frame_equal(predictor.predict(["Li6PS5Cl", "Li3PS4"]), first)


def test_inputs_as_text_list_or_frame_give_the_same_rows(trained):
    from sulfml.errors import InputError

    predictor = Predictor.from_dir(trained["models"])
    texts = ["Li6PS5Cl", "70Li2S-30P2S5", "bad("]
    by_list = predictor.predict(texts, temperature_c=60)
    by_frame = predictor.predict(pd.DataFrame({"formula": texts, "temperature_C": ["", "60", None]}),
                                 temperature_c="60")
    pd.testing.assert_frame_equal(by_list, by_frame)
    assert (by_list["temperature_K"].dropna() == 333.15).all() and by_list.loc[2, "error"]
    pd.testing.assert_frame_equal(predictor.predict("Li6PS5Cl"), predictor.predict(["Li6PS5Cl"]))
    with pytest.raises(InputError, match="absolute zero"):
        predictor.predict(texts, temperature_c=-300)
    with pytest.raises(InputError, match="no formula column"):
        predictor.predict(pd.DataFrame({"name": texts}))


def test_registry_alias_predicts_what_the_exported_bundle_predicts(trained):
    texts = ["Li6PS5Cl", "Li10GeP2S12", "NaCl"]
    from_registry = Predictor.from_registry(trained["uri"], alias="champion")
    assert "champion" in from_registry.source
    pd.testing.assert_frame_equal(from_registry.predict(texts), Predictor.from_dir(trained["models"]).predict(texts))


def test_loading_from_a_registry_leaves_no_trace(trained, tmp_path, monkeypatch):
    """From a registry: the environment as it was, no downloaded folder left, the booster built (in a large
    batch, after the folder is gone) from the bytes checked at load; a missing store is not created."""
    import glob
    import os
    import tempfile

    from sulfml.errors import StoreError
    from sulfml.model.trees import SMALL_BATCH

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    before = dict(os.environ)
    predictor = Predictor.from_registry(trained["uri"], alias="champion")
    assert dict(os.environ) == before
    assert not glob.glob(str(tmp_path / "tmp" / "sulfml-registry-*"))
    # distinct rows past the NumPy walk's batch size: the booster is needed
    many = predictor.predict([f"Li{3 + i / 1000:.3f}PS4" for i in range(SMALL_BATCH + 2)])
    assert many["error"].eq("").all() and predictor.bundle.models["log10_sigma"].booster is not None
    missing = tmp_path / "nowhere.db"
    with pytest.raises(StoreError, match="no MLflow store"):
        Predictor.from_registry(f"sqlite:///{missing}")
    assert not missing.exists()


def test_an_unknown_alias_is_a_user_error(trained):
    from sulfml.errors import StoreError

    with pytest.raises(StoreError, match="nope"):
        Predictor.from_registry(trained["uri"], alias="nope")


def test_default_is_the_shipped_champion():
    predictor = Predictor.default()
    assert predictor.preset == "chemistry-v3" and predictor.source.endswith("champion")
    out = predictor.predict(["Li6PS5Cl"])
    assert out.loc[0, "in_domain"] and -6 < out.loc[0, "log10_sigma"] < 0


def _with_sigma(bundle: Bundle, **changes) -> Bundle:
    from dataclasses import replace

    sig = bundle.models["log10_sigma"]
    return replace(bundle, models={**bundle.models, "log10_sigma": replace(sig, **changes)})


def test_training_stores_the_width_rule_families_and_their_temperatures(bundle):
    card = bundle.models["log10_sigma"].card
    cal = bundle.models["log10_sigma"].calibration
    assert cal.max_width is not None and cal.max_width > 0 and card["interval"]["max_width"] == cal.max_width
    assert "argyrodite" in card["domain"]["families"]
    ranges = card["family_temperature_range_K"]
    lo, hi = bundle.temperature_range_K
    assert ranges and all(lo <= a <= b <= hi for a, b in ranges.values())


def test_a_too_wide_interval_is_out_of_domain(bundle):
    from dataclasses import replace

    new = "Li6PS5Cl0.5Br0.5"  # not in the training data: the model's own answer
    out = Predictor(bundle, 'test').predict([new, "Li6PS5Cl"])
    width = out.loc[0, "log10_sigma_hi"] - out.loc[0, "log10_sigma_lo"]
    sig = bundle.models["log10_sigma"]
    for limit, usable in ((width * 0.9, False), (width * 1.1, True)):
        narrow = _with_sigma(bundle, calibration=replace(sig.calibration, max_width=limit, width_quantile=0.95))
        got = Predictor(narrow, 'test').predict([new, "Li6PS5Cl"])
        assert bool(got.loc[0, "in_domain"]) is (usable and bool(out.loc[0, "in_domain"]))
        assert ("interval too wide" in got.loc[0, "warning"]) is not usable
        assert got.loc[0, "log10_sigma"] == pytest.approx(out.loc[0, "log10_sigma"])   # still predicted
        # a measured material's interval is its papers' spread: the rule for the model's answers spares it
        assert got.loc[1, "basis"] != "model" and "interval too wide" not in got.loc[1, "warning"]
    # a card without the width rule (bundles from before it) never applies it
    old = _with_sigma(bundle, calibration=replace(sig.calibration, max_width=None, width_quantile=None))
    assert "interval too wide" not in Predictor(old, 'test').predict([new]).loc[0, "warning"]


def test_temperature_beyond_the_familys_measurements_is_out_of_domain(bundle):
    sig = bundle.models["log10_sigma"]
    card = {**sig.card, "family_temperature_range_K": {"argyrodite": [290.0, 310.0]}}
    narrow = _with_sigma(bundle, card=card)
    frame = pd.DataFrame({"formula": ["Li6PS5Cl", "Li6PS5Cl"], "temperature_C": ["25", "80"]})
    out = _predict_frame(frame, narrow)
    assert "outside" not in out.loc[0, "warning"]
    assert not out.loc[1, "in_domain"]
    assert "outside the 290-310 K the training measurements of argyrodite materials span" in out.loc[1, "warning"]
    # 80 °C is within the global range: under it alone (no family range) the row stays usable
    lo, hi = bundle.temperature_range_K
    assert lo <= 353.15 <= hi
    plain = _with_sigma(bundle, card={**sig.card, "family_temperature_range_K": {}})
    again = _predict_frame(frame, plain)
    assert "outside" not in again.loc[1, "warning"]
    assert bool(again.loc[1, "in_domain"]) == bool(again.loc[0, "in_domain"])


def test_a_family_never_trained_on_is_out_of_domain(bundle):
    sig = bundle.models["log10_sigma"]
    families = [f for f in sig.card["domain"]["families"] if f != "argyrodite"]
    card = {**sig.card, "domain": {**sig.card["domain"], "families": families}}
    out = Predictor(_with_sigma(bundle, card=card), 'test').predict(["Li6PS5Cl", "Li10GeP2S12"])
    assert not out.loc[0, "in_domain"] and "family argyrodite never seen in training" in out.loc[0, "warning"]
    assert "never seen" not in out.loc[1, "warning"]


def test_a_state_written_as_another_word_is_noted(bundle):
    out = Predictor(bundle, "test").predict(["Li3PS4", "Li3PS4 amorphous"], state=None)
    assert out.loc[1, "state"] == "glass" and "amorphous, read as glass" in out.loc[1, "warning"]
    cell = Predictor(bundle, "test").predict(["Li3PS4"], state="amorphous")
    assert cell.loc[0, "state"] == "glass" and "state 'amorphous' read as glass" in cell.loc[0, "warning"]


def test_stream_gives_each_frame_its_own_prediction_in_order(bundle):
    predictor = Predictor(bundle, "test")
    frames = [pd.DataFrame({"formula": texts}) for texts in
              (["Li6PS5Cl", "Xx2"], ["70Li2S-30P2S5"], [], ["Li3PS4", "Li7P3S11", "NaCl"])]
    read = []

    def source():
        for frame in frames:
            read.append(len(read))
            yield frame

    streamed = predictor.stream(source())
    first_frame, first = next(streamed)
    # the next frames are read and predicted ahead, but never more than STREAM_AHEAD of them
    assert first_frame is frames[0] and len(read) <= 1 + STREAM_AHEAD
    got = [(first_frame, first), *streamed]
    assert [f for f, _ in got] == frames
    for frame, prediction in got:
        pd.testing.assert_frame_equal(prediction.frame(), predictor.run(frame).frame())


def test_stream_raises_a_frames_error_where_that_frame_comes(bundle, monkeypatch):
    from sulfml.service import pipeline

    prepare = pipeline.prepare

    def failing(frame, *args, **kwargs):
        if "boom" in frame["formula"].tolist():
            raise RuntimeError("boom")
        return prepare(frame, *args, **kwargs)

    monkeypatch.setattr(pipeline, "prepare", failing)
    streamed = Predictor(bundle, "test").stream(iter([pd.DataFrame({"formula": ["Li6PS5Cl"]}),
                                                      pd.DataFrame({"formula": ["boom"]})]))
    assert next(streamed)[1].columns["input"] == ["Li6PS5Cl"]
    with pytest.raises(RuntimeError, match="boom"):
        next(streamed)
