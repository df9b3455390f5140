"""One query over the measured records: a formula, an element set, a family or a DOI -> the matching
materials, each with its room-temperature value by the one aggregation rule and every measurement.

`sulfml data search` and `GET /api/materials` are thin layers over `search`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from sulfml.chem.composition import key_fractions
from sulfml.data.arrhenius import ArrheniusFit, fit_series
from sulfml.data.loaders import normalize_doi, paper_of_doi
from sulfml.data.table import DEFAULT_AGGREGATION, DataTable, aggregate_materials
from sulfml.errors import InputError
from sulfml.parse.formula import composition_key, parse_formula
from sulfml.parse.state import norm_label, state_of_tags

DEFAULT_LIMIT = 20
QueryKind = Literal["formula", "elements", "family", "doi"]
# An element set: symbols joined by '-' (or ','), e.g. Li-P-S-Cl; a trailing '*' (Li-P-S*, Li-P-S-*) also
# finds materials with further elements.
_DOI = re.compile(r"10\.\d{4,9}/\S+")
_ELEMENT_SET = re.compile(r"^\s*([A-Z][a-z]?(?:\s*[-,]\s*[A-Z][a-z]?)*)\s*(?:[-,]?\s*(\*))?\s*$")


@dataclass(frozen=True)
class Query:
    """How a search text was read.

    Attributes:
        text: the text as given.
        kind: `formula`, `elements`, `family` or `doi`.
        value: what is matched: the composition key, the element symbols joined by '-' (a trailing '*' when
            more elements may be present), the family label, or the paper's DOI.
        description: the reading in words, e.g. "formula Li6PS5Cl (every state)".
    """

    text: str
    kind: QueryKind
    value: str
    description: str


@dataclass(frozen=True)
class Measurement:
    """One measured row of the table, as a source gives it.

    Attributes:
        log10_sigma: log10 σ (S/cm); an upper bound when `censored`.
        sigma_S_cm: σ (S/cm).
        temperature_K: the temperature measured at; None when the source only says room temperature.
        room_temperature: whether the row counts as room temperature (15–35 °C, or no temperature stated).
        ea_eV: the activation energy the source reports with this row, if any.
        paper: the paper it comes from (a supporting-information DOI folded into its paper's DOI, or the
            source's reference); None when the source names neither.
        doi: the DOI(s) as the source gives them, several joined by '|'.
        source: the dataset (obelix, review, laskowski, liverpool, user).
        source_row_id: the row's id in that dataset.
        state: crystalline, glass, glass-ceramic or unknown.
        censored: whether σ is an upper bound ("< 1e-10").
        space_group: the polymorph's space group, as the table reads it (`space_group`), else None.
    """

    log10_sigma: float
    sigma_S_cm: float
    temperature_K: float | None
    room_temperature: bool
    ea_eV: float | None
    paper: str | None
    doi: str | None
    source: str
    source_row_id: str
    state: str
    censored: bool
    space_group: int | None = None


@dataclass(frozen=True)
class MaterialRecord:
    """A measured material (a composition, with its additive, in one state) and all its measurements.

    The room-temperature fields come from `aggregate_materials(..., DEFAULT_AGGREGATION)`, the same
    rule as the neighbour panel and `data export materials`; they are None (and `n_papers` 0) for a material
    measured only away from room temperature.

    Attributes:
        material_key: the material's identity in the table (composition key, additive, state, space group).
        formula: the formula as the parser writes it.
        composition_key: the composition by the one rule.
        additive: a composite's second phase, if any.
        state: crystalline, glass, glass-ceramic or unknown.
        space_group: the space group every measurement of it names (`sulfml.data.table`), else None.
        polymorphs: per space group the data name (None: the measurements that name none), its room-
            temperature median, censoring and papers (`aggregate_materials`' polymorphs, without evidence);
            empty when none is named.
        family: the family a source gives it, if any.
        log10_sigma: the median over papers of log10 σ at room temperature (one value per paper).
        censored: whether that value is an upper bound (every room-temperature value is one).
        n_papers: the papers the median is taken over.
        log10_sigma_min: the lowest of those papers' values.
        log10_sigma_max: the highest of those papers' values.
        ea_eV: the median Ea the sources report.
        measurements: every measurement of the material at any temperature, room temperature first,
            then by temperature, source and row.
        arrhenius: the fit of σ(T) over its measured (uncensored) values at stated temperatures, when there
            are at least three distinct temperatures; else None.
    """

    material_key: str
    formula: str
    composition_key: str
    additive: str | None
    state: str
    space_group: int | None
    polymorphs: tuple[dict, ...]
    family: str | None
    log10_sigma: float | None
    censored: bool
    n_papers: int
    log10_sigma_min: float | None
    log10_sigma_max: float | None
    ea_eV: float | None
    measurements: tuple[Measurement, ...]
    arrhenius: ArrheniusFit | None


def _number(value: object) -> float | None:
    """A finite float, else None."""
    if value is None or value is pd.NA:
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _family_match(query: str, label: object) -> bool:
    """Family labels compared in lower case, letters and digits only, a plural 's'/'es' ignored
    (argyrodite = Argyrodites)."""
    f = norm_label(label)
    return bool(f) and (f == query or f in (query + "s", query + "es") or query in (f + "s", f + "es"))


def _element(symbol: str) -> bool:
    """Whether `symbol` is an element the parser knows."""
    p = parse_formula(symbol)
    return p.ok and p.composition is not None and set(p.composition) == {symbol}


def _elements(key: str) -> frozenset[str]:
    """The elements of a composition key such as 'Li:0.5,P:0.1,S:0.4'."""
    return frozenset(symbol for symbol, _ in key_fractions(key))


def read_query(table: DataTable, text: str) -> Query:
    """Read a search text, trying in turn: a DOI, an element set, a family of the table, a formula.

    - A DOI in any case, with or without `https://doi.org/` or `doi:`; a supporting-information DOI
      (`10.1021/jacs.7b06327.s001`) stands for its paper.
    - An element set, symbols joined by '-' or ',': `Li-P-S-Cl` finds the materials made of exactly these
      elements; with a trailing '*' (`Li-P-S*`) also those with further elements.
    - A family label of the table, in any case, singular or plural (`argyrodite`, `LGPS`).
    - A formula in any notation the parser reads (`Li6PS5Cl`, `70Li2S-30P2S5`, `Li10Ge(P0.925Sb0.075)2S12`):
      every material of that composition, each state separately; a state named in the text
      (`Li7P3S11 glass-ceramic`) keeps that state only, and an additive (`Li3PS4-10wt% Al2O3`) that composite.

    Raises:
        InputError: the text is empty, or reads as none of these (the message says why for each).
    """
    stripped = text.strip() if isinstance(text, str) else ""
    if not stripped:
        raise InputError("empty search: give a formula (Li6PS5Cl), an element set (Li-P-S-Cl), a family "
                         "(argyrodite) or a DOI")
    doi = normalize_doi(stripped) if len(stripped.split()) == 1 else None
    if doi is not None and _DOI.fullmatch(doi):
        paper = paper_of_doi(doi)
        return Query(stripped, "doi", paper, f"DOI {paper}" + (f" (from {doi})" if doi != paper else ""))
    m = _ELEMENT_SET.match(stripped)
    if m:
        symbols = [s.strip() for s in re.split(r"[-,]", m.group(1))]
        more = m.group(2) is not None
        if (len(symbols) > 1 or more) and all(_element(s) for s in symbols):
            unique = list(dict.fromkeys(symbols))
            value = "-".join(unique) + ("*" if more else "")
            words = ("made of at least" if more else "made of exactly") + " " + ", ".join(unique)
            return Query(stripped, "elements", value, f"elements: {words}")
    wanted = norm_label(stripped)
    families = sorted({f for f in table.measurements["family"].dropna().unique() if _family_match(wanted, f)})
    if families:
        return Query(stripped, "family", stripped, f"family {stripped} ({', '.join(families)})")
    parsed = parse_formula(stripped)
    if parsed.ok and parsed.composition:
        key = composition_key(parsed.composition)
        state = state_of_tags(";".join(parsed.tags))
        what = f"formula {parsed.formula}" + (f" + {parsed.additive}" if parsed.additive else "")
        return Query(stripped, "formula", key, what + (f", {state}" if state else " (every state)"))
    raise InputError(f"cannot read {stripped!r} as a search: not a DOI (10.xxxx/...), not an element set such "
                     f"as Li-P-S-Cl, not a family of the data, and not a formula ({parsed.error})")


def _matches(table: DataTable, query: Query) -> pd.Series:
    """The measurement rows whose material matches the query (a boolean mask)."""
    m = table.measurements
    keys = m["composition_key"].fillna("")
    if query.kind == "doi":
        def of_paper(paper: object, dois: object) -> bool:
            if paper == query.value:
                return True
            return isinstance(dois, str) and any(paper_of_doi(d) == query.value for d in dois.split("|") if d)
        rows = [of_paper(p, d) for p, d in zip(m["paper"], m["doi"], strict=True)]
        return m["material_key"].isin(set(m.loc[rows, "material_key"]))
    if query.kind == "elements":
        wanted = frozenset(query.value.rstrip("*").split("-"))
        exact = not query.value.endswith("*")
        return keys.map(lambda k: bool(k) and (_elements(k) == wanted if exact else wanted <= _elements(k)))
    if query.kind == "family":
        label = norm_label(query.value)
        rows = m["family"].map(lambda f: _family_match(label, f))
        return m["material_key"].isin(set(m.loc[rows, "material_key"]))
    parsed = parse_formula(query.text)
    mask = keys == query.value
    if parsed.additive:
        mask &= m["additive"] == parsed.additive
    state = state_of_tags(";".join(parsed.tags))
    if state is not None:
        mask &= m["state"] == state
    return mask


def _measurement(r: dict) -> Measurement:
    paper = _text(r["paper"])
    return Measurement(
        log10_sigma=float(r["log10_sigma"]),
        sigma_S_cm=float(10.0 ** float(r["log10_sigma"])),
        temperature_K=_number(r["temperature_K"]),
        room_temperature=bool(r["room_temperature"]),
        ea_eV=_number(r["ea_eV"]),
        paper=None if paper is None or paper.startswith("composition:") else paper,
        doi=_text(r["doi"]),
        source=str(r["source"]),
        source_row_id=str(r["source_row_id"]),
        state=str(r["state"]),
        censored=bool(r["censored"]),
        space_group=_whole(r.get("space_group")),
    )


def _whole(value: object) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _record(key: str, rows: pd.DataFrame, agg: pd.DataFrame) -> MaterialRecord:
    rows = rows.assign(_t=rows["temperature_K"].fillna(0.0)).sort_values(
        ["room_temperature", "_t", "source", "source_row_id"], ascending=[False, True, True, True])
    measurements = tuple(_measurement(r) for r in rows.to_dict("records"))
    series = [(x.temperature_K, x.log10_sigma) for x in measurements
              if x.temperature_K is not None and not x.censored]
    fit = fit_series([t for t, _ in series], [y for _, y in series])
    first = rows.iloc[0]
    a = agg.loc[key] if key in agg.index else None
    family = _text(a["family"]) if a is not None else None
    return MaterialRecord(
        material_key=key,
        formula=str(a["formula"] if a is not None else first["formula"]),
        composition_key=str(first["composition_key"]),
        additive=_text(first["additive"]),
        state=str(first["state"]),
        space_group=_whole(a["space_group"]) if a is not None else None,
        polymorphs=tuple({k: p[k] for k in ("space_group", "log10_sigma", "censored", "n_papers")}
                         for p in (json.loads(a["polymorphs"]) if a is not None else [])),
        family=family or next((f for f in rows["family"] if _text(f)), None),
        log10_sigma=_number(a["log10_sigma"]) if a is not None else None,
        censored=bool(a["censored"]) if a is not None else False,
        n_papers=int(a["n_papers"]) if a is not None else 0,
        log10_sigma_min=_number(a["log10_sigma_min"]) if a is not None else None,
        log10_sigma_max=_number(a["log10_sigma_max"]) if a is not None else None,
        ea_eV=_number(a["ea_eV"]) if a is not None else None,
        measurements=measurements,
        arrhenius=fit,
    )


def search(table: DataTable, text: str | Query, limit: int = DEFAULT_LIMIT) -> list[MaterialRecord]:
    """The measured materials a search text names (see `read_query` for what it may be).

    Plain materials come before composites, and the most documented first: by the papers and then the
    measurements the table has of each (at any temperature), then by formula.

    Args:
        table: the merged data table.
        text: a formula, an element set, a family or a DOI, or that text already read (`read_query`).
        limit: the most materials returned.

    Returns:
        Up to `limit` records; an empty list when the text reads well but nothing matches.

    Raises:
        InputError: the text reads as nothing, or `limit` is below 1.
    """
    if limit < 1:
        raise InputError(f"the number of materials to return must be at least 1, got {limit}")
    query = text if isinstance(text, Query) else read_query(table, text)
    m = table.measurements
    found = m[_matches(table, query).to_numpy(bool) & m["material_key"].notna().to_numpy()]
    if found.empty:
        return []
    # most documented first, ranked before aggregating so that only the materials returned are aggregated
    rank = found.groupby("material_key", sort=False).agg(
        papers=("paper", "nunique"), rows=("source", "size"), formula=("formula", "first"),
        composite=("additive", lambda a: a.notna().any()))
    rank = rank.reset_index().sort_values(["composite", "papers", "rows", "formula", "material_key"],
                                          ascending=[True, False, False, True, True])
    keys = rank["material_key"].head(limit).tolist()
    found = found[found["material_key"].isin(keys)]
    # the rule aggregates each material on its own rows, so the matched rows give the table's values
    at_rt = found["room_temperature"] & found["composition_key"].map(lambda k: "Li" in _elements(k))
    agg = aggregate_materials(found, DEFAULT_AGGREGATION) if at_rt.any() else pd.DataFrame()
    groups = dict(list(found.groupby("material_key", sort=False)))
    return [_record(k, groups[k], agg) for k in keys]
