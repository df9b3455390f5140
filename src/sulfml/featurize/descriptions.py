"""Feature names in a chemist's words: what the web page's "why" panel shows instead of column names.

The one place that maps model columns to words. Named columns come from `NAMES`; whole families of columns
(`MagpieData mean Electronegativity`, `elem_frac_Li`, `anion_frac_S`, `family_LGPS`, ...) from `PATTERNS`;
anything else is turned into readable words by `describe_feature`'s fallback, so a new feature is never
shown as a raw identifier (tests/featurize/test_descriptions.py checks every feature of the shipped bundle
has a description that is not its column name).
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Columns of our own electrolyte descriptors (see `electrolyte.py` for their definitions), matminer's
# stoichiometry, valence-orbital and ion-property columns, the kNN target features and the CIF features.
NAMES: dict[str, str] = {
    # lithium content
    "li_atom_fraction": "Li content (atom fraction)",
    "li_per_anion": "Li per anion",
    "li_per_framework_cation": "Li per framework cation",
    "li_anion_charge_fraction": "share of the anion charge balanced by Li",
    "li_excess_per_anion": "Li beyond charge balance, per anion",
    # anion sublattice
    "halogen_fraction": "halogen share of the anions",
    "chalcogenide_fraction": "chalcogen (S, Se, Te) share of the anions",
    "halogen_mixing_entropy": "mixing of several halogens (entropy)",
    "anion_atom_fraction": "anion share of all atoms",
    "n_anion_species": "number of anion elements",
    "mixed_anion": "mixed anions",
    "mixed_halogen": "mixed halogens",
    "halogen_excess": "halogen excess (beyond one per framework cation)",
    "anion_per_framework_cation": "anions per framework cation",
    "chalcogen_per_framework_cation": "chalcogens per framework cation",
    "halogen_per_framework_cation": "halogens per framework cation",
    # framework cations and substitution
    "framework_share_other": "share of other framework cations",
    "n_framework_cation_species": "number of framework cation elements",
    "framework_cation_atom_fraction": "framework cation share of all atoms",
    "framework_valence_mean": "mean framework cation valence",
    "framework_valence_from_balance": "framework valence required by charge balance",
    "dopant_fraction": "dopant share of the framework cations",
    "n_dopant_species": "number of dopant elements",
    "dopant_valence_offset": "dopant valence offset (aliovalent substitution)",
    "dopant_radius_mismatch": "dopant size mismatch",
    "framework_radius_mean": "mean framework cation radius",
    "framework_radius_spread": "spread of framework cation radii",
    # how the material was made, as the formula writes it
    "is_glass": "glass",
    "is_glass_ceramic": "glass-ceramic",
    "is_amorphous": "amorphous",
    "is_composite": "composite",
    "is_doped": "written as doped",
    "is_hydrate": "hydrate",
    # matminer: Stoichiometry, ValenceOrbital, IonProperty
    "0-norm": "number of elements",
    "2-norm": "evenness of the composition (2-norm)",
    "3-norm": "evenness of the composition (3-norm)",
    "5-norm": "evenness of the composition (5-norm)",
    "7-norm": "evenness of the composition (7-norm)",
    "10-norm": "evenness of the composition (10-norm)",
    "avg s valence electrons": "s valence electrons per atom (valence orbitals)",
    "avg p valence electrons": "p valence electrons per atom (valence orbitals)",
    "avg d valence electrons": "d valence electrons per atom (valence orbitals)",
    "avg f valence electrons": "f valence electrons per atom (valence orbitals)",
    "frac s valence electrons": "share of s valence electrons",
    "frac p valence electrons": "share of p valence electrons",
    "frac d valence electrons": "share of d valence electrons",
    "frac f valence electrons": "share of f valence electrons",
    "compound possible": "charge-balanced with common oxidation states",
    "max ionic char": "largest ionic character of a bond",
    "avg ionic char": "mean ionic character",
    # kNN target features: measured values of the most similar training materials ({target}: `TARGET_WORDS`)
    "knn_y_nearest": "measured {target} of the most similar known material",
    "knn_y_mean": "mean measured {target} of similar known materials",
    "knn_y_weighted_mean": "distance-weighted measured {target} of similar known materials",
    "knn_distance_nearest": "distance to the most similar known material",
    "knn_distance_mean": "mean distance to similar known materials",
    "knn_y_std": "spread of the measured {target} of similar known materials",
    # structure presets: the data's lattice columns, and the CIF's own
    "space_group_number": "space group number",
    "crystal_system_int": "crystal system (as a number)",
    "lattice_b_over_a": "lattice ratio b/a",
    "lattice_c_over_a": "lattice ratio c/a",
    "lattice_max_angle_deviation": "largest lattice angle deviation from 90°",
    "volume_per_formula_unit": "volume per formula unit",
    "volume_per_atom": "volume per atom",
    "volume_per_anion": "volume per anion",
    "density": "density",
    "li_per_volume": "Li per volume",
    "cif density": "density (from the CIF)",
    "cif vpa": "volume per atom (from the CIF)",
    "cif packing fraction": "packing fraction (from the CIF)",
    "cif spacegroup_num": "space group number (from the CIF)",
    "cif crystal_system_int": "crystal system (from the CIF)",
    "cif is_centrosymmetric": "centrosymmetric (from the CIF)",
    "cif n_symmetry_ops": "number of symmetry operations (from the CIF)",
    # structure-v2: what the space-group number says (`featurize.structure.SpaceGroupFeatures`)
    "sg_number": "space group number (given)",
    "sg_crystal_system_int": "crystal system of the space group (as a number)",
    "sg_centrosymmetric": "centrosymmetric space group",
    "sg_point_group_order": "order of the point group (rotations)",
    # structure-v3: the CIF's descriptors (`featurize.cif`)
    "bvse_E1D_eV": "BVSE Li migration barrier for 1D paths (from the CIF)",
    "bvse_E2D_eV": "BVSE Li migration barrier for 2D paths (from the CIF)",
    "bvse_E3D_eV": "BVSE Li migration barrier for 3D paths (from the CIF)",
    "bvse_barrier_eV": "BVSE Li migration barrier (lowest 3D, from the CIF)",
    "bvse_dimension": "dimension of the Li paths at the lowest BVSE barrier (from the CIF)",
    "li_li_min_A": "shortest Li-Li site distance (from the CIF)",
    "li_li_nn_mean_A": "mean nearest Li-Li site distance (from the CIF)",
    "li_sites_per_A3": "Li sites per volume (from the CIF)",
    "li_atoms_per_A3": "Li atoms per volume (from the CIF)",
    "li_occupancy_mean": "mean Li-site occupancy (from the CIF)",
    "li_anion_cn_mean": "mean Li-anion coordination number (from the CIF)",
    "li_anion_nn_mean_A": "mean nearest Li-anion distance (from the CIF)",
    "anion_volume_A3": "cell volume per anion (from the CIF)",
    "anion_bcc": "anion sublattice matches bcc (from the CIF)",
    "anion_fcc": "anion sublattice matches fcc (from the CIF)",
    "anion_hcp": "anion sublattice matches hcp (from the CIF)",
    "cif_no_li": "CIF has no Li sites",
    "cif_partial_occupancy": "CIF has partially occupied sites",
    "cif_charge_imbalance": "charge imbalance of the CIF's composition (e per atom)",
    "cif_randomized": "CIF positions randomised by its source",
}

# matminer's Magpie element properties and statistics.
MAGPIE_PROPERTIES: dict[str, str] = {
    "Number": "atomic number",
    "MendeleevNumber": "Mendeleev number",
    "AtomicWeight": "atomic weight",
    "MeltingT": "melting point",
    "Column": "periodic-table group",
    "Row": "periodic-table period",
    "CovalentRadius": "covalent radius",
    "Electronegativity": "electronegativity",
    "NsValence": "s valence electrons",
    "NpValence": "p valence electrons",
    "NdValence": "d valence electrons",
    "NfValence": "f valence electrons",
    "NValence": "valence electrons",
    "NsUnfilled": "unfilled s states",
    "NpUnfilled": "unfilled p states",
    "NdUnfilled": "unfilled d states",
    "NfUnfilled": "unfilled f states",
    "NUnfilled": "unfilled valence states",
    "GSvolume_pa": "elemental volume per atom",
    "GSbandgap": "elemental band gap",
    "GSmagmom": "elemental magnetic moment",
    "SpaceGroupNumber": "elemental space group",
}
MAGPIE_STATISTICS: dict[str, str] = {
    "mean": "mean {}",
    "avg_dev": "spread of {} (mean deviation)",
    "minimum": "smallest {}",
    "maximum": "largest {}",
    "range": "range of {}",
    "mode": "most common {}",
}
TARGET_WORDS: dict[str, str] = {"log10_sigma": "conductivity", "ea_eV": "activation energy"}
FAMILY_WORDS: dict[str, str] = {
    "argyrodite": "argyrodite", "LGPS": "LGPS-type", "thio-LISICON": "thio-LISICON",
    "thiophosphate": "thiophosphate", "garnet": "garnet", "NASICON": "NASICON", "perovskite": "perovskite",
    "LISICON": "LISICON", "anti-perovskite": "anti-perovskite", "other": "other",
}

CENTRING_WORDS: dict[str, str] = {"P": "primitive", "C": "base-centred", "I": "body-centred",
                                  "F": "face-centred", "R": "rhombohedral"}


def _magpie(m: re.Match[str]) -> str:
    prop = MAGPIE_PROPERTIES.get(m["prop"], _words(m["prop"]))
    return MAGPIE_STATISTICS.get(m["stat"], m["stat"] + " {}").format(prop)


# (regular expression, words from its match): families of columns named by an element or a family.
PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"MagpieData (?P<stat>\w+) (?P<prop>\w+)"), _magpie),
    (re.compile(r"elem_frac_(?P<el>[A-Z][a-z]?)"), lambda m: f"{m['el']} share of all atoms"),
    (re.compile(r"anion_frac_(?P<el>[A-Z][a-z]?)"), lambda m: f"{m['el']} share of the anions"),
    (re.compile(r"halogen_share_(?P<el>[A-Z][a-z]?)"), lambda m: f"{m['el']} share of the halogens"),
    (re.compile(r"framework_share_(?P<el>[A-Z][a-z]?)"), lambda m: f"{m['el']} share of the framework cations"),
    (re.compile(r"crystal_system_(?P<s>[a-z]+)"), lambda m: f"{m['s']} crystal system"),
    (re.compile(r"sg_crystal_system_(?P<s>[a-z]+)"), lambda m: f"{m['s']} crystal system of the space group"),
    (re.compile(r"sg_centring_(?P<c>[A-Z])"),
     lambda m: f"{CENTRING_WORDS.get(m['c'], m['c'])} lattice ({m['c']}) of the space group"),
    (re.compile(r"state_(?P<s>[a-z_]+)"), lambda m: f"state: {m['s'].replace('_', '-')}"),
    (re.compile(r"megnet16_(?P<stat>mean|std)_(?P<j>\d+)"),
     lambda m: f"{'mean' if m['stat'] == 'mean' else 'spread'} of the elements' learned MEGNet vector, "
               f"dimension {m['j']}"),
    (re.compile(r"family_(?P<f>.+)"),
     lambda m: f"{FAMILY_WORDS.get(m['f'], _words(m['f']))} structure family"),
]


def _words(name: str) -> str:
    """A column name as plain words: `snake_case`, `kebab-case` and `CamelCase` split, element symbols kept."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    words = [w for w in re.split(r"[_\s-]+", text) if w]
    return " ".join("Li" if w.lower() == "li" else w if re.fullmatch(r"[A-Z][a-z]?", w) else w.lower()
                    for w in words)


def describe_feature(name: str, target: str | None = None) -> str:
    """The words for a model column: `NAMES`, else a `PATTERNS` family, else the name made readable.

    Args:
        name: the column, as the model card's `feature_names` (or kNN `features`) write it.
        target: the model's target (`log10_sigma`, `ea_eV`), naming what the kNN features measure.
    """
    if name in NAMES:
        return NAMES[name].format(target=TARGET_WORDS.get(target or "", "value"))
    for pattern, words in PATTERNS:
        m = pattern.fullmatch(name)
        if m:
            return words(m)
    return _words(name)
