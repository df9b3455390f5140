"""The vectorized featurizer against matminer and our featurizers, through `presets.featurize`."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition

from sulfml.chem import build, elements
from sulfml.featurize import electrolyte, fast, rules
from sulfml.featurize.presets import featurize, get_preset
from sulfml.parse.formula import parse_formula

TOL = 1e-9

# Real electrolytes in the notations the parser reads (plain, fractional, mixtures, dopants, hydrates).
FORMULAS = [
    "Li6PS5Cl", "Li6PS5Br", "Li6PS5I", "Li5.5PS4.5Cl1.5", "Li5.4PS4.4Cl1.6", "Li6.6P0.4Ge0.6S5I",
    "Li10GeP2S12", "Li10SnP2S12", "Li10SiP2S12", "Li9.54Si1.74P1.44S11.7Cl0.3", "Li11Si2PS12",
    "Li7P3S11", "Li3PS4", "Li4P2S6", "Li7PS6", "Li3InCl6", "Li3YCl6", "Li3YBr6", "Li2ZrCl6", "Li3ScCl6",
    "0.75Li2S-0.25P2S5", "70Li2S-30P2S5", "(Li2S)0.75(P2S5)0.25", "Li4GeS4", "Li4SnS4", "Li3.25Ge0.25P0.75S4",
    "Li7La3Zr2O12", "Li6.4La3Zr1.4Ta0.6O12", "Li6.25Al0.25La3Zr2O12", "Li0.33La0.56TiO3", "Li3OCl", "Li2OHCl",
    "Li1.3Al0.3Ti1.7(PO4)3", "Li1.5Al0.5Ge1.5(PO4)3", "Li14Zn(GeO4)4", "Li3.5Si0.5P0.5O4", "Li3N", "LiBH4",
    "Li2B12H12", "LiI", "Li3PO4", "Li10Ge(P0.925Sb0.075)2S12", "Li6PS5Cl0.5Br0.5", "Li6PO5Cl",
    "Li9.6Ba0.2GeP2S12", "Li3InCl6·2H2O", "Li7P2S8I", "Li3SbS4", "Na3PS4", "LiTi2(PO4)3",
]


def _elements() -> list[str]:
    return list(fast.element_tables().symbols)


def _random_compositions(n: int, seed: int) -> list[dict[str, float]]:
    """Deterministic, diverse compositions: any element, 1-8 of them, integer/fractional/tiny amounts."""
    rng = np.random.default_rng(seed)
    elements = _elements()
    common = ["Li", "P", "S", "Cl", "Br", "I", "O", "Ge", "Si", "Sn", "La", "Zr", "Ti", "Al", "N", "H", "F",
              "Se", "Te", "B", "Ga", "In", "Y", "Ta", "Nb", "Sb", "As", "Na", "K", "Mg", "Ca", "Zn", "Bi", "W"]
    out = []
    for i in range(n):
        k = int(rng.integers(1, 9))
        pool = common if i % 2 else elements
        els = rng.choice(pool, size=min(k, len(pool)), replace=False)
        kind = i % 6
        if kind == 0:
            amts = rng.integers(1, 13, size=len(els)).astype(float)
        elif kind == 1:
            amts = np.round(rng.uniform(0.01, 12, size=len(els)), 3)
        elif kind == 2:
            amts = rng.uniform(0, 1, size=len(els))
        elif kind == 3:
            # tiny amounts, and some under pymatgen's 1e-8 tolerance (dropped)
            amts = 10.0 ** rng.uniform(-9.5, 1, size=len(els))
        elif kind == 4:
            # ties on the largest amount exercise the mode's tie-break
            amts = np.full(len(els), 2.0)
            amts[-1] = float(rng.integers(1, 3))
        else:
            amts = rng.integers(1, 5, size=len(els)) * 0.25
        out.append({str(e): float(x) for e, x in zip(els, amts, strict=True)})
    return out


def _doped(seed: int) -> list[dict[str, float]]:
    """Electrolyte formulas with a random dopant or amount change, to walk the family windows."""
    rng = np.random.default_rng(seed)
    dopants = ["Si", "Ge", "Sn", "Sb", "Al", "Ga", "Ba", "Ca", "Zr", "Ta", "Nb", "Se", "O", "Br", "I", "Cl"]
    out = []
    for f in FORMULAS:
        base = parse_formula(f).composition
        for _ in range(4):
            comp = dict(base)
            el = str(rng.choice(list(comp)))
            comp[el] = round(comp[el] * float(rng.uniform(0.7, 1.3)), 3)
            d = str(rng.choice(dopants))
            comp[d] = comp.get(d, 0.0) + round(float(rng.uniform(0.01, 0.8)), 3)
            out.append(comp)
    return out


EDGE_CASES: list[dict[str, float]] = [
    {"Fe": 1.0}, {"Li": 3.0}, {"He": 2.0}, {"Og": 1.0},  # single elements, incl. no oxidation states
    {"Li": 1.0, "He": 1.0},  # an element without common oxidation states: never a neutral compound
    {"Li": 1.0, "Cl": 1.0}, {"Li": 2.0, "S": 1.0},
    {"Li": 1.0, "Na": 1.0, "Cl": 1.0, "Br": 1.0},  # all amounts tie
    {"Li": 1.0, "S": 1.0 + 1e-6}, {"Li": 1.0, "S": 1.0 + 1e-4},  # within / beyond np.isclose of the max
    {"D": 2.0, "O": 1.0}, {"H": 1.0, "D": 2.0, "T": 0.5, "O": 1.0}, {"Li": 1.0, "B": 1.0, "D": 4.0},
    {"Li": 1e-9, "S": 1.0},  # under the tolerance: dropped, a single element remains
    {"Li": 1e-8, "S": 1e-8}, {"Li": 2e-8, "S": 1e-8},
    {"Li": 0.0, "S": 1.0}, {"Li": -1.0, "P": 1.0, "S": 4.0}, {"Li": float("nan"), "Cl": 1.0},
    {"C": 1.0, "Cl": 1.0, "N": 1.0, "S": 1.0, "I": 1.0, "Mn": 1.0, "Se": 1.0, "Te": 1.0},  # many states
    {"Li": 7.0, "La": 3.0, "Zr": 2.0, "O": 12.0, "Te": 0.5, "H": 0.3},  # Te and H as cations with O
    {"Li": 3.0, "N": 1.0, "H": 2.0, "Te": 1.0},
]

NOTATIONS = ["plain", "glass", "host+dopant", "composite", "hydrate", None, float("nan"), " Glass ", 3]
TAGS = ["", "glass-ceramic", "doped", "amorphous;polymorph:β", "glass", "composite; hydrate", None, "dopant:Al"]
FAMILY_LABELS = [None, "Argyrodites", "Oxides", "Glass", "Glass-Ceramic", "Olivine", "LGPS", float("nan"),
                 "Sulphides", 5, "garnet-like", "Thio-LISICON"]


def _frame() -> pd.DataFrame:
    parsed = [parse_formula(f) for f in FORMULAS]
    assert all(p.ok for p in parsed), [p.input for p in parsed if not p.ok]
    comps = ([p.composition for p in parsed] + _doped(7) + EDGE_CASES + _random_compositions(700, 11))
    n = len(comps)
    rng = np.random.default_rng(3)
    notation = [p.notation for p in parsed] + [NOTATIONS[i] for i in rng.integers(0, len(NOTATIONS), n - len(parsed))]
    tags = [";".join(p.tags) for p in parsed] + [TAGS[i] for i in rng.integers(0, len(TAGS), n - len(parsed))]
    # Half the rows without a label, so the composition rules decide.
    family = [FAMILY_LABELS[i] if i < len(FAMILY_LABELS) else None for i in rng.integers(0, 2 * len(FAMILY_LABELS), n)]
    return pd.DataFrame({"composition": comps, "notation": notation, "tags": tags, "family": family})


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _frame()


@pytest.fixture(scope="module")
def reference(frame: pd.DataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return featurize(frame, "composition-v1")


def _mismatches(ref: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, float]:
    """Cells that disagree (beyond TOL absolute, or relative for |values| > 1, or in NaN-ness); max abs diff."""
    nan_ref, nan_got = np.isnan(ref), np.isnan(got)
    both = ~nan_ref & ~nan_got
    diff = np.where(both, np.abs(ref - got), 0.0)
    bad = (nan_ref != nan_got) | (diff > TOL * np.maximum(1.0, np.abs(np.where(both, ref, 0.0))))
    return bad, float(diff.max(initial=0.0))


def _report(frame: pd.DataFrame, names: list[str], ref: np.ndarray, got: np.ndarray, bad: np.ndarray) -> str:
    cells = np.argwhere(bad)[:10]
    return "\n".join(f"{frame['composition'].iloc[r]} {names[c]}: matminer {ref[r, c]!r} fast {got[r, c]!r}"
                     for r, c in cells)


def test_enough_diverse_rows(frame: pd.DataFrame) -> None:
    assert len(frame) >= 500
    sizes = {len(c) for c in frame["composition"]}
    assert set(range(1, 9)) <= sizes


def test_matminer_part_agrees(frame: pd.DataFrame, reference: pd.DataFrame) -> None:
    names = fast.matminer_columns()
    ref = reference[names].to_numpy()
    got = fast.fast_features(frame["composition"].tolist(), "composition-v1")
    assert got.shape == ref.shape
    bad, max_diff = _mismatches(ref, got)
    print(f"matminer part: {len(frame)} rows, max abs difference {max_diff:.3g}")
    assert not bad.any(), _report(frame, names, ref, got, bad)
    # Not vacuous: the frame exercises both outcomes of the neutrality search and the NaN rows.
    possible = got[:, names.index("compound possible")]
    assert 0 < np.nansum(possible) < np.isfinite(possible).sum()
    assert np.isnan(got).all(1).sum() >= 3


def test_one_row_featurizers_equal_the_batch(frame: pd.DataFrame, reference: pd.DataFrame) -> None:
    """matminer calls our featurizers one row at a time, `featurize` on all rows at once: same numbers."""
    sample = frame.iloc[::9]
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
    got = np.array(rows)
    ref = reference.loc[sample.index, fast.electrolyte_columns()].to_numpy()
    bad, _ = _mismatches(ref, got)
    assert not bad.any(), _report(sample, fast.electrolyte_columns(), ref, got, bad)
    # Composition rules reach most families (the label decides the others).
    fam = reference[list(rules.FAMILY_LABELS)].to_numpy()
    assert (fam.sum(0) > 0).sum() >= 8


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each composition as the models see it (`CompositionBatch.canonical`)."""
    from sulfml.chem.batch import canonical_composition

    return frame.assign(composition=[canonical_composition(c) for c in frame["composition"]])


