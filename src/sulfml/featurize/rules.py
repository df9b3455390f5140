"""The chemistry of our electrolyte descriptors as data: element sets, family windows, flags, limits and every
feature label. Plain Python (no NumPy, matminer or pymatgen); the one implementation that applies these
rules is the vectorized code in `descriptors.py` and `family.py`, which `electrolyte.py`'s matminer featurizers
and `cif.py` call.
"""

from __future__ import annotations

import math
from typing import Any

from sulfml.chem.elements import ANION_CHARGE, EMBEDDINGS
from sulfml.parse.state import (
    GENERIC_LABELS,
    GLASS,
    GLASS_CERAMIC,
    GLASS_CERAMIC_LABELS,
    GLASS_CERAMIC_TAGS,
    GLASS_LABELS,
    GLASS_TAGS,
    STATES,
    tag_keys,
)
from sulfml.parse.state import norm_label as _norm_label

# ---------------------------------------------------------------------------------------------------------
# Ions

ANIONS: tuple[str, ...] = tuple(ANION_CHARGE)
# Te is a Te6+ cation in oxides (Te-doped garnets) and H sits in OH-/H2O: with O present neither is an
# anion, and H is not a framework cation either.
ANIONS_ONLY_WITHOUT_O: tuple[str, ...] = ("Te", "H")
NOT_FRAMEWORK: tuple[str, ...] = ("Li", *ANIONS)
FRAMEWORK_WITH_O: tuple[str, ...] = ("Te",)
HALOGENS: tuple[str, ...] = ("F", "Cl", "Br", "I")
CHALCOGENS: tuple[str, ...] = ("S", "Se", "Te")
# Framework cations with a framework_share_<El> column; the rest add up in framework_share_other.
FRAMEWORK_CATIONS: tuple[str, ...] = (
    "P", "Si", "Ge", "Sn", "Sb", "As", "B", "Al", "Ga", "In", "Zr", "Ti", "La", "Ta", "Nb",
    "Y", "Hf", "Sc", "Mg", "Ca", "Sr", "Ba", "Zn", "W", "Te", "Bi", "Na", "K",
)
# A cation below this share of the non-Li cations is a dopant: it does not change the family and counts as
# a dopant in SubstitutionChemistry.
MINOR_SHARE = 0.2

# Every element a Li conductor in the data could contain: H (Z=1) to Pu (Z=94).
ELEMENTS: tuple[str, ...] = (
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar", "K",
    "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",
    "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb",
    "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr",
    "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu",
)

# ---------------------------------------------------------------------------------------------------------
# Structural families. T = non-Li cations, A = anions, X = halogens, Ch = S+Se+Te+O; a window (lo, hi)
# holds lo <= ratio <= hi. The first family whose rule matches wins, in `FAMILY_ORDER`.

FAMILIES: tuple[str, ...] = (
    "argyrodite", "LGPS", "thio-LISICON", "thiophosphate", "garnet", "NASICON", "perovskite",
    "LISICON", "anti-perovskite", "other",
)
FAMILY_ORDER: tuple[str, ...] = (
    "argyrodite", "LGPS", "thio-LISICON", "thiophosphate", "anti-perovskite", "garnet", "NASICON",
    "perovskite", "LISICON",
)
Window = tuple[float, float]

# Sulfide stoichiometries in the data are often nominal: "A/T ~ 4" allows this much either way.
STOICHIOMETRY_TOLERANCE = 0.3
# A sulfide (oxide) has at least this share of its anion atoms as S+Se+Te (O).
MAIN_ANION_SHARE = 0.5

# Argyrodite Li(7-x)PS(6-x)X(x), x in 0-2 (also oxide-halides such as Li6PO5Cl).
ARGYRODITE_CATIONS: tuple[str, ...] = ("P", "Si", "Ge", "Sn", "Sb", "As", "Al", "Ga")
ARGYRODITE_A_PER_T: Window = (6.0 - 0.5, 6.0 + 0.5)
ARGYRODITE_MAX_X_PER_T = 2.2
ARGYRODITE_LI_PER_T: Window = (4.5, 8.0)

# LGPS Li10GeP2S12, Li11-xM2-xP1+xS12: M and Q both present.
LGPS_M: tuple[str, ...] = ("Ge", "Sn", "Si")
LGPS_Q: tuple[str, ...] = ("P", "Sb", "As")
LGPS_M_PER_Q: Window = (0.45, 2.1)
LGPS_A_PER_T: Window = (4.0 - STOICHIOMETRY_TOLERANCE, 4.0 + STOICHIOMETRY_TOLERANCE)
LGPS_LI_PER_T: Window = (2.9, 3.75)

