"""Every measurement gets the state its source gives, and a material is a composition in one state."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sulfml.data.table import _states, aggregate_materials
from sulfml.parse.formula import parse_formula


def test_states_from_each_kind_of_label():
    raw = ["70Li2S-30P2S5", "70Li2S-30P2S5", "Li7P3S11", "Li7P3S11", "Li7P3S11", "Li7P3S11", "Li3PS4"]
    df = pd.DataFrame({
        "structure_type": ["glass", "Glass ceramic", None, "Sulphides", None, None, None],
        "family": [None, None, "Glass-Ceramic", "Thio-LISICON", "argyrodites", None, None],
        "space_group_number": [np.nan, np.nan, np.nan, np.nan, 220.0, np.nan, np.nan],
        "state": [None, None, None, None, None, None, "glass"],
    })
    states, reasons = _states(df, [parse_formula(t) for t in raw])
    assert states == ["glass", "glass-ceramic", "glass-ceramic", "crystalline", "crystalline", "unknown", "glass"]
    assert reasons[-2] == "" and reasons[-1] == "the source says so"


def _measurement(formula: str, state: str, value: float, paper: str) -> dict:
    p = parse_formula(formula)
    key = "Li:0.333,P:0.143,S:0.524"
    return {"source": "review", "source_row_id": paper, "raw_formula": formula, "formula": p.formula,
            "composition": '{"Li": 7, "P": 3, "S": 11}', "composition_key": key, "material_key": f"{key}@{state}",
            "notation": p.notation, "additive": None, "tags": "", "state": state, "log10_sigma": value,
            "censored": False, "room_temperature": True, "ea_eV": np.nan, "family": None, "structure_type": None,
            "paper": paper, "doi": paper, "split": None, "space_group_number": np.nan, "a": np.nan, "b": np.nan,
            "c": np.nan, "alpha": np.nan, "beta": np.nan, "gamma": np.nan, "z": np.nan, "cif_path": None}


def test_one_material_per_state_with_its_evidence():
    import json

    rows = [_measurement("70Li2S-30P2S5", "glass", -4.0, "p1"), _measurement("Li7P3S11", "glass-ceramic", -1.8, "p2"),
            _measurement("Li7P3S11", "glass-ceramic", -2.4, "p3"), _measurement("Li7P3S11", "glass-ceramic", -2.2, "p4")]
    mats = aggregate_materials(pd.DataFrame(rows))
    assert sorted(mats["state"]) == ["glass", "glass-ceramic"]
    gc = mats[mats["state"] == "glass-ceramic"].iloc[0]
    evidence = json.loads(gc["evidence"])
    assert sorted(p for p, _ in evidence) == ["p2", "p3", "p4"]
    assert gc["log10_sigma"] == np.median([v for _, v in evidence]) == -2.2
