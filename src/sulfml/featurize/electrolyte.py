"""Our solid-electrolyte descriptors as matminer featurizers over a pymatgen Composition: Li content, anion
framework, framework cations, synthesis flags and structural family (rules documented in README.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matminer.featurizers.base import BaseFeaturizer
from pymatgen.core import Composition

from sulfml.featurize.rules import (  # noqa: F401  (re-exported: tests and callers import them from here)
    _TOL,
    ANION_CHARGE,
    ANIONS,
    CHALCOGENS,
    ELEMENT_FRACTION_PREFIX,
    ELEMENTS,
    FAMILIES,
    FRAMEWORK_CATIONS,
    HALOGENS,
    LISICON_X,
    MINOR_SHARE,
    PEROVSKITE_B,
    SUBSTITUTION_LABELS,
    family_from_label,
    synthesis_flags,
)


def as_composition(comp: Composition | Mapping[str, float] | str) -> Composition:
    """A pymatgen Composition from a Composition, an element->amount dict or a formula string."""
    if isinstance(comp, Composition):
        return comp
    if isinstance(comp, Mapping):
        return Composition({el: float(x) for el, x in comp.items() if float(x) > 0})
    return Composition(comp)


def amounts(comp: Composition | Mapping[str, float] | str) -> dict[str, float]:
    """Element symbol -> amount, oxidation states and isotopes folded into their element."""
    out: dict[str, float] = {}
    for el, x in as_composition(comp).element_composition.items():
        sym = el.symbol if el.symbol != "D" else "H"
        out[sym] = out.get(sym, 0.0) + float(x)
    return out


def anion_amounts(amt: Mapping[str, float]) -> dict[str, float]:
    """Amounts of the elements counted as anions.

    O, S, Se, N, F, Cl, Br and I always; Te only without O (in oxides it is a Te6+ cation, as in Te-doped
    garnets); H only without O (hydride, BH4-, NH2-; with O it sits in OH-/H2O and counts as neither
    anion nor framework cation).
    """
    has_o = amt.get("O", 0.0) > 0
    out = {}
    for el in ANIONS:
        x = amt.get(el, 0.0)
        if x <= 0 or (has_o and el in ("Te", "H")):
            continue
        out[el] = x
    return out


def framework_amounts(amt: Mapping[str, float]) -> dict[str, float]:
    """Amounts of the non-Li cations (everything that is neither Li, an anion nor hydroxide H)."""
    anions = anion_amounts(amt)
    has_o = amt.get("O", 0.0) > 0
    return {
        el: x for el, x in amt.items()
        if x > 0 and el != "Li" and el not in anions and not (el == "H" and has_o)
    }


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def _entropy(shares: Sequence[float]) -> float:
    return max(0.0, -sum(s * math.log(s) for s in shares if s > 0))


class SulfmlFeaturizer(BaseFeaturizer):
    """A matminer featurizer of this package; `inputs` names the frame columns `featurize` takes."""

    inputs: tuple[str, ...] = ("composition",)

    def citations(self) -> list[str]:
        """No publication: these descriptors are defined in this package."""
        return []

    def implementors(self) -> list[str]:
        """The sulfml authors."""
        return ["sulfml"]


class LithiumContent(SulfmlFeaturizer):
    """How much Li a composition carries, normalised four scale-free ways.

    * ``li_atom_fraction``: Li atoms / all atoms;
    * ``li_per_anion``: Li / anion atoms (NaN without anions);
    * ``li_per_framework_cation``: Li / non-Li cation atoms (NaN without them, e.g. Li3N, Li3OCl);
    * ``li_anion_charge_fraction``: Li / total nominal anion charge, the share of the anion charge that
      Li compensates (Li3PS4: 3 / (4 x 2) = 0.375; NaN without anions).
    """

    def featurize(self, comp: Composition | Mapping[str, float] | str) -> list[float]:
        """Li content of one composition."""
        amt = amounts(comp)
        li = amt.get("Li", 0.0)
        anions = anion_amounts(amt)
        charge = sum(ANION_CHARGE[el] * x for el, x in anions.items())
        return [
            _ratio(li, sum(amt.values())),
            _ratio(li, sum(anions.values())),
            _ratio(li, sum(framework_amounts(amt).values())),
            _ratio(li, charge),
        ]

    def feature_labels(self) -> list[str]:
        """Names of the four Li-content descriptors."""
        return ["li_atom_fraction", "li_per_anion", "li_per_framework_cation", "li_anion_charge_fraction"]


class AnionFramework(SulfmlFeaturizer):
    """Make-up of the anion sublattice.

    ``anion_frac_<El>`` is each anion's share of the anion atoms (O, S, Se, Te, N, F, Cl, Br, I, H);
    ``halogen_share_<El>`` each halogen's share of the halogen atoms (0 when there is no halogen);
    ``halogen_mixing_entropy`` the ideal mixing entropy of those shares (in units of k_B);
    ``mixed_anion`` is 1 with more than one anion element, ``mixed_halogen`` with more than one halogen.
    """

    def featurize(self, comp: Composition | Mapping[str, float] | str) -> list[float]:
        """Anion descriptors of one composition."""
        amt = amounts(comp)
        anions = anion_amounts(amt)
        n_anion = sum(anions.values())
        fracs = [_ratio(anions.get(el, 0.0), n_anion) if n_anion else 0.0 for el in ANIONS]
        n_hal = sum(anions.get(el, 0.0) for el in HALOGENS)
        hal_shares = [anions.get(el, 0.0) / n_hal if n_hal else 0.0 for el in HALOGENS]
        n_chal = sum(anions.get(el, 0.0) for el in CHALCOGENS)
        return [
            *fracs,
            n_hal / n_anion if n_anion else 0.0,
            n_chal / n_anion if n_anion else 0.0,
            *hal_shares,
            _entropy(hal_shares),
            _ratio(n_anion, sum(amt.values())),
            float(len(anions)),
            float(len(anions) > 1),
            float(sum(s > 0 for s in hal_shares) > 1),
        ]

    def feature_labels(self) -> list[str]:
        """Names of the anion descriptors."""
        return [
            *(f"anion_frac_{el}" for el in ANIONS),
            "halogen_fraction",
            "chalcogenide_fraction",
            *(f"halogen_share_{el}" for el in HALOGENS),
            "halogen_mixing_entropy",
            "anion_atom_fraction",
            "n_anion_species",
            "mixed_anion",
            "mixed_halogen",
        ]


class FrameworkCations(SulfmlFeaturizer):
    """Which non-Li cations build the framework.

    ``framework_share_<El>`` is each listed element's share of the non-Li cation atoms,
    ``framework_share_other`` the rest; all 0 when there are no non-Li cations.
    """

    def featurize(self, comp: Composition | Mapping[str, float] | str) -> list[float]:
        """Framework-cation descriptors of one composition."""
        amt = amounts(comp)
        fw = framework_amounts(amt)
        total = sum(fw.values())
        shares = [fw.get(el, 0.0) / total if total else 0.0 for el in FRAMEWORK_CATIONS]
        other = 1.0 - sum(shares) if total else 0.0
        return [
            *shares,
            max(other, 0.0),
            float(len(fw)),
            _ratio(total, sum(amt.values())),
        ]

    def feature_labels(self) -> list[str]:
        """Names of the framework-cation descriptors."""
        return [
            *(f"framework_share_{el}" for el in FRAMEWORK_CATIONS),
            "framework_share_other",
            "n_framework_cation_species",
            "framework_cation_atom_fraction",
        ]


class SynthesisNotation(SulfmlFeaturizer):
    """0/1 flags read from the parser's notation, the tags and the data's family label.

    glass: notation "glass", tag "glass" or family "Glass", unless glass-ceramic; glass-ceramic: tag
    "glass-ceramic" or family "Glass-Ceramic"; amorphous: glass or tag "amorphous"; composite: notation or tag "composite";
    doped: notation "host+dopant" or tag "doped"/"dopant"; hydrate: notation or tag "hydrate".
    """

    inputs = ("composition", "notation", "tags", "family")

    def featurize(self, comp: Any, notation: Any = "plain", tags: Any = "", family: Any = None) -> list[float]:
        """Flags of one row (the composition is not used)."""
        return [float(v) for v in synthesis_flags(notation, tags, family).values()]

    def feature_labels(self) -> list[str]:
        """Names of the flags."""
        return list(synthesis_flags())


def _near(x: float, target: float, tol: float = _TOL) -> bool:
    return abs(x - target) <= tol


def _within(x: float, lo: float, hi: float) -> bool:
    return lo <= x <= hi


def family_from_composition(comp: Composition | Mapping[str, float] | str, glass: bool = False) -> str:
    """Structural family guessed from the composition alone.

    T = non-Li cations (those under MINOR_SHARE of T are dopants and ignored in "only these cations"
    checks), A = anions, X = halogens, Ch = S+Se+Te+O; first match wins:

    * argyrodite: sulfide (S+Se+Te >= half of A), or oxide-halide; T from P/Si/Ge/Sn/Sb/As/Al/Ga,
      A/T in 5.5-6.5, X/T <= 2.2, Li/T in 4.5-8 (Li(7-x)PS(6-x)X(x), x in 0-2; Li6PO5Cl).
    * LGPS: sulfide, M = Ge+Sn+Si and Q = P+Sb+As both present, M/Q in 0.45-2.1, A/T in 3.7-4.3,
      Li/T in 2.9-3.75 (Li10GeP2S12, Li11-xM2-xP1+xS12).
    * thio-LISICON: sulfide, T from Ge/Sn/Si/As/Sb/P/Al/Ga with one of Ge/Sn/Si/As/Sb, A/T in 3.7-4.3
      (Li4-xGe1-xPxS4, Li4SnS4).
    * thiophosphate (Li2S-P2S5): T = P only, S >= half of A, Ch/P in 3.0-4.6 (Li7P3S11, Li3PS4,
      Li4P2S6); halides allowed as dopants.
    * anti-perovskite: X/Ch in 0.7-1.5, Li/Ch in 1.8-3.2, T <= 0.2 Ch (Li3OCl, Li2OHCl).
    * garnet: oxide with a rare earth (La/Nd/Pr/Ce/Sm/Y), a B cation (Zr/Ta/Nb/Te/Hf/Sn/Sb/W/Bi/Mo) and
      O/(rare earth + Ca/Sr/Ba) in 3.6-4.4, i.e. O12 per La3 (Li7La3Zr2O12).
    * NASICON: oxide, X = P+Si+As with O/X in 3.8-4.2 and X/(other cations) in 1.2-1.8: M2(XO4)3.
    * perovskite: oxide, B = PEROVSKITE_B, O/B in 2.8-3.2, A = La/Nd/Pr/Ce/Sm/Y/Ca/Sr/Ba/Na/K present,
      (A+Li)/B in 0.5-1.15: ABO3 (Li0.33La0.56TiO3).
    * LISICON: oxide, X = LISICON_X, T only from X + Mg/Ti, O/X in 3.2-4.4, Li/X in 2.5-4.5
      (Li14Zn(GeO4)4, Li3.5Si0.5P0.5O4).
    * other.

    Args:
        comp: the composition.
        glass: the row is a glass: only the thiophosphate pattern (without its S/P window) applies.

    Returns:
        One of `FAMILIES`.
    """
    amt = amounts(comp)
    li = amt.get("Li", 0.0)
    if li <= 0:
        return "other"
    anions = anion_amounts(amt)
    fw = framework_amounts(amt)
    n_a = sum(anions.values())
    t = sum(fw.values())
    get = amt.get
    hal = sum(anions.get(el, 0.0) for el in HALOGENS)
    chal_s = anions.get("S", 0.0) + anions.get("Se", 0.0) + anions.get("Te", 0.0)
    o = anions.get("O", 0.0)
    ch = chal_s + o
    sulfide = n_a > 0 and chal_s >= 0.5 * n_a
    oxide = n_a > 0 and o >= 0.5 * n_a
    # e.g. Ba in Li9.6Ba0.2GeP2S12 is still LGPS.
    cations = {el for el, x in fw.items() if x >= MINOR_SHARE * t}

    thiophosphate = (
        sulfide and cations == {"P"} and anions.get("S", 0.0) >= 0.5 * n_a
        and (glass or _within(ch / fw["P"], 3.0, 4.6))
    )
    if glass:
        return "thiophosphate" if thiophosphate else "other"

    a_t, li_t = _ratio(n_a, t), _ratio(li, t)
    if t > 0 and (sulfide or (ch >= 0.5 * n_a and hal > 0)):
        if (cations <= {"P", "Si", "Ge", "Sn", "Sb", "As", "Al", "Ga"} and _near(a_t, 6.0, 0.5)
                and hal / t <= 2.2 and _within(li_t, 4.5, 8.0)):
            return "argyrodite"
    if sulfide and t > 0:
        m = get("Ge", 0.0) + get("Sn", 0.0) + get("Si", 0.0)
        q = get("P", 0.0) + get("Sb", 0.0) + get("As", 0.0)
        if (m > 0 and q > 0 and cations <= {"Ge", "Sn", "Si", "P", "Sb", "As"}
                and _within(m / q, 0.45, 2.1) and _near(a_t, 4.0) and _within(li_t, 2.9, 3.75)):
            return "LGPS"
        if (cations <= {"Ge", "Sn", "Si", "As", "Sb", "P", "Al", "Ga"}
                and cations & {"Ge", "Sn", "Si", "As", "Sb"} and _near(a_t, 4.0)):
            return "thio-LISICON"
    if thiophosphate:
        return "thiophosphate"

    if ch > 0 and hal > 0 and _within(hal / ch, 0.7, 1.5) and _within(li / ch, 1.8, 3.2) and t <= 0.2 * ch:
        return "anti-perovskite"

    if oxide:
        rare_earth = sum(get(el, 0.0) for el in ("La", "Nd", "Pr", "Ce", "Sm", "Y"))
        a_site = rare_earth + sum(get(el, 0.0) for el in ("Ca", "Sr", "Ba"))
        garnet_b = sum(get(el, 0.0) for el in ("Zr", "Ta", "Nb", "Te", "Hf", "Sn", "Sb", "W", "Bi", "Mo"))
        if rare_earth > 0 and garnet_b > 0 and _within(o / a_site, 3.6, 4.4):
            return "garnet"
        x = get("P", 0.0) + get("Si", 0.0) + get("As", 0.0)
        m = t - x
        if x > 0 and m > 0 and _within(o / x, 3.8, 4.2) and _within(x / m, 1.2, 1.8):
            return "NASICON"
        b = sum(get(el, 0.0) for el in PEROVSKITE_B)
        a_site += get("Na", 0.0) + get("K", 0.0)
        if (b > 0 and a_site > 0 and _within(o / b, 2.8, 3.2)
                and _within((a_site + li) / b, 0.5, 1.15)):
            return "perovskite"
        x = sum(get(el, 0.0) for el in LISICON_X)
        if (x > 0 and cations <= set(LISICON_X) | {"Mg", "Ti"}
                and _within(o / x, 3.2, 4.4) and _within(li / x, 2.5, 4.5)):
            return "LISICON"
    return "other"


def classify_family(comp: Composition | Mapping[str, float] | str, notation: Any = "plain", tags: Any = "",
                    family: Any = None) -> str:
    """One row's family: the data label when it names a structure family, else the composition pattern."""
    from_label = family_from_label(family)
    if from_label is not None:
        return from_label
    return family_from_composition(comp, glass=synthesis_flags(notation, tags, family)["is_glass"])


