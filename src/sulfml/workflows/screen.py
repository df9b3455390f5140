"""Screening: enumerate dopant substitutions around a parent composition, charge-balanced through the Li
content, and rank them against the parent through the one predict path, in chunks (bounded memory).

Oxidation states of the parent come from pymatgen's oxidation-state guesses with Li pinned at +1, the
halides (F, Cl, Br, I) at -1 and the chalcogens (O, S, Se, Te) at -2, as in Li thio- and oxo-electrolytes;
one state per element. A dopant takes its common oxidation state of the host's sign closest to the host's,
and the charge difference is balanced through Li in both directions: a lower-valent dopant adds Li
(Al3+ for P5+: +2 Li per Al), a higher-valent one removes Li.

Ranking (`RANKS`): by default `p_gain`, the probability that the candidate's log10 σ exceeds the parent's
best estimate (its measured value when the parent is a known material; `p_gain` states the rule). At most
`per_dopant` candidates of one dopant combination (the same dopants on the same sites, at any fractions)
enter the top list, so it is not ten neighbouring fractions of one substitution.

`roughness` measures how much a dopant series zig-zags along the fraction (`benchmarks/screen_roughness.py`).
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import math
import re
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pandas as pd

from sulfml.chem.composition import KeyedComposition
from sulfml.chem.elements import element_tables
from sulfml.errors import ScreenError
from sulfml.parse.bulk import read_fast, read_many
from sulfml.parse.state import STATES, UNKNOWN
from sulfml.service.predictor import Predictor

RESULT_COLUMNS = ["role", "formula", "substitution", "basis", "log10_sigma", "sigma_S_cm", "log10_sigma_lo",
                  "log10_sigma_hi", "measured_log10_sigma", "measured_n_papers", "ea_eV", "p_gain", "in_domain",
                  "score", "warning"]
RANKS = {
    "p_gain": "probability that log10 σ exceeds the parent's best estimate (measured when known); the "
              "candidate's and the parent's calibrated intervals read as independent normals",
    "lcb": "lower end of the calibrated log10 σ interval",
    "ucb": "upper end of the calibrated log10 σ interval",
    "mean": "the predicted log10 σ",
}
PREDICTED = ("formula", "basis", "log10_sigma", "sigma_S_cm", "log10_sigma_lo", "log10_sigma_hi",
             "measured_log10_sigma", "measured_n_papers", "ea_eV", "in_domain",
             "warning")  # the pipeline's columns a result row keeps (with the known-first ones)
CANDIDATE_COLUMNS = ["formula", "parent", "substitution"]  # what write_candidates writes
CHUNK = 20000
PINNED = {"Li": 1, "F": -1, "Cl": -1, "Br": -1, "I": -1, "O": -2, "S": -2, "Se": -2, "Te": -2}
RESIDUAL_TOLERANCE = 0.1  # a nominal parent off neutrality by at most this share of its cation charge is accepted
MAX_GUESS_SITES = 12  # pymatgen enumerates states site by site: beyond this many, the single-valence search


@functools.cache
def common_oxidation_states(symbol: str) -> tuple[int, ...]:
    """pymatgen's common oxidation states of an element (from the shipped element tables)."""
    tables = element_tables()
    i = tables.index.get(symbol)
    if i is None:
        raise ScreenError(f"unknown element {symbol!r}")
    return tuple(int(x) for x in tables.oxidation_states[i][: tables.n_oxidation_states[i]])


def parent_states(composition: dict[str, float]) -> dict[str, int]:
    """One oxidation state per element of the parent, with Li +1, halides -1 and chalcogens -2.

    The other elements take the most likely single-valence guess of pymatgen (`oxi_state_guesses`: its
    ICSD state lists, ranked by its ICSD occurrence scores). If no assignment is exactly neutral (nominal
    formulas such as Li9.6P3S12), each other element takes its most frequent state in pymatgen's ICSD
    occurrences, provided the parent is then off neutrality by at most `RESIDUAL_TOLERANCE` of its cation
    charge; the candidates keep that offset (`residual_charge`). When an oxide with S, Se or Te cannot be
    balanced with those at -2 (a sulfate), they are let free.

    Raises:
        ScreenError: no such assignment exists.
    """
    pin_sets = [{el: q for el, q in PINNED.items() if el in composition}]
    if "O" in composition and {"S", "Se", "Te"} & set(composition):
        pin_sets.append({el: q for el, q in pin_sets[0].items() if el not in ("S", "Se", "Te")})
    for pins in pin_sets:
        found = _pymatgen_guess(composition, pins) or _single_valence_guess(composition, pins)
        if found:
            return found
    found = _most_frequent_states(composition, pin_sets[0])
    if found:
        return found
    raise ScreenError("the parent cannot be charge-balanced with Li +1, halides -1, chalcogens -2 and "
                      "pymatgen's oxidation states of the other elements")


