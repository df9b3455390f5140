"""Structure features when a structure is known: lattice/space-group columns of the data (`LatticeFeatures`),
the symmetry a space-group number implies (`SpaceGroupFeatures`) and matminer's density and symmetry features of
a CIF file (`CifFeatures`). Unknown -> NaN, never raises.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
from pymatgen.core import Composition

from sulfml.chem.space_groups import crystal_system
from sulfml.chem.space_groups import finite_or_nan as _num
from sulfml.featurize.electrolyte import SulfmlFeaturizer, amounts, anion_atoms

# matminer's GlobalSymmetryFeatures.crystal_idx, so lattice and CIF columns share one coding.
CRYSTAL_SYSTEMS: dict[str, int] = {
    "triclinic": 7, "monoclinic": 6, "orthorhombic": 5, "tetragonal": 4, "trigonal": 3, "hexagonal": 2,
    "cubic": 1,
}
_AVOGADRO_PER_A3 = 0.602214076  # N_A * 1e-24: g/mol per Å^3 -> g/cm^3


def cell_volume(a: float, b: float, c: float, alpha: float, beta: float, gamma: float) -> float:
    """Triclinic cell volume (Å^3) from lengths (Å) and angles (degrees); NaN when not a valid cell."""
    if not all(math.isfinite(v) for v in (a, b, c, alpha, beta, gamma)):
        return math.nan
    if min(a, b, c) <= 0 or not all(0 < ang < 180 for ang in (alpha, beta, gamma)):
        return math.nan
    ca, cb, cg = (math.cos(math.radians(ang)) for ang in (alpha, beta, gamma))
    s = 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg
    return a * b * c * math.sqrt(s) if s > 0 else math.nan


class LatticeFeatures(SulfmlFeaturizer):
    """Features of the data's space group and lattice columns.

    ``space_group_number``, ``crystal_system_int`` (matminer's coding, 1 cubic ... 7 triclinic) and a
    one-hot ``crystal_system_<name>`` from the space group; ``lattice_b_over_a``, ``lattice_c_over_a`` and
    ``lattice_max_angle_deviation`` (max |angle - 90°|) from the cell; with ``z`` (formula units per cell,
    of the composition as given) also ``volume_per_formula_unit``, ``volume_per_atom``,
    ``volume_per_anion`` (Å^3), ``density`` (g/cm^3) and ``li_per_volume`` (Li per Å^3).
    """

    inputs = ("composition", "space_group_number", "a", "b", "c", "alpha", "beta", "gamma", "z")

    def featurize(self, comp: Composition | Mapping[str, float] | str, space_group_number: Any = None,
                  a: Any = None, b: Any = None, c: Any = None, alpha: Any = None, beta: Any = None,
                  gamma: Any = None, z: Any = None) -> list[float]:
        """Lattice features of one row; NaN for whatever is unknown."""
        system = crystal_system(space_group_number)
        sg = _num(space_group_number) if system else math.nan
        out = [sg, float(CRYSTAL_SYSTEMS[system]) if system else math.nan]
        out += [(float(system == name) if system else math.nan) for name in CRYSTAL_SYSTEMS]

        a, b, c, alpha, beta, gamma = (_num(v) for v in (a, b, c, alpha, beta, gamma))
        valid_lengths = all(v > 0 for v in (a, b, c))
        out += [b / a if valid_lengths else math.nan, c / a if valid_lengths else math.nan]
        angles = [v for v in (alpha, beta, gamma) if 0 < v < 180]
        out.append(max(abs(v - 90.0) for v in angles) if len(angles) == 3 else math.nan)

        vol, zz = cell_volume(a, b, c, alpha, beta, gamma), _num(z)
        if not (math.isfinite(vol) and zz > 0):
            return out + [math.nan] * 5
        amt = amounts(comp)
        v_fu = vol / zz
        n_anion = anion_atoms(amt)
        weight = Composition(amt).weight
        out += [
            v_fu,
            v_fu / sum(amt.values()),
            v_fu / n_anion if n_anion > 0 else math.nan,
            float(weight) / (v_fu * _AVOGADRO_PER_A3),
            amt.get("Li", 0.0) / v_fu,
        ]
        return out

    def feature_labels(self) -> list[str]:
        """Names of the lattice features."""
        return [
            "space_group_number",
            "crystal_system_int",
            *(f"crystal_system_{name}" for name in CRYSTAL_SYSTEMS),
            "lattice_b_over_a",
            "lattice_c_over_a",
            "lattice_max_angle_deviation",
            "volume_per_formula_unit",
            "volume_per_atom",
            "volume_per_anion",
            "density",
            "li_per_volume",
        ]


# Lattice centring of the standard setting's Hermann-Mauguin symbol; A- and B-centred settings are base-centred
# like C (the four A-centred orthorhombic groups 38-41 are C-centred in another axis choice).
CENTRINGS: tuple[str, ...] = ("P", "C", "I", "F", "R")
_CENTRING_OF_LETTER = {"P": "P", "A": "C", "B": "C", "C": "C", "I": "I", "F": "F", "R": "R"}
# The 11 centrosymmetric (Laue) point groups and the order (number of rotations) of each of the 32 point groups.
_LAUE_GROUPS = frozenset({"-1", "2/m", "mmm", "4/m", "4/mmm", "-3", "-3m", "6/m", "6/mmm", "m-3", "m-3m"})
_POINT_GROUP_ORDER: dict[str, int] = {
    "1": 1, "-1": 2, "2": 2, "m": 2, "2/m": 4, "222": 4, "mm2": 4, "mmm": 8, "4": 4, "-4": 4, "4/m": 8,
    "422": 8, "4mm": 8, "-42m": 8, "4/mmm": 16, "3": 3, "-3": 6, "32": 6, "3m": 6, "-3m": 12, "6": 6, "-6": 6,
    "6/m": 12, "622": 12, "6mm": 12, "-6m2": 12, "6/mmm": 24, "23": 12, "m-3": 24, "432": 24, "-43m": 24,
    "m-3m": 48,
}


@lru_cache(maxsize=1)
def _space_group_table() -> dict[int, tuple[str, str]]:
    """Space-group number -> (centring letter of the standard setting, point group), from pymatgen's tables of
    the International Tables (read once, ~0.2 s)."""
    from pymatgen.symmetry.groups import SYMM_DATA, sg_symbol_from_int_number

    encoding = SYMM_DATA["space_group_encoding"]
    out = {}
    for n in range(1, 231):
        symbol = sg_symbol_from_int_number(n)
        out[n] = (_CENTRING_OF_LETTER[symbol[0]], str(encoding[symbol]["point_group"]))
    return out


def space_group_symmetry(space_group_number: Any) -> tuple[str, str, str] | None:
    """(crystal system, lattice centring of `CENTRINGS`, point group) of a space-group number; None when it is
    not an integer 1-230."""
    system = crystal_system(space_group_number)
    if system is None:
        return None
    centring, point_group = _space_group_table()[int(_num(space_group_number))]
    return system, centring, point_group


class SpaceGroupFeatures(SulfmlFeaturizer):
    """What a space-group number says about the structure, with no other structure input.

    * ``sg_number``: the international number (1-230);
    * ``sg_crystal_system_int`` (matminer's coding, 1 cubic ... 7 triclinic) and one-hot
      ``sg_crystal_system_<name>``;
    * ``sg_centrosymmetric``: 1 when the point group holds the inversion (one of the 11 Laue groups);
    * ``sg_point_group_order``: the number of rotations of the point group (1 for P1 ... 48 for m-3m), a
      scale of how symmetric the sites are;
    * ``sg_centring_<P|C|I|F|R>``: the lattice centring of the standard setting (A and B count as C); with
      the crystal system it gives the Bravais lattice (body-centred cubic Ia-3d of garnets, primitive
      tetragonal P4_2/nmc of LGPS).

    All NaN when the space group is unknown. Symmetry data: pymatgen's tables of the International Tables for
    Crystallography, Vol. A.
    """

    inputs = ("space_group_number",)

    def featurize(self, space_group_number: Any = None) -> list[float]:
        """Space-group features of one row; NaN when the number is unknown or not 1-230."""
        return list(_space_group_features(_num(space_group_number)))

    def feature_labels(self) -> list[str]:
        """Names of the space-group features."""
        return [
            "sg_number",
            "sg_crystal_system_int",
            *(f"sg_crystal_system_{name}" for name in CRYSTAL_SYSTEMS),
            "sg_centrosymmetric",
            "sg_point_group_order",
            *(f"sg_centring_{c}" for c in CENTRINGS),
        ]

    def citations(self) -> list[str]:
        """The International Tables, whose symmetry data pymatgen ships."""
        return [
            "@book{itca2016, title={International Tables for Crystallography, Volume A: Space-group symmetry}, "
            "editor={Aroyo, Mois I.}, publisher={International Union of Crystallography}, edition={6}, "
            "year={2016}, doi={10.1107/97809553602060000114}}"
        ]


@lru_cache(maxsize=256)
def _space_group_features(space_group_number: float) -> tuple[float, ...]:
    width = 2 + len(CRYSTAL_SYSTEMS) + 2 + len(CENTRINGS)
    sym = space_group_symmetry(space_group_number)
    if sym is None:
        return (math.nan,) * width
    system, centring, point_group = sym
    return (
        float(space_group_number),
        float(CRYSTAL_SYSTEMS[system]),
        *(float(system == name) for name in CRYSTAL_SYSTEMS),
        float(point_group in _LAUE_GROUPS),
        float(_POINT_GROUP_ORDER[point_group]),
        *(float(centring == c) for c in CENTRINGS),
    )


_DENSITY_LABELS = ("density", "vpa", "packing fraction")
_SYMMETRY_LABELS = ("spacegroup_num", "crystal_system_int", "is_centrosymmetric", "n_symmetry_ops")


@lru_cache(maxsize=1)
def _matminer_structure_featurizers() -> tuple[Any, Any]:
    # Imported here: matminer.featurizers.structure costs ~2 s to import and composition presets never use it.
    from matminer.featurizers.structure import DensityFeatures, GlobalSymmetryFeatures

    density = DensityFeatures(desired_features=list(_DENSITY_LABELS))
    symmetry = GlobalSymmetryFeatures(desired_features=list(_SYMMETRY_LABELS))
    for f in (density, symmetry):
        f.set_n_jobs(1)
    return density, symmetry


def _density_features(structure: Any) -> list[float]:
    """matminer's DensityFeatures; for partial occupancies the same sums weighted by occupancy."""
    density, _ = _matminer_structure_featurizers()
    if structure.is_ordered:
        return [float(v) for v in density.featurize(structure)]
    # DensityFeatures refuses disordered sites, and most experimental CIFs of conductors are disordered.
    n_atoms = sum(sp_occ for site in structure for sp_occ in site.species.values())
    rad3 = 0.0
    for site in structure:
        for sp, occ in site.species.items():
            r = getattr(sp, "element", sp).atomic_radius
            if r is None:
                rad3 = math.nan
                break
            rad3 += occ * float(r) ** 3
    return [
        float(structure.density),
        structure.volume / n_atoms if n_atoms > 0 else math.nan,
        4 * math.pi * rad3 / (3 * structure.volume),
    ]


@lru_cache(maxsize=4096)
def _cif_features(path: str, mtime_ns: int, size: int) -> tuple[float, ...]:
    # mtime and size are part of the key so an edited file is read again.
    from pymatgen.core import Structure

    _, symmetry = _matminer_structure_featurizers()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structure = Structure.from_file(path)
        values = _density_features(structure) + [float(v) for v in symmetry.featurize(structure)]
    return tuple(values)


class CifFeatures(SulfmlFeaturizer):
    """matminer's DensityFeatures and GlobalSymmetryFeatures of the structure in a CIF file.

    Labels are matminer's prefixed with ``cif`` (``cif density``, ``cif vpa``, ``cif packing fraction``,
    ``cif spacegroup_num``, ``cif crystal_system_int``, ``cif is_centrosymmetric``,
    ``cif n_symmetry_ops``). No path, a missing file or any parse/symmetry failure gives NaN.
    """

    inputs = ("cif_path",)

    def featurize(self, cif_path: Any = None) -> list[float]:
        """CIF features of one row."""
        nan = [math.nan] * len(self.feature_labels())
        if not isinstance(cif_path, str | os.PathLike) or not str(cif_path).strip():
            return nan
        path = os.fspath(cif_path)
        try:
            st = os.stat(path)
            values = _cif_features(path, st.st_mtime_ns, st.st_size)
        except Exception:  # any unreadable CIF is simply "structure unknown"
            return nan
        return [v if np.isfinite(v) else math.nan for v in values]

    def feature_labels(self) -> list[str]:
        """Names of the CIF features."""
        return [f"cif {label}" for label in (*_DENSITY_LABELS, *_SYMMETRY_LABELS)]

    def citations(self) -> list[str]:
        """matminer's featurizers are what this wraps."""
        return [
            "@article{ward2018matminer, title={Matminer: An open source toolkit for materials data mining}, "
            "journal={Computational Materials Science}, volume={152}, pages={60--69}, year={2018}, "
            "doi={10.1016/j.commatsci.2018.05.018}}"
        ]
