"""One function per source: read its file as published and map it onto the canonical measurement columns.

Loaders only read and rename; formulas are parsed and values validated in `table.py`, so every
source is cleaned by the same rules.
"""

from __future__ import annotations

import math
import os
import re
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sulfml.data.files import read_chunks
from sulfml.data.sources import default_cache_dir, sha256_of, source_files
from sulfml.errors import InputError
from sulfml.parse.state import StateError, normalize_state
from sulfml.shipped import shipped_path

REVIEW_DIR_ENV = "SULFML_REVIEW_DIR"
ZERO_C = 273.15

# Every loader returns these columns (and may leave some blank); `table.py` adds the parsed ones. A row that
# cannot be read has a `read_error` (the rejection reason) and may say more in `read_detail`.
RAW_COLUMNS = [
    "source", "source_row_id", "raw_formula", "sigma_raw", "log10_sigma", "censored", "temperature_K",
    "ea_eV", "family", "structure_type", "doi", "reference", "notes", "split", "space_group_number",
    "a", "b", "c", "alpha", "beta", "gamma", "z", "cif_path", "state", "read_error",
    "read_detail",
]

_NUM = re.compile(r"^[~≈]?\s*(<|≤|&lt;)?\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)$")


def parse_value(text: object) -> tuple[float | None, bool, str | None]:
    """Read a published number such as `1.2E-4`, `1.2E−4` (Unicode minus) or the censored `<1E-10`.

    Returns:
        (value, censored, error): `censored` is True for an upper bound written with `<`;
        value is None and error names the problem when the text is not a number.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None, False, None
    s = str(text).strip().replace("\u2212", "-").replace("\u2013", "-").replace(" ", "")
    if not s:
        return None, False, None
    m = _NUM.match(s)
    if not m:
        return None, False, f"unreadable value {str(text)!r}"
    return float(m.group(2)), bool(m.group(1)), None


def normalize_doi(text: object) -> str | None:
    """Lower-case DOIs without resolver prefix; several DOIs stay joined by `|`."""
    if not isinstance(text, str) or not text.strip():
        return None
    dois = []
    for part in re.split(r"[|;,\s]+", text.strip()):
        part = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", part.strip(), flags=re.I).lower()
        if part.startswith("10."):
            dois.append(part)
    return "|".join(dois) or None


# A publisher's DOI of a paper's supporting information: the paper's DOI plus a suffix (ACS: `.s001`).
_SUPPORTING_INFORMATION = re.compile(r"\.s\d{3}$")


def paper_of_doi(doi: str) -> str:
    """The paper a DOI belongs to: a supporting-information DOI (`10.1021/jacs.7b06327.s001`) counts as its
    paper (`10.1021/jacs.7b06327`); any other DOI is its own paper. Expects `normalize_doi`'s form."""
    return _SUPPORTING_INFORMATION.sub("", doi)


def _frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for col in RAW_COLUMNS:
        if col not in df:
            df[col] = None
    return df[RAW_COLUMNS]


def _sigma_fields(raw: object) -> dict:
    value, censored, error = parse_value(raw)
    if error:
        return {"read_error": "unreadable conductivity", "notes": error, "read_detail": error}
    if value is None:
        return {"read_error": "no conductivity"}
    if value <= 0:
        return {"read_error": "non-positive conductivity"}
    return {"log10_sigma": math.log10(value), "censored": censored}


def _ea_field(raw: object) -> dict:
    value, censored, error = parse_value(raw)
    if error:
        return {"read_error": "unreadable activation energy", "notes": error, "read_detail": error}
    return {"ea_eV": value} if value is not None and not censored else {}


def review_dir() -> Path:
    """The review tables: $SULFML_REVIEW_DIR, else the ones that ship with sulfml."""
    if os.environ.get(REVIEW_DIR_ENV):
        return Path(os.environ[REVIEW_DIR_ENV])
    return shipped_path("data", "review")


def review_files() -> list[Path]:
    """The transcribed tables of Su et al. 2022, Table 1 then Table 2."""
    return [review_dir() / "su2022_table1.csv", review_dir() / "su2022_table2.csv"]