def _candidate_states(symbol: str) -> tuple[int, ...]:
    """The states pymatgen's guesses try for an element (its ICSD list, else its common states)."""
    from pymatgen.core import Element

    try:
        element = Element(symbol)
    except ValueError as exc:
        raise ScreenError(f"unknown element {symbol!r}") from exc
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
    from pymatgen.core import KeyedComposition as PmgComposition

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
    from pymatgen.core import KeyedComposition as PmgComposition

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


def residual_charge(composition: dict[str, float], states: dict[str, int]) -> float:
    """The net charge of a composition with these states (0 for a neutral one)."""
    return sum(q * composition[s] for s, q in states.items())


Substitution = tuple[str, str, float]  # (site, dopant, fraction of the site)


@dataclass
class Sweep:
    """Candidate substitutions of a parent: per site, dopants at fractions step, 2·step, ... max_fraction.

    A dopant written `A+B` co-dopes one site: every split with each of A and B at a positive multiple of
    `step` and their sum at most `max_fraction`.
    """

    parent: str
    substitutions: dict[str, list[str]]
    max_fraction: float = 0.5
    step: float = 0.05
    skipped: int = 0
    composition: dict[str, float] = field(init=False)
    states: dict[str, int] = field(init=False)
    residual: float = field(init=False)  # the parent's net charge with `states` (0 unless a nominal formula)

    def __post_init__(self) -> None:
        read = read_fast(self.parent)
        if read is None:
            from sulfml.parse.formula import parse_formula

            parsed = parse_formula(self.parent)
            if not parsed.ok:
                raise ScreenError(f"cannot read the parent {self.parent!r}: {parsed.error}")
            assert parsed.composition is not None and parsed.formula is not None  # parsed.ok
            read = (parsed.composition, parsed.formula, parsed.notation)
        self.composition = read[0]
        if not 0 < self.max_fraction <= 1:
            raise ScreenError(f"the maximum dopant fraction must be in (0, 1], got {self.max_fraction:g}")
        if not 0 < self.step <= self.max_fraction:
            raise ScreenError(f"the fraction step must be in (0, maximum fraction], got {self.step:g}")
        if not self.substitutions:
            raise ScreenError("no substitution given: name at least one site and its dopants")
        for site, dopants in self.substitutions.items():
            if site not in self.composition:
                raise ScreenError(f"site {site!r} is not in the parent {self.parent} ({', '.join(self.composition)})")
            for group in dopants:
                parts = _group(group)
                for d in parts:
                    common_oxidation_states(d)
                if len(set(parts)) != len(parts):
                    raise ScreenError(f"co-dopants {group!r} on {site} name an element twice")
        self.states = parent_states(self.composition)
        self.residual = residual_charge(self.composition, self.states)

    def fractions(self) -> list[float]:
        n = int(self.max_fraction / self.step + 1e-9)
        return [round(k * self.step, 10) for k in range(1, n + 1)]

    def _splits(self, k: int) -> list[tuple[float, ...]]:
        """Every way to give k co-dopants positive multiples of step summing to at most max_fraction."""
        n = int(self.max_fraction / self.step + 1e-9)
        return [tuple(round(m * self.step, 10) for m in ms)
                for ms in itertools.product(range(1, n + 1), repeat=k) if sum(ms) <= n]

    def substitutions_of(self) -> Iterator[tuple[Substitution, ...]]:
        """Every substitution set (one dopant group, or none, per site), the empty one excepted."""
        options = []
        for site, dopants in self.substitutions.items():
            opts: list[tuple[Substitution, ...]] = [()]
            for group in dopants:
                parts = _group(group)
                opts += [tuple((site, d, x) for d, x in zip(parts, xs, strict=True)) for xs in self._splits(len(parts))]
            options.append(opts)
        for combo in itertools.product(*options):
            subs = tuple(s for part in combo for s in part)
            if subs:
                yield subs

    def enumerate(self) -> Iterator[tuple[str, tuple[Substitution, ...]]]:
        """(candidate formula, its substitutions); those that cannot be charge-balanced are counted in
        `skipped` (reset at each pass)."""
        self.skipped = 0
        for subs in self.substitutions_of():
            comp = self._substitute(list(subs))
            if comp is None:
                self.skipped += 1
                continue
            yield comp, subs

    def candidates(self) -> Iterator[str]:
        """Candidate formulas; those that cannot be charge-balanced are counted in `skipped`."""
        for text, _ in self.enumerate():
            yield text

    def _substitute(self, subs: list[Substitution]) -> str | None:
        comp = dict(self.composition)
        extra: dict[str, float] = {}
        charge = 0.0
        for site, dopant, x in subs:
            host_q = self.states[site]
            states = [q for q in common_oxidation_states(dopant) if q * host_q > 0]
            if dopant == "Li" or not states:
                return None
            q = min(states, key=lambda s: (abs(s - host_q), -s))
            moved = self.composition[site] * x
            comp[site] -= moved
            extra[dopant] = extra.get(dopant, 0.0) + moved
            charge += moved * (q - host_q)
        li = comp.get("Li", 0.0) - charge
        if li < -1e-9 or "Li" not in comp:
            return None
        comp["Li"] = li
        out: list[tuple[str, float]] = []
        for el, amt in comp.items():
            out.append((el, amt))
            for site, dopant, _ in subs:
                if site == el and dopant in extra and dopant not in comp:
                    out.append((dopant, extra.pop(dopant)))
        merged: dict[str, float] = {}
        for el, amt in out:
            merged[el] = merged.get(el, 0.0) + amt
        for el, amt in extra.items():
            merged[el] = merged.get(el, 0.0) + amt
        return "".join(el + _amount(a) for el, a in merged.items() if a > 1e-9)


