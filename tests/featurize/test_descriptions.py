"""Feature names in words: every column the shipped models see has a description a chemist reads."""

from __future__ import annotations

import pytest

from sulfml.featurize.descriptions import NAMES, PATTERNS, describe_feature
from sulfml.featurize.presets import PRESETS


def _described(name: str) -> bool:
    return name in NAMES or any(p.fullmatch(name) for p, _ in PATTERNS)


def test_every_feature_of_the_shipped_bundle_has_a_description():
    from sulfml.tracking.bundle import Bundle

    bundle = Bundle.from_dir()
    for target, model in bundle.models.items():
        names = model.input_names
        assert any(n.startswith("knn_") for n in names)  # the kNN target features the booster also sees
        for name in names:
            assert _described(name), f"{target}: no description for {name!r}"
            words = describe_feature(name, target)
            assert words and words != name and "_" not in words and "{" not in words, (name, words)


def test_descriptions_are_distinct_within_a_bundle():
    from sulfml.tracking.bundle import Bundle

    for target, model in Bundle.from_dir().models.items():
        words = [describe_feature(n, target) for n in model.input_names]
        assert len(set(words)) == len(words), target


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_feature_is_described(preset):
    for name in PRESETS[preset].feature_names():
        assert _described(name), f"{preset}: no description for {name!r}"


@pytest.mark.parametrize("name, words", [
    ("li_per_anion", "Li per anion"),
    ("halogen_excess", "halogen excess (beyond one per framework cation)"),
    ("elem_frac_Ge", "Ge share of all atoms"),
    ("anion_frac_S", "S share of the anions"),
    ("framework_share_P", "P share of the framework cations"),
    ("family_LGPS", "LGPS-type structure family"),
    ("MagpieData mean Electronegativity", "mean electronegativity"),
    ("MagpieData range CovalentRadius", "range of covalent radius"),
    ("state_glass_ceramic", "state: glass-ceramic"),
])
def test_descriptions_read_as_words(name, words):
    assert describe_feature(name) == words


def test_knn_features_name_what_their_target_measures():
    assert describe_feature("knn_y_nearest", "log10_sigma") == "measured conductivity of the most similar known material"
    assert describe_feature("knn_y_nearest", "ea_eV") == "measured activation energy of the most similar known material"
    assert "value" in describe_feature("knn_y_mean")


@pytest.mark.parametrize("name, words", [
    ("li_site_disorder", "Li site disorder"),
    ("bottleneck-size", "bottleneck size"),
    ("MeanBondLength", "mean bond length"),
    ("MagpieData mean NewProperty", "mean new property"),
    ("Cl_rich", "Cl rich"),
])
def test_an_unmapped_name_still_reads_as_words(name, words):
    assert describe_feature(name) == words
