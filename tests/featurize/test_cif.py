"""Tests of the CIF structure descriptors (BVSE, Li sublattice, anion framework, quality flags, cache)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymatgen.core import Composition, Lattice, Structure

from sulfml.featurize import cif
from sulfml.featurize.cif import (
    ANION_LATTICE_LABELS,
    BVSE_LABELS,
    CIF_LABELS,
    LI_SUBLATTICE_LABELS,
    QUALITY_LABELS,
    AnionLattice,
    BondValenceBarriers,
    CifQuality,
    LithiumSublattice,
    bvse_grid_points,
    bvse_resolution,
    bvse_values,
    cif_descriptors,
    cif_descriptors_many,
    clear_memory_cache,
    composition_disagreement,
    framework,
    oxidation_states,
    percolation_dimension,
    quality_notes,
    read_cif,
)
from sulfml.featurize.descriptors import anion_framework
from sulfml.featurize.rules import ANIONS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cif"
ARGYRODITE = FIXTURES / "li6ps5cl.cif"  # Li6PS5Cl, F-43m, S/Cl disordered on 4a/4d, Li 48h half occupied
LGPS = FIXTURES / "li10gep2s12.cif"  # Li10GeP2S12, P4_2/nmc, Ge/P 50:50 on 4d, four partial Li sites


@pytest.fixture(autouse=True)
def _fresh_memory():
    # The autouse `isolated` fixture gives each test its own disk cache; the in-process LRU must follow.
    clear_memory_cache()
    yield
    clear_memory_cache()


def write_cif(structure: Structure, path: Path) -> Path:
    path.write_text(structure.to(fmt="cif"))
    return path


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal dicts of floats, NaN equal to NaN."""
    return a.keys() == b.keys() and all((math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a)


# ------------------------------------------------------------------------------------------------ labels
def test_labels_are_declared_once_and_match_the_featurizers() -> None:
    featurizers = [BondValenceBarriers(), LithiumSublattice(), AnionLattice(), CifQuality()]
    groups = [BVSE_LABELS, LI_SUBLATTICE_LABELS, ANION_LATTICE_LABELS, QUALITY_LABELS]
    for f, labels in zip(featurizers, groups, strict=True):
        assert f.feature_labels() == list(labels)
        assert f.inputs == ("cif_path",)
        assert f.citations()
    assert [label for f in featurizers for label in f.feature_labels()] == list(CIF_LABELS)
    assert len(set(CIF_LABELS)) == len(CIF_LABELS)


# ------------------------------------------------------------------------------------ ordering and charges
def test_ordering_removes_li_and_takes_the_majority_element() -> None:
    fw = framework(read_cif(LGPS))
    assert fw.is_ordered
    # the 50:50 Ge/P 4d site goes to the heavier Ge; P keeps its own 2a site; Li (mobile) is gone
    assert fw.composition.element_composition == Composition("Ge4P2S24")
    assert {str(sp) for sp in fw.species} == {"Ge4+", "P5+", "S2-"}

    fw = framework(read_cif(ARGYRODITE))
    # 4a holds S 0.615/Cl 0.385 and 4d Cl 0.615/S 0.385: one S and one Cl site per formula unit
    assert fw.composition.element_composition == Composition("P4S20Cl4")
    assert {str(sp) for sp in fw.species} == {"P5+", "S2-", "Cl-"}


def test_ordering_drops_mostly_vacant_sites(tmp_path) -> None:
    s = Structure(Lattice.cubic(6.0), [{"Li": 0.9}, {"Na": 0.4}, {"Ge": 0.5, "Si": 0.5}, "S", "S"],
                  [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.5, 0, 0], [0, 0.5, 0]])
    fw = framework(s, {"Li": 1, "Na": 1, "Ge": 4, "Si": 4, "S": -2})
    assert [str(sp) for sp in fw.species] == ["Ge4+", "S2-", "S2-"]


