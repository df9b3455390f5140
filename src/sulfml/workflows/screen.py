"""Screening: enumerate dopant substitutions around a parent composition, charge-balanced through the Li
content, and rank them against the parent through the one predict path, in chunks (bounded memory).

The chemistry (the parent's oxidation states, a dopant's state on its site, the charge balance through Li)
is `sulfml.chem.oxidation`'s. The screen's settings, their defaults, choices and help are `ScreenOptions`'s,
which the `screen` command and the web API's screen request take theirs from.

Ranking (`RANKS`): by default `p_gain`, the probability that the candidate's log10 σ exceeds the parent's
best estimate (its measured value when the parent is a known material; `p_gain` states the rule). At most
`per_dopant` candidates of one dopant combination (the same dopants on the same sites, at any fractions)
enter the top list, so it is not ten neighbouring fractions of one substitution.

`roughness` measures how much a dopant series zig-zags along the fraction (`benchmarks/screen_roughness.py`).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import re
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from sulfml.chem.composition import KeyedComposition
from sulfml.chem.oxidation import (
    OxidationStateError,
    Substitution,
    balance_through_li,
    common_oxidation_states,
    parent_states,
    residual_charge,
)
from sulfml.errors import ScreenError
from sulfml.parse.bulk import read_fast, read_many
from sulfml.parse.display import rounded_formula
from sulfml.parse.state import STATES, UNKNOWN

if TYPE_CHECKING:
    from sulfml.service.predictor import Predictor

RESULT_COLUMNS = ["role", "formula", "substitution", "basis", "log10_sigma", "sigma_S_cm", "log10_sigma_lo",
                  "log10_sigma_hi", "measured_log10_sigma", "measured_n_papers", "ea_eV", "p_gain", "in_domain",
                  "score", "warning"]
# The rankings: what each orders by (higher first; ties go to the higher prediction).
RANKS = {
    "p_gain": "probability that the candidate's log10 σ exceeds the parent's best estimate (its measured value "
              "when the parent is a known material, else its prediction), the candidate's and the parent's "
              "calibrated intervals read as independent normals",
    "lcb": "lower end of the calibrated log10 σ interval",
    "ucb": "upper end of the calibrated log10 σ interval (optimistic: it favours uncertain candidates)",
    "mean": "the predicted log10 σ",
}
# Each ranking's short name, for a column heading or a menu.
RANK_LABELS = {"p_gain": "P(σ > parent)", "lcb": "interval, lower end", "ucb": "interval, upper end",
               "mean": "prediction"}
PREDICTED = ("formula", "basis", "log10_sigma", "sigma_S_cm", "log10_sigma_lo", "log10_sigma_hi",
             "measured_log10_sigma", "measured_n_papers", "ea_eV", "in_domain",
             "warning")  # the pipeline's columns a result row keeps (with the known-first ones)
CANDIDATE_COLUMNS = ["formula", "parent", "substitution"]  # what write_candidates writes
CHUNK = 20000
_RANK_HELP = (
    "the ranking, higher first (ties go to the higher prediction): "
    + "; ".join(f"{name} = {text}" for name, text in RANKS.items())
    + ". The normals' standard deviation is the half-width / z, z the normal quantile of the interval coverage "
      "in the models' card (1.645 for 90 % intervals); p_gain favours candidates likely to beat the parent, "
      "not merely uncertain ones")


@dataclass(frozen=True)
class ScreenOptions:
    """A screen's settings besides the parent and its substitutions: the one definition of their defaults,
    choices (`option_choices`) and meaning (`option_help`), which the `screen` command's options and the web
    API's screen request take theirs from.

    Raises:
        ScreenError: a ranking or state that is not one of the choices, or a count below its minimum.
    """

    max_fraction: float = field(default=0.5, metadata={
        "help": "largest fraction of a site substituted (co-dopants together)"})
    step: float = field(default=0.05, metadata={
        "help": "fraction step: a site takes step, 2·step, ... up to the largest fraction"})
    top: int = field(default=20, metadata={"help": "candidates listed after the parent's baseline"})
    per_dopant: int = field(default=3, metadata={
        "help": "at most this many candidates per dopant combination (the same dopants on the same sites, at "
                "any fraction) in the list, so it is not one substitution at neighbouring fractions (0: no cap)"})
    rank: str = field(default="p_gain", metadata={"help": _RANK_HELP, "choices": tuple(RANKS)})
    temperature_c: float | str | None = field(default=None, metadata={
        "help": "temperature in °C of every prediction (not given: 25 °C)"})
    state: str | None = field(default=None, metadata={
        "help": "the state of the parent and every candidate, a model input (not given: what the "
                "parent's formula implies, else unknown)", "choices": STATES})

    def __post_init__(self) -> None:
        for name in ("rank", "state"):
            value, choices = getattr(self, name), option_choices(name)
            if value is not None and value not in (choices or ()):
                raise ScreenError(f"the {'ranking' if name == 'rank' else name} must be one of "
                                  f"{', '.join(choices or ())}, got {value!r}")
        if self.top < 1:
            raise ScreenError(f"the number of candidates listed must be at least 1, got {self.top}")
        if self.per_dopant < 0:
            raise ScreenError(f"the cap per dopant combination must be at least 0, got {self.per_dopant}")


_OPTION_FIELDS = {f.name: f for f in fields(ScreenOptions)}


def option_help(name: str) -> str:
    """What a `ScreenOptions` setting means, without its default (for a command's or an API's help)."""
    return str(_OPTION_FIELDS[name].metadata["help"])


def option_choices(name: str) -> tuple[str, ...] | None:
    """The values a `ScreenOptions` setting may take (None: any of its type)."""
    choices: Any = _OPTION_FIELDS[name].metadata.get("choices")
    return tuple(choices) if choices is not None else None


DEFAULTS = ScreenOptions()


def screen_settings() -> dict[str, Any]:
    """The settings as a form shows them: per `ScreenOptions` setting its default, choices and help; per
    ranking its label (`RANK_LABELS`) and what it orders by (`RANKS`)."""
    return {"options": {name: {"default": getattr(DEFAULTS, name), "choices": option_choices(name),
                               "help": option_help(name)} for name in _OPTION_FIELDS},
            "ranks": {name: {"label": RANK_LABELS[name], "description": text} for name, text in RANKS.items()}}


@dataclass
class Sweep:
    """Candidate substitutions of a parent: per site, dopants at fractions step, 2·step, ... max_fraction.

    A dopant written `A+B` co-dopes one site: every split with each of A and B at a positive multiple of
    `step` and their sum at most `max_fraction`.
    """

    parent: str
    substitutions: dict[str, list[str]]
    max_fraction: float = DEFAULTS.max_fraction
    step: float = DEFAULTS.step
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
                    _screen_error(common_oxidation_states, d)
                if len(set(parts)) != len(parts):
                    raise ScreenError(f"co-dopants {group!r} on {site} name an element twice")
        self.states = _screen_error(parent_states, self.composition)
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
        balanced = balance_through_li(self.composition, self.states, subs)
        if balanced is None:
            return None
        comp, extra = balanced
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


def _screen_error(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args), its `OxidationStateError` raised as the screen's `ScreenError`."""
    try:
        return fn(*args)
    except OxidationStateError as exc:
        raise ScreenError(str(exc)) from exc


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
    coverage = predictor.interval_coverage
    if coverage is None:
        raise ScreenError("the models carry no log10 σ interval calibration, so p_gain cannot be computed")
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


