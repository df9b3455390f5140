"""Oxidation states for substitutions: one state per element of a parent composition, the state a dopant
takes on a host site, and the charge balance of a substitution through the Li content.

The parent's states come from pymatgen's oxidation-state guesses with Li pinned at +1 and the anions of
`chem.elements.ANION_CHARGE` at minus their nominal charge (halides -1, chalcogens -2), as in Li thio- and
oxo-electrolytes; N and H are left free (nitrates and hydroxides hold them as cations). A dopant takes its
common oxidation state of the host's sign closest to the host's, and the charge difference is balanced
through Li in both directions: a lower-valent dopant adds Li (Al3+ for P5+: +2 Li per Al), a higher-valent
one removes Li.

pymatgen is imported lazily, by the guesses only.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

from sulfml.chem.elements import ANION_CHARGE, element_tables
from sulfml.errors import InputError

LITHIUM = "Li"
# Anions of `ANION_CHARGE` that common salts also hold as cations (N5+ in nitrates, H+ in hydroxides): not pinned.
FREE_ANIONS = frozenset({"N", "H"})
PINNED: dict[str, int] = {LITHIUM: 1} | {el: -q for el, q in ANION_CHARGE.items() if el not in FREE_ANIONS}
# The chalcogens an oxide may hold as the centre of an oxo-anion (sulfate, selenate, tellurate): let free there.
OXO_CENTRES = frozenset({"S", "Se", "Te"})
RESIDUAL_TOLERANCE = 0.1  # a nominal parent off neutrality by at most this share of its cation charge is accepted
MAX_GUESS_SITES = 12  # pymatgen enumerates states site by site: beyond this many, the single-valence search

Substitution = tuple[str, str, float]  # (site, dopant, fraction of the site)


class OxidationStateError(InputError):
    """An element without oxidation states, or a composition that cannot be charge-balanced."""


@functools.cache
def common_oxidation_states(symbol: str) -> tuple[int, ...]:
    """pymatgen's common oxidation states of an element (from the shipped element tables).

    Raises:
        OxidationStateError: not an element symbol.
    """
    tables = element_tables()
    i = tables.index.get(symbol)
    if i is None:
        raise OxidationStateError(f"unknown element {symbol!r}")
    return tuple(int(x) for x in tables.oxidation_states[i][: tables.n_oxidation_states[i]])


def parent_states(composition: dict[str, float]) -> dict[str, int]:
    """One oxidation state per element of the parent, with the `PINNED` ones fixed.

    The other elements take the most likely single-valence guess of pymatgen (`oxi_state_guesses`: its
    ICSD state lists, ranked by its ICSD occurrence scores). If no assignment is exactly neutral (nominal
    formulas such as Li9.6P3S12), each other element takes its most frequent state in pymatgen's ICSD
    occurrences, provided the parent is then off neutrality by at most `RESIDUAL_TOLERANCE` of its cation
    charge; the candidates keep that offset (`residual_charge`). When an oxide with S, Se or Te cannot be
    balanced with those at -2 (a sulfate), they are let free.

    Raises:
        OxidationStateError: no such assignment exists.
    """
    pin_sets = [{el: q for el, q in PINNED.items() if el in composition}]
    if "O" in composition and OXO_CENTRES & set(composition):
        pin_sets.append({el: q for el, q in pin_sets[0].items() if el not in OXO_CENTRES})
    for pins in pin_sets:
        found = _pymatgen_guess(composition, pins) or _single_valence_guess(composition, pins)
        if found:
            return found
    found = _most_frequent_states(composition, pin_sets[0])
    if found:
        return found
    raise OxidationStateError("the parent cannot be charge-balanced with Li +1, halides -1, chalcogens -2 and "
                              "pymatgen's oxidation states of the other elements")


def residual_charge(composition: dict[str, float], states: dict[str, int]) -> float:
    """The net charge of a composition with these states (0 for a neutral one)."""
    return sum(q * composition[s] for s, q in states.items())


def dopant_state(dopant: str, host_state: int) -> int | None:
    """The state a dopant takes on a site of this state: its common state of the host's sign closest to the
    host's (the higher one on a tie), or None when it has none of that sign (or is Li, the balancing ion).

    Raises:
        OxidationStateError: not an element symbol.
    """
    states = [q for q in common_oxidation_states(dopant) if q * host_state > 0]
    if dopant == LITHIUM or not states:
        return None
    return min(states, key=lambda s: (abs(s - host_state), -s))


def balance_through_li(composition: dict[str, float], states: dict[str, int],
                       subs: Sequence[Substitution]) -> tuple[dict[str, float], dict[str, float]] | None:
    """A substitution of `composition`, its charge difference balanced through the Li content.

    Args:
        composition: the parent, element -> amount.
        states: the parent's oxidation states (`parent_states`).
        subs: (site, dopant, fraction of the site) each; the fractions are of the parent's site.

    Returns:
        (the parent's elements with the sites reduced and Li adjusted, in the parent's order; the dopants'
        amounts), or None when it cannot be balanced: a dopant without a state of the host's sign, a parent
        without Li, or less than no Li left.
    """
    comp = dict(composition)
    extra: dict[str, float] = {}
    charge = 0.0
    for site, dopant, x in subs:
        host_q = states[site]
        q = dopant_state(dopant, host_q)
        if q is None:
            return None
        moved = composition[site] * x
        comp[site] -= moved
        extra[dopant] = extra.get(dopant, 0.0) + moved
        charge += moved * (q - host_q)
    li = comp.get(LITHIUM, 0.0) - charge
    if li < -1e-9 or LITHIUM not in comp:
        return None
    comp[LITHIUM] = li
    return comp, extra


def _candidate_states(symbol: str) -> tuple[int, ...]:
    """The states pymatgen's guesses try for an element (its ICSD list, else its common states)."""
    from pymatgen.core import Element

    try:
        element = Element(symbol)
    except ValueError as exc:
        raise OxidationStateError(f"unknown element {symbol!r}") from exc
    return tuple(element.icsd_oxidation_states or element.common_oxidation_states)