@pytest.mark.parametrize(("formula", "expected", "imbalance"), [
    ("Li10GeP2S12", {"Li": 1, "Ge": 4, "P": 5, "S": -2}, 0.0),
    ("Li6PS5Cl", {"Li": 1, "P": 5, "S": -2, "Cl": -1}, 0.0),
    ("Li24.2Si0.2P3.8S20Br4", {"Li": 1, "Si": 4, "P": 5, "S": -2, "Br": -1}, 0.0),  # fractional: no guesser needed
    ("Li3SbS3", {"Li": 1, "Sb": 3, "S": -2}, 0.0),
    ("Li3SbS4", {"Li": 1, "Sb": 5, "S": -2}, 0.0),
    ("LiFePO4", {"Li": 1, "Fe": 2, "P": 5, "O": -2}, 0.0),
    ("Li3P", {"Li": 1, "P": -3}, 0.0),  # a phosphide: P takes its negative common state
    ("LiBH4", {"Li": 1, "B": 3, "H": -1}, 0.0),  # H is an anion without O
    ("Li6.4La3Zr1.4Ta0.6O12", {"Li": 1, "La": 3, "Zr": 4, "Ta": 5, "O": -2}, 0.0),
    ("LiMn2O4", {"Li": 1, "Mn": 4, "O": -2}, 1 / 7),  # Mn3.5+ is mixed valence: one state per element leaves 1 e
    ("Li2VCl4", {"Li": 1, "V": 2, "Cl": -1}, 0.0),  # V2+ is not a common state: found in the broader search
    ("Li7BiO6", {"Li": 1, "Bi": 5, "O": -2}, 0.0),  # likewise Bi5+
    ("Li4P2S6", {"Li": 1, "P": 4, "S": -2}, 0.0),  # and P4+ (P-P bonded P2S6 4-)
])
def test_charge_balance(formula, expected, imbalance) -> None:
    amounts = {str(el): float(x) for el, x in Composition(formula).items()}
    states, left = oxidation_states(amounts)
    assert states == expected
    assert left == pytest.approx(imbalance, abs=1e-9)


def test_charge_balance_of_an_empty_composition() -> None:
    states, left = oxidation_states({})
    assert states == {} and math.isnan(left)


# ---------------------------------------------------------------------------------------------------- BVSE
def test_bvse_values_from_barriers() -> None:
    inf = math.inf
    v = bvse_values({"E_1D": 0.3, "E_2D": 0.3, "E_3D": 0.5})
    assert (v["bvse_E1D_eV"], v["bvse_E3D_eV"], v["bvse_barrier_eV"], v["bvse_dimension"]) == (0.3, 0.5, 0.5, 2.0)
    v = bvse_values({"E_1D": 0.2, "E_2D": inf, "E_3D": inf})
    assert v["bvse_dimension"] == 1.0 and math.isnan(v["bvse_E3D_eV"]) and math.isnan(v["bvse_barrier_eV"])
    v = bvse_values({"E_1D": 0.4, "E_2D": 0.4, "E_3D": 0.4})
    assert v["bvse_dimension"] == 3.0
    assert all(math.isnan(x) for x in bvse_values({"E_1D": inf, "E_2D": inf, "E_3D": inf}).values())


def test_bvse_grid_is_capped() -> None:
    assert bvse_resolution((9.9, 9.9, 9.9)) >= cif.BVSE_RESOLUTION_A
    for abc in [(5.0, 5.0, 5.0), (9.9, 9.9, 9.9), (13.0, 13.0, 13.0), (8.7, 8.7, 12.6), (30.0, 30.0, 30.0)]:
        r = bvse_resolution(abc)
        assert bvse_grid_points(abc, r) <= cif.BVSE_MAX_GRID_POINTS or r > cif.BVSE_MAX_RESOLUTION_A
        if r > cif.BVSE_RESOLUTION_A:  # coarsened no more than needed
            assert bvse_grid_points(abc, round(r - 0.01, 2)) > cif.BVSE_MAX_GRID_POINTS
    assert bvse_resolution((13.0,) * 3) > bvse_resolution((9.9,) * 3)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # bvlain's scipy.ndimage.measurements import
