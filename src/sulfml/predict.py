"""The one predict path: formulas (and optional temperature and CIF) in, the output contract out.

Used by `sulfml predict`, screening, benchmarks and the Python API. Bad rows get an error and no
numbers; they never stop the other rows.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

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
    from sulfml.formula import parse_formula

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


def _same_composition(a: dict, b: dict, tol: float = 0.01) -> bool:
    ta, tb = sum(a.values()), sum(b.values())
    return set(a) == set(b) and all(abs(a[k] / ta - b[k] / tb) < tol for k in a)


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

    `frame()` gives the output contract; `neighbor_texts()` the CSV cell of `neighbors` without building
    the per-row dicts (the streaming CLI and screening use it).
    """

    columns: dict[str, list]
    neighbor_idx: list  # per row: indices into the domain's training materials ([] for failed rows)
    neighbor_dist: list
    domain: DomainModel | None

    def __len__(self) -> int:
        return len(self.columns["input"])

    def neighbors(self) -> list[list[dict]]:
        """The `neighbors` column: the labelled nearest training materials of each row."""
        if self.domain is None:
            return [[] for _ in range(len(self))]
        return [self.domain.neighbors([i], [d])[0] if len(i) else [] for i, d in
                zip(self.neighbor_idx, self.neighbor_dist, strict=True)]

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

    def frame(self, neighbors: bool | str = True, describe=None) -> pd.DataFrame:
        """The output contract; `neighbors="text"` puts `neighbor_texts(describe)` in the `neighbors` column."""
        cols = dict(self.columns)
        if neighbors == "text":
            cols["neighbors"] = self.neighbor_texts(describe)
        elif neighbors:
            cols["neighbors"] = self.neighbors()
        else:
            cols.pop("neighbors", None)
        return pd.DataFrame(cols, columns=[c for c in OUTPUT_COLUMNS if c in cols])


def predict_batch(inputs: pd.DataFrame, bundle: Bundle | None = None) -> Batch:
    """`predict_frame`'s work, as a `Batch` (columns plus neighbour indices).

    Plain formulas take the fast parser (`sulfml.formula_fast`, same results) and each distinct formula is
    parsed and featurized once; composition presets use the vectorized featurizer for every column it
    covers. CIF rows and structure presets take the general per-row path.
    """
    bundle = bundle or Bundle.from_dir()
    n = len(inputs)
    formulas = inputs["formula"].tolist() if "formula" in inputs.columns else [None] * n
    temps = inputs["temperature_C"].tolist() if "temperature_C" in inputs.columns else [None] * n
    cifs = inputs["cif"].tolist() if "cif" in inputs.columns else [None] * n
    uses_structure = bundle.uses_structure
    elements = bundle.elements
    out = {c: [None] * n for c in OUTPUT_COLUMNS}
    out["warning"] = [""] * n
    out["error"] = [""] * n
    notes: list[list[str] | None] = [None] * n
    feat_of = [-1] * n  # row -> distinct feature row
    feats: list[dict] = []
    by_text: dict[str, tuple] = {}
    t_cache: dict = {}
    for i in range(n):
        cif = cifs[i]
        if uses_structure or (cif is not None and _text(cif).strip()):
            rec = {"formula": formulas[i], "temperature_C": temps[i], "cif": cif}
            row = _prepare(rec, bundle, uses_structure)
            for c, v in row.out.items():
                if c not in ("warning", "neighbors"):
                    out[c][i] = v
            notes[i] = row.notes
            if row.feat is not None:
                feat_of[i] = len(feats)
                feats.append(row.feat)
            continue
        raw = formulas[i]
        text = raw if type(raw) is str else _text(raw)
        out["input"][i] = text
        cell = temps[i]
        key = cell if isinstance(cell, str | None) else repr(cell)
        if key not in t_cache:
            t_cache[key] = _temperature_k(cell)
        t_k, why = t_cache[key]
        if t_k is None:
            out["error"][i] = why
            continue
        out["temperature_K"][i] = t_k
        hit = by_text.get(text)
        if hit is None:
            hit = by_text[text] = _read_formula(text, elements, feats)
        f_index, formula, in_domain, row_notes, error = hit
        if error:
            out["error"][i] = error
            continue
        out["formula"][i] = formula
        out["in_domain"][i] = in_domain
        notes[i] = list(row_notes) if row_notes else None
        feat_of[i] = f_index
    keep = [i for i in range(n) if feat_of[i] >= 0]
    batch = Batch(out, [[] for _ in range(n)], [[] for _ in range(n)], None)
    if keep:
        _predict_into(batch, notes, keep, feat_of, feats, bundle)
    for i in range(n):
        if notes[i]:
            out["warning"][i] = "; ".join(notes[i])
    return batch


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


def _read_formula(text: str, elements: set[str], feats: list[dict]) -> tuple:
    """(feature row, reduced formula, in domain, notes, error) of one distinct formula text; appends its
    feature inputs to `feats`."""
    from sulfml.formula_fast import read_fast

    fast = read_fast(text)
    if fast is not None:  # what parse_formula returns, without importing it (and pymatgen)
        composition, formula, notation = fast
        tags, additive = (), None
    else:
        from sulfml.formula import parse_formula

        parsed = parse_formula(text)
        if not parsed.ok:
            return -1, None, None, None, parsed.error
        composition, formula, notation = parsed.composition, parsed.formula, parsed.notation
        tags, additive = parsed.tags, parsed.additive
    in_domain, domain_notes = _composition_notes(composition, elements, additive)
    feats.append({"composition": composition, "notation": notation, "tags": ";".join(tags), "family": None})
    return len(feats) - 1, formula, in_domain, tuple(domain_notes), ""


