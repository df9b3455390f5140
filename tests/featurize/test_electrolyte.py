"""Tests of our solid-electrolyte descriptors: Li content, anions, framework cations, flags and families."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from pymatgen.core import Composition

from sulfml.featurize.electrolyte import (
    FAMILIES,
    AnionFramework,
    ElectrolyteFamily,
    FrameworkCations,
    LithiumContent,
    SynthesisNotation,
    classify_family,
    family_from_composition,
    family_from_label,
)


def features(featurizer, comp, *args) -> dict[str, float]:
    return dict(zip(featurizer.feature_labels(), featurizer.featurize(Composition(comp), *args), strict=True))


@pytest.mark.parametrize(
    ("formula", "family"),
    [
        ("Li6PS5Cl", "argyrodite"),
        ("Li5.5PS4.5Cl1.5", "argyrodite"),
        ("Li7PS6", "argyrodite"),
        ("Li5.3PS4.3ClBr0.7", "argyrodite"),
        ("Li6.6P0.4Ge0.6S5I", "argyrodite"),
        ("Li10GeP2S12", "LGPS"),
        ("Li10SnP2S12", "LGPS"),
        ("Li9.54Si1.74P1.44S11.7Cl0.3", "LGPS"),
        ("Li3.25Ge0.25P0.75S4", "thio-LISICON"),
        ("Li4SnS4", "thio-LISICON"),
        ("Li7P3S11", "thiophosphate"),
        ("Li3PS4", "thiophosphate"),
        ("Li7La3Zr2O12", "garnet"),
        ("Li6.25Al0.25La3Zr2O12", "garnet"),
        ("Li1.3Al0.3Ti1.7(PO4)3", "NASICON"),
        ("LiGe2(PO4)3", "NASICON"),
        ("Li0.33La0.56TiO3", "perovskite"),
        ("Li14Zn(GeO4)4", "LISICON"),
        ("Li3.5Si0.5P0.5O4", "LISICON"),
        ("Li3OCl", "anti-perovskite"),
        ("Li2OHCl", "anti-perovskite"),
        ("LiCoO2", "other"),
        ("Li3YCl6", "other"),
        ("NaCl", "other"),
    ],
)
def test_family_patterns(formula: str, family: str) -> None:
    assert family_from_composition(Composition(formula)) == family


def test_glass_tag_makes_li_p_s_a_thiophosphate() -> None:
    comp = Composition("Li7P3S11")
    assert classify_family(comp, "plain", "glass;polymorph:β", None) == "thiophosphate"
    assert classify_family(comp, "glass", "", None) == "thiophosphate"
    # A Li2S-rich glass outside the crystalline S/P window is still a Li2S-P2S5 glass.
    assert classify_family(Composition({"Li": 8, "P": 1, "S": 5.5}), "glass", "", None) == "thiophosphate"
    # A glass never gets a crystalline family.
    assert classify_family(Composition("Li4GeS4"), "glass", "", None) == "other"
    assert classify_family(Composition("LiPO3"), "plain", "", "Glass") == "other"
    assert classify_family(comp, "plain", "", "Glass") == "thiophosphate"


def test_data_label_overrides_pattern() -> None:
    comp = Composition("Li6PS5Cl")
    assert classify_family(comp, "plain", "", "LGPS") == "LGPS"
    assert classify_family(comp, "plain", "", "Olivine") == "other"
    # Chemistry-class labels do not name a structure: the pattern decides.
    assert classify_family(comp, "plain", "", "sulfides") == "argyrodite"
    assert classify_family(comp, "plain", "", None) == "argyrodite"
    assert classify_family(comp, "plain", "", float("nan")) == "argyrodite"


@pytest.mark.parametrize(
    ("label", "family"),
    [
        ("argyrodites", "argyrodite"), ("Argyrodite", "argyrodite"), ("LGPS", "LGPS"),
        ("thio-LISICON", "thio-LISICON"), ("Thio-LISICON", "thio-LISICON"), ("garnet", "garnet"),
        ("Garnet", "garnet"), ("garnet-like", "garnet"), ("NASICON", "NASICON"),
        ("perovskites", "perovskite"), ("Perovskite", "perovskite"), ("LISICON", "LISICON"),
        ("Anti-Perovskite", "anti-perovskite"), ("antiperovskite", "anti-perovskite"),
        ("thio-phosphate", "thiophosphate"), ("Rocksalt", "other"), ("pyrochlore", "other"),
        ("oxides", None), ("Sulphides", None), ("Other", None), ("Glass", None), ("Glass-Ceramic", None),
        (None, None), ("", None),
    ],
)
def test_family_label_normalisation(label, family) -> None:
    assert family_from_label(label) == family


def test_family_one_hot() -> None:
    f = ElectrolyteFamily()
    assert f.feature_labels() == [f"family_{name}" for name in FAMILIES]
    values = features(f, "Li10GeP2S12", "plain", "", None)
    assert sum(values.values()) == 1.0
    assert values["family_LGPS"] == 1.0


def test_mixed_anion_and_halogen_mix() -> None:
    v = features(AnionFramework(), "Li5.3PS4.3ClBr0.7")
    assert v["mixed_anion"] == 1.0
    assert v["mixed_halogen"] == 1.0
    assert v["n_anion_species"] == 3.0
    assert v["anion_frac_S"] == pytest.approx(4.3 / 6.0)
    assert v["halogen_fraction"] == pytest.approx(1.7 / 6.0)
    assert v["halogen_share_Cl"] == pytest.approx(1 / 1.7)
    assert v["halogen_share_Br"] == pytest.approx(0.7 / 1.7)
    assert v["halogen_share_I"] == 0.0
    assert v["halogen_mixing_entropy"] > 0.6

    pure = features(AnionFramework(), "Li3PS4")
    assert pure["mixed_anion"] == 0.0 and pure["mixed_halogen"] == 0.0
    assert pure["halogen_fraction"] == 0.0 and pure["halogen_mixing_entropy"] == 0.0


def test_hydroxide_hydrogen_and_oxide_tellurium_are_not_anions() -> None:
    v = features(AnionFramework(), "Li2OHCl")
    assert v["anion_frac_H"] == 0.0 and v["anion_frac_O"] == pytest.approx(0.5)
    hydride = features(AnionFramework(), "LiBH4")
    assert hydride["anion_frac_H"] == 1.0
    garnet = features(FrameworkCations(), "Li6.5La3Zr1.5Te0.5O12")
    assert garnet["framework_share_Te"] == pytest.approx(0.1)


def test_lithium_content() -> None:
    v = features(LithiumContent(), "Li3PS4")
    assert v == pytest.approx({
        "li_atom_fraction": 3 / 8, "li_per_anion": 0.75, "li_per_framework_cation": 3.0,
        "li_anion_charge_fraction": 0.375,
    })
    assert math.isnan(features(LithiumContent(), "Li3OCl")["li_per_framework_cation"])


def test_framework_cations() -> None:
    v = features(FrameworkCations(), "Li1.3Al0.3Ti1.7(PO4)3")
    assert v["framework_share_P"] == pytest.approx(0.6)
    assert v["framework_share_Ti"] == pytest.approx(1.7 / 5)
    assert v["framework_share_Al"] == pytest.approx(0.3 / 5)
    assert v["framework_share_other"] == pytest.approx(0.0, abs=1e-12)
    assert v["n_framework_cation_species"] == 3.0
    assert features(FrameworkCations(), "LiCoO2")["framework_share_other"] == 1.0


def test_descriptors_are_scale_free() -> None:
    for f in (LithiumContent(), AnionFramework(), FrameworkCations()):
        assert f.featurize(Composition("Li7P3S11")) == pytest.approx(f.featurize(Composition("Li14P6S22")))


def test_synthesis_flags() -> None:
    f = SynthesisNotation()
    assert features(f, "Li7P3S11", "glass", "", None)["is_glass"] == 1.0
    gc = features(f, "Li7P3S11", "plain", "glass-ceramic", None)
    assert gc["is_glass_ceramic"] == 1.0 and gc["is_glass"] == 0.0 and gc["is_amorphous"] == 0.0
    assert features(f, "Li7P3S11", "plain", "", "Glass-Ceramic")["is_glass_ceramic"] == 1.0
    # A mixture-notation glass-ceramic is crystalline: not a glass, and it keeps its crystalline family.
    mixed = features(f, "Li6PS5Cl", "glass", "glass-ceramic", None)
    assert mixed["is_glass"] == 0.0 and mixed["is_glass_ceramic"] == 1.0
    assert classify_family(Composition("Li6PS5Cl"), "glass", "glass-ceramic", None) == "argyrodite"
    assert features(f, "Li3PS4", "plain", "amorphous", None)["is_amorphous"] == 1.0
    assert features(f, "Li3PS4", "composite", "", None)["is_composite"] == 1.0
    assert features(f, "Li3PS4", "host+dopant", "", None)["is_doped"] == 1.0
    assert features(f, "Li3PS4", "hydrate", "", None)["is_hydrate"] == 1.0
    assert sum(features(f, "Li3PS4", float("nan"), float("nan"), None).values()) == 0.0


def test_mixes_with_matminer_featurize_dataframe() -> None:
    df = pd.DataFrame({
        "composition": [Composition("Li6PS5Cl"), Composition("Li7P3S11")],
        "notation": ["plain", "glass"], "tags": ["", ""], "family": [None, None],
    })
    f = ElectrolyteFamily()
    f.set_n_jobs(1)
    out = f.featurize_dataframe(df, ["composition", "notation", "tags", "family"], pbar=False)
    assert out["family_argyrodite"].tolist() == [1.0, 0.0]
    assert out["family_thiophosphate"].tolist() == [0.0, 1.0]
    assert f.citations() == [] and f.implementors()


def test_element_fractions_are_the_fractional_composition() -> None:
    from sulfml.featurize.electrolyte import ELEMENTS, ElementFractions

    f = features(ElementFractions(), "Li6PS5Cl")
    assert len(f) == len(ELEMENTS) == 94
    assert f["elem_frac_Li"] == pytest.approx(6 / 13)
    assert f["elem_frac_S"] == pytest.approx(5 / 13)
    assert f["elem_frac_Cl"] == pytest.approx(1 / 13)
    assert f["elem_frac_O"] == 0.0
    assert sum(f.values()) == pytest.approx(1.0)
    # scale-free and deuterium counts as hydrogen
    assert features(ElementFractions(), "Li12P2S10Cl2") == pytest.approx(f)
    assert features(ElementFractions(), {"Li": 1, "D": 4, "B": 1})["elem_frac_H"] == pytest.approx(4 / 6)


def test_substitution_chemistry_of_known_electrolytes() -> None:
    from sulfml.featurize.electrolyte import SubstitutionChemistry, cation_radius, nominal_valence

    assert nominal_valence("P") == 5 and nominal_valence("Ge") == 4 and nominal_valence("La") == 3
    assert cation_radius("Zr") == pytest.approx(0.86) and cation_radius("Al") == pytest.approx(0.675)
    s = SubstitutionChemistry()
    argyrodite = features(s, "Li5.5PS4.5Cl1.5")
    assert argyrodite["anion_per_framework_cation"] == pytest.approx(6.0)
    assert argyrodite["halogen_per_framework_cation"] == pytest.approx(1.5)
    assert argyrodite["halogen_excess"] == pytest.approx(0.5)
    assert features(s, "Li6PS5Cl")["halogen_excess"] == 0.0
    assert features(s, "Li7P3S11")["anion_per_framework_cation"] == pytest.approx(11 / 3)
    # charge-balanced: no Li excess; Li beyond the nominal valences shows up per anion
    assert features(s, "Li3PS4")["li_excess_per_anion"] == pytest.approx(0.0)
    assert features(s, "Li3.25PS4")["li_excess_per_anion"] == pytest.approx(0.25 / 4)
    assert features(s, "Li10GeP2S12")["framework_valence_mean"] == pytest.approx(14 / 3)
    # Al3+ on the Li sites of Zr4+/La3+ garnet: a dopant with lower valence and smaller radius than the hosts
    garnet = features(s, "Li6.25Al0.25La3Zr2O12")
    assert garnet["n_dopant_species"] == 1.0
    assert garnet["dopant_fraction"] == pytest.approx(0.25 / 5.25)
    assert garnet["dopant_valence_offset"] == pytest.approx(3 - (3 * 3 + 2 * 4) / 5)
    assert garnet["dopant_radius_mismatch"] == pytest.approx(0.675 - (3 * 1.172 + 2 * 0.86) / 5)
    undoped = features(s, "Li7La3Zr2O12")
    assert undoped["dopant_fraction"] == 0.0 and undoped["dopant_valence_offset"] == 0.0
    # no framework cation: ratios are unknown, never an error
    assert math.isnan(features(s, "Li3N")["anion_per_framework_cation"])


def test_mixes_with_magpie_in_a_multiple_featurizer() -> None:
    from matminer.featurizers.base import MultipleFeaturizer
    from matminer.featurizers.composition import ElementProperty

    magpie = ElementProperty.from_preset("magpie", impute_nan=True)
    mf = MultipleFeaturizer([magpie, LithiumContent(), AnionFramework(), FrameworkCations()])
    mf.set_n_jobs(1)
    df = pd.DataFrame({"composition": [Composition("Li6PS5Cl"), Composition("Li3PS4")]})
    out = mf.featurize_dataframe(df, "composition", pbar=False)
    assert mf.feature_labels() == [*magpie.feature_labels(), *LithiumContent().feature_labels(),
                                   *AnionFramework().feature_labels(), *FrameworkCations().feature_labels()]
    assert out["li_per_framework_cation"].tolist() == pytest.approx([6.0, 3.0])
    assert out["anion_frac_Cl"].tolist() == pytest.approx([1 / 6, 0.0])
    assert out["MagpieData mean Number"].tolist() == pytest.approx(magpie.featurize_many(
        df["composition"].tolist(), pbar=False)[0][3:4] + magpie.featurize_many(
        df["composition"].tolist(), pbar=False)[1][3:4])
    assert set(mf.citations()) >= set(magpie.citations())
    assert "sulfml" in mf.implementors()


@pytest.mark.parametrize(
    ("comp", "family"),
    [
        # argyrodite: anions per framework cation 5.5-6.5 inclusive, Li per framework cation 4.5-8
        ({"Li": 6, "P": 1, "S": 5.5, "Cl": 1}, "argyrodite"),
        ({"Li": 6, "P": 1, "S": 5.6, "Cl": 1}, "other"),
        ({"Li": 4.4, "P": 1, "S": 5, "Cl": 1}, "other"),
        # halogens per framework cation at most 2.2: beyond, a halide-rich thiophosphate
        ({"Li": 5, "P": 1, "S": 3.7, "Cl": 2.3}, "thiophosphate"),
        # LGPS: a dopant under 20 % of the framework cations does not count ...
        ({"Li": 9.6, "Ba": 0.2, "Ge": 1, "P": 2, "S": 12}, "LGPS"),
        # ... a major one does
        ({"Li": 9.6, "Ba": 1.0, "Ge": 1, "P": 2, "S": 12}, "other"),
        # (Ge+Sn+Si)/(P+Sb+As) below 0.45: thio-LISICON, not LGPS
        ({"Li": 3.25, "Ge": 0.25, "P": 0.75, "S": 4}, "thio-LISICON"),
        # thiophosphate S/P window 3.0-4.6 (a glass needs no window: test above)
        ({"Li": 7, "P": 3, "S": 11}, "thiophosphate"),
        ({"Li": 8, "P": 1, "S": 5}, "other"),
        # no Li: never a Li-conductor family
        ({"Na": 6, "P": 1, "S": 5, "Cl": 1}, "other"),
        # oxide Te is a framework cation: Te-doped LLZO stays a garnet
        ({"Li": 6.5, "La": 3, "Zr": 1.5, "Te": 0.5, "O": 12}, "garnet"),
    ],
)
def test_family_windows_and_dopants(comp: dict[str, float], family: str) -> None:
    assert family_from_composition(comp) == family
