"""The one clean table: load every source, parse formulas, validate, count what was rejected and why.

`build_table` returns a `DataTable` with one row per measurement, the rejected rows with their
reasons, and a per-material view. It is cached on disk, keyed by the input files' hashes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import pandera.pandas as pa

from sulfml._version import __version__
from sulfml.chem.composition import material_key, polymorph_of
from sulfml.chem.polymorphs import space_group_of_name
from sulfml.data.loaders import LOADERS, input_files, load_review, load_user, paper_of_doi
from sulfml.data.sources import default_cache_dir, file_digests, resolve_data_dir, sha256_of
from sulfml.parse.formula import composition_key, parse_formula
from sulfml.parse.state import (
    GLASS,
    GLASS_CERAMIC,
    implied_state,
    names_structure,
    normalize_state,
    state_of_label,
)

# The public sources (what a config's `[data] sources` chooses from) ...
SOURCES = ("review", "obelix", "liverpool", "laskowski")
# ... and the user's own measurements (`build_table(extra=...)`), a source of the table when given.
USER_SOURCE = "user"
TABLE_SOURCES = (*SOURCES, USER_SOURCE)
# Bump when the cleaning rules change, so cached tables are rebuilt.
TABLE_VERSION = 5  # 5: a material's formula as the sources write it (`shown_formulas`)
RT_RANGE_K = (288.15, 308.15)  # 15–35 °C counts as room temperature
AGGREGATION = "median-log10"
# median-log10 after keeping one measurement per material and paper (see `one_per_paper`).
AGGREGATION_ONE_PER_PAPER = "median-log10-one-per-paper"
# the same for each polymorph of a material (`polymorph_key`) apart: what a model that reads the space group
# learns from
AGGREGATION_PER_POLYMORPH = "median-log10-one-per-paper-per-polymorph"
AGGREGATIONS = (AGGREGATION, AGGREGATION_ONE_PER_PAPER, AGGREGATION_PER_POLYMORPH)
# The one rule a material's measured value is shown by (export, search, neighbours, known-first answers) and
# the shipped configs train on; `median-log10` stays selectable in a config for the older ablation rows.
DEFAULT_AGGREGATION = AGGREGATION_ONE_PER_PAPER
# The user's rows come last: a public row of the same material carries the structure columns and the split.
SOURCE_ORDER = {"obelix": 0, "review": 1, "laskowski": 2, "liverpool": 3, USER_SOURCE: 4}

MEASUREMENT_COLUMNS = [
    "source", "source_row_id", "raw_formula", "formula", "composition", "composition_key", "material_key",
    "notation", "additive", "tags", "state", "state_reason", "log10_sigma", "censored", "temperature_K", "room_temperature", "ea_eV",
    "family", "structure_type", "doi", "reference", "paper", "notes", "split", "space_group_number",
    "a", "b", "c", "alpha", "beta", "gamma", "z", "cif_path", "space_group", "polymorph_key",
]

RANGE_REASONS = {
    "log10_sigma": "sigma out of range (1e-30 to 1e2 S/cm)",
    "ea_eV": "Ea out of range (0.01 to 3 eV)",
    "temperature_K": "temperature out of range (0 to 1500 K)",
}

SCHEMA = pa.DataFrameSchema(
    {
        "source": pa.Column(str, pa.Check.isin(TABLE_SOURCES)),
        "source_row_id": pa.Column(str),
        "formula": pa.Column(str),
        "composition_key": pa.Column(str),
        "log10_sigma": pa.Column(float, pa.Check.in_range(-30.0, 2.0)),
        "censored": pa.Column(bool),
        "ea_eV": pa.Column(float, pa.Check.in_range(0.01, 3.0), nullable=True),
        "temperature_K": pa.Column(float, pa.Check.in_range(0.0, 1500.0), nullable=True),
        "room_temperature": pa.Column(bool),
    },
    unique=["source", "source_row_id"],
)


@dataclass(frozen=True)
class DataTable:
    """The merged measurements, what was rejected, and where they came from.

    Attributes:
        measurements: one row per kept measurement, columns `MEASUREMENT_COLUMNS`.
        rejections: one row per rejected input row: source, source_row_id, raw_formula, reason, detail.
        rows_read: rows read per source (`user` only when the user's files were given).
        key: hash of the inputs and cleaning rules this table was built from.
        extra: the user's files (`sources.file_digests`: name and sha256), in order; empty without them.
    """

    measurements: pd.DataFrame
    rejections: pd.DataFrame
    rows_read: dict[str, int]
    key: str
    extra: tuple[dict[str, str], ...] = field(default_factory=tuple)

    def materials(self, strategy: str = DEFAULT_AGGREGATION) -> pd.DataFrame:
        """The per-material view at room temperature; see `aggregate_materials`."""
        return aggregate_materials(self.measurements, strategy)

    def info(self) -> dict:
        """Counts per source and overall, as printed by `sulfml data info`."""
        sources = {}
        for src in (*SOURCES, *([USER_SOURCE] if USER_SOURCE in self.rows_read else [])):
            rej = self.rejections[self.rejections["source"] == src]
            sources[src] = {
                "rows_read": int(self.rows_read.get(src, 0)),
                "rows_kept": int((self.measurements["source"] == src).sum()),
                "rejected": {k: int(v) for k, v in rej["reason"].value_counts().sort_index().items()},
            }
        mats = self.materials()
        extra = {"extra_files": [dict(f) for f in self.extra]} if self.extra else {}
        return extra | {
            "sources": sources,
            "materials": int(len(mats)),
            "materials_with_ea": int(mats["ea_eV"].notna().sum()),
            "materials_by_state": {k: int(v) for k, v in mats["state"].value_counts().sort_index().items()},
            "measurements": int(len(self.measurements)),
            "aggregation": DEFAULT_AGGREGATION,
            "table_key": self.key,
        }

    def rejection_examples(self) -> dict[str, dict[str, str]]:
        """One example input per (source, reason), for reports."""
        out: dict[str, dict[str, str]] = {}
        for (src, reason), grp in self.rejections.groupby(["source", "reason"]):
            r = grp.iloc[0]
            out.setdefault(src, {})[reason] = f"{r['source_row_id']}: {r['raw_formula']!r} ({r['detail']})"
        return out


def _reason_category(error: str) -> str:
    return error.split(":", 1)[0].strip()


def clean(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse formulas and validate ranges; split raw rows into kept measurements and rejections.

    Args:
        raw: rows as returned by the loaders (`loaders.RAW_COLUMNS`).

    Returns:
        (measurements, rejections).
    """
    df = raw.copy().reset_index(drop=True)
    df["source_row_id"] = df["source_row_id"].astype(str)
    parsed = [parse_formula(str(f)) for f in df["raw_formula"].fillna("")]
    reasons = df["read_error"].astype(object).where(df["read_error"].notna(), None).tolist()
    given = df["read_detail"] if "read_detail" in df else pd.Series(None, index=df.index)
    details: list[str | None] = [d if r is not None and isinstance(d, str) else None
                                 for r, d in zip(reasons, given, strict=True)]
    for i, p in enumerate(parsed):
        if reasons[i] is None and not p.ok:
            assert p.error is not None  # not p.ok: the rejection reason is set
            reasons[i], details[i] = _reason_category(p.error), p.error
    df["formula"] = [p.formula for p in parsed]
    df["composition"] = [json.dumps(p.composition, sort_keys=True) if p.ok else None for p in parsed]
    df["composition_key"] = [composition_key(cast("dict[str, float]", p.composition)) if p.ok else None
                             for p in parsed]
    df["notation"] = [p.notation for p in parsed]
    df["additive"] = [p.additive for p in parsed]
    df["tags"] = [";".join(p.tags) for p in parsed]
    for col in ("log10_sigma", "ea_eV", "temperature_K", "space_group_number", "a", "b", "c", "alpha",
                "beta", "gamma", "z"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["state"], df["state_reason"] = _states(df, parsed)
    df["space_group"] = _space_groups(df, parsed)
    # A material is a composition (with its additive) in one state: Li7P3S11 glass is not its glass-ceramic.
    # Its polymorphs, where the data know them, are each a space group of it: tetragonal Li7La3Zr2O12 is not
    # cubic.
    df["material_key"] = [
        material_key(k, a, st) if k else None
        for k, a, st in zip(df["composition_key"], df["additive"], df["state"], strict=True)
    ]
    df["polymorph_key"] = [
        material_key(k, a, st, None if sg != sg else int(sg)) if k else None
        for k, a, st, sg in zip(df["composition_key"], df["additive"], df["state"], df["space_group"], strict=True)
    ]
    df["censored"] = df["censored"].map(lambda v: v is True)
    t = df["temperature_K"]
    df["room_temperature"] = t.isna() | t.between(*RT_RANGE_K)
    df["paper"] = [
        (paper_of_doi(d.split("|")[0]) if isinstance(d, str) and d else None) or ref
        or (f"composition:{k}" if k else None)
        for d, ref, k in zip(df["doi"], df["reference"], df["composition_key"], strict=True)
    ]

    # Range checks come from the schema itself, so the rule that rejects is the rule that validates.
    candidate = df[[r is None for r in reasons]]
    try:
        SCHEMA.validate(candidate, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        for col, reason in RANGE_REASONS.items():
            for idx in fc.loc[(fc["column"] == col) & fc["index"].notna(), "index"].unique():
                idx = int(idx)
                if reasons[idx] is None:
                    reasons[idx] = reason
                    raw_sigma = df.at[idx, "sigma_raw"] if col == "log10_sigma" else None
                    details[idx] = (f"published sigma {raw_sigma!r}" if isinstance(raw_sigma, str)
                                    else f"{col}={df.at[idx, col]:.4g}")
    df["reason"], df["detail"] = reasons, details
    kept = df[df["reason"].isna()][MEASUREMENT_COLUMNS].reset_index(drop=True)
    kept["formula"] = shown_formulas(kept["formula"], kept["composition_key"])
    SCHEMA.validate(kept)
    rejected = df[df["reason"].notna()][["source", "source_row_id", "raw_formula", "reason", "detail"]]
    return kept, rejected.reset_index(drop=True)


def shown_formulas(formulas: pd.Series, keys: pd.Series) -> pd.Series:
    """The one formula each composition is shown with, on every row of it: of the formulas its rows are shown
    with (`ParsedFormula.formula`, a plain formula as the source wrote it), the most frequent, ties to the
    first. The sources spell one material many ways (Li6PS5Cl0.5Br0.5, Li12P2S10BrCl); the identity stays
    the composition key."""
    counts = pd.DataFrame({"key": keys, "formula": formulas}).groupby(["key", "formula"], sort=False).size()
    if counts.empty:
        return formulas
    # groupby(sort=False) keeps the order of first appearance, so idxmax's first maximum is the first spelling
    chosen = dict(counts.groupby(level="key", sort=False).idxmax().tolist())
    return keys.map(chosen).where(keys.notna(), formulas)


def _states(df: pd.DataFrame, parsed: list) -> tuple[list[str], list[str]]:
    """Each row's state and why (`sulfml.parse.state.implied_state`): a source's own state column first, then
    the formula's words, the source's structure column or family label, a space group, a glass notation."""
    given = df["state"].tolist() if "state" in df.columns else [None] * len(df)
    states, reasons = [], []
    for p, own, structure, family, sg in zip(parsed, given, df["structure_type"], df["family"],
                                             df["space_group_number"], strict=True):
        if isinstance(own, str) and own.strip() and normalize_state(own) != "unknown":
            states.append(normalize_state(own))
            reasons.append("the source says so")
            continue
        label = structure if state_of_label(structure) is not None else family
        state, why = implied_state(p.notation, ";".join(p.tags), label, crystal_structure=sg == sg,
                                   structure_family=names_structure(family))
        states.append(state)
        reasons.append(why)
    return states, reasons


def _space_groups(df: pd.DataFrame, parsed: list) -> list[float]:
    """Each row's space group as part of its material's identity (NaN: not known).

    A crystal's row takes the space group its source gives, else the one its polymorph name has in the table
    of named polymorphs (`sulfml.chem.polymorphs`: the review's β-Li3PS4 is Pnma). A row still without one
    joins its material's polymorph when the data know that composition and state in one space group only
    (Li10GeP2S12 measured without a structure is the LGPS-type P4_2/nmc that every other row of it names);
    with several, it stays "polymorph not known". A glass or glass-ceramic has no space group of its own.
    """
    groups: list[float] = []
    for p, state, sg in zip(parsed, df["state"], df["space_group_number"], strict=True):
        if state in (GLASS, GLASS_CERAMIC) or not p.ok:
            groups.append(np.nan)
        elif sg == sg and 1 <= sg <= 230 and sg == int(sg):
            groups.append(float(sg))
        else:
            named, _ = space_group_of_name(cast("dict[str, float]", p.composition), ";".join(p.tags))
            groups.append(np.nan if named is None else float(named))
    out = pd.Series(groups, index=df.index, dtype=float)
    identity = [df["composition_key"].fillna(""), df["additive"].fillna(""), df["state"]]
    known = out.groupby(identity).transform(lambda g: g.dropna().iloc[0] if g.dropna().nunique() == 1 else np.nan)
    return out.fillna(known).tolist()


def one_per_paper(measurements: pd.DataFrame) -> pd.DataFrame:
    """One measurement per material, paper and room-temperature flag: the deduplication rule.

    The same value is often copied into several sources (a paper's Li6PS5Cl in OBELiX and in Laskowski), and
    a paper may list one composition several times; each paper then counts once in the material's median.
    The kept row is the first by source (obelix, review, laskowski, liverpool), then source row id; it takes
    the median Ea of the rows it stands for, so an Ea reported by any source is kept.
    """
    keys = ["material_key", "paper", "room_temperature"]
    m = measurements.assign(_order=measurements["source"].map(SOURCE_ORDER))
    m = m.sort_values(["_order", "source_row_id"])
    m["ea_eV"] = m.groupby(keys, dropna=False)["ea_eV"].transform("median")
    return m.drop_duplicates(keys).drop(columns="_order")


def aggregate_materials(measurements: pd.DataFrame, strategy: str = DEFAULT_AGGREGATION) -> pd.DataFrame:
    """One row per Li-containing material with a room-temperature conductivity.

    Strategy `median-log10`: the material's log10 σ is the median over its uncensored room-temperature
    measurements; when every measurement is censored, it is the tightest (lowest) upper bound and the
    material stays censored. Ea is the median of the reported values. `log10_sigma_spread` (max − min),
    `n_measurements` and `n_sources` keep the disagreement visible; `n_papers`, `log10_sigma_min` and
    `log10_sigma_max` count and bound the papers the value is the median of (`evidence`), and `ea_evidence`
    lists the [paper, Ea] values its Ea is the median of. A material is its composition key plus its
    additive and state, so `Li3PS4 – 10 wt% Al2O3` is not `Li3PS4`.

    Strategy `median-log10-one-per-paper`: the same after `one_per_paper` (each paper counts once). Each
    material also lists its `polymorphs` (JSON, [] when the data name none): per space group, the same
    aggregation over that polymorph's measurements (`space_group`, `log10_sigma`, `censored`, `n_papers`,
    `ea_eV`, `evidence`, `ea_evidence`), the ones that name no space group as `space_group` null.

    Strategy `median-log10-one-per-paper-per-polymorph`: each polymorph is a material of its own (keyed by
    its `polymorph_key`), for a model that reads the space group. A model that reads only the composition
    learns one value per composition and state: splitting it by polymorphs it cannot tell apart only made
    its OBELiX error worse (1.099 ± 0.018 -> 1.138 ± 0.051 over three seeds).

    Args:
        measurements: `DataTable.measurements`.
        strategy: one of `AGGREGATIONS`.

    Returns:
        A frame indexed by `material_key`.
    """
    if strategy not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation strategy {strategy!r}; known: {', '.join(AGGREGATIONS)}")
    if strategy == AGGREGATION_PER_POLYMORPH:
        return _per_polymorph(measurements)
    out = _aggregate(one_per_paper(measurements) if strategy == AGGREGATION_ONE_PER_PAPER else measurements)
    if strategy == AGGREGATION_ONE_PER_PAPER and "polymorph_key" in measurements.columns and len(out):
        # from every measurement: a paper that measured two polymorphs counts once for the material, once
        # for each polymorph
        out["polymorphs"] = _polymorphs(measurements, out.index)
    return out


def _polymorphs(measurements: pd.DataFrame, keys: pd.Index) -> list[str]:
    """Each material's polymorphs as `aggregate_materials` describes them (JSON per material)."""
    measurements = measurements[measurements["material_key"].notna()]
    named = measurements[measurements["polymorph_key"] != measurements["material_key"]]
    with_polymorphs = set(named["material_key"])
    sub = measurements[measurements["material_key"].isin(with_polymorphs)]
    per = _per_polymorph(sub) if len(sub) else None
    found: dict[str, list[dict]] = {}
    if per is not None:
        for key, r in per.iterrows():
            base, sg = polymorph_of(str(key))
            found.setdefault(base, []).append({
                "space_group": sg, "log10_sigma": r["log10_sigma"], "censored": bool(r["censored"]),
                "n_papers": int(r["n_papers"]), "ea_eV": None if r["ea_eV"] != r["ea_eV"] else float(r["ea_eV"]),
                "evidence": r["evidence"], "ea_evidence": r["ea_evidence"]})
    return [json.dumps(sorted(found.get(k, []), key=lambda p: p["space_group"] or 0)) for k in keys]


def _per_polymorph(measurements: pd.DataFrame) -> pd.DataFrame:
    """The one-per-paper aggregation of each polymorph (`polymorph_key`) as a material of its own."""
    return _aggregate(one_per_paper(measurements.assign(material_key=measurements["polymorph_key"])))


def _aggregate(measurements: pd.DataFrame) -> pd.DataFrame:
    """`aggregate_materials`' rows, one per `material_key` of the measurements as given."""
    m = measurements[measurements["room_temperature"]].copy()
    m = m[m["composition"].map(lambda c: "Li" in json.loads(c))]
    # OBELiX rows carry structures and the official split; prefer them for the descriptive columns.
    m["_order"] = m["source"].map(SOURCE_ORDER)
    m = m.sort_values(["_order", "source_row_id"])
    rows = []
    for key, g in m.groupby("material_key", sort=True):
        unc = g[~g["censored"]]
        if len(unc):
            log_sigma, censored = float(np.median(unc["log10_sigma"])), False
        else:
            log_sigma, censored = float(g["log10_sigma"].min()), True
        first = g.iloc[0]
        ea = g["ea_eV"].dropna()
        cited = unc if len(unc) else g
        with_structure = g[g["space_group_number"].notna()]
        s = with_structure.iloc[0] if len(with_structure) else first
        rows.append({
            "material_key": key,
            "formula": first["formula"],
            "raw_formula": first["raw_formula"],
            "composition": first["composition"],
            "composition_key": first["composition_key"],
            "notation": first["notation"],
            "additive": first["additive"],
            "tags": ";".join(sorted({t for ts in g["tags"] for t in ts.split(";") if t})),
            "state": first["state"],
            "log10_sigma": log_sigma,
            "censored": censored,
            "log10_sigma_spread": float(g["log10_sigma"].max() - g["log10_sigma"].min()),
            "ea_eV": float(np.median(ea)) if len(ea) else np.nan,
            "n_ea": int(len(ea)),
            "n_measurements": int(len(g)),
            "n_sources": int(g["source"].nunique()),
            "sources": ";".join(sorted(g["source"].unique())),
            "family": next((f for f in g["family"] if isinstance(f, str) and f), None),
            "structure_type": next((f for f in g["structure_type"] if isinstance(f, str) and f), None),
            "paper": first["paper"],
            "evidence": _evidence(cited, "log10_sigma"),
            "n_papers": int(cited["paper"].nunique()),
            "log10_sigma_min": float(cited["log10_sigma"].min()),
            "log10_sigma_max": float(cited["log10_sigma"].max()),
            "ea_evidence": _evidence(g[g["ea_eV"].notna()], "ea_eV"),
            "papers": "|".join(sorted({p for p in g["paper"] if p})),
            "dois": "|".join(sorted({d for ds in g["doi"].dropna() for d in ds.split("|")})),
            "split": next((x for x in g["split"] if isinstance(x, str) and x), None),
            **{c: s[c] for c in ("space_group_number", "a", "b", "c", "alpha", "beta", "gamma", "z",
                                 "cif_path")},
            # the space group every measurement of it names (a name or its only polymorph may give it where
            # no row's source does), else NaN
            **({"space_group_number": sg} if (sg := _one_space_group(g)) == sg else {}),
            "space_group": sg,
        })
    return pd.DataFrame(rows).set_index("material_key", drop=False)


def _one_space_group(rows: pd.DataFrame) -> float:
    """The space group of a material's rows when they all name the same one, else NaN."""
    groups = set(rows["space_group"].tolist()) if "space_group" in rows.columns else {np.nan}
    value = groups.pop() if len(groups) == 1 else np.nan
    return float(value) if value == value else np.nan


def _evidence(rows: pd.DataFrame, column: str) -> str:
    """The measurements a material's value is the median of, as JSON: [[paper, value], ...] of `column` in
    the order the aggregation reads them, so the value can be recomputed and each paper cited. A row whose
    source gives no DOI or reference is cited by its source and row ("laskowski row 2592")."""
    cited = [p if isinstance(p, str) and not p.startswith("composition:") else f"{src} row {row}"
             for p, src, row in zip(rows["paper"], rows["source"], rows["source_row_id"], strict=True)]
    return json.dumps([[p, round(float(v), 6)] for p, v in zip(cited, rows[column], strict=True)])


def load_raw(data_dir: Path, extra: Sequence[Path] = ()) -> tuple[pd.DataFrame, dict[str, int]]:
    """Every source's rows as read (the user's files last, when given), and how many rows each source had."""
    frames = [load_review()] + [LOADERS[s](data_dir) for s in SOURCES if s != "review"]
    if extra:
        frames.append(load_user(list(extra)))
    raw = pd.concat([f.astype(object) for f in frames], ignore_index=True)
    sources = (*SOURCES, USER_SOURCE) if extra else SOURCES
    return raw, {s: int((raw["source"] == s).sum()) for s in sources}


def select_sources(measurements: pd.DataFrame, sources: Sequence[str]) -> pd.DataFrame:
    """The measurements of the chosen public sources, and every one of the user's: a run that was given the
    user's files learns from them whatever public sources it chose."""
    return measurements[measurements["source"].isin([*sources, USER_SOURCE])]


def table_key(data_dir: Path, extra: Sequence[Path] = ()) -> str:
    """Hash of the input files (the user's by name and content, in order) and of the code that reads and
    cleans them."""
    import sulfml.data.loaders
    import sulfml.parse.formula
    import sulfml.parse.state

    h = hashlib.sha256(f"sulfml-table-v{TABLE_VERSION}-{__version__}".encode())
    # the parser and loaders are the cleaning rules: editing them must invalidate cached tables
    code = [Path(__file__), Path(sulfml.data.loaders.__file__), Path(sulfml.parse.formula.__file__),
            Path(sulfml.parse.state.__file__)]
    for path in [*code, *input_files(data_dir)]:
        h.update(sha256_of(path).encode())
    for f in file_digests(extra):  # names too: they are the user rows' ids
        h.update(f"user:{f['name']}:{f['sha256']}".encode())
    return h.hexdigest()[:20]


def build_table(
    data_dir: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    download: bool = True,
    extra: Sequence[str | Path] = (),
) -> DataTable:
    """Load, clean and merge every source into one table, reusing the on-disk cache when inputs match.

    Args:
        data_dir: directory with the public datasets; see `sources.resolve_data_dir`.
        cache_dir: where built tables are kept; defaults to the user cache.
        use_cache: read a cached table with the same key instead of rebuilding.
        download: allow fetching the public files when no data directory is given.
        extra: the user's own measurement tables (`loaders.load_user`), source `user`.

    Returns:
        The merged `DataTable`.

    Raises:
        InputError: one of the user's files cannot be read or has the wrong columns.
    """
    root = resolve_data_dir(data_dir, download=download)
    extra_paths = [Path(p) for p in extra]
    digests = tuple(file_digests(extra_paths))
    key = table_key(root, extra_paths)
    folder = Path(cache_dir or default_cache_dir() / "tables") / key
    files = {n: folder / f"{n}.parquet" for n in ("measurements", "rejections")}
    meta = folder / "rows_read.json"
    if use_cache and meta.exists() and all(p.exists() for p in files.values()):
        return DataTable(
            measurements=pd.read_parquet(files["measurements"]),
            rejections=pd.read_parquet(files["rejections"]),
            rows_read=json.loads(meta.read_text()),
            key=key,
            extra=digests,
        )
    raw, rows_read = load_raw(root, extra_paths)
    measurements, rejections = clean(raw)
    folder.mkdir(parents=True, exist_ok=True)
    measurements.to_parquet(files["measurements"], index=False)
    rejections.to_parquet(files["rejections"], index=False)
    meta.write_text(json.dumps(rows_read))
    return DataTable(measurements=measurements, rejections=rejections, rows_read=rows_read, key=key,
                     extra=digests)