def screen(sweep: Sweep, predictor: Predictor | None = None, top: int = DEFAULTS.top, rank: str = DEFAULTS.rank,
           chunk: int = CHUNK, progress: Callable[[int], object] | None = None,
           per_dopant: int | None = DEFAULTS.per_dopant, temperature_c: float | str | None = DEFAULTS.temperature_c,
           state: str | None = DEFAULTS.state) -> tuple[pd.DataFrame, dict]:
    """Predict the parent and every candidate of `sweep` through the `Predictor` in chunks; keep the top.

    The settings are `ScreenOptions`'s (their defaults and choices are its).

    Args:
        predictor: the models (default: the shipped champion).
        top: candidates kept.
        rank: one of `RANKS`: "p_gain" (default) the probability of beating the parent's prediction,
            "lcb"/"ucb" the lower/upper end of the calibrated log10 σ interval, "mean" the prediction.
        per_dopant: at most this many candidates per dopant combination in the top list (None or 0: no cap).
        temperature_c: the temperature of every prediction (default 25 °C).
        state: one of `STATES`, the state of the parent and of every candidate (a model input); default:
            the state the parent's formula implies (a glass notation, a glass-ceramic tag), so that the
            candidates of 70Li2S-30P2S5 are glasses too.
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
    # imported here, so the settings above cost a command line nothing of the predict path's imports
    from sulfml.service.predictor import Predictor, as_frame

    ScreenOptions(top=top, rank=rank, per_dopant=per_dopant or 0, temperature_c=temperature_c, state=state)
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
    # a candidate is derived: at its parent's scale and element order, with at most four decimals
    shown = rounded_formula(r["formula"]) if role == "candidate" and r["formula"] else r["formula"]
    return r | {"role": role, "formula": shown, "substitution": substitution, "p_gain": p, "score": score}
