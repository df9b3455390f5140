"""The one predict path: formulas (and optional temperature and CIF) in, the output contract out.

Used by `sulfml predict`, screening, benchmarks and the Python API. Bad rows get an error and no
numbers; they never stop the other rows.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from sulfml.formula import parse_formula
from sulfml.tracking.bundle import Bundle

OUTPUT_COLUMNS = [
    "input", "formula", "log10_sigma", "sigma_S_cm", "log10_sigma_lo", "log10_sigma_hi", "ea_eV", "ea_lo",
    "ea_hi", "temperature_K", "in_domain", "warning", "error",
]
ROOM_T_K = 298.15
K_B_EV = 8.617333262e-5
STRUCTURE_COLUMNS = ["space_group_number", "a", "b", "c", "alpha", "beta", "gamma", "z", "cif_path"]


def arrhenius_shift(log10_sigma_rt: np.ndarray, ea_ev: np.ndarray, temperature_k: np.ndarray) -> np.ndarray:
    """log10 σ at T from log10 σ at 298.15 K and Ea, assuming σ = A·exp(−Ea/kT) between the two."""
    return log10_sigma_rt - ea_ev / (K_B_EV * math.log(10)) * (1.0 / temperature_k - 1.0 / ROOM_T_K)


def structure_fields(cif: str | Path) -> dict:
    """Space group, lattice and Z read from a CIF, in the columns the structure featurizers use."""
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    s = Structure.from_file(str(cif))
    lat = s.lattice
    sg = SpacegroupAnalyzer(s, symprec=0.1).get_space_group_number()
    _, z = s.composition.get_reduced_composition_and_factor()
    return {"space_group_number": sg, "a": lat.a, "b": lat.b, "c": lat.c, "alpha": lat.alpha,
            "beta": lat.beta, "gamma": lat.gamma, "z": z, "cif_path": str(cif)}


def _empty_row(text: str) -> dict:
    return {c: None for c in OUTPUT_COLUMNS} | {"input": text, "warning": "", "error": ""}


def predict_frame(inputs: pd.DataFrame, bundle: Bundle | None = None) -> pd.DataFrame:
    """Predict every row of `inputs`, in order.

    Args:
        inputs: a `formula` column, optional `temperature_C` (blank: 25 °C) and `cif` (path) columns.
        bundle: the models; defaults to the committed bundle in `models/`.

    Returns:
        One row per input row with `OUTPUT_COLUMNS`.
    """
    from sulfml.featurize.presets import featurize

    bundle = bundle or Bundle.from_dir()
    seen = bundle.elements
    rows, feats, keep = [], [], []
    for i, rec in enumerate(inputs.to_dict("records")):
        text = "" if rec.get("formula") is None or (isinstance(rec.get("formula"), float)
                                                    and math.isnan(rec["formula"])) else str(rec["formula"])
        row = _empty_row(text)
        rows.append(row)
        t_c = rec.get("temperature_C")
        try:
            t_c = float(t_c) if t_c not in (None, "") and not (isinstance(t_c, float) and math.isnan(t_c)) else None
        except ValueError:
            row["error"] = f"temperature_C is not a number: {t_c!r}"
            continue
        row["temperature_K"] = ROOM_T_K if t_c is None else t_c + 273.15
        if row["temperature_K"] <= 0:
            row["error"] = f"temperature below absolute zero: {t_c} °C"
            continue
        parsed = parse_formula(text)
        if not parsed.ok:
            row["error"] = parsed.error
            continue
        row["formula"] = parsed.formula
        warnings = []
        if "Li" not in parsed.composition:
            warnings.append("no lithium: outside what the model knows")
        unseen = sorted(set(parsed.composition) - seen)
        if unseen:
            warnings.append(f"elements never seen in training: {', '.join(unseen)}")
        row["in_domain"] = not warnings
        if parsed.additive:
            warnings.append(f"composite: predicted for the host only, additive {parsed.additive!r} ignored")
        feat = {"composition": parsed.composition, "notation": parsed.notation, "tags": ";".join(parsed.tags),
                "family": None} | {c: np.nan for c in STRUCTURE_COLUMNS} | {"cif_path": ""}
        cif = rec.get("cif")
        if isinstance(cif, str) and cif.strip():
            try:
                feat.update(structure_fields(cif.strip()))
            except Exception as exc:  # a bad CIF is this row's problem only
                row["error"] = f"cannot read CIF {cif!r}: {exc}"
                continue
        row["warning"] = "; ".join(warnings)
        feats.append(feat)
        keep.append(i)
    if keep:
        _predict_into(rows, keep, pd.DataFrame(feats), bundle, featurize)
    out = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
    return out


def _predict_into(rows: list[dict], keep: list[int], frame: pd.DataFrame, bundle: Bundle, featurize) -> None:
    try:
        X = featurize(frame, bundle.preset)
    except Exception as exc:
        if len(keep) == 1:
            rows[keep[0]]["error"] = f"featurization failed: {exc}"
            return
        # isolate the row that breaks featurization instead of failing the batch
        for j, i in enumerate(keep):
            _predict_into(rows, [i], frame.iloc[[j]].reset_index(drop=True), bundle, featurize)
        return
    sig_m, ea_m = bundle.models["log10_sigma"], bundle.models["ea_eV"]
    log_rt = sig_m.predict(X, bundle.preset).astype(float)
    ea = ea_m.predict(X, bundle.preset).astype(float)
    temps = np.array([rows[i]["temperature_K"] for i in keep], float)
    log_t = arrhenius_shift(log_rt, ea, temps)
    hs, he = sig_m.interval_halfwidth, ea_m.interval_halfwidth
    for j, i in enumerate(keep):
        r = rows[i]
        r.update({
            "log10_sigma": float(log_t[j]), "sigma_S_cm": float(10 ** log_t[j]),
            "log10_sigma_lo": float(log_t[j] - hs), "log10_sigma_hi": float(log_t[j] + hs),
            "ea_eV": float(ea[j]), "ea_lo": float(max(ea[j] - he, 0.0)), "ea_hi": float(ea[j] + he),
        })
        if abs(temps[j] - ROOM_T_K) > 10:
            note = f"shifted from 298.15 K to {temps[j]:.2f} K with the predicted Ea (Arrhenius)"
            r["warning"] = "; ".join(x for x in (r["warning"], note) if x)


def predict(formulas: list[str], temperature_C: float | None = None, bundle: Bundle | None = None) -> pd.DataFrame:
    """Predict a list of formulas at one temperature (default 25 °C)."""
    frame = pd.DataFrame({"formula": formulas, "temperature_C": [temperature_C] * len(formulas)})
    return predict_frame(frame, bundle)