class ElectrolyteFamily(SulfmlFeaturizer):
    """One-hot structural family (``family_<name>`` for each of `FAMILIES`), see `classify_family`."""

    inputs = ("composition", "notation", "tags", "family")

    def featurize(self, comp: Any, notation: Any = "plain", tags: Any = "", family: Any = None) -> list[float]:
        """One-hot family of one row."""
        fam = classify_family(comp, notation, tags, family)
        return [float(fam == f) for f in FAMILIES]

    def feature_labels(self) -> list[str]:
        """Names of the one-hot columns."""
        return [f"family_{f}" for f in FAMILIES]




class ElementFractions(SulfmlFeaturizer):
    """The fractional composition as a fixed vector: ``elem_frac_<El>`` is the atom fraction of each of
    `ELEMENTS` (H to Pu; deuterium counts as H), so the row sums to 1 for any composition of those elements.

    Besides being features, these columns are the space of the out-of-fold nearest-neighbour target features
    (`sulfml.model.knn`).
    """

    def featurize(self, comp: Composition | Mapping[str, float] | str) -> list[float]:
        """Atom fractions of one composition."""
        amt = amounts(comp)
        total = sum(amt.values())
        return [amt.get(el, 0.0) / total if total > 0 else 0.0 for el in ELEMENTS]

    def feature_labels(self) -> list[str]:
        """``elem_frac_H`` ... ``elem_frac_Pu``."""
        return [f"{ELEMENT_FRACTION_PREFIX}{el}" for el in ELEMENTS]


