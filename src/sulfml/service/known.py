"""Known first: a material the training data hold answers with its own measurements.

The lookup is one hash of the material key (`sulfml.chem.composition.material_key`) per row against the
training materials of the σ model's domain, whose labels carry each material's per-paper evidence (one value
per paper, `sulfml.data.table.aggregate_materials`). The measurements and the model are combined by one
stated rule, `anchor`:

* the papers of a material scatter about its median: over the training materials that have two or more
  papers, each paper's deviation from the median of the same material's other papers is measured; their
  mean absolute value gives the spread τ = √(π/2) · mean |deviation| (the standard deviation of a normal
  with that mean absolute deviation), and the median of n papers is taken to carry a variance τ²/n;
* the model's answer carries the variance of its own calibrated interval read as a normal, (half-width / z)²;
* the answer is the precision-weighted mean of the two, kept within the lowest and highest paper;
* its interval is for the value the next paper would measure: the answer ± the larger of q, the conformal
  quantile (at the intervals' coverage) of the papers' absolute deviations, which holds the heavy tails the
  data show, and z·√(v + τ²), v the combined variance; it is widened where needed to hold the measured
  median;
* a material measured only as an upper bound (every paper censored) answers with the model's value capped at
  the bound, and an interval that reaches the bound.

Ea is combined by the same rule with its own spread. A material not in the data is answered by the model
alone; a benchmark's test material is never in its training data, so a benchmark never takes this path.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from sulfml.chem.composition import KEY_DECIMALS, key_fractions, polymorph_of
from sulfml.chem.elements import element_tables
from sulfml.chem.space_groups import space_group_label
from sulfml.model.domain import DomainModel
from sulfml.tracking.integrity import load_json

if TYPE_CHECKING:
    from sulfml.parse.bulk import ParsedBatch
    from sulfml.tracking.bundle import Bundle

MODEL = "model"
MEASURED = "measured"
BOTH = "measured+model"
BASES = (MODEL, MEASURED, BOTH)
# Without enough materials of two or more papers to measure it, the spread the review's data show.
_FALLBACK_SPREAD = {"log10_sigma": 0.6, "ea_eV": 0.05}
_MIN_MATERIALS_FOR_SPREAD = 10


def paper_values(evidence: object) -> np.ndarray:
    """The per-paper values of a material's evidence JSON ([[paper, value], ...]); empty when there is none."""
    if not isinstance(evidence, str) or not evidence:
        return np.zeros(0)
    return np.array([float(v) for _, v in load_json(evidence)], float)


@dataclass(frozen=True)
class Spread:
    """How the papers of one material scatter, as the training data show.

    Attributes:
        tau: τ, the spread as a standard deviation (weights the measured median).
        deviations: every paper's absolute deviation from the median of its material's other papers, sorted.
        n_materials: the materials (two or more papers) they come from.
    """

    tau: float
    deviations: np.ndarray
    n_materials: int

    def next_paper(self, confidence: float) -> float:
        """q: the conformal quantile of the deviations at `confidence` (z·τ without enough of them)."""
        n = len(self.deviations)
        if self.n_materials < _MIN_MATERIALS_FOR_SPREAD or n == 0:
            return NormalDist().inv_cdf(0.5 + confidence / 2) * self.tau
        return float(np.quantile(self.deviations, min(1.0, math.ceil((n + 1) * confidence) / n), method="higher"))


def inter_paper_spread(evidence: Sequence[object], fallback: float) -> Spread:
    """The rule's spread of the papers of one material.

    Args:
        evidence: each material's evidence JSON.
        fallback: τ when fewer than 10 materials have two or more papers.
    """
    deviations: list[float] = []
    n_materials = 0
    for e in evidence:
        v = paper_values(e)
        if len(v) < 2:
            continue
        n_materials += 1
        deviations += _deviations_from_the_others(v)
    tau = fallback if n_materials < _MIN_MATERIALS_FOR_SPREAD else math.sqrt(math.pi / 2) * float(np.mean(deviations))
    return Spread(tau, np.sort(np.array(deviations, float)), n_materials)