def _group(text: str) -> list[str]:
    """['Si', 'Ge'] from the co-dopant group 'Si+Ge'."""
    return [d.strip() for d in text.split("+")]


def _amount(a: float) -> str:
    text = f"{a:.6f}".rstrip("0").rstrip(".")
    return "" if text == "1" else text


def parse_substitutions(value: str | Sequence[str] | Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The sites and their dopants, {'P': ['Si', 'Ge', 'Si+Ge'], 'Cl': ['Br', 'I']}, from how they are written:
    'P=Si,Ge,Si+Ge Cl=Br,I', with sites apart by spaces, ';' or lines (spaces around '=', ',' and '+' are
    read past), from a list of such texts, or from a mapping of site -> dopants.

    Raises:
        ScreenError: a part is not SITE=DOPANT[,DOPANT...], or no site is given.
    """
    if isinstance(value, Mapping):
        items = [f"{site}={','.join(map(str, dopants))}" for site, dopants in value.items()]
    else:
        text = value if isinstance(value, str) else ";".join(value)
        text = re.sub(r"\s*([=,+])\s*", r"\1", text.strip())
        items = [p for p in re.split(r"[;\s]+", text) if p]
    subs: dict[str, list[str]] = {}
    for item in items:
        site, sep, dopants = item.partition("=")
        names = [d for d in dopants.split(",") if d]
        if not sep or not site or not names or any(not p for d in names for p in d.split("+")):
            raise ScreenError(f"a substitution is written SITE=DOPANT[,DOPANT...], co-dopants as A+B "
                              f"(e.g. P=Si,Ge,Si+Ge), got {item!r}")
        subs.setdefault(site, []).extend(names)
    if not subs:
        raise ScreenError("no substitution given: name at least one site and its dopants (e.g. P=Si,Ge)")
    return subs


def describe_substitution(subs: tuple[Substitution, ...]) -> str:
    """'P=Si0.1+Ge0.05; S=Cl0.2': per site, each dopant with its fraction of the site."""
    sites: dict[str, list[str]] = {}
    for site, dopant, x in subs:
        sites.setdefault(site, []).append(f"{dopant}{x:g}")
    return "; ".join(f"{site}={'+'.join(parts)}" for site, parts in sites.items())


def dopant_combination(subs: tuple[Substitution, ...]) -> tuple[tuple[str, str], ...]:
    """The dopants on their sites, without the fractions: the unit `per_dopant` caps."""
    return tuple(sorted({(site, dopant) for site, dopant, _ in subs}))


def interval_coverage(predictor: Predictor) -> float:
    """The nominal coverage of the log10 σ intervals, from the model's card (`Calibration.confidence`).

    Raises:
        ScreenError: the predictor has no log10 σ model with an interval calibration.
    """
    try:
        coverage = float(predictor.bundle.models["log10_sigma"].calibration.confidence)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ScreenError("the models carry no log10 σ interval calibration, so p_gain cannot be computed") from exc
    if not 0 < coverage < 1:
        raise ScreenError(f"the models' interval coverage must be in (0, 1), got {coverage:g}")
    return coverage


def z_of(coverage: float) -> float:
    """The standard normal quantile of a two-sided interval of this coverage (1.645 at 0.9)."""
    return statistics.NormalDist().inv_cdf((1 + coverage) / 2)


def _sd(lo: float, hi: float, z: float) -> float:
    """The standard deviation of a normal whose central interval of quantile z is [lo, hi] (NaN if unknown)."""
    return (hi - lo) / 2 / z


def _probability(z: float) -> float:
    """Φ(z), the standard normal's probability below z (NaN for NaN)."""
    return float("nan") if z != z else 0.5 * math.erfc(-z / math.sqrt(2))


def _gain_z(mean: float, lo: float, hi: float, reference: float, reference_sd: float, z: float) -> float:
    """(mean - reference) / sqrt(s² + s_ref²): the z-score `p_gain` reads (±inf when both widths are 0)."""
    s = _sd(lo, hi, z)
    sd = math.hypot(s, reference_sd if reference_sd == reference_sd else 0.0) if s == s else float("nan")
    if mean != mean or reference != reference or sd != sd:
        return float("nan")
    if not sd > 0:
        return math.inf if mean > reference else -math.inf if mean < reference else 0.0
    return (mean - reference) / sd


def p_gain(mean: float, lo: float, hi: float, reference: float, reference_lo: float = float("nan"),
           reference_hi: float = float("nan"), coverage: float = 0.9) -> float:
    """P(candidate's log10 σ > the parent's), from the two calibrated intervals.

    The rule: each value is read as a normal centred on its estimate whose central `coverage` interval is
    its calibrated interval [lo, hi] (s = half-width / z, z the normal quantile of `coverage`, 1.645 at
    90 %, taken from the models' card). The candidate's estimate is its prediction; the parent's
    (`reference`) is its best estimate, its measurements when it is a known material (the pipeline's
    anchored `log10_sigma`), else its prediction. The two are taken as independent, so the difference has
    s = sqrt(s_candidate² + s_parent²) and p_gain = Φ((mean - reference) / s). Independence is right for a
    measured parent (its error is the spread between papers, not the model's); for a predicted parent the
    model's errors on two neighbouring compositions are partly shared, which would make the difference
    more certain than this, but by an amount nothing here measures, so p_gain errs towards 0.5 rather than
    claiming 0 or 1. Without a parent interval (NaN bounds) only the candidate's width counts. A
    zero-width difference gives 1 or 0 (0.5 on a tie); a missing value gives NaN.
    """
    z = z_of(coverage)
    return _probability(_gain_z(mean, lo, hi, reference, _sd(reference_lo, reference_hi, z), z))


def _key(rank: str, mean: float, lo: float, hi: float, reference: float, reference_sd: float,
         z: float) -> tuple[float, float]:
    """The sort key of a row under `rank` (higher is better, NaN last; ties go to the higher prediction).

    For p_gain the key is the z-score `p_gain` reads, which orders like the probability but does not
    saturate at 1.
    """
    def finite(v: float) -> float:
        return v if v == v else -math.inf

    if rank == "p_gain":
        return finite(_gain_z(mean, lo, hi, reference, reference_sd, z)), finite(mean)
    primary = {"lcb": lo, "ucb": hi, "mean": mean}[rank]
    return finite(primary), finite(mean)


def roughness(fractions: Sequence[float], values: Sequence[float], floor: float = 0.05) -> float:
    """How much a series zig-zags: its total variation along the fractions over |net change|.

    The values are taken in order of fraction (from the first fraction to the last). A monotone series
    scores 1; each reversal adds twice its size over the net change. The net change is floored at `floor`
    decades, so a flat series that wiggles is rough and a perfectly flat one scores 1, not 0/0 (a series of
    one point, or with a NaN, is NaN).
    """
    pairs = sorted(zip(fractions, values, strict=True))
    ys = [float(v) for _, v in pairs]
    if len(ys) < 2 or any(v != v for v in ys):
        return float("nan")
    total = sum(abs(b - a) for a, b in itertools.pairwise(ys))
    net = abs(ys[-1] - ys[0])
    if total == 0:
        return 1.0
    return total / max(net, floor)


def write_candidates(sweep: Sweep, path: str | Path, chunk: int = CHUNK) -> int:
    """Write every candidate of `sweep` to a Parquet or CSV file (by extension) without predicting.

    The rows stream out in chunks (one Parquet row group each), so memory does not grow with the sweep;
    the columns are `CANDIDATE_COLUMNS`, the substitution as `describe_substitution` writes it. Unlike
    `screen`, it keeps a candidate equal to the parent (telling them apart needs every formula parsed).

    Returns:
        The number of candidates written (`sweep.skipped` counts the ones that could not be balanced).

    Raises:
        ScreenError: the file type is neither .parquet nor .csv.
    """
    from sulfml.service.output import open_sink

    path = Path(path)
    kind = {".parquet": "parquet", ".csv": "csv"}.get(path.suffix.lower())
    if kind is None:
        raise ScreenError(f"candidates are written as .parquet or .csv, not {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    it = sweep.enumerate()
    with open(path, "w", encoding="utf-8", newline="") if kind == "csv" else contextlib.nullcontext() as fh:
        sink = open_sink(kind, fh if fh is not None else path)
        wrote = False
        while True:
            rows = list(itertools.islice(it, chunk))
            if not rows and wrote:
                break
            # the first chunk is written even when empty, so an empty sweep still leaves a file with a header
            sink.write(pd.DataFrame({"formula": [f for f, _ in rows], "parent": sweep.parent,
                                     "substitution": [describe_substitution(s) for _, s in rows]},
                                    columns=CANDIDATE_COLUMNS).astype(str))
            wrote = True
            n += len(rows)
            if not rows:
                break
        sink.close()
    return n


def screen(sweep: Sweep, predictor: Predictor | None = None, top: int = 20, rank: str = "p_gain",
           chunk: int = CHUNK, progress: Callable[[int], object] | None = None, per_dopant: int | None = 3,
           temperature_c: float | str | None = None, state: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Predict the parent and every candidate of `sweep` through the `Predictor` in chunks; keep the top.

    Args:
        predictor: the models (default: the shipped champion).
        top: candidates kept.
        rank: one of `RANKS`: "p_gain" (default) the probability of beating the parent's prediction,
            "lcb"/"ucb" the lower/upper end of the calibrated log10 σ interval, "mean" the prediction.
        per_dopant: at most this many candidates per dopant combination in the top list (None or 0: no cap).
        temperature_c: the temperature of every prediction (default 25 °C).
        state: "crystalline", "glass", "glass-ceramic" or "unknown", the state of the parent and of every
            candidate (a model input); default: the state the parent's formula implies (a glass notation,
            a glass-ceramic tag), so that the candidates of 70Li2S-30P2S5 are glasses too.
        progress: optional callable(rows done) after each chunk.

    Returns:
        (rows with `RESULT_COLUMNS`: the parent first (`role` "parent", the baseline, with its `basis` and
        measured value when it is a known material), then the top candidates best first; counts:
        candidates, predicted, failed, skipped, same_as_parent). The frame's `attrs` hold the interval
        `coverage` (from the models' card), its `z`, and the parent's `reference` (its best estimate,
        what p_gain compares with) with its `reference_basis`.

    Raises:
        ScreenError: a bad ranking, cap or state, or the parent cannot be predicted when the ranking
            compares with it.
        InputError: the temperature is not usable.
    """
    from sulfml.service.predictor import as_frame

    if rank not in RANKS:
        raise ScreenError(f"the ranking must be one of {', '.join(RANKS)}, got {rank!r}")
    if per_dopant is not None and per_dopant < 0:
        raise ScreenError(f"the cap per dopant combination must be at least 0, got {per_dopant}")
    if state is not None and state not in STATES:
        raise ScreenError(f"the state must be one of {', '.join(STATES)}, got {state!r}")
    predictor = predictor or Predictor.default()
    coverage = interval_coverage(predictor)
    z = z_of(coverage)
    if state is None:
        from sulfml.parse.formula import parse_formula

        implied = parse_formula(sweep.parent).state
        state = implied if implied not in (None, UNKNOWN) else None

    def frame(texts: list[str]) -> pd.DataFrame:
        f = as_frame(texts, temperature_c)
        if state is not None:
            f["state"] = state
        return f

    base = predictor.run(frame([sweep.parent])).columns
    parent_row = _kept(base, 0)
    # the parent's best estimate: the pipeline anchors log10_sigma and its interval on the measurements of
    # a known material, so for one this is its measured value
    reference, reference_sd = float("nan"), float("nan")
    if not base["error"][0]:
        reference = float(base["log10_sigma"][0])
        reference_sd = _sd(float(base["log10_sigma_lo"][0]), float(base["log10_sigma_hi"][0]), z)
    if base["error"][0]:
        if rank == "p_gain":
            raise ScreenError(f"the parent {sweep.parent} cannot be predicted, so nothing can be compared with "
                              f"it: {base['error'][0]}")
        parent_row["warning"] = "; ".join(t for t in (base["error"][0], parent_row["warning"]) if t)
    parent = KeyedComposition.from_dict(sweep.composition)
    cap = per_dopant or None
    heaps: dict[tuple, list[tuple]] = {}
    counts = {"candidates": 0, "predicted": 0, "failed": 0, "same_as_parent": 0}
    serial = 0
    it = sweep.enumerate()
    while True:
        batch = list(itertools.islice(it, chunk))
        if not batch:
            break
        texts = [t for t, _ in batch]
        counts["candidates"] += len(texts)
        cols = predictor.run(frame(texts)).columns
        read = read_many(texts)
        for j, (_, subs) in enumerate(batch):
            if cols["error"][j]:
                counts["failed"] += 1
                continue
            if (read.ok[j]
                    and KeyedComposition.from_dict(cast("dict[str, float]", read.composition(j))) == parent):
                counts["same_as_parent"] += 1  # the parent again
                continue
            counts["predicted"] += 1
            order = (_key(rank, cols["log10_sigma"][j], cols["log10_sigma_lo"][j], cols["log10_sigma_hi"][j],
                          reference, reference_sd, z), -serial)  # unique: rows are never compared
            serial += 1
            heap = heaps.setdefault(dopant_combination(subs) if cap else (), [])
            if len(heap) < (min(cap, top) if cap else top):
                heapq.heappush(heap, (*order, subs, _kept(cols, j)))
            elif order > heap[0][:2]:
                heapq.heapreplace(heap, (*order, subs, _kept(cols, j)))
        if progress is not None:
            progress(len(texts))
    counts["skipped"] = sweep.skipped
    best = heapq.nlargest(top, itertools.chain.from_iterable(heaps.values()))
    rows = [_result("parent", parent_row, "", rank, reference, reference_sd, z)]
    rows += [_result("candidate", r, describe_substitution(subs), rank, reference, reference_sd, z)
             for _, _, subs, r in best]
    result = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    result.attrs.update(coverage=coverage, z=z, reference=reference, reference_basis=parent_row["basis"])
    return result, counts


def _kept(cols: dict, j: int) -> dict:
    """Row j's `PREDICTED` columns."""
    return {c: cols[c][j] for c in PREDICTED}


def _result(role: str, r: dict, substitution: str, rank: str, reference: float, reference_sd: float,
            z: float) -> dict:
    mean, lo, hi = (float(r[c]) if r[c] is not None else float("nan")
                    for c in ("log10_sigma", "log10_sigma_lo", "log10_sigma_hi"))
    p = _probability(_gain_z(mean, lo, hi, reference, reference_sd, z))
    score = {"p_gain": p, "lcb": lo, "ucb": hi, "mean": mean}[rank]
    return r | {"role": role, "substitution": substitution, "p_gain": p, "score": score}
