"""Screening: enumerate dopant substitutions around a parent composition, charge-balanced through the Li
content, and rank them through the one predict path, in chunks (bounded memory, a heap of the top K)."""

from __future__ import annotations

import contextlib
import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sulfml.chem.composition import Composition
from sulfml.chem.elements import element_tables
from sulfml.errors import ScreenError
from sulfml.parse.bulk import read_fast, read_many
from sulfml.service.predictor import Predictor

RESULT_COLUMNS = ["formula", "log10_sigma", "log10_sigma_lo", "log10_sigma_hi", "ea_eV", "in_domain", "score"]
CANDIDATE_COLUMNS = ["formula", "parent", "substitution"]
CHUNK = 20000


def common_oxidation_states(symbol: str) -> tuple[int, ...]:
    """pymatgen's common oxidation states of an element (from the shipped element tables)."""
    tables = element_tables()
    i = tables.index.get(symbol)
    if i is None:
        raise ScreenError(f"unknown element {symbol!r}")
    return tuple(int(x) for x in tables.oxidation_states[i][: tables.n_oxidation_states[i]])


def parent_states(composition: dict[str, float]) -> dict[str, int]:
    """One common oxidation state per element that makes the parent neutral (Li +1; first found)."""
    symbols = list(composition)
    options = [(1,) if s == "Li" else common_oxidation_states(s) for s in symbols]
    for combo in itertools.product(*options):
        if abs(sum(q * composition[s] for q, s in zip(combo, symbols, strict=True))) < 1e-6:
            return dict(zip(symbols, combo, strict=True))
    raise ScreenError("the parent cannot be charge-balanced with common oxidation states")


@dataclass
class Sweep:
    """Candidate substitutions of a parent: per site, dopants at fractions step, 2·step, ... max_fraction."""

    parent: str
    substitutions: dict[str, list[str]]
    max_fraction: float = 0.5
    step: float = 0.05
    skipped: int = 0
    composition: dict[str, float] = field(init=False)
    states: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        read = read_fast(self.parent)
        if read is None:
            from sulfml.parse.formula import parse_formula

            parsed = parse_formula(self.parent)
            if not parsed.ok:
                raise ScreenError(f"cannot read the parent {self.parent!r}: {parsed.error}")
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
            for d in dopants:
                common_oxidation_states(d)
        self.states = parent_states(self.composition)

    def fractions(self) -> list[float]:
        n = int(self.max_fraction / self.step + 1e-9)
        return [round(k * self.step, 10) for k in range(1, n + 1)]

    def candidates(self) -> Iterator[str]:
        """Candidate formulas; those that cannot be charge-balanced are counted in `skipped`."""
        for _, formula in self.substitutions_made():
            yield formula

    def substitutions_made(self) -> Iterator[tuple[list[tuple[str, str, float]], str]]:
        """(the substitutions as (site, dopant, fraction), the candidate formula) per candidate, in the order
        of `candidates`; those that cannot be charge-balanced are counted in `skipped`."""
        options = [[None] + [(site, d, x) for d in dopants for x in self.fractions()]
                   for site, dopants in self.substitutions.items()]
        for combo in itertools.product(*options):
            subs = [c for c in combo if c is not None]
            if not subs:
                continue
            comp = self._substitute(subs)
            if comp is None:
                self.skipped += 1
                continue
            yield subs, comp

    def _substitute(self, subs: list[tuple[str, str, float]]) -> str | None:
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


def _amount(a: float) -> str:
    text = f"{a:.6f}".rstrip("0").rstrip(".")
    return "" if text == "1" else text


def substitution_text(subs: list[tuple[str, str, float]]) -> str:
    """The substitutions of a candidate as text, e.g. "P->Si:0.1 S->Cl:0.2" (site, dopant, fraction of the site)."""
    return " ".join(f"{site}->{dopant}:{x:g}" for site, dopant, x in subs)


def write_candidates(sweep: Sweep, path: str | Path, chunk: int = CHUNK) -> int:
    """Write every candidate of `sweep` to a Parquet or CSV file (by extension) without predicting.

    The rows stream out in chunks (one Parquet row group each), so memory does not grow with the sweep;
    the columns are `CANDIDATE_COLUMNS`, the substitution as `substitution_text` writes it. Unlike
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
    it = sweep.substitutions_made()
    with open(path, "w", encoding="utf-8", newline="") if kind == "csv" else contextlib.nullcontext() as fh:
        sink = open_sink(kind, fh if fh is not None else path)
        wrote = False
        while True:
            rows = list(itertools.islice(it, chunk))
            if not rows and wrote:
                break
            # the first chunk is written even when empty, so an empty sweep still leaves a file with a header
            sink.write(pd.DataFrame({"formula": [f for _, f in rows], "parent": sweep.parent,
                                     "substitution": [substitution_text(s) for s, _ in rows]},
                                    columns=CANDIDATE_COLUMNS).astype(str))
            wrote = True
            n += len(rows)
            if not rows:
                break
        sink.close()
    return n


def screen(sweep: Sweep, predictor: Predictor | None = None, top: int = 20, rank: str = "ucb",
           chunk: int = CHUNK, progress: Callable[[int], object] | None = None) -> tuple[pd.DataFrame, dict]:
    """Predict every candidate of `sweep` through the `Predictor` in chunks and keep the top `top`.

    Args:
        predictor: the models (default: the shipped champion).
        rank: "ucb" scores by the upper end of the log10 σ interval, "mean" by the prediction.
        progress: optional callable(rows done) after each chunk.

    Returns:
        (the top rows with `RESULT_COLUMNS`, best first; counts: candidates, predicted, failed, skipped).
    """
    if rank not in ("ucb", "mean"):
        raise ScreenError(f"the ranking must be ucb or mean, got {rank!r}")
    predictor = predictor or Predictor.default()
    parent = Composition.from_dict(sweep.composition)
    heap: list[tuple] = []
    counts = {"candidates": 0, "predicted": 0, "failed": 0}
    serial = 0
    it = sweep.candidates()
    while True:
        texts = list(itertools.islice(it, chunk))
        if not texts:
            break
        counts["candidates"] += len(texts)
        cols = predictor.run(pd.DataFrame({"formula": texts})).columns
        score_col = cols["log10_sigma_hi"] if rank == "ucb" else cols["log10_sigma"]
        read = read_many(texts)
        for j in range(len(texts)):
            if cols["error"][j]:
                counts["failed"] += 1
                continue
            if read.ok[j] and Composition.from_dict(read.composition(j)) == parent:  # the parent again
                continue
            counts["predicted"] += 1
            item = (score_col[j], -serial, {c: cols[c][j] for c in RESULT_COLUMNS if c != "score"})
            serial += 1
            if len(heap) < top:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
        if progress is not None:
            progress(len(texts))
    counts["skipped"] = sweep.skipped
    rows = [r | {"score": s} for s, _, r in sorted(heap, reverse=True)]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS), counts
