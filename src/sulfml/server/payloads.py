"""The JSON answers of the web API, built from the `Predictor` and the screening workflow.

Plain functions from request values to JSON-ready dicts (NaN as null, NumPy scalars as numbers), so the
HTTP layer (`sulfml.server.app`) only routes, checks limits and maps errors to status codes.
"""

from __future__ import annotations

import itertools
import logging
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sulfml.errors import InputError
from sulfml.parse.state import STATES
from sulfml.server.limits import LimitError, Limits
from sulfml.workflows.screen import DEFAULTS

log = logging.getLogger("sulfml.server")

if TYPE_CHECKING:
    from sulfml.service.predictor import Predictor

# Upload file types by extension; anything else is read by its content (CSV or JSON).
UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".parquet", ".pq")
# The upload's columns the pipeline reads as they are (the rest come back as `input_<name>`).
OWN_COLUMNS = ("temperature_C", "state", "space_group")
ARRHENIUS_POINTS = 41
# Without the card's temperature range (older bundles), the plot spans 0-300 °C, marked as such.
FALLBACK_RANGE_K = (273.15, 573.15)


_AS_IS = frozenset((str, int, bool, type(None)))


def json_ready(value: Any) -> Any:
    """`value` with NaN and infinities as None, NumPy scalars and arrays as plain numbers and lists."""
    # the plain types first, by exact type: an answer of 100 rows with their neighbours has some 20,000 values
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict:
        return {k if type(k) is str else str(k): json_ready(v) for k, v in value.items()}
    if kind is list:
        return [json_ready(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_ready(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a frame as JSON-ready dicts, in order."""
    names = [str(c) for c in frame.columns]
    columns = [_column_ready(frame.iloc[:, j]) for j in range(frame.shape[1])]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _column_ready(column: pd.Series) -> list[Any]:
    """`json_ready` of each cell of a column, column by column: a NumPy float, integer or bool column's
    cells are plain numbers already once listed."""
    values = column.to_numpy()
    if values.dtype.kind in "iub":
        return values.tolist()
    if values.dtype == np.float64:
        return [v if math.isfinite(v) else None for v in values.tolist()]
    return [json_ready(v) for v in column.astype(object).tolist()]


def check_temperature(value: float | str | None) -> float | str | None:
    """The request's temperature (°C) if usable; None for blank.

    Raises:
        InputError: not a number, below absolute zero or implausibly hot.
    """
    from sulfml.service.physics import temperature_kelvin

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kelvin, why = temperature_kelvin(value)
    if kelvin is None:
        raise InputError(f"temperature: {why}")
    return value


def check_state(value: str | None) -> str | None:
    """The request's state, or None for blank.

    Raises:
        InputError: not one of `STATES`.
    """
    if value is None or not str(value).strip():
        return None
    if value not in STATES:
        raise InputError(f"state must be one of {', '.join(STATES)}, got {value!r}")
    return value


def check_space_group(value: Any) -> int | None:
    """The request's space group as its international number, or None for blank.

    Raises:
        SpaceGroupError: neither a number from 1 to 230 nor a Hermann-Mauguin symbol (an `InputError`).
    """
    from sulfml.chem.space_groups import space_group_number

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return space_group_number(value.strip() if isinstance(value, str) else value)


def check_rows(n: int, limits: Limits) -> None:
    """Refuse more rows than `limits.max_rows`."""
    if n > limits.max_rows:
        raise LimitError(f"{n:,} rows in one request; this server predicts at most {limits.max_rows:,} per request "
                         "(split the input into smaller batches)")


def input_frame(formulas: Sequence[str], temperature_c: float | str | None, state: str | None,
                space_group: int | str | None = None) -> pd.DataFrame:
    """The predictor's input frame of pasted formulas, with the state and the space group as `state` and
    `space_group` columns when set (blank: the pipeline takes what each formula implies)."""
    frame = pd.DataFrame({"formula": [str(f) for f in formulas],
                          "temperature_C": [temperature_c] * len(formulas)})
    if state is not None:
        frame["state"] = state
    if space_group is not None:
        frame["space_group"] = [space_group] * len(formulas)
    return frame


def read_upload(data: bytes, filename: str, column: str = "formula", temperature_c: float | str | None = None,
                state: str | None = None, space_group: int | str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """An uploaded CSV, JSON or Parquet file as the predictor's input frame, and notes for the user.

    The file's `temperature_C`, `state` and `space_group` columns are used (the request's values fill their
    blank cells; a cell that names no space group fails its row); every other column is kept as
    `input_<name>`. A `cif` column is kept as text only: the server never opens paths that a request names
    (one CIF is predicted by `predict_cif`).

    Raises:
        InputError: empty, unreadable or malformed file, or no such formula column.
    """
    from sulfml.service.inputs import read_chunks

    suffix = Path(filename or "").suffix.lower()
    suffix = suffix if suffix in UPLOAD_SUFFIXES else ".csv"
    notes: list[str] = []
    name = Path(filename or "upload").name or "upload"
    with tempfile.TemporaryDirectory(prefix="sulfml-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            chunks = list(read_chunks(path, column, chunk_size=10**7, notes=notes))
        except InputError as exc:  # said of the user's file, not of the server's temporary copy
            raise InputError(str(exc).replace(str(path), name).replace(path.name, name)) from None
    df = pd.concat([c for c, _ in chunks], ignore_index=True) if chunks else pd.DataFrame()
    col = chunks[0][1] if chunks else column
    notes = [n.replace(path.name, name) for n in notes]
    frame = pd.DataFrame({"formula": df[col].astype(str)})
    for own, fill in (("temperature_C", temperature_c), ("state", state), ("space_group", space_group)):
        if own in df.columns:
            cells = df[own].map(lambda v: "" if v is None or v != v else str(v).strip())
            frame[own] = df[own].where(cells != "", fill) if fill is not None else df[own]
        elif fill is not None:
            frame[own] = fill
    for other in df.columns:
        if other not in (col, *OWN_COLUMNS):
            frame[f"input_{other}"] = df[other]
    return frame, notes


def predict_rows(predictor: Predictor, frame: pd.DataFrame) -> dict[str, Any]:
    """Predict every row of an input frame, in order; bad rows carry their `error`. The kept `input_<name>`
    columns follow the prediction's; `space_groups` labels every space group of the rows and their
    neighbours ('Pnma (62)')."""
    out = predictor.predict(frame[[c for c in frame.columns if not c.startswith("input_")]])
    kept = [c for c in frame.columns if c.startswith("input_")]
    if kept:
        out = pd.concat([out.reset_index(drop=True), frame[kept].reset_index(drop=True)], axis=1)
    rows = prediction_records(out)
    return {"columns": list(out.columns), "rows": rows, "n": len(rows),
            "failed": sum(1 for r in rows if r.get("error")), "space_groups": space_group_labels(rows)}


def prediction_records(out: pd.DataFrame) -> list[dict[str, Any]]:
    """`records` of a prediction, with each space group a whole number or None (a column that holds some
    unknown ones is float in pandas: 62.0 and NaN)."""
    rows = records(out)
    for row in rows:
        if "space_group" in row:
            row["space_group"] = _space_group_int(row["space_group"])
    return rows


def _space_group_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) and number == int(number) and 1 <= number <= 230 else None


def space_group_labels(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """{"62": "Pnma (62)"} for every space group of `rows` and of their `neighbors`: how the page shows them
    (the page has no table of the 230 symbols)."""
    from sulfml.chem.space_groups import space_group_label

    numbers: set[int] = set()
    for row in rows:
        for item in (row, *(row.get("neighbors") or [])):
            number = _space_group_int(item.get("space_group")) if isinstance(item, Mapping) else None
            if number is not None:
                numbers.add(number)
    return {str(n): space_group_label(n) for n in sorted(numbers)}


def predict_cif(predictor: Predictor, data: bytes, filename: str = "upload.cif", formula: str | None = None,
                temperature_c: float | str | None = None, state: str | None = None,
                space_group: int | str | None = None) -> dict[str, Any]:
    """Predict one uploaded CIF (its bytes), as `sulfml predict --cif FILE [FORMULA]` does: the structure gives
    the composition unless a formula is given (the formula wins; the row notes a disagreement), and its
    space group unless one is given. The bytes go to a temporary file that this function creates and deletes;
    the answer names the upload (`filename`, kept as `input_cif`), never the server's path. A file that is no
    readable CIF is its row's `error`.

    Raises:
        InputError: an empty file.
    """
    name = Path(filename or "").name or "upload.cif"
    if not data.strip():
        raise InputError(f"{name} is empty: send the contents of a CIF file")
    text = (formula or "").strip()
    with tempfile.TemporaryDirectory(prefix="sulfml-cif-") as tmp:
        path = Path(tmp) / "upload.cif"
        path.write_bytes(data)
        frame = pd.DataFrame({"formula": [text], "cif": [str(path)], "temperature_C": [temperature_c],
                              "input_cif": [name]})
        if state is not None:
            frame["state"] = state
        if space_group is not None:
            frame["space_group"] = [space_group]
        result = predict_rows(predictor, frame)
    # the server's temporary file is never shown: the rows say the upload's name instead
    result["rows"] = _replace_text(result["rows"], {str(path): name, tmp: name})
    return result


def _replace_text(value: Any, replacements: Mapping[str, str]) -> Any:
    """`value` with every string (in dicts and lists too) having each key of `replacements` replaced."""
    if isinstance(value, str):
        for old, new in replacements.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _replace_text(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_text(v, replacements) for v in value]
    return value


def _temperature_range(predictor: Predictor) -> tuple[tuple[float, float], bool]:
    rng = predictor.bundle.temperature_range_K
    return (rng, True) if rng else (FALLBACK_RANGE_K, False)


def detail(predictor: Predictor, formula: str, temperature_c: float | str | None = None,
           state: str | None = None, top: int = 6, space_group: int | str | None = None) -> dict[str, Any]:
    """One candidate in detail: its row, the Arrhenius curve with its interval band over the temperatures
    the training data span, the nearest known materials' measured values, and the "why" of each target.

    The curve is predicted by the same pipeline as the table (one row per temperature), so the band is the
    table's band at every temperature. `space_groups` labels the space groups of the row and its neighbours.
    """
    from sulfml.service.explain import explain
    from sulfml.service.physics import ROOM_T_K, arrhenius_shift, temperature_kelvin

    (t_lo, t_hi), known = _temperature_range(predictor)
    at = predictor.predict(input_frame([formula], temperature_c, state, space_group))
    row = prediction_records(at)[0]
    result: dict[str, Any] = {"row": row, "temperature_range_K": [t_lo, t_hi], "range_from_data": known,
                              "space_groups": space_group_labels([row])}
    if row.get("error"):
        return result
    t_req = temperature_kelvin(temperature_c)[0] or ROOM_T_K
    # evenly spaced in 1/T, the plot's axis; the requested temperature and 25 °C are on the curve too
    inv = np.linspace(1 / t_hi, 1 / t_lo, ARRHENIUS_POINTS)
    kelvins = sorted({*(1 / inv).round(6).tolist(), ROOM_T_K, float(t_req)})
    curve = predictor.predict(input_frame([formula] * len(kelvins), None, state, space_group)
                              .assign(temperature_C=[t - 273.15 for t in kelvins]))
    result["arrhenius"] = [
        {"T_K": t, "inv_T": 1000.0 / t, "log10_sigma": json_ready(r.log10_sigma),
         "lo": json_ready(r.log10_sigma_lo), "hi": json_ready(r.log10_sigma_hi)}
        for t, r in zip(kelvins, curve.itertuples(), strict=True)]
    neighbors = []
    for n in row.get("neighbors") or []:
        item = dict(n)
        if n.get("log10_sigma") is not None and n.get("ea_eV") is not None:
            # the material's measured room-temperature σ carried along its measured Ea (σT Arrhenius form)
            line_t = 1 / inv
            item["line"] = [{"inv_T": 1000.0 / t, "log10_sigma": float(v)} for t, v in
                            zip(line_t, arrhenius_shift(n["log10_sigma"], n["ea_eV"], line_t), strict=True)]
        item["inv_T"] = 1000.0 / ROOM_T_K
        neighbors.append(json_ready(item))
    result["neighbors"] = neighbors
    why = explain(predictor, formula, top=top, state=state)
    result["why"] = None if why is None else {t: json_ready(asdict(e)) for t, e in why.items()}
    return result


def warm_up(predictor: Predictor) -> None:
    """Load what the first detail needs (the xgboost package, each model's booster) ahead of time."""
    from sulfml.service.explain import explain

    try:
        explain(predictor, "Li6PS5Cl")
    except Exception:  # noqa: BLE001 - a warm-up only; the request that needs it reports any real error
        log.debug("warm-up failed", exc_info=True)


def count_candidates(sweep: Any) -> int:
    """How many substitution sets a `Sweep` enumerates (charge balance not yet applied), by arithmetic: a
    group of k co-dopants on a site has C(n, k) splits, n = max fraction / step."""
    n = int(sweep.max_fraction / sweep.step + 1e-9)
    total = 1
    for dopants in sweep.substitutions.values():
        total *= 1 + sum(math.comb(n, len(group.split("+"))) for group in dopants)
    return total - 1


def screen_result(predictor: Predictor, parent: str, substitutions: str | Mapping[str, Sequence[str]],
                  limits: Limits, max_fraction: float = DEFAULTS.max_fraction, step: float = DEFAULTS.step,
                  top: int = DEFAULTS.top, per_dopant: int = DEFAULTS.per_dopant, rank: str = DEFAULTS.rank,
                  temperature_c: float | str | None = DEFAULTS.temperature_c,
                  state: str | None = DEFAULTS.state) -> dict[str, Any]:
    """`sulfml.workflows.screen.screen` of a parent, with every candidate's point for the scatter plot.

    Returns:
        rows (the parent's baseline first, then the ranked top; `p_gain` compares with the parent's best
        estimate, its measured value when known), counts, the parent's oxidation states, `points`: each
        predicted candidate's total dopant fraction, its fraction per substituted site (`sites`), dopant
        combination and interval, the intervals' `coverage` (the models' card) and the `reference` p_gain
        compares with.

    Raises:
        ScreenError: a bad parent, substitution, fraction, step, ranking or state.
        LimitError: more candidates than `limits.max_screen`, or a longer list than `limits.max_top`.
    """
    from sulfml.workflows.screen import Sweep, dopant_combination, parse_substitutions, screen

    if not 1 <= top <= limits.max_top:
        raise LimitError(f"the number of candidates listed must be between 1 and {limits.max_top}, got {top}")
    sweep = Sweep(parent, parse_substitutions(substitutions), max_fraction, step)
    n = count_candidates(sweep)
    if n > limits.max_screen:
        raise LimitError(f"this screen would enumerate {n:,} candidates; this server screens at most "
                         f"{limits.max_screen:,} per request (raise the step, lower the maximum fraction or "
                         "name fewer dopants)")
    table, counts = screen(sweep, predictor, top=top, rank=rank, per_dopant=per_dopant or None,
                           temperature_c=temperature_c, state=state)
    enumerated = list(itertools.islice(sweep.enumerate(), limits.max_screen))
    points: list[dict[str, Any]] = []
    if enumerated:
        frame = input_frame([f for f, _ in enumerated], temperature_c, state)
        out = predictor.predict(frame)
        for (formula, subs), r in zip(enumerated, out.itertuples(), strict=True):
            if r.error:
                continue
            series = "; ".join(f"{site}→{'+'.join(d for s, d, _ in subs if s == site)}"
                               for site in dict.fromkeys(s for s, _ in dopant_combination(subs)))
            sites: dict[str, float] = {}
            for site, _, x in subs:
                sites[site] = round(sites.get(site, 0.0) + x, 10)
            points.append(json_ready({"formula": formula, "series": series,
                                      "fraction": round(sum(x for _, _, x in subs), 10), "sites": sites,
                                      "log10_sigma": r.log10_sigma, "lo": r.log10_sigma_lo,
                                      "hi": r.log10_sigma_hi, "in_domain": r.in_domain}))
    return {"columns": list(table.columns), "rows": records(table), "counts": json_ready(counts),
            "parent_states": dict(sweep.states), "residual": float(sweep.residual), "rank": rank,
            "points": points, "coverage": json_ready(table.attrs.get("coverage")),
            "reference": json_ready(table.attrs.get("reference"))}


def about(predictor: Predictor, limits: Limits) -> dict[str, Any]:
    """Which models are loaded (registry name, version and alias, or directory), their cards' CV numbers,
    the training data sources with licences and citations, the server's limits, the intervals' coverage (the
    models' card; null without a calibration), the states and the screen's settings."""
    from sulfml._version import __version__
    from sulfml.data.sources import source_files, source_info, source_names
    from sulfml.errors import ScreenError
    from sulfml.workflows.screen import interval_coverage, screen_settings

    models = {}
    used: set[str] = set()
    for target, model in predictor.bundle.models.items():
        card = model.card
        models[target] = json_ready({
            "registered_model": card.get("registered_model"), "registered_version": card.get("registered_version"),
            "alias": card.get("alias"), "config": card.get("config_name"), "preset": card.get("preset"),
            "trained_at": card.get("trained_at"), "n_train": card.get("n_train"), "metrics": card.get("metrics", {}),
            "package_version": card.get("package_version"), "features": len(model.input_names),
        })
        for cell in model.domain.labels.get("sources", []):
            used.update(s for s in str(cell or "").split(";") if s)
    names = [s for s in ("review", *source_names()) if not used or s in used]
    sources = []
    for name in names:
        info = source_info(name)
        pins = [{"file": f.name, "commit": f.commit, "sha256": f.sha256} for f in source_files(name)] \
            if name != "review" else []
        sources.append({"name": name, "licence": info.get("licence"), "citation": info.get("citation"),
                        "files": pins})
    rng, known = _temperature_range(predictor)
    try:
        coverage: float | None = interval_coverage(predictor)
    except ScreenError:  # models without an interval calibration
        coverage = None
    return {"version": __version__, "source": predictor.source, "models": models, "sources": sources,
            "temperature_range_K": list(rng), "range_from_data": known, "limits": asdict(limits),
            "states": list(STATES), "coverage": coverage, "screen": json_ready(screen_settings())}