def test_vectorized_percolation_count_is_bvlains() -> None:
    from bvlain import Lain

    rng = np.random.default_rng(3)
    lain = Lain(verbose=False)
    lain.n_jobs, lain.backend = 1, "threading"  # what percolation_barriers sets before counting
    for shape in [(5, 6, 7), (8, 8, 8), (4, 9, 6)]:
        data = rng.random(shape)
        for threshold in (0.2, 0.4, 0.5, 0.6, 0.8):
            labels, features = lain._connected_components(data, threshold)
            assert percolation_dimension(labels) == lain._percolation_dimension(labels, features)


@pytest.mark.slow
def test_fast_lain_gives_bvlains_barriers() -> None:
    from bvlain import Lain

    fw = framework(read_cif(ARGYRODITE))
    assert cif.bvse_barriers(fw, 0.5) == cif.bvse_barriers(fw, 0.5, lain_class=Lain)


@pytest.mark.slow
def test_bvse_of_argyrodite_and_lgps() -> None:
    a = cif_descriptors(ARGYRODITE, kernels=("bvse",))
    g = cif_descriptors(LGPS, kernels=("bvse",))
    # Both conduct in 3D. The argyrodite's Li cages connect at low energy: bvlain gives ~0.39-0.43 eV on
    # 0.2-0.31 Å grids; LGPS's c-axis channels open first (E_1D < E_3D on most grids), 3D at ~0.56-0.61 eV.
    assert 0.25 < a.values["bvse_E3D_eV"] < 0.5
    assert a.values["bvse_dimension"] == 3.0
    assert a.values["bvse_barrier_eV"] == a.values["bvse_E3D_eV"]
    assert 0.4 < g.values["bvse_E3D_eV"] < 0.8
    assert g.values["bvse_E1D_eV"] <= g.values["bvse_E2D_eV"] <= g.values["bvse_E3D_eV"]
    assert a.values["bvse_E3D_eV"] < g.values["bvse_E3D_eV"]
    for d in (a, g):
        assert cif.BVSE_RESOLUTION_A <= d.bvse_resolution_A <= 0.35
        assert not any(n.startswith("BVSE") for n in d.notes)


def test_hydride_gives_nan_and_a_reason(tmp_path) -> None:
    lih = write_cif(Structure(Lattice.cubic(4.08), ["Li"] * 4 + ["H"] * 4,
                              [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5],
                               [0.5, 0.5, 0.5], [0, 0, 0.5], [0, 0.5, 0], [0.5, 0, 0]]), tmp_path / "LiH.cif")
    d = cif_descriptors(lih, kernels=("bvse",))
    assert all(math.isnan(d.values[label]) for label in BVSE_LABELS)
    assert any("no Li+ softBV parameters for H-" in n for n in d.notes)
    assert BondValenceBarriers().featurize(str(lih)) == pytest.approx([math.nan] * 5, nan_ok=True)


