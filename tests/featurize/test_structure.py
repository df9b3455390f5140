"""Tests of the lattice-column, space-group and CIF structure features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, Lattice, Structure

from sulfml.featurize.presets import featurize
from sulfml.featurize.structure import (
    CENTRINGS,
    CRYSTAL_SYSTEMS,
    CifFeatures,
    LatticeFeatures,
    SpaceGroupFeatures,
    cell_volume,
    crystal_system,
    space_group_symmetry,
)

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


def space_group(sg) -> dict[str, float]:
    f = SpaceGroupFeatures()
    return dict(zip(f.feature_labels(), f.featurize(sg), strict=True))


@pytest.mark.parametrize(("sg", "system", "centring", "centro", "order"), [
    (230, "cubic", "I", 1.0, 48),          # Ia-3d, cubic garnet
    (142, "tetragonal", "I", 1.0, 16),     # I4_1/acd, tetragonal garnet
    (137, "tetragonal", "P", 1.0, 16),     # P4_2/nmc, LGPS
    (62, "orthorhombic", "P", 1.0, 8),     # Pnma, beta-Li3PS4
    (31, "orthorhombic", "P", 0.0, 4),     # Pmn2_1, gamma-Li3PS4
    (38, "orthorhombic", "C", 0.0, 4),     # Amm2: A-centred counts as base-centred
    (216, "cubic", "F", 0.0, 24),          # F-43m, argyrodite
    (166, "trigonal", "R", 1.0, 12),       # R-3m
    (1, "triclinic", "P", 0.0, 1),
])
def test_space_group_features(sg, system, centring, centro, order) -> None:
    v = space_group(sg)
    assert v["sg_number"] == sg and v["sg_crystal_system_int"] == CRYSTAL_SYSTEMS[system]
    assert [k for k in v if k.startswith("sg_crystal_system_") and k != "sg_crystal_system_int" and v[k]] == [
        f"sg_crystal_system_{system}"]
    assert [k for k in v if k.startswith("sg_centring_") and v[k]] == [f"sg_centring_{centring}"]
    assert v["sg_centrosymmetric"] == centro and v["sg_point_group_order"] == order
    assert space_group(float(sg)) == v and space_group(str(sg)) == v


@pytest.mark.parametrize("sg", [None, float("nan"), "", "P1", 0, 231, 12.5, -3])
def test_unknown_space_group_gives_nan(sg) -> None:
    assert all(math.isnan(x) for x in space_group(sg).values())


def test_space_group_symmetry_of_every_group() -> None:
    centrings = {space_group_symmetry(n)[1] for n in range(1, 231)}
    assert centrings == set(CENTRINGS)
    # 11 Laue classes: 92 of the 230 space groups are centrosymmetric
    assert sum(space_group(n)["sg_centrosymmetric"] for n in range(1, 231)) == 92
    assert space_group_symmetry(None) is None


def test_structure_v2_is_chemistry_v3_plus_the_space_group() -> None:
    from sulfml.featurize import assemble
    from sulfml.featurize.presets import get_preset

    v3 = get_preset("chemistry-v3").feature_names()
    v2 = get_preset("structure-v2").feature_names()
    assert v2[:len(v3)] == v3 and v2[len(v3):] == SpaceGroupFeatures().feature_labels()
    assert assemble.covered_columns("structure-v2") == v3 and assemble.uses_state("structure-v2")
    frame = pd.DataFrame({
        "composition": [{"Li": 7, "La": 3, "Zr": 2, "O": 12}, {"Li": 7, "La": 3, "Zr": 2, "O": 12},
                        {"Li": 3, "P": 1, "S": 4}],
        "state": ["crystalline", "crystalline", "glass"],
        "space_group_number": [142, 230, np.nan],
    })
    X = featurize(frame, "structure-v2")
    pd.testing.assert_frame_equal(X[v3], featurize(frame, "chemistry-v3"))
    assert X.loc[0, "sg_crystal_system_tetragonal"] == 1 and X.loc[1, "sg_crystal_system_cubic"] == 1
    assert X.loc[0, v3].equals(X.loc[1, v3])  # the two garnets differ by their space group only
    assert X.loc[2].filter(like="sg_").isna().all()
    # the predict path: the vectorized featurizer's columns, and the space group's from `featurize`
    batch_part = assemble.preset_features(frame["composition"].tolist(), "structure-v2", state=frame["state"].tolist())
    np.testing.assert_array_equal(batch_part, X[v3].to_numpy())
    pd.testing.assert_frame_equal(featurize(frame, "structure-v2", columns=v2[len(v3):]), X[v2[len(v3):]])


def test_structure_v3_adds_the_cif_descriptors(tmp_path) -> None:
    from sulfml.featurize import assemble
    from sulfml.featurize.cif import CIF_LABELS
    from sulfml.featurize.presets import get_preset

    v2 = get_preset("structure-v2").feature_names()
    v3 = get_preset("structure-v3").feature_names()
    assert v3[:len(v2)] == v2 and tuple(v3[len(v2):]) == CIF_LABELS
    assert assemble.covered_columns("structure-v3") == assemble.covered_columns("chemistry-v3")
    path = tmp_path / "li2s.cif"
    li2s().to(filename=str(path))
    frame = pd.DataFrame({"composition": [{"Li": 2, "S": 1}, {"Li": 2, "S": 1}],
                          "space_group_number": [225, 225], "cif_path": [str(path), ""]})
    X = featurize(frame, "structure-v3")
    pd.testing.assert_frame_equal(X[v2], featurize(frame, "structure-v2"))
    assert X.loc[0, "li_occupancy_mean"] == pytest.approx(1.0) and X.loc[0, "cif_no_li"] == 0
    assert X.loc[0, "li_li_min_A"] == pytest.approx(5.71 / 2)
    assert X.loc[1, list(CIF_LABELS)].isna().all()  # no CIF: every CIF column unknown
    assert X["cif_randomized"].isna().all()  # a CIF's text cannot say it
