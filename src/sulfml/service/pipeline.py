"""The one predict path: formulas (and optional temperature and CIF) in, the output contract out.

Used by `sulfml predict`, screening, benchmarks and the Python API. Bad rows get an error and no
numbers; they never stop the other rows.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from sulfml.cpus import available_cpus
from sulfml.model.domain import DomainModel
from sulfml.tracking.bundle import Bundle

OUTPUT_COLUMNS = [
    "input", "formula", "log10_sigma", "sigma_S_cm", "log10_sigma_lo", "log10_sigma_hi", "ea_eV", "ea_lo",
    "ea_hi", "temperature_K", "in_domain", "warning", "error", "neighbors",
]
ROOM_T_K = 298.15
K_B_EV = 8.617333262e-5
MAX_T_K = 3000.0  # far above the melting point of any solid electrolyte: a typo, not a question
STRUCTURE_COLUMNS = ["space_group_number", "a", "b", "c", "alpha", "beta", "gamma", "z", "cif_path"]
N_NEIGHBORS = 3
_PARALLEL_FROM = 2048  # rows from which the two targets are predicted in parallel threads


def arrhenius_shift(log10_sigma_rt: np.ndarray, ea_ev: np.ndarray, temperature_k: np.ndarray) -> np.ndarray:
    """log10 σ at T from log10 σ at 298.15 K and Ea, by the σT form of the Arrhenius law.

    σ·T = A·exp(−Ea/kT), the form of ionic hopping (Nernst–Einstein) in which Ea is usually fitted, so
    log10 σ(T) = log10 σ(T0) + log10(T0/T) − Ea/(k ln 10)·(1/T − 1/T0).
    """
    t = np.asarray(temperature_k, float)
    return (np.asarray(log10_sigma_rt, float) + np.log10(ROOM_T_K / t)
            - np.asarray(ea_ev, float) / (K_B_EV * math.log(10)) * (1.0 / t - 1.0 / ROOM_T_K))


def structure_fields(cif: str | Path) -> tuple[dict, dict[str, float], list[str]]:
    """Read a CIF: the structure columns the featurizers use, its composition, and warnings.

    Partially occupied sites (common in Li conductors) are kept with their occupancies; the symmetry
    is analysed with a tolerant setting. If the symmetry analysis fails, the lattice is still used.

    Raises:
        ValueError: the file is not a readable crystal structure.
    """
    from pymatgen.core import Structure

    if not Path(cif).is_file():  # a directory, /dev/zero or a FIFO would fail late or never return
        raise ValueError("not a regular file" if Path(cif).exists() else "no such file")
    notes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            s = Structure.from_file(str(cif))
        except Exception as exc:  # pymatgen raises many types for a bad CIF
            raise ValueError(f"not a readable crystal structure ({type(exc).__name__}: {exc})") from exc
    if not s.is_ordered:
        notes.append("partially occupied sites: composition and density weighted by occupancy")
    lat = s.lattice
    comp = s.composition
    _, z = comp.get_reduced_composition_and_factor()
    fields = {"a": lat.a, "b": lat.b, "c": lat.c, "alpha": lat.alpha, "beta": lat.beta, "gamma": lat.gamma,
              "z": z, "cif_path": str(cif), "space_group_number": np.nan}
    try:
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        fields["space_group_number"] = SpacegroupAnalyzer(s, symprec=0.1).get_space_group_number()
    except Exception:  # spglib gives up on some disordered cells; the lattice alone still helps
        notes.append("space group not determined from the CIF")
    amounts = {str(el): float(x) for el, x in comp.get_el_amt_dict().items() if x > 0}
    return fields, amounts, notes


@dataclass
class _Row:
    """One row on its way through the predict path."""

    out: dict
    feat: dict | None = None
    notes: list[str] = field(default_factory=list)


def _empty_row(text: str) -> dict:
    return {c: None for c in OUTPUT_COLUMNS} | {"input": text, "warning": "", "error": "", "neighbors": []}


def _text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _temperature_k(value) -> tuple[float | None, str]:
    """Kelvin from a temperature_C cell; (None, reason) when it cannot be used."""
    text = _text(value).strip()
    if not text:
        return ROOM_T_K, ""
    try:
        t_c = float(text)
    except ValueError:
        return None, f"temperature_C is not a number: {text!r}"
    if not math.isfinite(t_c):
        return None, f"temperature_C is not a finite number: {text!r}"
    t_k = t_c + 273.15
    if t_k <= 0:
        return None, f"temperature below absolute zero: {t_c:g} °C = {t_k:g} K"
    if t_k > MAX_T_K:
        return None, f"temperature {t_c:g} °C is above {MAX_T_K:g} K, where no solid electrolyte exists"
    return t_k, ""


def _prepare(rec: dict, bundle: Bundle, uses_structure: bool) -> _Row:
    cif = _text(rec.get("cif")).strip()
    text = _text(rec.get("formula"))
    row = _Row(_empty_row(text or cif))
    t_k, why = _temperature_k(rec.get("temperature_C"))
    if t_k is None:
        row.out["error"] = why
        return row
    row.out["temperature_K"] = t_k
    struct: dict = {c: np.nan for c in STRUCTURE_COLUMNS} | {"cif_path": ""}
    if cif:
        try:
            fields, amounts, notes = structure_fields(cif)
        except (OSError, ValueError) as exc:
            row.out["error"] = f"cannot read CIF {cif!r}: {exc}"
            return row
        row.notes += notes
        if not text:
            from pymatgen.core import Composition

            text = Composition(amounts).reduced_formula
        if uses_structure:
            struct.update(fields)
        else:
            row.notes.append(f"the model uses composition only (preset {bundle.preset}): the CIF gave the composition")
    from sulfml.parse.formula import parse_formula

    parsed = parse_formula(text)
    if not parsed.ok:
        row.out["error"] = parsed.error
        return row
    composition = parsed.composition
    if cif and _text(rec.get("formula")).strip() and not _same_composition(composition, amounts):
        row.notes.append(f"the CIF's composition {amounts} differs from the formula; the formula is used")
    row.out["formula"] = parsed.formula
    row.out["in_domain"], domain_notes = _composition_notes(composition, bundle.elements, parsed.additive)
    row.notes = domain_notes + row.notes
    row.feat = {"composition": composition, "notation": parsed.notation, "tags": ";".join(parsed.tags),
                "family": None} | struct
    return row


def _same_composition(a: dict, b: dict) -> bool:
    from sulfml.chem.composition import Composition

    return Composition.from_dict(a) == Composition.from_dict(b)


def predict_frame(inputs: pd.DataFrame, bundle: Bundle | None = None) -> pd.DataFrame:
    """Predict every row of `inputs`, in order.

    Args:
        inputs: a `formula` column, optional `temperature_C` (blank: 25 °C) and `cif` (path) columns.
            A row with a CIF and no formula takes its composition from the structure.
        bundle: the models; defaults to the committed bundle in `models/`.

    Returns:
        One row per input row with `OUTPUT_COLUMNS`. `neighbors` lists the nearest training materials.
    """
    return predict_batch(inputs, bundle).frame()


@dataclass
class Batch:
    """Predictions of a batch of rows as columns, with the nearest training materials as indices.

    `frame()` gives the output contract; `frame(describe)` puts `neighbor_texts(describe)`, the CSV cell of
    `neighbors`, in its place without building the per-row dicts (the streaming CLI uses it).
    """

    columns: dict[str, list]
    neighbor_idx: list  # per row: indices into the domain's training materials ([] for failed rows)
    neighbor_dist: list
    domain: DomainModel | None

    def __len__(self) -> int:
        return len(self.columns["input"])

    def neighbors(self) -> list[list[dict]]:
        """The `neighbors` column: the labelled nearest training materials of each row ([] for failed rows)."""
        if self.domain is None:
            return [[] for _ in range(len(self))]
        return self.domain.neighbors(self.neighbor_idx, self.neighbor_dist)

    def neighbor_texts(self, describe) -> list[str]:
        """One text per row from `describe(label dict)` per training material (cached per material)."""
        if self.domain is None:
            return [""] * len(self)
        labels = self.domain.labels
        cache: dict[int, str] = {}

        def text(j: int) -> str:
            if j not in cache:
                cache[j] = describe({c: labels[c][j] for c in labels})
            return cache[j]

        return ["; ".join(text(j) for j in row) for row in self.neighbor_idx]

    def frame(self, describe=None) -> pd.DataFrame:
        """The output contract; with `describe`, the `neighbors` column is `neighbor_texts(describe)`."""
        cols = dict(self.columns)
        cols["neighbors"] = self.neighbors() if describe is None else self.neighbor_texts(describe)
        return pd.DataFrame(cols, columns=[c for c in OUTPUT_COLUMNS if c in cols])


def predict_batch(inputs: pd.DataFrame, bundle: Bundle | None = None) -> Batch:
    """`predict_frame`'s work, as a `Batch` (columns plus neighbour indices).

    Plain formulas and glasses are read all at once by `sulfml.parse.bulk.read_many` (the same results as
    `parse_formula`), each distinct text once; the rest go to `parse_formula` one by one. Composition presets
    are featurized for the whole batch by `sulfml.featurize.fast`. CIF rows and structure presets take the
    general per-row path (`_prepare`).
    """
    bundle = bundle or Bundle.from_dir()
    n = len(inputs)

    def column(name: str) -> list:
        return inputs[name].tolist() if name in inputs.columns else [None] * n

    formulas, temps, cifs = column("formula"), column("temperature_C"), column("cif")
    out: dict[str, list | np.ndarray] = {c: [None] * n for c in OUTPUT_COLUMNS}
    out["warning"] = [""] * n
    out["error"] = [""] * n
    notes: list[list[str] | None] = [None] * n
    inputs_ = _FeatureInputs()
    feat_of = np.full(n, -1)  # row -> feature row
    uses_structure = bundle.uses_structure
    general = list(range(n)) if uses_structure else [i for i, c in enumerate(cifs) if _text(c).strip()]
    for i in general:
        row = _prepare({"formula": formulas[i], "temperature_C": temps[i], "cif": cifs[i]}, bundle,
                       uses_structure)
        for c, v in row.out.items():
            if c not in ("warning", "neighbors"):
                out[c][i] = v
        notes[i] = row.notes
        if row.feat is not None:
            feat_of[i] = inputs_.add_dict(row.feat)
    simple = np.setdiff1d(np.arange(n), general) if general else np.arange(n)
    if len(simple):
        _read_rows(simple, formulas, temps, bundle.elements, out, notes, feat_of, inputs_)
    keep = np.flatnonzero(feat_of >= 0)
    batch = Batch(out, [[] for _ in range(n)], [[] for _ in range(n)], None)
    if len(keep):
        _predict_into(batch, notes, keep, feat_of, inputs_, bundle)
    for i in range(n):
        if notes[i]:
            out["warning"][i] = "; ".join(notes[i])
    return batch


class _FeatureInputs:
    """The distinct feature rows of a batch: whole-batch parses (`ParsedBatch` blocks) and single rows
    (dicts from `parse_formula` or a CIF), in the order they were added."""

    def __init__(self) -> None:
        self.parts: list = []  # (ParsedBatch, row indices) blocks or lists of dicts
        self.n = 0

    def add_dict(self, feat: dict) -> int:
        if not self.parts or not isinstance(self.parts[-1], list):
            self.parts.append([])
        self.parts[-1].append(feat)
        self.n += 1
        return self.n - 1

    def add_parsed(self, parsed, rows: np.ndarray) -> np.ndarray:
        self.parts.append((parsed, rows))
        self.n += len(rows)
        return np.arange(self.n - len(rows), self.n)

    def dicts(self) -> list[dict]:
        """Every feature row as the dict `presets.featurize` reads (the general path)."""
        from sulfml.chem.elements import element_tables

        symbols = element_tables().symbols
        feats = []
        for part in self.parts:
            if isinstance(part, list):
                feats += part
                continue
            parsed, rows = part
            for r in rows:
                comp = {symbols[j]: float(x) for j, x, p in zip(parsed.index[r], parsed.amount[r],
                                                                 parsed.present[r], strict=True) if p}
                feats.append({"composition": comp, "notation": "glass" if parsed.glass[r] else "plain",
                              "tags": "", "family": None})
        return feats

    def batch(self):
        """(CompositionBatch, notation, tags, family) of every feature row, for the vectorized featurizer."""
        from sulfml.chem.batch import CompositionBatch, composition_batch

        blocks, notation, tags, family = [], [], [], []
        for part in self.parts:
            if isinstance(part, list):
                blocks.append(composition_batch([f["composition"] for f in part]))
                notation += [f.get("notation") for f in part]
                tags += [f.get("tags") for f in part]
                family += [f.get("family") for f in part]
                continue
            parsed, rows = part
            blocks.append(CompositionBatch(parsed.index[rows], parsed.amount[rows], parsed.present[rows]))
            notation += np.where(parsed.glass[rows], "glass", "plain").tolist()
            tags += [""] * len(rows)
            family += [None] * len(rows)
        return CompositionBatch.concat(blocks), notation, tags, family


def _read_rows(rows: np.ndarray, formulas: list, temps: list, elements: set[str], out: dict, notes: list,
               feat_of: np.ndarray, inputs_: _FeatureInputs) -> None:
    """Temperatures, parsing and composition notes of the plain rows (no CIF), each distinct text once."""
    from sulfml.parse.bulk import read_many

    texts = [t if type(t) is str else _text(t) for t in (formulas[i] for i in rows)]
    for i, t in zip(rows.tolist(), texts, strict=True):
        out["input"][i] = t
    t_cache: dict = {}
    t_k = np.full(len(rows), ROOM_T_K)
    usable = np.ones(len(rows), bool)
    for j, i in enumerate(rows.tolist()):
        cell = temps[i]
        if cell is None:
            continue
        key = cell if isinstance(cell, str) else repr(cell)
        if key not in t_cache:
            t_cache[key] = _temperature_k(cell)
        value, why = t_cache[key]
        if value is None:
            out["error"][i] = why
            usable[j] = False
        else:
            t_k[j] = value
    rows, texts, t_k = rows[usable], [t for t, u in zip(texts, usable, strict=True) if u], t_k[usable]
    for i, v in zip(rows.tolist(), t_k.tolist(), strict=True):
        out["temperature_K"][i] = v
    distinct = dict.fromkeys(texts)
    unique = list(distinct)
    position = {t: j for j, t in enumerate(unique)}
    inverse = np.fromiter((position[t] for t in texts), np.int64, len(texts))
    parsed = read_many(unique)
    u_feat = np.full(len(unique), -1)
    u_formula: list = list(parsed.formula)
    u_in_domain, u_notes = _domain_of_parsed(parsed, elements)
    u_error = [""] * len(unique)
    ok = np.flatnonzero(parsed.ok)
    u_feat[ok] = inputs_.add_parsed(parsed, ok)
    if len(ok) < len(unique):  # what the fast reader leaves: the full parser, one text at a time
        from sulfml.parse.formula import parse_formula

        for u in np.flatnonzero(~parsed.ok).tolist():
            p = parse_formula(unique[u])
            if not p.ok:
                u_error[u] = p.error
                continue
            u_formula[u] = p.formula
            u_in_domain[u], u_notes[u] = _composition_notes(p.composition, elements, p.additive)
            u_feat[u] = inputs_.add_dict({"composition": p.composition, "notation": p.notation,
                                          "tags": ";".join(p.tags), "family": None})
    feat_of[rows] = u_feat[inverse]
    for i, u in zip(rows.tolist(), inverse.tolist(), strict=True):
        if u_error[u]:
            out["error"][i] = u_error[u]
            continue
        out["formula"][i] = u_formula[u]
        out["in_domain"][i] = u_in_domain[u]
        if u_notes[u]:
            notes[i] = list(u_notes[u])


def _domain_of_parsed(parsed, elements: set[str]) -> tuple[list, list]:
    """`_composition_notes` of every row of a `ParsedBatch` (notes only where there are any)."""
    from sulfml.chem.elements import element_tables

    tables = element_tables()
    n = len(parsed.ok)
    known = np.zeros(len(tables.symbols), bool)
    known[[tables.index[e] for e in elements if e in tables.index]] = True
    has_li = (parsed.present & (parsed.index == tables.index["Li"])).any(1)
    unseen = (parsed.present & ~known[parsed.index]).any(1)
    in_domain = (has_li & ~unseen).tolist()
    notes: list = [None] * n
    for r in np.flatnonzero(parsed.ok & ~(has_li & ~unseen)).tolist():
        comp = {tables.symbols[j]: 1.0 for j, p in zip(parsed.index[r], parsed.present[r], strict=True) if p}
        in_domain[r], notes[r] = _composition_notes(comp, elements, None)
    return in_domain, notes


def _composition_notes(composition: dict, elements: set[str], additive: str | None) -> tuple[bool, list[str]]:
    """(in domain, notes) from the composition alone: no Li or unseen elements put it outside; a composite's
    additive is noted last."""
    notes = []
    if "Li" not in composition:
        notes.append("no lithium: outside what the model knows")
    unseen = sorted(set(composition) - elements)
    if unseen:
        notes.append(f"elements never seen in training: {', '.join(unseen)}")
    in_domain = not notes
    if additive:
        notes.append(f"composite: predicted for the host only, additive {additive!r} ignored")
    return in_domain, notes


def features(inputs_: _FeatureInputs, bundle: Bundle) -> np.ndarray:
    """The model's feature matrix (columns as the card's `feature_names`) of the batch's feature rows.

    Composition presets come whole from the vectorized featurizer; for others (structure features) the
    columns it does not cover come from `sulfml.featurize.presets.featurize`.
    """
    from sulfml.featurize import fast

    names = bundle.models["log10_sigma"].card["feature_names"]
    try:
        covered = fast.covered_columns(bundle.preset)
    except KeyError:
        covered = []
    position = {c: j for j, c in enumerate(covered)}
    missing = [c for c in names if c not in position]
    slow = None
    if missing:
        from sulfml.featurize.presets import featurize

        slow = featurize(pd.DataFrame(inputs_.dicts()), bundle.preset, columns=missing).to_numpy(float)
        if not covered:
            return slow
    comps, notation, tags, family = inputs_.batch()
    data = fast.preset_features(comps, bundle.preset, notation, tags, family)
    if not missing and covered == names:
        return data
    X = np.empty((len(data), len(names)))
    for j, c in enumerate(names):
        X[:, j] = data[:, position[c]] if c in position else slow[:, missing.index(c)]
    return X


def _predict_into(batch: Batch, notes: list, keep: np.ndarray, feat_of: np.ndarray, inputs_: _FeatureInputs,
                  bundle: Bundle) -> None:
    out = batch.columns
    try:
        X = features(inputs_, bundle)
    except Exception as exc:  # a featurizer bug must cost its rows, not the batch
        for i in keep.tolist():
            out["error"][i] = f"featurization failed: {exc}"
        return
    names = bundle.models["log10_sigma"].card["feature_names"]
    sig_m, ea_m = bundle.models["log10_sigma"], bundle.models["ea_eV"]

    def model_and_domain(m, n_neighbors: int) -> tuple:
        return m.predict_array(X).astype(float), *m.domain.distance_array(X, names, n_neighbors)

    if len(X) >= _PARALLEL_FROM and available_cpus() > 1:
        # The two targets in two threads: NumPy, SciPy and XGBoost release the GIL in their heavy parts.
        ea_job = _worker().submit(model_and_domain, ea_m, 0)
        log_u, dist_u, nn_idx_u, nn_dist_u = model_and_domain(sig_m, N_NEIGHBORS)
        ea_u, ea_dist_u, _, _ = ea_job.result()
    else:
        log_u, dist_u, nn_idx_u, nn_dist_u = model_and_domain(sig_m, N_NEIGHBORS)
        ea_u, ea_dist_u, _, _ = model_and_domain(ea_m, 0)
    hw_sig_u = sig_m.calibration.halfwidth(log_u, dist_u)
    hw_ea_u = ea_m.calibration.halfwidth(ea_u, ea_dist_u)
    f = feat_of[keep]
    log_rt, ea, dist, hw_sig, hw_ea = log_u[f], ea_u[f], dist_u[f], hw_sig_u[f], hw_ea_u[f]
    ea_lo, ea_hi = np.maximum(ea - hw_ea, 0.0), ea + hw_ea
    temps = np.array([out["temperature_K"][i] for i in keep.tolist()], float)
    log_t = arrhenius_shift(log_rt, ea, temps)
    # The band at T carries both bands: the RT band, shifted by the Ea in [ea_lo, ea_hi] that moves it most.
    shifts = np.stack([arrhenius_shift(0.0, e, temps) for e in (ea_lo, ea_hi)])
    lo_t = log_rt - hw_sig + shifts.min(axis=0)
    hi_t = log_rt + hw_sig + shifts.max(axis=0)
    columns = {"log10_sigma": log_t, "sigma_S_cm": 10 ** log_t, "log10_sigma_lo": lo_t,
               "log10_sigma_hi": hi_t, "ea_eV": ea, "ea_lo": ea_lo, "ea_hi": ea_hi}
    n = len(out["input"])
    for name, values in columns.items():
        col = np.full(n, np.nan)
        col[keep] = values
        out[name] = col
    batch.domain = sig_m.domain
    nn_idx, nn_dist = nn_idx_u[f].tolist(), nn_dist_u[f].tolist()
    for j, i in enumerate(keep.tolist()):
        batch.neighbor_idx[i] = nn_idx[j]
        batch.neighbor_dist[i] = nn_dist[j]
    threshold = sig_m.domain.threshold
    in_domain = out["in_domain"]
    for j in np.flatnonzero(dist > threshold).tolist():
        i = int(keep[j])
        in_domain[i] = False
        note = (f"far from the training materials: kNN distance {dist[j]:.2f} exceeds "
                f"{threshold:.2f}, the {sig_m.domain.quantile:.0%} quantile for held-out papers")
        notes[i] = [note, *(notes[i] or [])]
    t_range = bundle.temperature_range_K
    for j in np.flatnonzero(np.abs(temps - ROOM_T_K) > 10).tolist():
        i = int(keep[j])
        row_notes = notes[i] = list(notes[i] or [])
        row_notes.append(f"shifted from 298.15 K to {temps[j]:.2f} K with the predicted Ea (Arrhenius, σT form)")
        if t_range and not t_range[0] <= temps[j] <= t_range[1]:
            row_notes.append(f"{temps[j]:.0f} K is outside the {t_range[0]:.0f}-{t_range[1]:.0f} K the "
                             "training measurements span: an extrapolation")


@cache
def _worker():
    """One helper thread for the whole process: a new thread per chunk would get a new malloc arena each
    time, and the memory of a long stream would grow with its length."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(1, thread_name_prefix="sulfml-predict")


def predict(formulas: list[str], temperature_C: float | None = None, bundle: Bundle | None = None) -> pd.DataFrame:
    """Predict a list of formulas at one temperature (default 25 °C)."""
    frame = pd.DataFrame({"formula": formulas, "temperature_C": [temperature_C] * len(formulas)})
    return predict_frame(frame, bundle)