# ------------------------------------------------------------------------------------------- Li sublattice
def test_li_sublattice_of_antifluorite_li2s(tmp_path) -> None:
    a = 5.70
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["S", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    d = cif_descriptors(write_cif(s, tmp_path / "Li2S.cif"), kernels=("lithium",))
    v = d.values
    # Li in S4 tetrahedra (Li-S a*sqrt(3)/4), Li on a simple cubic sublattice of edge a/2
    assert v["li_anion_nn_mean_A"] == pytest.approx(a * math.sqrt(3) / 4, abs=1e-3)
    assert v["li_anion_cn_mean"] == pytest.approx(4.0)
    assert v["li_li_min_A"] == pytest.approx(a / 2, abs=1e-3)
    assert v["li_li_nn_mean_A"] == pytest.approx(a / 2, abs=1e-3)
    assert v["li_sites_per_A3"] == pytest.approx(8 / a**3)
    assert v["li_atoms_per_A3"] == pytest.approx(8 / a**3)
    assert v["li_occupancy_mean"] == 1.0


def test_li_sublattice_of_argyrodite() -> None:
    d = cif_descriptors(ARGYRODITE, kernels=("lithium",))
    v, vol = d.values, 9.898**3
    assert v["li_sites_per_A3"] == pytest.approx(48 / vol)
    assert v["li_atoms_per_A3"] == pytest.approx(24 / vol)
    assert v["li_occupancy_mean"] == pytest.approx(0.5)
    # 48h pairs around each free anion sit ~1.9 Å apart: sites, not atoms (they are never both filled)
    assert 1.5 < v["li_li_min_A"] < 2.2
    assert v["li_anion_nn_mean_A"] == pytest.approx(2.45, abs=0.03)
    assert 3.0 <= v["li_anion_cn_mean"] <= 4.0  # trigonal/tetrahedral Li in the cages


def test_no_li_sites(tmp_path) -> None:
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    d = cif_descriptors(write_cif(nacl, tmp_path / "NaCl.cif"), kernels=("lithium", "anion"))
    assert d.values["cif_no_li"] == 1.0
    assert all(math.isnan(d.values[label]) for label in LI_SUBLATTICE_LABELS)
    assert "the CIF has no Li sites" in quality_notes(d)
    assert d.values["anion_fcc"] == 1.0  # Cl in rock salt is fcc


# ----------------------------------------------------------------------------------------- anion framework
_ANION_AMOUNTS = st.dictionaries(st.sampled_from([*ANIONS, "Li", "P", "La", "B"]),
                                 st.sampled_from([1e-9, 0.05, 0.5, 1.0, 4.0]), max_size=6)


@settings(max_examples=200, deadline=None)
@given(_ANION_AMOUNTS)
def test_cif_counts_the_anions_the_descriptors_count(composition) -> None:
    """One anion rule: a CIF's anions are those `AnionFramework` gives a share (an O trace under the composition
    tolerance is no O, so Te and H stay anions beside it)."""
    counted = {el for el, share in zip(ANIONS, anion_framework([composition])[0, :len(ANIONS)], strict=True) if share > 0}
    assert cif.anion_elements(composition) == counted
    assert cif.anion_elements({"Li": 2.0, "Te": 1.0, "O": 1e-9}) == {"Te"}


def ideal_sulfur(name: str, d_nn: float = 4.0) -> Structure:
    """An ideal bcc/fcc/hcp S sublattice (nearest S-S `d_nn` Å) with Li in some of its holes."""
    if name == "bcc":
        a = d_nn * 2 / math.sqrt(3)
        return Structure(Lattice.cubic(a), ["S", "S", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.25, 0]])
    if name == "fcc":
        return Structure.from_spacegroup("Fm-3m", Lattice.cubic(d_nn * math.sqrt(2)), ["S", "Li"],
                                         [[0, 0, 0], [0.25, 0.25, 0.25]])
    lattice = Lattice.hexagonal(d_nn, d_nn * math.sqrt(8 / 3))
    return Structure(lattice, ["S", "S", "Li"], [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75], [0, 0, 0]])


@pytest.mark.parametrize("name", ["bcc", "fcc", "hcp"])
def test_ideal_anion_lattices_match_exactly_one(name, tmp_path) -> None:
    for k, s in enumerate([ideal_sulfur(name), ideal_sulfur(name, 3.5) * (2, 2, 2)]):
        if k == 1:  # a supercell with every S displaced by up to 0.1 Å still matches, and only this one
            rng = np.random.default_rng(0)
            for i, site in enumerate(s):
                if site.specie.symbol == "S":
                    s.translate_sites([i], rng.uniform(-0.1, 0.1, 3) / 3 ** 0.5, frac_coords=False)
        d = cif_descriptors(write_cif(s, tmp_path / f"{name}{k}.cif"), kernels=("anion",))
        assert [d.values[f"anion_{n}"] for n in cif.ANION_LATTICES] == [float(n == name) for n in cif.ANION_LATTICES]


