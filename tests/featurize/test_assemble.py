"""A preset put together from the batch kernels (`assemble.py`): the predict path's featurizer against
`presets.featurize` (cases in `conftest.py`), its columns, and its lean import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sulfml.chem.batch import canonical_composition
from sulfml.featurize import assemble, descriptors, element_stats, rules
from sulfml.featurize.assemble import covered_columns, electrolyte_features, featurize_frame, preset_features
from sulfml.featurize.family import electrolyte_family
from sulfml.featurize.presets import featurize, get_preset
from sulfml.parse.state import STATES, normalize_state


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each composition as the models see it (`CompositionBatch.canonical`)."""
    return frame.assign(composition=[canonical_composition(c) for c in frame["composition"]])


def test_featurize_frame_is_drop_in(batch_cases: pd.DataFrame, assert_agrees) -> None:
    """`featurize_frame` (the predict path) is matminer's `featurize` of the canonical compositions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = featurize(_canonical(batch_cases), "composition-v1")
    got = featurize_frame(batch_cases, "composition-v1")
    assert list(got.columns) == list(reference.columns)
    assert got.index.equals(reference.index)
    assert_agrees(batch_cases, list(reference.columns), reference.to_numpy(), got.to_numpy())


@pytest.mark.parametrize("preset_id", ["composition-v2", "chemistry-v1", "chemistry-v2"])
def test_featurize_frame_covers_the_chemistry_presets(batch_cases: pd.DataFrame, preset_id: str,
                                                      assert_agrees) -> None:
    sample = batch_cases.iloc[::7]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = featurize(_canonical(sample), preset_id)
    got = featurize_frame(sample, preset_id)
    assert covered_columns(preset_id) == get_preset(preset_id).feature_names() == list(got.columns)
    assert_agrees(sample, list(got.columns), ref.to_numpy(), got.to_numpy())


def test_features_of_a_scaled_composition_are_the_same_bits() -> None:
    rows = [{"Li": 3, "P": 1, "S": 4}, {"Li": 0.3, "P": 0.1, "S": 0.4}, {"Li": 0.6, "P": 0.2, "S": 0.8},
            {"Li": 4, "P": 2, "S": 6}, {"Li": 0.4, "P": 0.2, "S": 0.6}]
    X = preset_features(rows, "chemistry-v2")
    assert (X[0] == X[1]).all() and (X[0] == X[2]).all() and (X[3] == X[4]).all()
    family = covered_columns("chemistry-v2").index("family_thiophosphate")
    assert X[3, family] == X[4, family] == 1.0  # S/P = 3 exactly, at the window's edge


def test_columns_match_presets() -> None:
    assert covered_columns("composition-v1") == get_preset("composition-v1").feature_names()
    structure = get_preset("structure-v1").feature_names()
    assert structure[: len(covered_columns("structure-v1"))] == covered_columns("structure-v1")
    assert assemble.uses_state("chemistry-v2") and not assemble.uses_state("chemistry-v1")
    with pytest.raises(KeyError, match="does not cover"):
        covered_columns("composition-v9")
    with pytest.raises(KeyError):
        featurize_frame(pd.DataFrame({"composition": [{"Li": 1.0}]}), "structure-v1")
    with pytest.raises(KeyError, match="composition"):
        featurize_frame(pd.DataFrame({"formula": ["Li2S"]}))
    assert assemble.electrolyte_columns() == [*rules.LITHIUM_LABELS, *rules.ANION_LABELS, *rules.FRAMEWORK_LABELS,
                                              *rules.FLAG_LABELS, *rules.FAMILY_LABELS]
    assert assemble.fraction_columns() == list(rules.FRACTION_LABELS)
    assert assemble.substitution_columns() == list(rules.SUBSTITUTION_LABELS)
    assert assemble.state_columns() == list(rules.STATE_LABELS)


def test_electrolyte_features_are_the_kernels_side_by_side(batch_cases: pd.DataFrame) -> None:
    sample = batch_cases.iloc[::5]
    comps, text = sample["composition"].tolist(), [sample[c].tolist() for c in ("notation", "tags", "family")]
    parts = [descriptors.lithium_content(comps), descriptors.anion_framework(comps),
             descriptors.framework_cations(comps), descriptors.synthesis_notation(*text),
             electrolyte_family(comps, *text)]
    np.testing.assert_array_equal(electrolyte_features(comps, *text), np.hstack(parts))
    assert electrolyte_features([]).shape == (0, len(rules.ELECTROLYTE_LABELS))


def test_block_boundaries(batch_cases: pd.DataFrame, monkeypatch) -> None:
    comps = batch_cases["composition"].tolist()[::20]
    whole = preset_features(comps, "chemistry-v3")
    for module in (element_stats, descriptors):
        monkeypatch.setattr(module, "_BLOCK", 7)
    monkeypatch.setattr(element_stats, "_COMBOS_PER_BLOCK", 16)
    np.testing.assert_array_equal(preset_features(comps, "chemistry-v3"), whole)


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
    got = featurize_frame(frame, "composition-v1")
    names = list(rules.ELECTROLYTE_LABELS)
    np.testing.assert_array_equal(got[names].to_numpy(), ref[names].to_numpy())
    flags = got[list(rules.FLAG_LABELS)].to_numpy()
    family = [rules.FAMILIES[i] for i in got[list(rules.FAMILY_LABELS)].to_numpy().argmax(1)]
    # A list is text "['glass-ceramic']", not the tag; missing values are the defaults; 7 is the tag "7".
    np.testing.assert_array_equal(flags, [[1, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0], [0] * 6, [0] * 6, [0] * 6])
    # The text of ["Argyrodites"] normalises to the label "argyrodites"; a family label wins over the composition.
    assert family == ["thiophosphate", "argyrodite", "thiophosphate", "LGPS", "thiophosphate"]


@pytest.mark.parametrize("module", ["element_stats", "descriptors", "family", "assemble"])
def test_import_is_lean(module: str) -> None:
    """The predict path's featurizer imports neither matminer nor pymatgen (nor pandas, scipy or mlflow)."""
    code = (f"import sys, sulfml.featurize.{module}; from sulfml.chem.elements import element_tables; "
            "element_tables(); "
            "print([m for m in ('matminer', 'pymatgen', 'pandas', 'scipy', 'mlflow') if m in sys.modules])")
    # The child must import this very checkout (tests may run from a worktree shadowing an install).
    src = str(Path(assemble.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert json.loads(out.stdout.strip().replace("'", '"')) == []


# Cells as users' frames hold them: words in any case, blanks, missing values, and other types whose text differs
# although they compare equal (1, 1.0, True).
_CELLS = st.sampled_from(["glass", "Glass", "plain", "composite", "host+dopant", "doped;glass-ceramic",
                          "polymorph:β;amorphous", "", " ", "Argyrodites", "Glass-Ceramic", "LGPS", None,
                          float("nan"), pd.NA, 1, 1.0, True, 0, False, ("glass",)])
_STATES = st.sampled_from(["glass", "Glass", "GC", "glass ceramic", "crystalline", "Tetragonal", "", "unknown",
                           None, float("nan"), "amorphous"])


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 12).flatmap(lambda n: st.tuples(*(st.lists(_CELLS, min_size=n, max_size=n) for _ in range(3)),
                                                      st.lists(_STATES, min_size=n, max_size=n))))
def test_text_and_state_columns_are_the_rules_row_by_row(columns) -> None:
    """Each distinct cell is read once: the same as reading every row by the rules."""
    notation, tags, family, state = columns
    defaults = rules.TEXT_DEFAULTS
    cleaned = [[rules.clean_text(v, defaults[c]) for v in col]
               for col, c in zip((notation, tags, family), ("notation", "tags", "family"), strict=True)]
    states = [normalize_state(s) for s in state]
    mapped = [rules.notation_for_state(*row) for row in zip(*cleaned, states, strict=True)]
    assert assemble.state_text_columns(notation, tags, family, state) == \
        tuple([list(c) for c in zip(*mapped, strict=True)] if mapped else [[], [], []])
    flags, label = descriptors._text_columns(notation, tags, family, len(state))
    assert flags.tolist() == [[float(v) for v in rules.synthesis_flags(*row).values()]
                              for row in zip(*cleaned, strict=True)]
    assert label.tolist() == [-1 if rules.family_from_label(f) is None else rules.FAMILIES.index(
        rules.family_from_label(f)) for f in cleaned[2]]
    assert descriptors.material_state(state).tolist() == [
        [float(s == name) for name in STATES] for s in states]