# thio-LISICON Li4-xGe1-xPxS4, Li4SnS4: needs one of the key cations.
THIO_LISICON_CATIONS: tuple[str, ...] = ("Ge", "Sn", "Si", "As", "Sb", "P", "Al", "Ga")
THIO_LISICON_KEY: tuple[str, ...] = ("Ge", "Sn", "Si", "As", "Sb")
THIO_LISICON_A_PER_T: Window = (4.0 - STOICHIOMETRY_TOLERANCE, 4.0 + STOICHIOMETRY_TOLERANCE)

# Thiophosphate (Li2S-P2S5: Li7P3S11, Li3PS4, Li4P2S6): T = P only, S the main anion; halides allowed.
# A glass needs only the element pattern, not the Ch/P window.
THIOPHOSPHATE_CATIONS: tuple[str, ...] = ("P",)
THIOPHOSPHATE_CH_PER_P: Window = (3.0, 4.6)

# Anti-perovskite Li3OCl, Li2OHCl.
ANTI_PEROVSKITE_X_PER_CH: Window = (0.7, 1.5)
ANTI_PEROVSKITE_LI_PER_CH: Window = (1.8, 3.2)
ANTI_PEROVSKITE_MAX_T_PER_CH = 0.2

# Garnet Li7La3Zr2O12: O12 per (rare earth + alkaline earth)3.
GARNET_RARE_EARTHS: tuple[str, ...] = ("La", "Nd", "Pr", "Ce", "Sm", "Y")
GARNET_ALKALINE_EARTHS: tuple[str, ...] = ("Ca", "Sr", "Ba")
GARNET_B: tuple[str, ...] = ("Zr", "Ta", "Nb", "Te", "Hf", "Sn", "Sb", "W", "Bi", "Mo")
GARNET_O_PER_A: Window = (3.6, 4.4)

# NASICON M2(XO4)3, M = the other non-Li cations.
NASICON_X: tuple[str, ...] = ("P", "Si", "As")
NASICON_O_PER_X: Window = (3.8, 4.2)
NASICON_X_PER_M: Window = (1.2, 1.8)

# Perovskite ABO3 (Li0.33La0.56TiO3): A = garnet rare earths + alkaline earths + these.
PEROVSKITE_B: tuple[str, ...] = (
    "Ti", "Nb", "Ta", "Zr", "Hf", "Sn", "W", "Al", "Mg", "Ga", "Sc", "Fe", "Co", "Cr", "Mn",
)
PEROVSKITE_ALKALI: tuple[str, ...] = ("Na", "K")
PEROVSKITE_O_PER_B: Window = (2.8, 3.2)
PEROVSKITE_A_LI_PER_B: Window = (0.5, 1.15)

# LISICON Li14Zn(GeO4)4, Li3.5Si0.5P0.5O4: T only from X and these.
LISICON_X: tuple[str, ...] = ("Si", "Ge", "P", "V", "As", "Al", "Ga", "Zn")
LISICON_OTHER_CATIONS: tuple[str, ...] = ("Mg", "Ti")
LISICON_O_PER_X: Window = (3.2, 4.4)
LISICON_LI_PER_X: Window = (2.5, 4.5)

# ---------------------------------------------------------------------------------------------------------
# Feature labels, in column order; presets and the vectorized featurizer both read them from here.

LITHIUM_LABELS: tuple[str, ...] = (
    "li_atom_fraction", "li_per_anion", "li_per_framework_cation", "li_anion_charge_fraction",
)
ANION_LABELS: tuple[str, ...] = (
    *(f"anion_frac_{el}" for el in ANIONS),
    "halogen_fraction",
    "chalcogenide_fraction",
    *(f"halogen_share_{el}" for el in HALOGENS),
    "halogen_mixing_entropy",
    "anion_atom_fraction",
    "n_anion_species",
    "mixed_anion",
    "mixed_halogen",
)
FRAMEWORK_LABELS: tuple[str, ...] = (
    *(f"framework_share_{el}" for el in FRAMEWORK_CATIONS),
    "framework_share_other",
    "n_framework_cation_species",
    "framework_cation_atom_fraction",
)
FLAG_LABELS: tuple[str, ...] = (
    "is_glass", "is_glass_ceramic", "is_amorphous", "is_composite", "is_doped", "is_hydrate",
)
FAMILY_LABELS: tuple[str, ...] = tuple(f"family_{f}" for f in FAMILIES)
STATE_LABELS: tuple[str, ...] = tuple(f"state_{s.replace('-', '_')}" for s in STATES)
# The columns a state-aware preset takes from the state alone: the state one-hot and the glass flags.
STATE_DERIVED_LABELS: tuple[str, ...] = (*STATE_LABELS, "is_glass", "is_glass_ceramic", "is_amorphous")
# The preset columns of LithiumContent, AnionFramework, FrameworkCations, SynthesisNotation and
# ElectrolyteFamily, one after the other.
ELECTROLYTE_LABELS: tuple[str, ...] = (
    *LITHIUM_LABELS, *ANION_LABELS, *FRAMEWORK_LABELS, *FLAG_LABELS, *FAMILY_LABELS,
)
ELEMENT_FRACTION_PREFIX = "elem_frac_"
FRACTION_LABELS: tuple[str, ...] = tuple(f"{ELEMENT_FRACTION_PREFIX}{el}" for el in ELEMENTS)
SUBSTITUTION_LABELS: tuple[str, ...] = (
    "anion_per_framework_cation", "chalcogen_per_framework_cation", "halogen_per_framework_cation",
    "halogen_excess", "framework_valence_mean", "framework_valence_from_balance",
    "li_excess_per_anion", "dopant_fraction", "n_dopant_species", "dopant_valence_offset",
    "dopant_radius_mismatch", "framework_radius_mean", "framework_radius_spread",
)
# An element embedding pooled over a composition: its fraction-weighted mean and spread, dimension by dimension.
EMBEDDING_STATS: tuple[str, ...] = ("mean", "std")


