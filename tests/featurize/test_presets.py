"""Tests of the feature presets and `featurize`."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from matminer.featurizers.composition import ElementProperty
from pymatgen.core import Composition

from sulfml.cpus import available_cpus, resolve_n_jobs
from sulfml.featurize import presets
from sulfml.featurize.presets import (
    PRESETS,
    Preset,
    featurize,
    get_preset,
    safe_name,
)

# Li10Ge(P0.925Sb0.075)2S12 and friends, as the parser hands them over.
FRACTIONAL = [
    {"Li": 10.0, "Ge": 1.0, "P": 1.85, "Sb": 0.15, "S": 12.0},
    {"Li": 5.3, "P": 1.0, "S": 4.3, "Cl": 1.0, "Br": 0.7},
    {"Li": 6.25, "Al": 0.25, "La": 3.0, "Zr": 2.0, "O": 12.0},
    {"Li": 0.33, "La": 0.56, "Ti": 1.0, "O": 3.0},
]


def test_known_presets() -> None:
    assert {"composition-v1", "structure-v1"} <= set(PRESETS)
    assert Preset("composition", 1).id == "composition-v1"
    assert get_preset("structure-v1") == Preset("structure", 1)
    for pid, preset in PRESETS.items():
        assert preset.id == pid


def test_unknown_preset_is_rejected() -> None:
    with pytest.raises(KeyError, match="composition-v1"):
        get_preset("composition-v99")
    with pytest.raises(KeyError):
        featurize(pd.DataFrame({"composition": [{"Li": 1}]}), "nope")


@pytest.mark.parametrize("preset_id", sorted(PRESETS))
def test_feature_names_are_unique_and_xgboost_safe(preset_id: str) -> None:
    names = get_preset(preset_id).feature_names()
    assert len(names) == len(set(names))
    assert not any(ch in name for name in names for ch in "[]<,")
    xgb.DMatrix(np.zeros((1, len(names))), feature_names=names)  # raises on names XGBoost rejects
    # matminer's readable labels survive.
    assert "MagpieData mean Electronegativity" in names


def test_structure_preset_extends_composition_preset() -> None:
    comp = get_preset("composition-v1").feature_names()
    struct = get_preset("structure-v1").feature_names()
    assert struct[: len(comp)] == comp
    assert len(struct) > len(comp)


def test_safe_name() -> None:
    assert safe_name("a[b]c") == "a_b_c"
    assert safe_name("x<1, y") == "xlt1_ y"
    assert safe_name("MagpieData mean Number") == "MagpieData mean Number"


def test_formula_only_frame() -> None:
    frame = pd.DataFrame({"composition": [{"Li": 6, "P": 1, "S": 5, "Cl": 1}, {"Li": 3, "P": 1, "S": 4}]},
                         index=["a", "b"])
    X = featurize(frame, "composition-v1")
    assert list(X.index) == ["a", "b"]
    assert list(X.columns) == get_preset("composition-v1").feature_names()
    assert all(dtype == np.float64 for dtype in X.dtypes)
    assert X.notna().all().all()
    assert X.loc["a", "family_argyrodite"] == 1.0
    assert X.loc["b", "family_thiophosphate"] == 1.0
    as_json = featurize(pd.DataFrame({"composition": ['{"Li": 3, "P": 1, "S": 4}', "Li3PS4"]}), "composition-v1")
    np.testing.assert_array_equal(as_json.to_numpy(), X.loc[["b", "b"]].to_numpy())
    S = featurize(frame, "structure-v1")
    assert S["space_group_number"].isna().all() and S["cif density"].isna().all()


def test_missing_optional_columns_equal_explicit_unknowns() -> None:
    bare = pd.DataFrame({"composition": [{"Li": 7, "P": 3, "S": 11}]})
    full = bare.assign(notation=[None], tags=[np.nan], family=[None], space_group_number=[np.nan],
                       a=[np.nan], b=[np.nan], c=[np.nan], alpha=[np.nan], beta=[np.nan], gamma=[np.nan],
                       z=[np.nan], cif_path=[None])
    pd.testing.assert_frame_equal(featurize(bare, "structure-v1"), featurize(full, "structure-v1"))


def test_fractional_composition_never_guesses_oxidation_states(monkeypatch) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("oxi_state_guesses must not be called")

    monkeypatch.setattr(Composition, "oxi_state_guesses", forbidden)
    presets._compute.cache_clear()  # make sure nothing is served from an earlier test's cache
    frame = pd.DataFrame({"composition": FRACTIONAL})
    for preset_id in sorted(PRESETS):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # a failed featurizer would warn
            X = featurize(frame, preset_id)
        composition_part = X[get_preset("composition-v1").feature_names()]
        assert composition_part.notna().all().all()
    assert X.loc[0, "family_LGPS"] == 1.0
    assert X.loc[0, "compound possible"] == 1.0


def test_magpie_columns_match_matminer() -> None:
    magpie = ElementProperty.from_preset("magpie", impute_nan=True)
    frame = pd.DataFrame({"composition": FRACTIONAL + [{"Li": 7, "La": 3, "Zr": 2, "O": 12}]})
    X = featurize(frame, "composition-v1")
    labels = [safe_name(label) for label in magpie.feature_labels()]
    for i, comp in enumerate(frame["composition"]):
        expected = magpie.featurize(Composition(comp))
        np.testing.assert_allclose(X.loc[i, labels].to_numpy(float), np.asarray(expected, float))


def test_same_composition_gives_same_row_and_order_is_stable() -> None:
    frame = pd.DataFrame({"composition": [FRACTIONAL[0], FRACTIONAL[1], dict(reversed(FRACTIONAL[0].items()))]})
    X = featurize(frame, "composition-v1")
    pd.testing.assert_series_equal(X.iloc[0], X.iloc[2], check_names=False)
    assert list(featurize(frame.iloc[::-1], "composition-v1").columns) == list(X.columns)


def test_failed_row_becomes_nan_with_a_warning() -> None:
    frame = pd.DataFrame({"composition": [{}, {"Li": 3, "P": 1, "S": 4}]})
    with pytest.warns(UserWarning, match="ElementProperty"):
        X = featurize(frame, "composition-v1")
    assert math.isnan(X.loc[0, "MagpieData mean Number"])
    assert X.loc[1].notna().all()


def test_empty_frame() -> None:
    X = featurize(pd.DataFrame({"composition": []}), "composition-v1")
    assert X.shape == (0, len(get_preset("composition-v1").feature_names()))


def test_n_jobs_is_capped() -> None:
    assert resolve_n_jobs(None) == available_cpus()
    assert resolve_n_jobs(10_000) == available_cpus()
    assert resolve_n_jobs(1) == 1
    with pytest.raises(ValueError):
        resolve_n_jobs(0)
    frame = pd.DataFrame({"composition": [{"Li": 3, "P": 1, "S": 4}]})
    pd.testing.assert_frame_equal(featurize(frame, "composition-v1", n_jobs=64),
                                  featurize(frame, "composition-v1", n_jobs=1))


def test_matminer_multiprocessing_is_off() -> None:
    for preset in PRESETS.values():
        assert all(f.n_jobs == 1 for f in preset.featurizers())


def test_composition_v2_is_v1_plus_element_fractions() -> None:
    v1 = get_preset("composition-v1").feature_names()
    v2 = get_preset("composition-v2").feature_names()
    assert v2[: len(v1)] == v1
    extra = v2[len(v1):]
    assert len(extra) == 94 and all(n.startswith("elem_frac_") for n in extra)
    frame = pd.DataFrame({"composition": [{"Li": 3.0, "P": 1.0, "S": 4.0}]})
    row = featurize(frame, "composition-v2").iloc[0]
    assert row["elem_frac_Li"] == pytest.approx(0.375)
    assert row[extra].sum() == pytest.approx(1.0)


def test_featurize_a_subset_of_columns_skips_the_other_featurizers(monkeypatch):
    import pandas as pd

    from sulfml.featurize import presets

    frame = pd.DataFrame({"composition": [{"Li": 6, "P": 1, "S": 5, "Cl": 1}, {"Li": 3, "P": 1, "S": 4}]})
    full = presets.featurize(frame, "chemistry-v1")
    wanted = [c for c in full.columns if c.startswith("elem_frac_")][:3] + [full.columns[-1]]
    calls = []
    real = presets._compute

    def spy(preset_id, index, key):
        calls.append(index)
        return real(preset_id, index, key)

    monkeypatch.setattr(presets, "_compute", spy)
    part = presets.featurize(frame, "chemistry-v1", columns=wanted)
    assert list(part.columns) == wanted
    pd.testing.assert_frame_equal(part, full[wanted])
    featurizers, _ = presets._compiled("chemistry-v1")
    assert set(calls) <= {len(featurizers) - 2, len(featurizers) - 1}   # magpie and the others never ran
    with pytest.raises(KeyError, match="not columns"):
        presets.featurize(frame, "chemistry-v1", columns=["no_such_feature"])