def _integer_scale(composition: dict[str, float], limit: int = 24) -> int | None:
    """The smallest k <= limit with every amount times k a whole number, or None."""
    for k in range(1, limit + 1):
        if all(abs(a * k - round(a * k)) < 1e-6 for a in composition.values()):
            return k
    return None


def _pymatgen_guess(composition: dict[str, float], pins: dict[str, int]) -> dict[str, int] | None:
    """pymatgen's best guess with `pins` in which every element has one integer state, or None.

    Only for parents that scale to a whole-number formula with few sites of unpinned elements (pymatgen
    enumerates the states site by site); the others go through `_single_valence_guess`.
    """
    from pymatgen.core import Composition as PmgComposition

    k = _integer_scale(composition)
    if k is None:
        return None
    whole = {el: round(a * k) for el, a in composition.items()}
    divisor = math.gcd(*whole.values())
    whole = {el: n // divisor for el, n in whole.items()}
    if sum(n for el, n in whole.items() if el not in pins) > MAX_GUESS_SITES:
        return None
    guesses = PmgComposition(whole).oxi_state_guesses(oxi_states_override={el: [q] for el, q in pins.items()})
    for guess in guesses:
        if all(abs(v - round(v)) < 1e-9 for v in guess.values()):
            return {el: int(round(guess[el])) for el in composition}
    return None


def _occurrences() -> dict:
    """pymatgen's ICSD occurrence counts of oxidation states (what `oxi_state_guesses` ranks by)."""
    from pymatgen.core import Composition as PmgComposition

    if PmgComposition.oxi_prob is None:
        PmgComposition("Li2S").oxi_state_guesses()  # loads the table
    return PmgComposition.oxi_prob or {}


def _single_valence_guess(composition: dict[str, float], pins: dict[str, int]) -> dict[str, int] | None:
    """The exactly neutral single-valence assignment pymatgen's occurrence scores rank first, or None."""
    from pymatgen.core import Species

    prob = _occurrences()
    symbols = list(composition)
    options = [(pins[s],) if s in pins else _candidate_states(s) for s in symbols]
    best: tuple | None = None
    for combo in itertools.product(*options):
        charges = [q * composition[s] for q, s in zip(combo, symbols, strict=True)]
        cations = sum(c for c in charges if c > 0)
        if cations <= 0 or abs(sum(charges)) > 1e-6 * cations:
            continue
        score = sum(composition[s] * prob.get(Species(s, q), 0) for q, s in zip(combo, symbols, strict=True)
                    if s not in pins)
        if best is None or score > best[0]:
            best = (score, dict(zip(symbols, combo, strict=True)))
    return best[1] if best else None


def _most_frequent_states(composition: dict[str, float], pins: dict[str, int]) -> dict[str, int] | None:
    """Each unpinned element at its most frequent ICSD state, if the parent is then nearly neutral."""
    from pymatgen.core import Species

    prob = _occurrences()
    states = {s: pins[s] if s in pins else max(_candidate_states(s), key=lambda q: prob.get(Species(s, q), 0))
              for s in composition}
    charges = [q * composition[s] for s, q in states.items()]
    cations = sum(c for c in charges if c > 0)
    if cations <= 0 or abs(sum(charges)) > RESIDUAL_TOLERANCE * cations:
        return None
    return states