def features(feats: list[dict], bundle: Bundle) -> pd.DataFrame:
    """The model's feature table for feature-input rows (composition, notation, tags, family, structure).

    The vectorized featurizer computes every column of the preset it covers; the rest (a preset with
    features it does not know, structure features) come from `sulfml.featurize.presets.featurize`.
    """
    from sulfml.featurize import fast

    names = bundle.models["log10_sigma"].card["feature_names"]
    try:
        covered = fast.covered_columns(bundle.preset)
    except KeyError:
        covered = []
    position = {c: j for j, c in enumerate(covered)}
    missing = [c for c in names if c not in position]
    if missing:
        from sulfml.featurize.presets import featurize

        slow = featurize(pd.DataFrame(feats), bundle.preset, columns=missing)
        if not covered:
            return slow[names]
    data = fast.preset_features([f["composition"] for f in feats], bundle.preset,
                                [f.get("notation") for f in feats], [f.get("tags") for f in feats],
                                [f.get("family") for f in feats])
    frame = pd.DataFrame(data, columns=covered)
    if missing:
        frame = pd.concat([frame, slow[missing].reset_index(drop=True)], axis=1)
    return frame[names] if list(frame.columns) != names else frame


def _predict_into(batch: Batch, notes: list, keep: list[int], feat_of: list[int], feats: list[dict],
                  bundle: Bundle) -> None:
    out = batch.columns
    try:
        X = features(feats, bundle)
    except Exception as exc:
        if len(feats) == 1:
            for i in keep:
                out["error"][i] = f"featurization failed: {exc}"
            return
        # isolate the formula that breaks featurization instead of failing the batch
        for f in range(len(feats)):
            rows = [i for i in keep if feat_of[i] == f]
            _predict_into(batch, notes, rows, [0 if feat_of[i] == f else -1 for i in range(len(feat_of))],
                          [feats[f]], bundle)
        return
    sig_m, ea_m = bundle.models["log10_sigma"], bundle.models["ea_eV"]
    log_u = sig_m.predict(X, bundle.preset).astype(float)
    ea_u = ea_m.predict(X, bundle.preset).astype(float)
    dist_u, nn_idx_u, nn_dist_u = sig_m.domain.distance(X, N_NEIGHBORS)
    ea_dist_u = ea_m.domain.distance(X)[0]
    hw_sig_u = sig_m.calibration.halfwidth(log_u, dist_u)
    hw_ea_u = ea_m.calibration.halfwidth(ea_u, ea_dist_u)
    f = np.array([feat_of[i] for i in keep])
    log_rt, ea, dist, hw_sig, hw_ea = log_u[f], ea_u[f], dist_u[f], hw_sig_u[f], hw_ea_u[f]
    ea_lo, ea_hi = np.maximum(ea - hw_ea, 0.0), ea + hw_ea
    temps = np.array([out["temperature_K"][i] for i in keep], float)
    log_t = arrhenius_shift(log_rt, ea, temps)
    # The band at T carries both bands: the RT band, shifted by the Ea in [ea_lo, ea_hi] that moves it most.
    shifts = np.stack([arrhenius_shift(0.0, e, temps) for e in (ea_lo, ea_hi)])
    lo_t = log_rt - hw_sig + shifts.min(axis=0)
    hi_t = log_rt + hw_sig + shifts.max(axis=0)
    sigma = 10 ** log_t
    t_range = bundle.temperature_range_K
    threshold = sig_m.domain.threshold
    batch.domain = sig_m.domain
    nn_idx, nn_dist = nn_idx_u.tolist(), np.asarray(nn_dist_u).tolist()
    columns = {"log10_sigma": log_t, "sigma_S_cm": sigma, "log10_sigma_lo": lo_t, "log10_sigma_hi": hi_t,
               "ea_eV": ea, "ea_lo": ea_lo, "ea_hi": ea_hi}
    for name, values in columns.items():
        col = out[name]
        for i, v in zip(keep, values.tolist(), strict=True):
            col[i] = v
    far = dist > threshold
    shifted = np.abs(temps - ROOM_T_K) > 10
    in_domain = out["in_domain"]
    for j, i in enumerate(keep):
        u = f[j]
        batch.neighbor_idx[i] = nn_idx[u]
        batch.neighbor_dist[i] = nn_dist[u]
        if far[j]:
            in_domain[i] = False
            note = (f"far from the training materials: kNN distance {dist[j]:.2f} exceeds "
                    f"{threshold:.2f}, the {sig_m.domain.quantile:.0%} quantile for held-out papers")
            notes[i] = [note, *(notes[i] or [])]
        if shifted[j]:
            row_notes = notes[i] = list(notes[i] or [])
            row_notes.append(f"shifted from 298.15 K to {temps[j]:.2f} K with the predicted Ea (Arrhenius, σT form)")
            if t_range and not t_range[0] <= temps[j] <= t_range[1]:
                row_notes.append(f"{temps[j]:.0f} K is outside the {t_range[0]:.0f}-{t_range[1]:.0f} K the "
                                 "training measurements span: an extrapolation")


def predict(formulas: list[str], temperature_C: float | None = None, bundle: Bundle | None = None) -> pd.DataFrame:
    """Predict a list of formulas at one temperature (default 25 °C)."""
    frame = pd.DataFrame({"formula": formulas, "temperature_C": [temperature_C] * len(formulas)})
    return predict_frame(frame, bundle)
