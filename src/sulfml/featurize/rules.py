"""The family, label and flag rules of our electrolyte descriptors: plain Python, no matminer or pymatgen, so
the matminer featurizers (`electrolyte`) and the vectorized predict path (`fast`) share one copy."""

from __future__ import annotations

import re
from typing import Any

ANION_CHARGE: dict[str, int] = {
    "O": 2, "S": 2, "Se": 2, "Te": 2, "N": 3, "F": 1, "Cl": 1, "Br": 1, "I": 1, "H": 1,
}
ANIONS: tuple[str, ...] = tuple(ANION_CHARGE)
HALOGENS: tuple[str, ...] = ("F", "Cl", "Br", "I")
CHALCOGENS: tuple[str, ...] = ("S", "Se", "Te")
FRAMEWORK_CATIONS: tuple[str, ...] = (
    "P", "Si", "Ge", "Sn", "Sb", "As", "B", "Al", "Ga", "In", "Zr", "Ti", "La", "Ta", "Nb",
    "Y", "Hf", "Sc", "Mg", "Ca", "Sr", "Ba", "Zn", "W", "Te", "Bi", "Na", "K",
)
FAMILIES: tuple[str, ...] = (
    "argyrodite", "LGPS", "thio-LISICON", "thiophosphate", "garnet", "NASICON", "perovskite",
    "LISICON", "anti-perovskite", "other",
)

# Tolerance used wherever a rule says "~": sulfide stoichiometries in the data are often nominal.
_TOL = 0.3
# A cation below this share of the non-Li cations is a dopant and does not change the family.
MINOR_SHARE = 0.2
PEROVSKITE_B: tuple[str, ...] = (
    "Ti", "Nb", "Ta", "Zr", "Hf", "Sn", "W", "Al", "Mg", "Ga", "Sc", "Fe", "Co", "Cr", "Mn",
)
LISICON_X: tuple[str, ...] = ("Si", "Ge", "P", "V", "As", "Al", "Ga", "Zn")

# Every element a Li conductor in the data could contain: H (Z=1) to Pu (Z=94).
ELEMENTS: tuple[str, ...] = (
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar", "K",
    "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",
    "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb",
    "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr",
    "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu",
)
ELEMENT_FRACTION_PREFIX = "elem_frac_"
SUBSTITUTION_LABELS: tuple[str, ...] = (
    "anion_per_framework_cation", "chalcogen_per_framework_cation", "halogen_per_framework_cation",
    "halogen_excess", "framework_valence_mean", "framework_valence_from_balance",
    "li_excess_per_anion", "dopant_fraction", "n_dopant_species", "dopant_valence_offset",
    "dopant_radius_mismatch", "framework_radius_mean", "framework_radius_spread",
)


def _tag_keys(tags: Any) -> set[str]:
    """Lower-cased tag names, value after ':' dropped ("polymorph:β" -> "polymorph")."""
    if not isinstance(tags, str):
        return set()
    return {t.split(":", 1)[0].strip().lower() for t in tags.split(";") if t.strip()}


def _norm_label(label: Any) -> str:
    if not isinstance(label, str):
        return ""
    return re.sub(r"[^a-z0-9]", "", label.lower())


def _notation(notation: Any) -> str:
    return notation.strip().lower() if isinstance(notation, str) and notation.strip() else "plain"


def synthesis_flags(notation: Any = "plain", tags: Any = "", family: Any = None) -> dict[str, bool]:
    """Glass / glass-ceramic / amorphous / composite / doped / hydrate flags of one row."""
    note = _notation(notation)
    keys = _tag_keys(tags)
    fam = _norm_label(family)
    glass_ceramic = bool(keys & {"glass-ceramic", "glassceramic", "glass ceramic"}) or fam in (
        "glassceramic", "glassceramics")
    # The parser writes mixtures (70Li2S-30P2S5) as notation "glass"; a glass-ceramic tag means crystallised.
    glass = (note == "glass" or "glass" in keys or fam in ("glass", "glasses")) and not glass_ceramic
    return {
        "is_glass": glass,
        "is_glass_ceramic": glass_ceramic,
        "is_amorphous": glass or "amorphous" in keys,
        "is_composite": note == "composite" or "composite" in keys,
        "is_doped": note == "host+dopant" or bool(keys & {"doped", "dopant", "host+dopant"}),
        "is_hydrate": note == "hydrate" or "hydrate" in keys,
    }


# Normalised data labels (lower case, letters and digits only) -> our family.
_LABELS: dict[str, str] = {
    "argyrodite": "argyrodite", "argyrodites": "argyrodite",
    "lgps": "LGPS",
    "thiolisicon": "thio-LISICON", "thiolisicons": "thio-LISICON",
    "thiophosphate": "thiophosphate", "thiophosphates": "thiophosphate", "li2sp2s5": "thiophosphate",
    "garnet": "garnet", "garnets": "garnet", "garnetlike": "garnet",
    "nasicon": "NASICON", "nasicons": "NASICON", "nasiconlike": "NASICON",
    "perovskite": "perovskite", "perovskites": "perovskite",
    "lisicon": "LISICON", "lisicons": "LISICON",
    "antiperovskite": "anti-perovskite", "antiperovskites": "anti-perovskite",
}
# Chemistry classes rather than structures: the composition decides.
_GENERIC_LABELS = frozenset({
    "", "oxide", "oxides", "sulfide", "sulfides", "sulphide", "sulphides", "halide", "halides",
    "chloride", "chlorides", "cholorides", "fluoride", "fluorides", "phosphate", "phosphates",
    "hydride", "hydrides", "nitride", "nitrides", "other", "others", "unknown", "none", "nan",
    "glass", "glasses", "glassceramic", "glassceramics",
})


def family_from_label(label: Any) -> str | None:
    """Our family for a data label, or None when the label does not name a structure family.

    Known structure families map onto `FAMILIES`; chemistry classes ("oxides", "Sulphides", "Other"),
    "Glass" and "Glass-Ceramic" give None (decide by composition); any other structure name ("Olivine",
    "Zircon", "pyrochlore") gives "other".
    """
    key = _norm_label(label)
    if key in _LABELS:
        return _LABELS[key]
    if key in _GENERIC_LABELS:
        return None
    return "other"