def test_simple_cubic_anions_match_none(tmp_path) -> None:
    s = Structure(Lattice.cubic(3.5), ["S", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # CsCl type: S simple cubic
    d = cif_descriptors(write_cif(s, tmp_path / "sc.cif"), kernels=("anion",))
    assert [d.values[f"anion_{n}"] for n in cif.ANION_LATTICES] == [0.0, 0.0, 0.0]


def test_anion_framework_of_the_fixtures() -> None:
    a = cif_descriptors(ARGYRODITE, kernels=("anion",)).values
    # Argyrodite's 24 anions per cell (16e S of the PS4 tetrahedra plus the S/Cl of 4a and 4d) form a
    # tetrahedrally close-packed framework, neither bcc nor fcc nor hcp: its best fits (hcp ~0.27, bcc ~0.31
    # RMS, measured) are beyond the 0.25 site tolerance, so all three columns are 0.
    assert [a[f"anion_{n}"] for n in cif.ANION_LATTICES] == [0.0, 0.0, 0.0]
    assert a["anion_volume_A3"] == pytest.approx(9.898**3 / 24)
    g = cif_descriptors(LGPS, kernels=("anion",)).values
    # LGPS's S sublattice is distorted bcc (Wang et al. 2015)
    assert [g[f"anion_{n}"] for n in cif.ANION_LATTICES] == [1.0, 0.0, 0.0]


# -------------------------------------------------------------------------------------------------- quality
def test_quality_flags_and_notes() -> None:
    d = cif_descriptors(ARGYRODITE, kernels=(), randomized=True)
    assert d.values["cif_no_li"] == 0.0
    assert d.values["cif_partial_occupancy"] == 1.0
    assert d.values["cif_charge_imbalance"] == pytest.approx(0.0, abs=1e-9)
    assert d.values["cif_randomized"] == 1.0
    assert math.isnan(cif_descriptors(ARGYRODITE, kernels=()).values["cif_randomized"])
    assert cif_descriptors(ARGYRODITE, kernels=(), randomized=False).values["cif_randomized"] == 0.0
    assert d.composition == pytest.approx({"Li": 24.0, "P": 4.0, "S": 20.0, "Cl": 4.0})
    assert d.oxidation_states == {"Cl": -1, "Li": 1, "P": 5, "S": -2}
    notes = quality_notes(d, {"Li": 5.5, "P": 1, "S": 4.5, "Cl": 1.5})
    assert any("partially occupied" in n for n in notes)
    assert any("perturbed" in n for n in notes)
    assert any("disagrees" in n and "Cl" in n for n in notes)
    assert CifQuality(randomized=True).featurize(str(ARGYRODITE)) == [0.0, 1.0, pytest.approx(0.0), 1.0]


def test_composition_disagreement() -> None:
    cif_amounts = {"Li": 24.0, "P": 4.0, "S": 20.0, "Cl": 4.0}
    assert composition_disagreement(cif_amounts, {"Li": 6, "P": 1, "S": 5, "Cl": 1}) is None
    assert composition_disagreement(cif_amounts, {"Li": 6.1, "P": 1, "S": 5, "Cl": 1}) is None  # within 0.02
    note = composition_disagreement(cif_amounts, {"Li": 7, "P": 1, "S": 6})
    assert note and "Cl" in note and "Li" in note
    assert composition_disagreement({}, {}) is None


# ---------------------------------------------------------------------------------------------------- cache
def test_cache_hit_gives_the_same_values_without_recomputing(monkeypatch, tmp_path) -> None:
    first = cif_descriptors(LGPS, kernels=("lithium", "anion"))
    assert not first.from_cache
    entry = cif.cif_cache_dir() / f"{first.sha256}.json"
    assert entry.is_file()
    json.loads(entry.read_text(), parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))

    def boom(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(cif, "_lithium_section", boom)
    monkeypatch.setattr(cif, "_anion_section", boom)
    monkeypatch.setattr(cif, "_structure_section", boom)
    again = cif_descriptors(LGPS, kernels=("lithium", "anion"))  # in-process LRU
    assert again.from_cache and same(again.values, first.values)
    clear_memory_cache()
    from_disk = cif_descriptors(LGPS, kernels=("anion", "lithium"))  # the JSON file
    assert from_disk.from_cache and same(from_disk.values, first.values)
    assert from_disk.composition == first.composition and from_disk.notes == first.notes

    # the same bytes elsewhere hit the same entry (the key is the content)
    copy = tmp_path / "copy.cif"
    copy.write_bytes(LGPS.read_bytes())
    elsewhere = cif_descriptors(copy, kernels=("lithium",))
    assert elsewhere.from_cache and elsewhere.sha256 == first.sha256
    assert elsewhere.row(LI_SUBLATTICE_LABELS) == first.row(LI_SUBLATTICE_LABELS)

    # a new kernel version recomputes that kernel only (which now fails, and the failure is not cached)
    monkeypatch.setitem(cif.KERNEL_VERSIONS, "anion", "test")
    stale = cif_descriptors(LGPS, kernels=("lithium", "anion"))
    assert not stale.from_cache
    assert math.isnan(stale.values["anion_bcc"]) and any("anion: failed" in n for n in stale.notes)
    assert stale.values["li_li_min_A"] == first.values["li_li_min_A"]
    assert "test" not in entry.read_text()

    # the structure summary's version invalidates every kernel (BVSE uses its oxidation states)
    monkeypatch.setitem(cif.KERNEL_VERSIONS, "anion", "1")
    monkeypatch.setitem(cif.KERNEL_VERSIONS, "structure", "test")
    broken = cif_descriptors(LGPS, kernels=("lithium",))  # recomputed, and the summary now fails: NaN
    assert all(math.isnan(v) for v in broken.values.values()) and "recomputed" in broken.notes[0]


def test_unreadable_files_give_nan(tmp_path) -> None:
    garbage = tmp_path / "garbage.cif"
    garbage.write_text("data_x\n_cell_length_a 1\nthis is not a CIF loop\n")
    for path in (tmp_path / "missing.cif", garbage, tmp_path):
        d = cif_descriptors(path)
        assert all(math.isnan(v) for v in d.values.values())
        assert d.notes and d.notes[0].startswith("unreadable CIF")
    for f in (BondValenceBarriers(), LithiumSublattice(), AnionLattice(), CifQuality()):
        for value in (None, "", float("nan"), str(tmp_path / "missing.cif"), str(garbage)):
            assert all(math.isnan(v) for v in f.featurize(value))


def test_a_featurizer_computes_its_kernel_only() -> None:
    row = LithiumSublattice().featurize(str(ARGYRODITE))
    sha = cif_descriptors(ARGYRODITE, kernels=()).sha256
    entry = json.loads((cif.cif_cache_dir() / f"{sha}.json").read_text())
    assert set(entry["sections"]) == {"structure", "lithium"}
    assert row == cif_descriptors(ARGYRODITE, kernels=("lithium",)).row(LI_SUBLATTICE_LABELS)


def test_unknown_kernel_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown CIF kernels"):
        cif_descriptors(ARGYRODITE, kernels=("nope",))


@pytest.mark.slow
def test_many_in_worker_processes(tmp_path) -> None:
    paths = [ARGYRODITE, LGPS, tmp_path / "missing.cif", ARGYRODITE]
    many = cif_descriptors_many(paths, n_jobs=2, kernels=("lithium", "anion"), randomized=True)
    assert [d.path for d in many] == [str(p) for p in paths]
    assert many[0] == many[3]
    assert not many[2].readable and all(math.isnan(v) for v in many[2].values.values())
    assert all(d.values["cif_randomized"] == 1.0 for d in many if d.readable)
    clear_memory_cache()
    for p, d in zip(paths[:2], many, strict=False):  # the workers filled the disk cache
        single = cif_descriptors(p, kernels=("lithium", "anion"), randomized=True)
        assert single.from_cache and same(single.values, d.values)
    with pytest.raises(ValueError):
        cif_descriptors_many(paths, n_jobs=0)