def load_review() -> pd.DataFrame:
    """Tables 1 and 2 of Su et al., Energy Mater. 2022 (doi 10.20517/energymater.2022.01), as transcribed."""
    rows = []
    for path in review_files():
        table = path.stem.split("_")[-1]  # "table1" / "table2"
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        for i, r in df.iterrows():
            t_c = parse_value(r.get("temperature_C"))[0]
            row = {
                "source": "review",
                "source_row_id": f"{table}:{i + 1}",
                "raw_formula": r["formula"],
                "sigma_raw": r["sigma_S_cm"],
                "temperature_K": t_c + ZERO_C if t_c is not None else np.nan,
                "structure_type": r.get("structure") or None,
                "reference": f"su2022 ref {r['ref']}" if r.get("ref") else None,
                "notes": "; ".join(x for x in (r.get("method"), "" if t_c is not None else "RT") if x),
            }
            row.update(_sigma_fields(r["sigma_S_cm"]))
            row.update(_ea_field(r.get("ea_eV")))
            rows.append(row)
    return _frame(rows)


def _extract_cifs(tarball: Path) -> Path:
    """Unpack the OBELiX CIFs once into the cache, in a folder named by the tarball's hash."""
    dest = default_cache_dir() / "obelix_cifs" / sha256_of(tarball)[:16]
    if not (dest / ".complete").exists():
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.endswith(".cif"):
                    member.name = Path(member.name).name
                    tar.extract(member, dest, filter="data")
        (dest / ".complete").touch()
    return dest


def load_obelix(data_dir: Path) -> pd.DataFrame:
    """OBELiX train.csv and test.csv (599 materials, official split, 321 CIFs)."""
    cif_dir = _extract_cifs(data_dir / "obelix" / "all_cifs.tar.gz")
    rows = []
    for split in ("train", "test"):
        df = pd.read_csv(data_dir / "obelix" / f"{split}.csv", dtype=str, keep_default_na=False)
        for _, r in df.iterrows():
            cif = cif_dir / f"{r['ID']}.cif"
            row = {
                "source": "obelix",
                "source_row_id": r["ID"],
                "raw_formula": r["Reduced Composition"],
                "sigma_raw": r["Ionic conductivity (S cm-1)"],
                "temperature_K": np.nan,
                "family": r["Family"] or None,
                "doi": normalize_doi(r["DOI"]),
                "split": split,
                "space_group_number": parse_value(r["Space group #"])[0],
                "z": parse_value(r["Z"])[0],
                "cif_path": str(cif) if cif.exists() else None,
                "notes": "RT",
            }
            for k in ("a", "b", "c", "alpha", "beta", "gamma"):
                row[k] = parse_value(r[k])[0]
            row.update(_sigma_fields(r["Ionic conductivity (S cm-1)"]))
            rows.append(row)
    return _frame(rows)


def load_liverpool(data_dir: Path) -> pd.DataFrame:
    """Liverpool Ionics Dataset: 820 measurements, temperature in °C."""
    df = pd.read_csv(data_dir / "liverpool" / "LiIonDatabase.csv", dtype=str, keep_default_na=False,
                     encoding="utf-8-sig")
    rows = []
    seen: dict[str, int] = {}
    for _, r in df.iterrows():
        t_c = parse_value(r["temperature"])[0]
        # the published IDs are not unique (ID 922 appears twice), so repeats get a suffix
        seen[r["ID"]] = seen.get(r["ID"], 0) + 1
        doi = normalize_doi(r["source"])
        row = {
            "source": "liverpool",
            "source_row_id": r["ID"] if seen[r["ID"]] == 1 else f"{r['ID']}#{seen[r['ID']]}",
            "raw_formula": r["composition"],
            "sigma_raw": r["target"],
            "temperature_K": t_c + ZERO_C if t_c is not None else np.nan,
            "family": r["family"] or None,
            "structure_type": r["ChemicalFamily"] if r["ChemicalFamily"] not in ("", "#N/A") else None,
            "doi": doi,
            "reference": None if doi else (r["source"] or None),
        }
        row.update(_sigma_fields(r["target"]))
        if t_c is None:
            row["read_error"] = row.get("read_error") or "no temperature"
        rows.append(row)
    return _frame(rows)


def load_laskowski(data_dir: Path) -> pd.DataFrame:
    """Laskowski et al. 2023 supplementary table: 1,346 rows at RT, ~850 with Ea."""
    df = pd.read_csv(data_dir / "laskowski" / "laskowski_with_dois.csv", dtype=str, keep_default_na=False)
    rows = []
    for _, r in df.iterrows():
        row = {
            "source": "laskowski",
            "source_row_id": r["Unnamed: 0"],
            "raw_formula": r["Structure"],
            "sigma_raw": r["σ(RT)(S cm-1)"],
            "temperature_K": np.nan,
            "doi": normalize_doi(r["DOI"]),
            "space_group_number": parse_value(r["space group"])[0],
            "notes": "RT",
        }
        row.update(_sigma_fields(r["σ(RT)(S cm-1)"]))
        ea = _ea_field(r["Ea (eV)"])
        if "read_error" in ea and "read_error" in row:
            ea.pop("read_error")
            ea.pop("read_detail")
        row.update(ea)
        rows.append(row)
    return _frame(rows)