def _deviations_from_the_others(v: np.ndarray) -> list[float]:
    """|v[i] - the median of the other values| for each i, in order: `np.median(np.delete(v, i))`, read off
    one sorted copy (the same floats: the middle value, or the two middle ones added and halved)."""
    if not np.isfinite(v).all():  # NaN has no place in a sorted order: NumPy's own median decides
        return [abs(float(v[i]) - float(np.median(np.delete(v, i)))) for i in range(len(v))]
    ordered = sorted(v.tolist())
    half, odd = divmod(len(ordered) - 1, 2)  # the others: len - 1 values, the middle one(s) at `half`
    out = []
    for x in v.tolist():
        at = bisect.bisect_left(ordered, x)  # x's place; without it, later values move one down
        others = ordered[:at] + ordered[at + 1:]
        median = others[half] if odd else (others[half - 1] + others[half]) / 2
        out.append(abs(x - median))
    return out


@dataclass(frozen=True)
class Anchored:
    """The rule's answer for rows of known materials (arrays aligned with the rows given)."""

    value: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    basis: list[str]


def anchor(model: np.ndarray, halfwidth: np.ndarray, papers: Sequence[np.ndarray], censored: np.ndarray,
           spread: Spread, confidence: float) -> Anchored:
    """Combine each row's measurements with the model's answer by the module's rule.

    Args:
        model: the model's answers.
        halfwidth: the half-widths of the model's calibrated intervals.
        papers: each row's per-paper values (at least one; censored rows: the upper bounds).
        censored: rows whose every paper is an upper bound.
        spread: how papers scatter (`inter_paper_spread`).
        confidence: the intervals' nominal coverage (0.9: z = 1.645).

    Returns:
        The answers, their intervals and their bases (`MEASURED` where the papers alone fix the value: one
        paper, or papers that agree; `BOTH` otherwise).
    """
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    tau, q = spread.tau, spread.next_paper(confidence)
    n = len(model)
    value, lo, hi = np.empty(n), np.empty(n), np.empty(n)
    basis: list[str] = []
    for i in range(n):
        v = np.asarray(papers[i], float)
        if censored[i]:
            bound = float(v.min())
            value[i] = min(float(model[i]), bound)
            lo[i] = min(float(model[i]) - float(halfwidth[i]), value[i])
            hi[i] = bound
            basis.append(BOTH)
            continue
        median, low, high = float(np.median(v)), float(v.min()), float(v.max())
        w_measured = len(v) / tau ** 2
        s_model = max(float(halfwidth[i]) / z, 1e-9)
        w_model = 1.0 / s_model ** 2
        combined = (w_measured * median + w_model * float(model[i])) / (w_measured + w_model)
        value[i] = min(max(combined, low), high)
        half = max(q, z * math.sqrt(1.0 / (w_measured + w_model) + tau ** 2))
        lo[i] = min(value[i] - half, median)
        hi[i] = max(value[i] + half, median)
        basis.append(MEASURED if high == low else BOTH)
    return Anchored(value, lo, hi, basis)


@dataclass(frozen=True)
class Entry:
    """What answers one query: training material `material` and, when the query names one of its space
    groups, that polymorph's aggregate (`KnownMaterials.polymorphs`)."""

    material: int
    polymorph: dict | None


@dataclass(frozen=True)
class Measured:
    """What the data measured of one query: its per-paper log10 σ (upper bounds when `censored`) and Ea, and
    the values shown as measured."""

    sigma_papers: np.ndarray
    censored: bool
    log10_sigma: float
    ea_papers: np.ndarray
    ea: float | None