def test_featurize_fast_is_drop_in(frame: pd.DataFrame) -> None:
    """`featurize_fast` (the predict path) is matminer's `featurize` of the canonical compositions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = featurize(_canonical(frame), "composition-v1")
    got = fast.featurize_fast(frame, "composition-v1")
    assert list(got.columns) == list(reference.columns)
    assert got.index.equals(reference.index)
    bad, _ = _mismatches(reference.to_numpy(), got.to_numpy())
    assert not bad.any(), _report(frame, list(reference.columns), reference.to_numpy(), got.to_numpy(), bad)


def test_features_of_a_scaled_composition_are_the_same_bits() -> None:
    rows = [{"Li": 3, "P": 1, "S": 4}, {"Li": 0.3, "P": 0.1, "S": 0.4}, {"Li": 0.6, "P": 0.2, "S": 0.8},
            {"Li": 4, "P": 2, "S": 6}, {"Li": 0.4, "P": 0.2, "S": 0.6}]
    X = fast.preset_features(rows, "chemistry-v2")
    assert (X[0] == X[1]).all() and (X[0] == X[2]).all() and (X[3] == X[4]).all()
    family = fast.covered_columns("chemistry-v2").index("family_thiophosphate")
    assert X[3, family] == X[4, family] == 1.0  # S/P = 3 exactly, at the window's edge


def test_detects_a_wrong_table(frame: pd.DataFrame, reference: pd.DataFrame, monkeypatch) -> None:
    tables = fast.element_tables()
    magpie = tables.magpie.copy()
    magpie[tables.index["Li"], fast.MAGPIE_FEATURES.index("MeltingT")] += 1e-6
    monkeypatch.setattr(fast, "element_tables", lambda: dataclasses.replace(tables, magpie=magpie))
    got = fast.fast_features(frame["composition"].tolist())
    bad, _ = _mismatches(reference[fast.matminer_columns()].to_numpy(), got)
    assert bad.any()


def test_columns_match_presets() -> None:
    assert fast.covered_columns("composition-v1") == get_preset("composition-v1").feature_names()
    structure = get_preset("structure-v1").feature_names()
    assert structure[: len(fast.covered_columns("structure-v1"))] == fast.covered_columns("structure-v1")
    with pytest.raises(KeyError, match="does not cover"):
        fast.covered_columns("composition-v9")
    with pytest.raises(KeyError):
        fast.featurize_fast(pd.DataFrame({"composition": [{"Li": 1.0}]}), "structure-v1")


def test_shipped_tables_equal_matminer_data() -> None:
    shipped = json.loads(elements.TABLE_PATH.read_text(encoding="utf-8"))
    assert shipped == build.build_element_tables()


def test_labels_are_declared_once_in_rules() -> None:
    assert fast.electrolyte_columns() == [*rules.LITHIUM_LABELS, *rules.ANION_LABELS, *rules.FRAMEWORK_LABELS,
                                          *rules.FLAG_LABELS, *rules.FAMILY_LABELS]
    assert fast.fraction_columns() == list(rules.FRACTION_LABELS)
    assert fast.substitution_columns() == list(rules.SUBSTITUTION_LABELS)
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
    # No second copy of a rule outside rules.py: electrolyte.py re-exports the very objects, fast.py none.
    for name in ("ANION_CHARGE", "ANIONS", "FAMILIES", "FRAMEWORK_CATIONS", "LISICON_X", "PEROVSKITE_B", "ELEMENTS",
                 "SUBSTITUTION_LABELS", "FLAG_LABELS", "family_from_label", "synthesis_flags"):
        assert name not in vars(fast), f"fast.py has its own {name}"
        if hasattr(electrolyte, name):
            assert getattr(electrolyte, name) is getattr(rules, name), name


def test_unknown_element_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown element 'Xx'"):
        fast.fast_features([{"Li": 1.0}, {"Xx": 2.0, "S": 1.0}])
    with pytest.raises(TypeError):
        fast.fast_features([3.0])


def test_empty_input() -> None:
    assert fast.fast_features([]).shape == (0, len(fast.matminer_columns()))
    assert fast.electrolyte_features([]).shape == (0, len(fast.electrolyte_columns()))
    for kernel, labels in ((fast.lithium_content, rules.LITHIUM_LABELS), (fast.anion_framework, rules.ANION_LABELS),
                           (fast.framework_cations, rules.FRAMEWORK_LABELS),
                           (fast.electrolyte_family, rules.FAMILY_LABELS),
                           (fast.element_fractions, rules.FRACTION_LABELS),
                           (fast.substitution_features, rules.SUBSTITUTION_LABELS)):
        assert kernel([]).shape == (0, len(labels))
    assert fast.synthesis_notation(None, None, None, n=0).shape == (0, len(rules.FLAG_LABELS))


def test_block_boundaries(monkeypatch) -> None:
    comps = _random_compositions(50, 5)
    whole = fast.preset_features(comps)
    monkeypatch.setattr(fast, "_BLOCK", 7)
    monkeypatch.setattr(fast, "_COMBOS_PER_BLOCK", 16)
    np.testing.assert_array_equal(fast.preset_features(comps), whole)


def test_import_is_lean() -> None:
    code = ("import sys, sulfml.featurize.fast as f; f.element_tables(); "
            "print([m for m in ('matminer', 'pymatgen', 'pandas', 'scipy', 'mlflow') if m in sys.modules])")
    # The child must import this very checkout (tests may run from a worktree shadowing an install).
    src = str(Path(fast.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert json.loads(out.stdout.strip().replace("'", '"')) == []


def test_single_element_and_ties_by_hand() -> None:
    names = fast.matminer_columns()
    row = dict(zip(names, fast.fast_features([{"Li": 1.0, "Na": 1.0, "Cl": 2.0, "Br": 2.0}])[0], strict=True))
    # mode: Cl and Br tie for the largest amount; the smaller value wins (Z of Cl = 17).
    assert row["MagpieData mode Number"] == 17.0
    assert row["0-norm"] == 4.0
    assert math.isclose(row["2-norm"], math.sqrt(2 * (1 / 6) ** 2 + 2 * (1 / 3) ** 2))
    # Li+ + Na+ = 2 cannot be balanced by 2 Cl + 2 Br with odd states only (-1, 1, 3, 5, 7 each).
    assert row["compound possible"] == 0.0
    balanced = fast.fast_features([{"Li": 1.0, "Na": 1.0, "Cl": 1.0, "Br": 1.0}])[0]
    assert balanced[names.index("compound possible")] == 1.0
    single = dict(zip(names, fast.fast_features([{"Fe": 2.5}])[0], strict=True))
    assert (single["compound possible"], single["max ionic char"], single["avg ionic char"]) == (1.0, 0.0, 0.0)
    assert single["MagpieData range Number"] == 0.0


def test_odd_label_values_read_as_featurize_reads_them() -> None:
    frame = pd.DataFrame({
        "composition": [{"Li": 3.0, "P": 1.0, "S": 4.0}] * 5,
        "notation": ["glass", None, float("nan"), pd.NA, ["glass"]],
        "tags": [["glass-ceramic"], "doped", None, 7, ""],
        "family": [None, ["Argyrodites"], float("nan"), "LGPS", pd.NA],
    })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = featurize(frame, "composition-v1")
    got = fast.featurize_fast(frame, "composition-v1")
    np.testing.assert_array_equal(got[fast.electrolyte_columns()].to_numpy(), ref[fast.electrolyte_columns()].to_numpy())
    flags = got[list(rules.FLAG_LABELS)].to_numpy()
    family = [rules.FAMILIES[i] for i in got[list(rules.FAMILY_LABELS)].to_numpy().argmax(1)]
    # A list is text "['glass-ceramic']", not the tag; missing values are the defaults; 7 is the tag "7".
    np.testing.assert_array_equal(flags, [[1, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0], [0] * 6, [0] * 6, [0] * 6])
    # The text of ["Argyrodites"] normalises to the label "argyrodites"; a family label wins over the composition.
    assert family == ["thiophosphate", "argyrodite", "thiophosphate", "LGPS", "thiophosphate"]


def test_chemistry_parts_by_hand() -> None:
    batch = fast.composition_batch([{"Li": 6.0, "P": 1.0, "S": 5.0, "Cl": 1.0}, {"D": 4.0, "Li": 1.0, "B": 1.0},
                                    {"Li": 6.25, "Al": 0.25, "La": 3.0, "Zr": 2.0, "O": 12.0}, {}])
    frac = dict(zip(rules.FRACTION_LABELS, fast.element_fractions(batch).T, strict=True))
    np.testing.assert_allclose(frac["elem_frac_Li"], [6 / 13, 1 / 6, 6.25 / 23.5, 0.0])
    np.testing.assert_allclose(frac["elem_frac_H"], [0.0, 4 / 6, 0.0, 0.0])  # deuterium counts as H
    np.testing.assert_allclose(fast.element_fractions(batch).sum(1), [1.0, 1.0, 1.0, 0.0])
    sub = dict(zip(rules.SUBSTITUTION_LABELS, fast.substitution_features(batch).T, strict=True))
    np.testing.assert_allclose(sub["anion_per_framework_cation"][:1], [6.0])
    # LiBH4: H is the anion, B the framework cation (B3+ balances 4 H- with Li+)
    np.testing.assert_allclose(sub["li_excess_per_anion"][:2], [0.0, 0.0], atol=1e-12)
    # Al3+ in LLZO is the one dopant: under MINOR_SHARE of the framework cations
    assert sub["n_dopant_species"][2] == 1.0 and sub["dopant_valence_offset"][2] < 0
    assert np.isnan(sub["anion_per_framework_cation"][3])


@pytest.mark.parametrize("preset_id", ["composition-v2", "chemistry-v1", "chemistry-v2"])
def test_featurize_fast_covers_the_chemistry_presets(frame: pd.DataFrame, preset_id: str) -> None:
    sample = frame.iloc[::7]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = featurize(_canonical(sample), preset_id)
    got = fast.featurize_fast(sample, preset_id)
    assert fast.covered_columns(preset_id) == get_preset(preset_id).feature_names() == list(got.columns)
    bad, _ = _mismatches(ref.to_numpy(), got.to_numpy())
    assert not bad.any()
