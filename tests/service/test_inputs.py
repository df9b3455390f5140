"""Predict's inputs as pymatgen objects: a `Composition` answers as its formula, a `Structure` as its CIF file,
and formula input never imports pymatgen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import sulfml
from sulfml import Predictor

# Everything but `input` (a CIF row names its path, a structure its formula) and the neighbour lists (equal
# when the numbers are; compared as their formulas).
_SAME = ["formula", "state", "space_group", "basis", "log10_sigma", "log10_sigma_lo", "log10_sigma_hi", "ea_eV",
         "ea_lo", "ea_hi", "bvse_barrier_eV", "bvse_dimension", "temperature_K", "in_domain", "warning", "error"]


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.default()


def _same_answers(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got[_SAME].reset_index(drop=True), want[_SAME].reset_index(drop=True))
    assert [[n["formula"] for n in row] for row in got["neighbors"]] == \
        [[n["formula"] for n in row] for row in want["neighbors"]]


def _rock_salt(a: float = 5.14):
    """LiCl in the rock-salt structure (Fm-3m, 225)."""
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _li3ps4():
    """An ordered Li3PS4-like cell (P1): a structure whose composition the model knows well."""
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice.orthorhombic(12.8, 8.0, 6.1), ["Li", "Li", "Li", "P", "S", "S", "S", "S"],
                     [[0, 0, 0], [0.5, 0.5, 0], [0.25, 0.75, 0.5], [0.4, 0.25, 0.3], [0.3, 0.25, 0.1],
                      [0.55, 0.25, 0.25], [0.35, 0.05, 0.45], [0.35, 0.45, 0.45]])


def test_a_composition_answers_as_its_formula(predictor):
    from pymatgen.core import Composition

    texts = ["Li6PS5Cl", "Li7P3S11", "Li3.25P0.75Si0.25S4", "Li10GeP2S12", "NaCl", "Li3YCl6"]
    compositions = [Composition(t) for t in texts]
    want = predictor.predict(texts, temperature_c=60)
    _same_answers(predictor.predict(compositions, temperature_c=60), want)
    _same_answers(predictor.predict(pd.Series(compositions), temperature_c=60), want)
    _same_answers(predictor.predict(compositions[0], temperature_c=60), want.iloc[:1])
    # oxidation states decorate the species, not the amounts
    decorated = Composition({"Li+": 6, "P5+": 1, "S2-": 5, "Cl-": 1})
    _same_answers(predictor.predict(decorated), predictor.predict("Li6PS5Cl"))


def test_a_structure_answers_as_its_cif_file(predictor, tmp_path):
    structures = [_rock_salt(), _li3ps4()]
    paths = []
    for i, s in enumerate(structures):
        paths.append(str(tmp_path / f"s{i}.cif"))
        s.to(filename=paths[-1])
    want = predictor.predict(pd.DataFrame({"formula": ["", ""], "cif": paths}))
    assert want["error"].eq("").all() and want.loc[0, "space_group"] == 225  # the CIF's symmetry
    got = predictor.predict(structures)
    _same_answers(got, want)
    assert list(got["input"]) == [s.composition.reduced_formula for s in structures]
    assert not any("sulfml-structures-" in str(v) for v in got[["input", "warning", "error"]].to_numpy().ravel())
    _same_answers(predictor.predict(structures[0]), want.iloc[:1])


def test_a_frame_mixes_texts_compositions_and_structures_with_its_own_columns(predictor):
    from pymatgen.core import Composition

    s = _rock_salt()
    frame = pd.DataFrame({"formula": ["Li3PS4", Composition("Li6PS5Cl"), s], "temperature_C": [25, 60, 80],
                          "state": ["glass", None, None]})
    got = predictor.predict(frame)
    assert list(got["input"]) == ["Li3PS4", "Li6PS5Cl", "LiCl"]
    _same_answers(got.iloc[:1], predictor.predict(["Li3PS4"], state="glass"))
    _same_answers(got.iloc[1:2], predictor.predict(["Li6PS5Cl"], temperature_c=60))
    _same_answers(got.iloc[2:], predictor.predict(s, temperature_c=80))
    assert got.loc[2, "space_group"] == 225 and got.loc[2, "temperature_K"] == pytest.approx(353.15)


def test_formula_input_never_imports_pymatgen():
    """The check for pymatgen objects looks at what is already imported: formulas the fast reader reads, alone,
    in a list, a frame or a pandas column, predict without pymatgen in the process (the full parser, for the
    notations the fast reader leaves to it, is pymatgen's own business)."""
    code = ("import sys, pandas as pd; from sulfml import Predictor; p = Predictor.default(); "
            "p.predict('Li6PS5Cl'); p.predict(['Li3PS4', '70Li2S-30P2S5']); p.predict(pd.DataFrame({'formula': ['LiCl']})); "
            "p.predict(pd.Series(['Li7P3S11'])); print(sorted(m for m in sys.modules if m.startswith('pymatgen')))")
    src = str(Path(sulfml.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