def embedding_labels(name: str) -> tuple[str, ...]:
    """Column names of `ElementEmbedding(name)`: megnet16_mean_0 ... megnet16_std_15."""
    return tuple(f"{name}_{stat}_{j}" for stat in EMBEDDING_STATS for j in range(EMBEDDINGS[name]))


# ---------------------------------------------------------------------------------------------------------
# Text inputs: notation, tags and the data's family label

# What a missing optional text cell means (see the input contract in README.md).
TEXT_DEFAULTS: dict[str, Any] = {"notation": "plain", "tags": "", "family": None}


def clean_text(value: Any, default: Any) -> Any:
    """An optional text cell as the featurizers read it: missing (None, NaN, pd.NA, NaT) is `default`,
    anything else that is not text becomes `str(value)`."""
    # pd.NA and NaT by type name: this module does not import pandas.
    if value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ in (
            "NAType", "NaTType"):
        return default
    return value if isinstance(value, str) else str(value)


def _notation(notation: Any) -> str:
    return notation.strip().lower() if isinstance(notation, str) and notation.strip() else "plain"


DOPED_TAGS = frozenset({"doped", "dopant", "host+dopant"})


def synthesis_flags(notation: Any = "plain", tags: Any = "", family: Any = None) -> dict[str, bool]:
    """The `FLAG_LABELS` flags of one row, in that order.

    glass: notation "glass", tag "glass" or family "Glass", unless glass-ceramic; glass-ceramic: tag
    "glass-ceramic" or family "Glass-Ceramic"; amorphous: glass or tag "amorphous"; composite: notation or
    tag "composite"; doped: notation "host+dopant" or tag "doped"/"dopant"; hydrate: notation or tag
    "hydrate".
    """
    note = _notation(notation)
    keys = tag_keys(tags)
    fam = _norm_label(family)
    glass_ceramic = bool(keys & GLASS_CERAMIC_TAGS) or fam in GLASS_CERAMIC_LABELS
    # The parser writes mixtures (70Li2S-30P2S5) as notation "glass"; a glass-ceramic tag means crystallised.
    glass = (note == "glass" or "glass" in keys or fam in GLASS_LABELS) and not glass_ceramic
    values = (
        glass,
        glass_ceramic,
        glass or "amorphous" in keys,
        note == "composite" or "composite" in keys,
        note == "host+dopant" or bool(keys & DOPED_TAGS),
        note == "hydrate" or "hydrate" in keys,
    )
    return dict(zip(FLAG_LABELS, values, strict=True))


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


def family_from_label(label: Any) -> str | None:
    """Our family for a data label, or None when the label does not name a structure family.

    Known structure families map onto `FAMILIES`; chemistry classes ("oxides", "Sulphides", "Other"),
    "Glass" and "Glass-Ceramic" give None (decide by composition); any other structure name ("Olivine",
    "Zircon", "pyrochlore") gives "other".
    """
    key = _norm_label(label)
    if key in _LABELS:
        return _LABELS[key]
    if key in GENERIC_LABELS:
        return None
    return "other"


def notation_for_state(notation: Any, tags: Any, family: Any, state: str) -> tuple[Any, Any, Any]:
    """The notation, tags and family label a state-aware preset featurizes: every glass or glass-ceramic mark
    replaced by the row's state, so that the state alone sets the glass flags and the glass family rules.

    70Li2S-30P2S5 (a glass notation, state glass) and Li7P3S11 with state glass then give the same features,
    and 70Li2S-30P2S5 given as glass-ceramic is featurized as the glass-ceramic it is.
    """
    note = _notation(notation)
    if note == "glass":  # a mixture notation says how it was written, the state what it is
        note = "plain"
    kept = [t for t in (tags.split(";") if isinstance(tags, str) else [])
            if t.strip() and t.split(":", 1)[0].strip().lower() not in GLASS_CERAMIC_TAGS | GLASS_TAGS]
    if state in (GLASS, GLASS_CERAMIC):
        kept.append(state)
    label = None if _norm_label(family) in GLASS_LABELS | GLASS_CERAMIC_LABELS else family
    return note, ";".join(kept), label