# The columns of the user's own table; formula and sigma are required. A blank temperature is room temperature.
USER_COLUMNS = ("formula", "sigma_S_cm", "temperature_C", "ea_eV", "state", "doi", "ref", "notes")
USER_REQUIRED = ("formula", "sigma_S_cm")


def _temperature_c(text: object) -> tuple[float | None, str | None]:
    """A temperature in °C as written (`25`, `-20`, `−20`): (value, error); (None, None) for a blank cell."""
    s = "" if text is None else str(text).strip().replace("\u2212", "-")
    value, censored, error = parse_value(s[1:] if s.startswith("-") else s)
    if error or censored:
        return None, error or f"unreadable value {str(text)!r}"
    return (-value if s.startswith("-") and value is not None else value), None


def read_user_table(path: Path) -> pd.DataFrame:
    """The user's table as written, every cell a string: CSV (any separator or encoding), JSON or Parquet.

    Raises:
        InputError: the file cannot be read, lacks a required column, or has a column that is not one of
            `USER_COLUMNS` (a misspelt `temperature_C` would otherwise be ignored and every row read as RT).
    """
    frame = pd.concat([chunk for chunk, _ in read_chunks(path, "formula")], ignore_index=True)
    missing = [c for c in USER_REQUIRED if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in USER_COLUMNS]
    if missing or unknown:
        problem = "; ".join(([f"no column {', '.join(map(repr, missing))}"] if missing else [])
                            + ([f"unknown column {', '.join(map(repr, unknown))}"] if unknown else []))
        raise InputError(f"measurements file {path}: {problem} (columns: {', '.join(USER_COLUMNS)}; "
                         f"{' and '.join(USER_REQUIRED)} are required)")
    return frame


def user_row(r: dict, row_id: str) -> dict:
    """One row of the user's table on `RAW_COLUMNS`; a cell that cannot be read sets `read_error`, never a guess."""
    text = {c: str(r.get(c) or "").strip() for c in USER_COLUMNS}
    row: dict[str, object] = {"source": "user", "source_row_id": row_id, "raw_formula": text["formula"],
                              "sigma_raw": text["sigma_S_cm"], "reference": text["ref"] or None}
    row.update(_sigma_fields(text["sigma_S_cm"]))
    t_c, t_error = _temperature_c(text["temperature_C"])
    row["temperature_K"] = t_c + ZERO_C if t_c is not None else np.nan
    if t_c is None and not t_error:
        text["notes"] = "; ".join(x for x in (text["notes"], "RT") if x)
    row["notes"] = text["notes"] or None
    errors = [("unreadable temperature", t_error)] if t_error else []
    ea = _ea_field(text["ea_eV"])
    row["ea_eV"] = ea.get("ea_eV")
    if "read_error" in ea:
        errors.append((ea["read_error"], ea["notes"]))
    try:
        row["state"] = normalize_state(text["state"])
    except StateError as exc:
        errors.append(("unknown state", str(exc)))
    row["doi"] = normalize_doi(text["doi"])
    if text["doi"] and row["doi"] is None:
        errors.append(("unreadable DOI", f"not a DOI: {text['doi']!r}"))
    if errors and "read_error" not in row:  # the conductivity's own problem is named first
        row["read_error"], row["read_detail"] = errors[0]
    return row


def load_user(paths: Sequence[str | Path]) -> pd.DataFrame:
    """The user's own measurements (source `user`), one table per file, in order.

    A row's id is `<file name>:<n>`, n counting data rows from 1 (a second file of the same name is
    `<file name>#2:<n>`), so a rejection points at the row to fix.
    """
    rows = []
    seen: dict[str, int] = {}
    for path in map(Path, paths):
        seen[path.name] = seen.get(path.name, 0) + 1
        label = path.name if seen[path.name] == 1 else f"{path.name}#{seen[path.name]}"
        table = read_user_table(path)
        rows += [user_row(r, f"{label}:{n}") for n, r in enumerate(table.to_dict("records"), start=1)]
    return _frame(rows)


LOADERS = {"obelix": load_obelix, "liverpool": load_liverpool, "laskowski": load_laskowski}


def input_files(data_dir: Path) -> list[Path]:
    """Every file the table is built from, for the cache key."""
    return review_files() + [data_dir / f.relpath for f in source_files()]
