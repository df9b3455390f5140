"""Tests of the lattice-column and CIF structure features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, Lattice, Structure

from sulfml.featurize.presets import featurize
from sulfml.featurize.structure import CifFeatures, LatticeFeatures, cell_volume, crystal_system

LGPS = {"Li": 10, "Ge": 1, "P": 2, "S": 12}


def lattice(comp, *args) -> dict[str, float]:
    f = LatticeFeatures()
    return dict(zip(f.feature_labels(), f.featurize(Composition(comp), *args), strict=True))


def test_no_structure_gives_nan() -> None:
    assert all(math.isnan(v) for v in lattice(LGPS).values())
    assert all(math.isnan(v) for v in lattice(LGPS, float("nan"), *[float("nan")] * 7).values())
    for path in (None, "", float("nan"), "/nonexistent/x.cif"):
        assert all(math.isnan(v) for v in CifFeatures().featurize(path))


def test_lattice_features_are_finite() -> None:
    # Li10GeP2S12: P4_2/nmc (137), a = 8.72, c = 12.63 Å, Z = 2.
    v = lattice(LGPS, 137, 8.72, 8.72, 12.63, 90, 90, 90, 2)
    assert all(math.isfinite(x) for x in v.values())
    assert v["space_group_number"] == 137
    assert v["crystal_system_tetragonal"] == 1.0 and v["crystal_system_cubic"] == 0.0
    assert v["crystal_system_int"] == 4.0
    assert v["lattice_c_over_a"] == pytest.approx(12.63 / 8.72)
    assert v["volume_per_atom"] == pytest.approx(8.72 * 8.72 * 12.63 / 50)
    assert v["density"] == pytest.approx(2.04, abs=0.02)
    assert v["li_per_volume"] == pytest.approx(20 / (8.72 * 8.72 * 12.63))


def test_lattice_without_z_keeps_the_shape_features() -> None:
    v = lattice(LGPS, 137, 8.72, 8.72, 12.63, 90, 90, 90, None)
    assert v["lattice_b_over_a"] == 1.0 and v["lattice_max_angle_deviation"] == 0.0
    assert math.isnan(v["volume_per_atom"]) and math.isnan(v["density"])


@pytest.mark.parametrize(("sg", "system"), [(1, "triclinic"), (2, "triclinic"), (3, "monoclinic"),
                                             (74, "orthorhombic"), (137, "tetragonal"), (167, "trigonal"),
                                             (194, "hexagonal"), (230, "cubic"), (0, None), (231, None),
                                             (12.5, None), (None, None), (float("nan"), None)])
def test_crystal_system(sg, system) -> None:
    assert crystal_system(sg) == system


def test_cell_volume() -> None:
    assert cell_volume(5, 5, 5, 90, 90, 90) == pytest.approx(125)
    assert cell_volume(3, 3, 5, 90, 90, 120) == pytest.approx(9 * 5 * math.sqrt(3) / 2)
    assert math.isnan(cell_volume(5, 5, 5, 90, 90, float("nan")))
    assert math.isnan(cell_volume(-5, 5, 5, 90, 90, 90))


def li2s(occupancy: float = 1.0) -> Structure:
    species = [{"Li": occupancy}, "S"]
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.71), species, [[0.25, 0.25, 0.25], [0, 0, 0]])


def test_cif_features(tmp_path) -> None:
    path = tmp_path / "li2s.cif"
    li2s().to(filename=str(path))
    f = CifFeatures()
    v = dict(zip(f.feature_labels(), f.featurize(str(path)), strict=True))  # its speed: benchmarks/parse_speed.py
    assert all(math.isfinite(x) for x in v.values())
    assert v["cif spacegroup_num"] == 225
    assert v["cif crystal_system_int"] == 1.0
    assert v["cif is_centrosymmetric"] == 1.0
    assert v["cif density"] == pytest.approx(1.64, abs=0.02)
    assert v["cif vpa"] == pytest.approx(5.71**3 / 12)
    # pathlib paths work too, and a second read is served from the cache.
    assert f.featurize(path) == pytest.approx(list(v.values()))


def test_disordered_cif_and_garbage_cif(tmp_path) -> None:
    path = tmp_path / "li2s_half.cif"
    li2s(0.5).to(filename=str(path))
    v = dict(zip(CifFeatures().feature_labels(), CifFeatures().featurize(str(path)), strict=True))
    assert v["cif vpa"] == pytest.approx(5.71**3 / 8)  # 4 Li + 4 S per cell
    assert math.isfinite(v["cif packing fraction"])
    bad = tmp_path / "bad.cif"
    bad.write_text("data_x\n_this is not a structure\n")
    assert all(math.isnan(x) for x in CifFeatures().featurize(str(bad)))


def test_structure_preset_mixes_known_and_unknown(tmp_path) -> None:
    path = tmp_path / "li2s.cif"
    li2s().to(filename=str(path))
    frame = pd.DataFrame({
        "composition": [LGPS, {"Li": 2, "S": 1}, {"Li": 3, "P": 1, "S": 4}],
        "space_group_number": [137, 225, np.nan],
        "a": [8.72, 5.71, np.nan], "b": [8.72, 5.71, np.nan], "c": [12.63, 5.71, np.nan],
        "alpha": [90, 90, np.nan], "beta": [90, 90, np.nan], "gamma": [90, 90, np.nan],
        "z": [2, 4, np.nan],
        "cif_path": [None, str(path), ""],
    })
    X = featurize(frame, "structure-v1")
    assert X.loc[0, "volume_per_atom"] == pytest.approx(19.2, abs=0.05)
    assert math.isnan(X.loc[0, "cif density"])
    assert X.loc[1, "cif spacegroup_num"] == 225
    assert X.loc[1, "density"] == pytest.approx(X.loc[1, "cif density"])
    assert X.loc[2].filter(like="cif").isna().all() and math.isnan(X.loc[2, "space_group_number"])
