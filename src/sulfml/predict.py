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

from sulfml.formula import parse_formula
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
    parsed = parse_formula(text)
    if not parsed.ok:
        row.out["error"] = parsed.error
        return row
    composition = parsed.composition
    if cif and _text(rec.get("formula")).strip() and not _same_composition(composition, amounts):
        row.notes.append(f"the CIF's composition {amounts} differs from the formula; the formula is used")
    row.out["formula"] = parsed.formula
    domain_notes = []
    if "Li" not in composition:
        domain_notes.append("no lithium: outside what the model knows")
    unseen = sorted(set(composition) - bundle.elements)
    if unseen:
        domain_notes.append(f"elements never seen in training: {', '.join(unseen)}")
    row.out["in_domain"] = not domain_notes
    row.notes = domain_notes + row.notes
    if parsed.additive:
        row.notes.append(f"composite: predicted for the host only, additive {parsed.additive!r} ignored")
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
    from sulfml.featurize.presets import featurize

    bundle = bundle or Bundle.from_dir()
    uses_structure = bundle.uses_structure
    rows = [_prepare(rec, bundle, uses_structure) for rec in inputs.to_dict("records")]
    keep = [i for i, r in enumerate(rows) if r.feat is not None]
    if keep:
        _predict_into(rows, keep, pd.DataFrame([rows[i].feat for i in keep]), bundle, featurize)
    for r in rows:
        r.out["warning"] = "; ".join(r.notes)
    return pd.DataFrame([r.out for r in rows], columns=OUTPUT_COLUMNS)


def _predict_into(rows: list[_Row], keep: list[int], frame: pd.DataFrame, bundle: Bundle, featurize) -> None:
    try:
        X = featurize(frame, bundle.preset)
    except Exception as exc:
        if len(keep) == 1:
            rows[keep[0]].out["error"] = f"featurization failed: {exc}"
            return
        # isolate the row that breaks featurization instead of failing the batch
        for j, i in enumerate(keep):
            _predict_into(rows, [i], frame.iloc[[j]].reset_index(drop=True), bundle, featurize)
        return
    sig_m, ea_m = bundle.models["log10_sigma"], bundle.models["ea_eV"]
    log_rt = sig_m.predict(X, bundle.preset).astype(float)
    ea = ea_m.predict(X, bundle.preset).astype(float)
    dist, nn_idx, nn_dist = sig_m.domain.distance(X, N_NEIGHBORS)
    ea_dist = ea_m.domain.distance(X)[0]
    hw_sig = sig_m.calibration.halfwidth(log_rt, dist)
    hw_ea = ea_m.calibration.halfwidth(ea, ea_dist)
    ea_lo, ea_hi = np.maximum(ea - hw_ea, 0.0), ea + hw_ea
    temps = np.array([rows[i].out["temperature_K"] for i in keep], float)
    log_t = arrhenius_shift(log_rt, ea, temps)
    # The band at T carries both bands: the RT band, shifted by the Ea in [ea_lo, ea_hi] that moves it most.
    shifts = np.stack([arrhenius_shift(0.0, e, temps) for e in (ea_lo, ea_hi)])
    lo_t = log_rt - hw_sig + shifts.min(axis=0)
    hi_t = log_rt + hw_sig + shifts.max(axis=0)
    neighbors = sig_m.domain.neighbors(nn_idx, nn_dist)
    t_range = bundle.temperature_range_K
    threshold = sig_m.domain.threshold
    for j, i in enumerate(keep):
        r = rows[i]
        r.out.update({
            "log10_sigma": float(log_t[j]), "sigma_S_cm": float(10 ** log_t[j]),
            "log10_sigma_lo": float(lo_t[j]), "log10_sigma_hi": float(hi_t[j]),
            "ea_eV": float(ea[j]), "ea_lo": float(ea_lo[j]), "ea_hi": float(ea_hi[j]),
            "neighbors": neighbors[j],
        })
        if dist[j] > threshold:
            r.out["in_domain"] = False
            r.notes.insert(0, f"far from the training materials: kNN distance {dist[j]:.2f} exceeds "
                              f"{threshold:.2f}, the {sig_m.domain.quantile:.0%} quantile for held-out papers")
        if abs(temps[j] - ROOM_T_K) > 10:
            r.notes.append(f"shifted from 298.15 K to {temps[j]:.2f} K with the predicted Ea (Arrhenius, σT form)")
            if t_range and not t_range[0] <= temps[j] <= t_range[1]:
                r.notes.append(f"{temps[j]:.0f} K is outside the {t_range[0]:.0f}-{t_range[1]:.0f} K the "
                               "training measurements span: an extrapolation")


def predict(formulas: list[str], temperature_C: float | None = None, bundle: Bundle | None = None) -> pd.DataFrame:
    """Predict a list of formulas at one temperature (default 25 °C)."""
    frame = pd.DataFrame({"formula": formulas, "temperature_C": [temperature_C] * len(formulas)})
    return predict_frame(frame, bundle)