def nominal_valence(element: str) -> float:
    """A framework cation's nominal valence: its highest positive common oxidation state (P 5, Ge 4, La 3).

    NaN when pymatgen lists no positive common state.
    """
    from pymatgen.core import Element

    states = [s for s in Element(element).common_oxidation_states if s > 0]
    return float(max(states)) if states else math.nan


def cation_radius(element: str) -> float:
    """Shannon ionic radius (Å) of the element at `nominal_valence`, else its average cationic radius."""
    from pymatgen.core import Element

    el = Element(element)
    v = nominal_valence(element)
    radii = el.ionic_radii
    if math.isfinite(v) and int(v) in radii:
        return float(radii[int(v)])
    r = float(el.average_cationic_radius)
    return r if r > 0 else math.nan


def _mean(weights: Mapping[str, float], values: Mapping[str, float]) -> float:
    pairs = [(w, values[el]) for el, w in weights.items() if math.isfinite(values[el])]
    total = sum(w for w, _ in pairs)
    return sum(w * v for w, v in pairs) / total if total > 0 else math.nan


class SubstitutionChemistry(SulfmlFeaturizer):
    """Polyanion, charge-balance and substitution descriptors.

    T = framework (non-Li) cations, A = anions, X = halogens; host cations are those with at least
    `MINOR_SHARE` of T, dopants the rest. Valences are `nominal_valence`, radii `cation_radius`.

    * ``anion_per_framework_cation`` (A/T: 4 for PS4/GeS4/SiO4 units, 3.5 for P2S7, 3 for P2S6,
      6 for argyrodites), ``chalcogen_per_framework_cation``, ``halogen_per_framework_cation``;
    * ``halogen_excess``: halogens per framework cation beyond 1 (argyrodite Li(7-x)PS(6-x)X(x), x > 1);
    * ``framework_valence_mean`` (T-weighted nominal valence), ``framework_valence_from_balance``
      ((anion charge - Li) / T, what charge neutrality asks of the framework);
    * ``li_excess_per_anion``: (Li - (anion charge - nominal framework charge)) / A, > 0 for Li beyond
      what the nominal valences balance, < 0 for Li vacancies;
    * ``dopant_fraction`` (dopant share of T), ``n_dopant_species``, ``dopant_valence_offset``
      (dopant minus host mean valence, 0 without dopants: aliovalent substitution),
      ``dopant_radius_mismatch`` (dopant minus host mean radius, Å, 0 without dopants),
      ``framework_radius_mean``, ``framework_radius_spread`` (max - min over T, Å).
    """

    def featurize(self, comp: Composition | Mapping[str, float] | str) -> list[float]:
        """Substitution descriptors of one composition."""
        amt = amounts(comp)
        li = amt.get("Li", 0.0)
        anions = anion_amounts(amt)
        fw = framework_amounts(amt)
        n_a = sum(anions.values())
        t = sum(fw.values())
        charge = sum(ANION_CHARGE[el] * x for el, x in anions.items())
        hal = sum(anions.get(el, 0.0) for el in HALOGENS)
        chal = sum(anions.get(el, 0.0) for el in (*CHALCOGENS, "O"))
        valence = {el: nominal_valence(el) for el in fw}
        radius = {el: cation_radius(el) for el in fw}
        host = {el: x for el, x in fw.items() if x >= MINOR_SHARE * t}
        dopant = {el: x for el, x in fw.items() if x < MINOR_SHARE * t}
        fw_charge = sum(x * valence[el] for el, x in fw.items() if math.isfinite(valence[el]))
        if dopant and host:
            v_off = _mean(dopant, valence) - _mean(host, valence)
            r_off = _mean(dopant, radius) - _mean(host, radius)
        else:
            v_off = r_off = 0.0
        radii = [r for r in radius.values() if math.isfinite(r)]
        return [
            _ratio(n_a, t),
            _ratio(chal, t),
            _ratio(hal, t),
            max(_ratio(hal, t) - 1.0, 0.0) if t > 0 else math.nan,
            _mean(fw, valence),
            _ratio(charge - li, t),
            _ratio(li - (charge - fw_charge), n_a),
            _ratio(sum(dopant.values()), t) if t > 0 else 0.0,
            float(len(dopant)),
            v_off,
            r_off,
            _mean(fw, radius),
            (max(radii) - min(radii)) if radii else math.nan,
        ]

    def feature_labels(self) -> list[str]:
        """Names of the substitution descriptors."""
        return list(SUBSTITUTION_LABELS)
