"""The composition value type and the one rule for "the same composition": atomic fractions equal to
`KEY_DECIMALS` decimals. It keys the data table's materials, screening's parent check and the CIF check."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

# The resolution of "the same composition", as the material keys have always used it: a glass written
# 70Li2S-30P2S5 and the crystal Li7P3S11 are one material.
KEY_DECIMALS = 3


@dataclass(frozen=True, eq=False)
class KeyedComposition:
    """Element amounts, immutable and hashable; equal (and equally hashed) when their `key`s are, i.e.
    when the atomic fractions agree to `KEY_DECIMALS` decimals, at any scale and in any element order.
    Named for that equality, so that it is never mistaken for pymatgen's `Composition` (equal within
    `amount_tolerance`, per amount, at the scale given).

    The one exception is the data table's rule as it stands: a fraction that lies exactly on a rounding tie
    (3/16 = 0.1875) rounds whichever way the float noise of the total puts it, and that noise depends on
    the scale and on the order the amounts are summed in (the order given). Summing exactly would move
    material keys of the current data (0.95(0.6Li2S-0.4SiS2)-0.05Li2SO4), so it is not done here.

    Attributes:
        amounts: (symbol, amount) pairs in the order given, every amount positive and finite.
    """

    amounts: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        kept = {}
        for el, amt in self.amounts:
            if el in kept:
                raise ValueError(f"{el} is given twice")
            if not (math.isfinite(amt) and amt >= 0):
                raise ValueError(f"the amount of {el} must be a finite number >= 0, got {amt!r}")
            if amt > 0:
                kept[el] = float(amt)
        if not kept:
            raise ValueError("a composition needs a positive total")
        object.__setattr__(self, "amounts", tuple(kept.items()))

    @classmethod
    def from_dict(cls, composition: Mapping[Any, float]) -> KeyedComposition:
        """From element symbol -> amount (in any scale; zero amounts are dropped, keys read with `str`).

        Raises:
            ValueError: a negative or non-finite amount, or no positive one.
        """
        return cls(tuple((str(el), amt) for el, amt in composition.items()))

    @cached_property
    def key(self) -> str:
        """The canonical string of the rule, e.g. 'Li:0.333,P:0.143,S:0.524' (see `composition_key`)."""
        return _key(self.amounts, KEY_DECIMALS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyedComposition):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


def composition_key(composition: Mapping[Any, float], decimals: int = KEY_DECIMALS) -> str:
    """Fractional composition (amounts / total), rounded to `decimals`, elements sorted alphabetically, as a
    canonical string such as 'Li:0.5,P:0.1,S:0.4'. Used to match materials across datasets.

    Args:
        composition: element symbol -> amount, in any scale.
        decimals: decimal places kept in each fraction; `KeyedComposition` equality is the default's.

    Returns:
        The canonical key.

    Raises:
        ValueError: if the total amount is not positive (or an amount is negative or not finite).
    """
    return _key(KeyedComposition.from_dict(composition).amounts, decimals)


def key_variants(composition: Mapping[Any, float], decimals: int = KEY_DECIMALS) -> list[str]:
    """Every key the rule can give this composition: a fraction on a rounding tie (3/16 = 0.1875) rounds
    whichever way the float noise of a sum puts it, so a material keyed from one spelling is found from
    another. The first is `composition_key`'s; most compositions have no other."""
    amounts = KeyedComposition.from_dict(composition).amounts
    total = math.fsum(amt for _, amt in amounts)
    scale = 10 ** decimals
    choices = []
    for el, amt in sorted(amounts):
        scaled = amt / total * scale
        low = math.floor(scaled)
        tied = abs(scaled - low - 0.5) < 1e-6
        choices.append([(el, v / scale) for v in ((low, low + 1) if tied else (round(scaled),))])
    first = _key(amounts, decimals)
    variants = [first]
    for combo in itertools.product(*choices):
        key = ",".join(f"{el}:{f'{v:.{decimals}f}'.rstrip('0').rstrip('.') or '0'}" for el, v in combo)
        if key not in variants:
            variants.append(key)
    return variants


def key_fractions(key: str) -> list[tuple[str, float]]:
    """The (symbol, rounded fraction) pairs of a composition key, or of a material key's composition part:
    'Li:0.333,P:0.143,S:0.524@glass' -> [('Li', 0.333), ('P', 0.143), ('S', 0.524)]."""
    composition = key.split("@")[0].split("+")[0]
    return [(symbol, float(fraction)) for symbol, _, fraction in (p.partition(":") for p in composition.split(","))]


def material_key(composition_key: str, additive: str | None, state: str, space_group: int | None = None) -> str:
    """A material's identity: its composition by the one rule, its additive (a composite's second phase), its
    state and, where known, its space group, e.g. 'Li:0.333,P:0.143,S:0.524@glass',
    'Li:0.375,P:0.125,S:0.5@crystalline#62' or 'Li:0.375,P:0.125,S:0.5+10 wt% SiO2@unknown'. It keys the data
    table's materials, the neighbours and the known-first lookup. Without the space group it names the
    composition in that state whatever its polymorph (`polymorph_of` splits it off)."""
    key = composition_key + (f"+{additive}" if additive else "") + f"@{state}"
    return key if space_group is None else f"{key}#{int(space_group)}"


def polymorph_of(material_key: str) -> tuple[str, int | None]:
    """(the key without its space group, the space group or None): 'Li:0.5,S:0.5@crystalline#62' ->
    ('Li:0.5,S:0.5@crystalline', 62)."""
    base, sep, sg = material_key.partition("#")
    return base, int(sg) if sep else None


def _key(amounts: tuple[tuple[str, float], ...], decimals: int) -> str:
    total = sum(amt for _, amt in amounts)  # in the order given, as the material keys were made
    parts = []
    for el, amt in sorted(amounts):
        frac = f"{amt / total:.{decimals}f}".rstrip("0").rstrip(".")
        parts.append(f"{el}:{frac or '0'}")
    return ",".join(parts)