@dataclass(frozen=True)
class KnownMaterials:
    """The training materials by material key, with what the rule needs of each.

    Built from the σ model's domain (every training material, with its evidence); Ea's measurements are the
    same materials' `ea_evidence`.
    """

    domain: DomainModel

    @cached_property
    def index(self) -> dict[str, int]:
        """Material key -> row of the domain's labels (empty for bundles from before the keys were labels)."""
        return {k: j for j, k in enumerate(self.domain.labels["material_key"]) if isinstance(k, str)}

    @cached_property
    def states_of(self) -> dict[str, list[str]]:
        """Composition key (with additive) -> the states the data hold it in, in key order."""
        out: dict[str, list[str]] = {}
        for key in self.index:
            composition, _, state = key.rpartition("@")
            out.setdefault(composition, []).append(state)
        return out

    def polymorphs(self, j: int) -> list[dict]:
        """Material j's polymorphs as the data table aggregates them (`aggregate_materials`): per space group
        (None: the measurements that name none) its value, papers and evidence; [] when none is named."""
        labels = self.domain.labels.get("polymorphs")
        text = labels[j] if labels else None
        return json.loads(text) if isinstance(text, str) and text else []

    def space_groups(self, key: str) -> list[int | None]:
        """The space groups the data hold a material (key without one) in; None: measured without one."""
        j = self.index.get(polymorph_of(key)[0])
        return [] if j is None else [p["space_group"] for p in self.polymorphs(j)]

    @cached_property
    def spread(self) -> dict[str, Spread]:
        """How the papers of one material scatter, for log10 σ and for Ea."""
        labels = self.domain.labels
        sigma = [e for e, c in zip(labels["evidence"], labels["censored"], strict=True) if not c]
        return {"log10_sigma": inter_paper_spread(sigma, _FALLBACK_SPREAD["log10_sigma"]),
                "ea_eV": inter_paper_spread(labels["ea_evidence"], _FALLBACK_SPREAD["ea_eV"])}

    def lookup(self, keys: Sequence[str | None]) -> list[Entry | None]:
        """What answers each key (None: nothing the data hold), by the polymorph rule.

        A key without a space group is answered by the material, all its polymorphs together as the data
        table aggregates them. A key with one is answered by that polymorph; by the material when none of its
        measurements names a space group; and by nothing (the model) when the data hold it only in others.
        """
        out: list[Entry | None] = []
        for key in keys:
            if not key:
                out.append(None)
                continue
            base, sg = polymorph_of(key)
            j = self.index.get(base)
            if j is None or sg is None:
                out.append(None if j is None else Entry(j, None))
                continue
            polymorphs = self.polymorphs(j)
            found = next((p for p in polymorphs if p["space_group"] == sg), None)
            if found is not None:
                out.append(Entry(j, found))
            else:
                out.append(None if any(p["space_group"] is not None for p in polymorphs) else Entry(j, None))
        return out

    def space_group_note(self, key: str) -> str | None:
        """What a reader should know of how the data's polymorphs answer `key` (None: nothing)."""
        base, sg = polymorph_of(key)
        j = self.index.get(base)
        if j is None:
            return None
        polymorphs = self.polymorphs(j)
        named = [p["space_group"] for p in polymorphs if p["space_group"] is not None]
        if sg is not None:
            if sg in named:
                return None
            if named:
                listed = " and ".join(space_group_label(g) for g in named)
                return (f"measured as {listed}, not as {space_group_label(sg)}: the model answers for this "
                        "space group")
            return "the measurements of this composition name no space group, and they answer for it"
        if len(polymorphs) < 2:
            return None
        parts = [f"{space_group_label(p['space_group']) if p['space_group'] is not None else 'no space group'} "
                 f"{p['log10_sigma']:.2f}" for p in polymorphs]
        return (f"measured as {', '.join(parts)}: the answer is the median of all their papers (give a space "
                "group or a polymorph name to answer for one)")

    def sigma_papers(self, j: int) -> np.ndarray:
        """Material j's per-paper log10 σ (the upper bounds when censored)."""
        return paper_values(self.domain.labels["evidence"][j])

    def ea_papers(self, j: int) -> np.ndarray:
        """Material j's per-paper Ea (empty when none was reported)."""
        return paper_values(self.domain.labels["ea_evidence"][j])

    def censored(self, j: int) -> bool:
        """Whether material j is known only as an upper bound."""
        return bool(self.domain.labels["censored"][j])

    def measured(self, j: int) -> tuple[float, float | None]:
        """Material j's measured log10 σ and Ea as the data table aggregates them (`sulfml.data.table`'s one
        rule, carried in the labels): the value the neighbours show, never recomputed here."""
        labels = self.domain.labels
        ea = labels["ea_eV"][j]
        return float(labels["log10_sigma"][j]), None if ea is None else float(ea)

    def answer(self, entry: Entry) -> Measured:
        """What the data measured of an entry: its per-paper values and the values shown as measured (the
        data table's own aggregation of the material, or of the polymorph)."""
        p = entry.polymorph
        if p is None:
            j = entry.material
            value, ea = self.measured(j)
            return Measured(self.sigma_papers(j), self.censored(j), value, self.ea_papers(j), ea)
        return Measured(paper_values(p["evidence"]), bool(p["censored"]), float(p["log10_sigma"]),
                        paper_values(p["ea_evidence"]), p["ea_eV"])

    @cached_property
    def _signatures(self) -> tuple[np.ndarray, np.ndarray]:
        """(element-set signatures, composition signatures) of the training materials (see `candidates`),
        each sorted."""
        position = element_tables().index
        rows: list[int] = []
        elements: list[int] = []
        steps: list[int] = []
        for row, key in enumerate(self.index):
            for symbol, f in key_fractions(key):
                rows.append(row)
                elements.append(position[symbol])
                steps.append(1 + round(f * 10 ** KEY_DECIMALS))
        codes = _element_codes()[np.array(elements, int)]
        # per material, the sums in uint64 (wrapping, as `candidates` sums them), all materials at once
        sets, compositions = np.zeros(len(self.index), np.uint64), np.zeros(len(self.index), np.uint64)
        np.add.at(sets, np.array(rows, int), codes)
        np.add.at(compositions, np.array(rows, int), codes * np.array(steps, np.uint64))
        return np.unique(sets), np.unique(compositions)

    def candidates(self, parsed: ParsedBatch) -> np.ndarray:
        """Rows of a whole-batch parse that may be a training material: the only rows worth a material key.

        A row is one when its elements and its fractions rounded as the key rounds them (`KEY_DECIMALS`) sum,
        with one random 64-bit code per element, to some training material's signature; a row with a fraction
        on a rounding tie (which the key rounds by float noise) only needs the same elements. A rare clash only
        costs a key that then finds nothing; a true match is never missed."""
        sets, compositions = self._signatures
        codes = np.where(parsed.present, _element_codes()[parsed.index], np.uint64(0))
        amounts = np.where(parsed.present, parsed.amount, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = amounts / amounts.sum(axis=1, keepdims=True) * 10 ** KEY_DECIMALS
        scaled = np.nan_to_num(scaled)
        tied = (parsed.present & (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6)).any(axis=1)
        steps = (1 + np.rint(scaled)).astype(np.uint64)
        same = np.isin((codes * steps).sum(axis=1, dtype=np.uint64), compositions)
        same_elements = np.isin(codes.sum(axis=1, dtype=np.uint64), sets)
        return (same | (tied & same_elements)) & parsed.ok


@cache
def _element_codes() -> np.ndarray:
    return np.random.default_rng(20261206).integers(1, 2**63, len(element_tables().symbols), dtype=np.uint64)


_KNOWN: dict[int, tuple[DomainModel, KnownMaterials]] = {}


def known_materials(bundle: Bundle) -> KnownMaterials:
    """The known materials of a bundle (its σ model's training materials), built once per loaded bundle."""
    domain = bundle.models["log10_sigma"].domain
    hit = _KNOWN.get(id(domain))
    if hit is not None and hit[0] is domain:
        return hit[1]
    if len(_KNOWN) >= 8:  # benchmark folds come and go; a process predicts with a few bundles
        _KNOWN.pop(next(iter(_KNOWN)))
    known = KnownMaterials(domain)
    _KNOWN[id(domain)] = (domain, known)  # holding the domain keeps its id from being reused while cached
    return known
