"""Our electrolyte descriptor kernels (`descriptors.py`): against `electrolyte.py`'s one-row featurizers and
`presets.featurize` (cases in `conftest.py`), by hand, and the anion rule as a law."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from pymatgen.core import Composition

from sulfml.chem.batch import composition_batch
from sulfml.chem.elements import AMOUNT_TOLERANCE
from sulfml.featurize import assemble, descriptors, electrolyte, element_stats, family, rules


def test_one_row_featurizers_equal_the_batch(batch_cases: pd.DataFrame, matminer_reference: pd.DataFrame,
                                             assert_agrees) -> None:
    """matminer calls our featurizers one row at a time, `featurize` on all rows at once: same numbers."""
    sample = batch_cases.iloc[::9]
    featurizers = [electrolyte.LithiumContent(), electrolyte.AnionFramework(), electrolyte.FrameworkCations(),
                   electrolyte.SynthesisNotation(), electrolyte.ElectrolyteFamily()]
    rows = []
    for comp, *text in zip(sample["composition"], sample["notation"], sample["tags"], sample["family"],
                           strict=True):
        # as `featurize` hands the optional text columns over
        text = [rules.clean_text(v, rules.TEXT_DEFAULTS[c]) for v, c in zip(text, ("notation", "tags", "family"),
                                                                            strict=True)]
        row: list[float] = []
        for f in featurizers:
            row += f.featurize(Composition({el: x for el, x in comp.items() if x > 0}), *text[: len(f.inputs) - 1])
        rows.append(row)
    names = list(rules.ELECTROLYTE_LABELS)
    assert_agrees(sample, names, matminer_reference.loc[sample.index, names].to_numpy(), np.array(rows))
    # Composition rules reach most families (the label decides the others).
    fam = matminer_reference[list(rules.FAMILY_LABELS)].to_numpy()
    assert (fam.sum(0) > 0).sum() >= 8


def test_labels_are_declared_once_in_rules() -> None:
    for f, labels in ((electrolyte.LithiumContent(), rules.LITHIUM_LABELS),
                      (electrolyte.AnionFramework(), rules.ANION_LABELS),
                      (electrolyte.FrameworkCations(), rules.FRAMEWORK_LABELS),
                      (electrolyte.SynthesisNotation(), rules.FLAG_LABELS),
                      (electrolyte.ElectrolyteFamily(), rules.FAMILY_LABELS),
                      (electrolyte.ElementFractions(), rules.FRACTION_LABELS),
                      (electrolyte.SubstitutionChemistry(), rules.SUBSTITUTION_LABELS)):
        assert f.feature_labels() == list(labels)
    assert tuple(rules.synthesis_flags()) == rules.FLAG_LABELS
    assert set(rules.FAMILY_ORDER) == set(rules.FAMILIES) - {"other"}
    # No second copy of a rule outside rules.py: electrolyte.py re-exports the very objects, the kernels none.
    for name in ("ANION_CHARGE", "ANIONS", "ANIONS_ONLY_WITHOUT_O", "FAMILIES", "FRAMEWORK_CATIONS", "LISICON_X",
                 "PEROVSKITE_B", "ELEMENTS", "SUBSTITUTION_LABELS", "FLAG_LABELS", "family_from_label",
                 "synthesis_flags"):
        for module in (element_stats, descriptors, family, assemble):
            assert name not in vars(module), f"{module.__name__} has its own {name}"
        if hasattr(electrolyte, name):
            assert getattr(electrolyte, name) is getattr(rules, name), name


def test_empty_input() -> None:
    for kernel, labels in ((descriptors.lithium_content, rules.LITHIUM_LABELS),
                           (descriptors.anion_framework, rules.ANION_LABELS),
                           (descriptors.framework_cations, rules.FRAMEWORK_LABELS),
                           (descriptors.anion_amounts, rules.ANIONS),
                           (descriptors.element_fractions, rules.FRACTION_LABELS),
                           (descriptors.substitution_features, rules.SUBSTITUTION_LABELS)):
        assert kernel([]).shape == (0, len(labels))
    assert descriptors.anion_atoms([]).shape == (0,)
    assert descriptors.synthesis_notation(None, None, None, n=0).shape == (0, len(rules.FLAG_LABELS))
    assert descriptors.material_state(None, n=0).shape == (0, len(rules.STATE_LABELS))


def test_chemistry_parts_by_hand() -> None:
    batch = composition_batch([{"Li": 6.0, "P": 1.0, "S": 5.0, "Cl": 1.0}, {"D": 4.0, "Li": 1.0, "B": 1.0},
                               {"Li": 6.25, "Al": 0.25, "La": 3.0, "Zr": 2.0, "O": 12.0}, {}])
    frac = dict(zip(rules.FRACTION_LABELS, descriptors.element_fractions(batch).T, strict=True))
    np.testing.assert_allclose(frac["elem_frac_Li"], [6 / 13, 1 / 6, 6.25 / 23.5, 0.0])
    np.testing.assert_allclose(frac["elem_frac_H"], [0.0, 4 / 6, 0.0, 0.0])  # deuterium counts as H
    np.testing.assert_allclose(descriptors.element_fractions(batch).sum(1), [1.0, 1.0, 1.0, 0.0])
    sub = dict(zip(rules.SUBSTITUTION_LABELS, descriptors.substitution_features(batch).T, strict=True))
    np.testing.assert_allclose(sub["anion_per_framework_cation"][:1], [6.0])
    # LiBH4: H is the anion, B the framework cation (B3+ balances 4 H- with Li+)
    np.testing.assert_allclose(sub["li_excess_per_anion"][:2], [0.0, 0.0], atol=1e-12)
    # Al3+ in LLZO is the one dopant: under MINOR_SHARE of the framework cations
    assert sub["n_dopant_species"][2] == 1.0 and sub["dopant_valence_offset"][2] < 0
    assert np.isnan(sub["anion_per_framework_cation"][3])


# Every anion, the two elements that are cations with O, and some cations; amounts from a trace under the
# composition tolerance (dropped) to large.
_ELEMENTS = st.sampled_from([*rules.ANIONS, "Li", "P", "Ge", "La", "Zr", "B"])
_AMOUNTS = st.sampled_from([AMOUNT_TOLERANCE / 10, 0.05, 0.25, 1.0, 3.5, 12.0])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(_ELEMENTS, _AMOUNTS, max_size=6), max_size=5))
def test_anion_amounts_apply_the_anion_rule(compositions: list[dict[str, float]]) -> None:
    """An element is an anion where `rules.ANIONS` lists it, unless it is one of `rules.ANIONS_ONLY_WITHOUT_O`
    and the composition has O (a trace under the tolerance is no O)."""
    got = descriptors.anion_amounts(compositions)
    assert got.shape == (len(compositions), len(rules.ANIONS))
    for comp, row in zip(compositions, got, strict=True):
        kept = {el: x for el, x in comp.items() if x >= AMOUNT_TOLERANCE}
        expected = [0.0 if el in rules.ANIONS_ONLY_WITHOUT_O and "O" in kept else kept.get(el, 0.0)
                    for el in rules.ANIONS]
        np.testing.assert_array_equal(row, expected)
    np.testing.assert_allclose(descriptors.anion_atoms(compositions), got.sum(1), rtol=1e-12)
