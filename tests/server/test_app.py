"""The web API through FastAPI's TestClient: predict, upload, detail, screen, about, limits, escaping, the
hostile-input corpus and two clients at once; the page's static files and `sulfml serve`'s usage errors."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from sulfml.cli import main
from sulfml.server.app import create_app, is_loopback
from sulfml.server.limits import Limits
from sulfml.service.physics import ROOM_T_K
from sulfml.service.predictor import Predictor

TESTS = Path(__file__).resolve().parents[1]
HOSTILE = TESTS / "fixtures" / "hostile"


def _hostile_module():
    """tests/cli/test_hostile_inputs.py, for its corpus (FORMULAS, FILES) and expectations."""
    spec = importlib.util.spec_from_file_location("hostile_corpus", TESTS / "cli" / "test_hostile_inputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


# --- the page ---------------------------------------------------------------------------------------------

def test_the_page_and_its_files_are_served_with_a_strict_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script src="/static/app.js"' in page.text
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert client.get("/static/app.css").status_code == 200
    # data reaches the page only as text: no HTML parsing of strings anywhere in the script
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script.text, sink


def test_openapi_documents_the_api(client):
    spec = _ok(client.get("/api/openapi.json"))
    assert {"/api/predict", "/api/predict/file", "/api/detail", "/api/screen", "/api/about"} <= set(spec["paths"])
    assert client.get("/api/docs").status_code == 200
    assert _ok(client.get("/api/health")) == {"status": "ok"}


def _response_models(app) -> dict[tuple[str, str], type]:
    """(method, path) -> the declared response model of every JSON route under /api."""
    from fastapi.routing import APIRoute

    return {(m, r.path): r.response_model for r in app.routes if isinstance(r, APIRoute)
            and r.path.startswith("/api/") for m in r.methods}


def test_every_api_route_declares_a_typed_answer_and_its_errors(client):
    from pydantic import BaseModel

    models = _response_models(client.app)
    assert len(models) >= 8  # health, about, predict, predict/file, predict/cif, detail, screen, materials
    untyped = [route for route, model in models.items()
               if not (isinstance(model, type) and issubclass(model, BaseModel))]
    assert not untyped, untyped
    spec = _ok(client.get("/api/openapi.json"))
    for (method, path), model in models.items():
        answers = spec["paths"][path][method.lower()]["responses"]
        assert answers["200"]["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{model.__name__}"}, path
        assert "422" in answers, path


def test_openapi_documents_every_field_of_a_prediction_row_with_its_unit(client):
    from sulfml.service.pipeline import OUTPUT_COLUMNS

    schemas = _ok(client.get("/api/openapi.json"))["components"]["schemas"]
    ref = schemas["Prediction"]["properties"]["rows"]["items"]["$ref"]
    row = schemas[ref.rsplit("/", 1)[1]]["properties"]
    assert set(OUTPUT_COLUMNS) <= set(row)
    undocumented = [c for c in OUTPUT_COLUMNS if not row[c].get("description")]
    assert not undocumented, undocumented
    for column, unit in (("log10_sigma", "S/cm"), ("sigma_S_cm", "S/cm"), ("ea_eV", "eV"), ("ea_lo", "eV"),
                         ("temperature_K", "(K)"), ("bvse_barrier_eV", "eV")):
        assert unit in row[column]["description"], column
    for column in ("log10_sigma_lo", "log10_sigma_hi", "ea_lo", "ea_hi"):
        assert "calibrated interval" in row[column]["description"], column
    # a number a row may lack is nullable in the schema (the answer says null, never NaN)
    for column in ("log10_sigma", "ea_eV", "measured_ea_eV", "in_domain", "space_group"):
        assert {"type": "null"} in row[column]["anyOf"], column
    assert "measured" in row["basis"]["description"] and row["neighbors"]["items"]["$ref"].endswith("/Neighbor")
    screen_ref = schemas["Screen"]["properties"]["rows"]["items"]["$ref"].rsplit("/", 1)[1]
    assert "probability" in schemas[screen_ref]["properties"]["p_gain"]["description"]


def _extras(value, where: str = "") -> list[str]:
    """Every field of a validated row that its model does not name (apart from an upload's input_<name>); the
    other models refuse such fields outright."""
    from pydantic import BaseModel

    found = []
    if isinstance(value, BaseModel):
        found += [f"{where}.{k}" for k in (value.model_extra or {}) if not k.startswith("input_")]
        for name in type(value).model_fields:
            found += _extras(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list | tuple):
        for v in value:
            found += _extras(v, f"{where}[]")
    elif isinstance(value, dict):
        for k, v in value.items():
            found += _extras(v, f"{where}.{k}")
    return found


def test_every_answer_validates_against_its_model_with_null_never_nan(client):
    from pymatgen.core import Lattice, Structure

    cif = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.14), ["Li", "Cl"],
                                    [[0, 0, 0], [0.5, 0.5, 0.5]]).to(fmt="cif").encode()
    texts = ["Li6PS5Cl", "bad(", "Li3PS4", "NaCl"]  # measured, unreadable, measured with Ea, no lithium
    calls = {
        ("GET", "/api/health"): lambda: client.get("/api/health"),
        ("GET", "/api/about"): lambda: client.get("/api/about"),
        ("POST", "/api/predict"): lambda: client.post("/api/predict", json={"formulas": texts}),
        ("POST", "/api/predict/file"): lambda: client.post(
            "/api/predict/file", params={"filename": "a.csv"}, content=b"formula,note\nLi3PS4,x\nbad(,y\n"),
        ("POST", "/api/predict/cif"): lambda: client.post("/api/predict/cif", params={"filename": "licl.cif"},
                                                          content=cif),
        ("POST", "/api/detail"): lambda: client.post("/api/detail", json={"formula": "Li6PS5Cl"}),
        ("POST", "/api/screen"): lambda: client.post("/api/screen", json={
            "parent": "Li3PS4", "substitutions": "P=Si; S=Cl", "max_fraction": 0.2, "step": 0.1, "top": 4}),
    }
    models = _response_models(client.app)
    for route, call in calls.items():
        response = call()
        assert response.status_code == 200, (route, response.text)
        assert "NaN" not in response.text and "Infinity" not in response.text, route
        answer = models[route].model_validate(json.loads(response.text))  # refuses NaN and infinities
        assert not _extras(answer), (route, _extras(answer))
    failed = client.post("/api/detail", json={"formula": "bad("})
    models[("POST", "/api/detail")].model_validate(_ok(failed))
    row = models[("POST", "/api/predict")].model_validate(_ok(calls[("POST", "/api/predict")]())).rows[1]
    assert row.error and row.log10_sigma is None and row.in_domain is None  # a bad row: null numbers
    with pytest.raises(ValueError, match="finite"):
        models[("GET", "/api/about")].model_validate(_ok(client.get("/api/about")) | {
            "temperature_range_K": [float("nan"), 300.0]})


def test_import_sulfml_does_not_load_the_web_stack():
    code = ("import sys, sulfml, sulfml.cli; sulfml.cli.build_parser(); "
            "loaded = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'uvicorn', 'starlette')]; "
            "assert not loaded, loaded")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


# --- predict ----------------------------------------------------------------------------------------------

def test_predict_keeps_order_and_numbers_and_bad_rows_in_place(client, predictor):
    texts = ["Li6PS5Cl", "bad(", "70Li2S-30P2S5", "", "Xx2S", "Li10GeP2S12"]
    got = _ok(client.post("/api/predict", json={"formulas": texts, "temperature_C": "60", "state": "glass"}))
    want = predictor.predict(texts, temperature_c="60", state="glass")
    assert got["n"] == len(texts) and got["failed"] == 3
    rows = got["rows"]
    assert [r["input"] for r in rows] == texts
    for r, (_, w) in zip(rows, want.iterrows(), strict=True):
        assert r["error"] == w["error"]
        if w["error"]:
            assert r["log10_sigma"] is None and r["neighbors"] == []
        else:
            assert math.isclose(r["log10_sigma"], w["log10_sigma"], abs_tol=1e-9)
            assert math.isclose(r["ea_hi"], w["ea_hi"], abs_tol=1e-9)
            assert r["temperature_K"] == pytest.approx(333.15)
            assert r["formula"] == w["formula"] and len(r["neighbors"]) == 3
    # the state the user gave, with every predicted row; the state-aware champion predicts in it
    assert [r["state"] for r in rows] == [None if r["error"] else "glass" for r in rows]
    crystal = _ok(client.post("/api/predict", json={"formulas": texts[:1], "state": "crystalline"}))["rows"][0]
    assert crystal["state"] == "crystalline"
    assert got["columns"][:3] == ["input", "formula", "state"]


def test_hostile_formulas_come_back_as_row_errors(client):
    corpus = _hostile_module()
    texts = [t for t, _ in corpus.FORMULAS]
    rows = _ok(client.post("/api/predict", json={"formulas": texts}))["rows"]
    assert len(rows) == len(texts)
    for row, (text, expect) in zip(rows, corpus.FORMULAS, strict=True):
        assert row["input"] == text
        if expect is corpus.OK:
            assert row["error"] == "" and math.isfinite(row["log10_sigma"]), text
        else:
            assert expect in row["error"] and row["log10_sigma"] is None, (text, row["error"])
    # a lone surrogate (not valid UTF-8) cannot be sent by most clients, but can be written in JSON
    raw = b'{"formulas": ["Li6PS5Cl", "Li\\ud800S", "\\udfff"]}'
    response = client.post("/api/predict", content=raw, headers={"content-type": "application/json"})
    rows = _ok(response)["rows"]
    assert [bool(r["error"]) for r in rows] == [False, True, True]
    assert "unexpected" in rows[1]["error"]


def test_markup_comes_back_as_data_never_as_markup(client):
    text = "<script>alert(1)</script>"
    response = client.post("/api/predict", json={"formulas": [text, 'Li6PS5Cl"><img src=x onerror=alert(1)>']})
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert b"<script" not in response.content and b"<img" not in response.content
    rows = response.json()["rows"]
    assert rows[0]["input"] == text and "unexpected '<'" in rows[0]["error"]
    assert rows[1]["input"].endswith("onerror=alert(1)>") and rows[1]["error"]


def test_bad_temperature_state_or_body_is_a_clear_422(client):
    r = client.post("/api/predict", json={"formulas": ["Li6PS5Cl"], "temperature_C": "-300"})
    assert r.status_code == 422 and "below absolute zero" in r.json()["detail"]
    r = client.post("/api/predict", json={"formulas": ["Li6PS5Cl"], "state": "liquid"})
    assert r.status_code == 422 and "state" in r.json()["detail"]
    r = client.post("/api/predict", json={"formula": "Li6PS5Cl"})
    assert r.status_code == 422 and "formulas" in r.json()["detail"]
    r = client.post("/api/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)


# --- upload -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bom.csv", "cp1252.csv", "utf16.csv", "semicolon.csv", "ragged.csv",
                                  "nul_bytes.csv", "multiline_cell.csv", "extra_columns.csv", "strings.json",
                                  "objects.json", "header_only.csv"])
def test_hostile_files_upload_row_by_row(client, name):
    corpus = _hostile_module()
    _, expected = corpus.FILES[name]
    got = _ok(client.post(f"/api/predict/file?filename={name}", content=(HOSTILE / name).read_bytes()))
    rows = got["rows"]
    assert len(rows) == len(expected)
    for row, (text, expect) in zip(rows, expected, strict=True):
        assert row["input"] == text
        if expect is corpus.OK:
            assert row["error"] == "" and math.isfinite(row["log10_sigma"])
        else:
            assert expect in row["error"], (text, row["error"])
    if name == "cp1252.csv":
        assert any("cp1252" in n and name in n for n in got["notes"])


@pytest.mark.parametrize("name", ["no_formula_column.csv", "empty.csv", "whitespace_only.csv", "object.json",
                                  "broken.json", "deep.json"])
def test_unreadable_files_are_refused_with_the_reason(client, name):
    corpus = _hostile_module()
    _, fragment = corpus.FILES[name]
    r = client.post(f"/api/predict/file?filename={name}", content=(HOSTILE / name).read_bytes())
    assert r.status_code == 422 and fragment in r.json()["detail"]
    assert "/tmp" not in r.json()["detail"]  # the server's temporary path is not shown


def test_upload_keeps_every_column_and_never_opens_paths(client, tmp_path):
    secret = tmp_path / "secret.cif"
    secret.write_text("data_secret\n")
    body = (f"formula,temperature_C,state,sample,cif\nLi6PS5Cl,,crystalline,A-1,{secret}\n"
            f"Xx2S,60,,B-2,/etc/passwd\nLi3PS4,100,,C-3,\n").encode()
    got = _ok(client.post("/api/predict/file?filename=lab.csv&state=glass&temperature_C=80", content=body))
    rows = got["rows"]
    assert [r["input_sample"] for r in rows] == ["A-1", "B-2", "C-3"]
    assert [r["state"] for r in rows] == ["crystalline", None, "glass"]  # the request fills blank cells
    assert [round(r["temperature_K"], 2) for r in rows] == [353.15, 333.15, 373.15]
    assert rows[0]["input_cif"] == str(secret) and rows[0]["error"] == "" and "CIF" not in rows[0]["warning"]
    assert "unknown element" in rows[1]["error"]


def test_json_and_parquet_uploads(client, tmp_path):
    data = json.dumps([{"formula": "Li6PS5Cl", "temperature_C": 25}, {"formula": "nope("}]).encode()
    rows = _ok(client.post("/api/predict/file?filename=x.json", content=data))["rows"]
    assert [bool(r["error"]) for r in rows] == [False, True]
    path = tmp_path / "x.parquet"
    pd.DataFrame({"formula": ["Li3PS4", "Li7P3S11"], "batch": [1, 2]}).to_parquet(path)
    rows = _ok(client.post("/api/predict/file?filename=x.parquet", content=path.read_bytes()))["rows"]
    assert [r["formula"] for r in rows] == ["Li3PS4", "Li7P3S11"] and [r["input_batch"] for r in rows] == ["1", "2"]


# --- limits -----------------------------------------------------------------------------------------------

def test_limits_are_refused_with_clear_messages(predictor):
    small = TestClient(create_app(predictor, Limits(max_body_bytes=2000, max_rows=5, max_screen=30, max_top=4)))
    r = small.post("/api/predict", json={"formulas": ["Li6PS5Cl"] * 6})
    assert r.status_code == 422 and "6 rows" in r.json()["detail"] and "at most 5" in r.json()["detail"]
    r = small.post("/api/predict", json={"formulas": ["Li6PS5Cl" * 60] * 5})
    assert r.status_code == 413 and "at most 2,000 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit holds for a streamed body too
        for _ in range(10):
            yield b"x" * 500

    r = small.post("/api/predict/file?filename=a.csv", content=chunks())
    assert r.status_code == 413 and "more than 2,000 bytes" in r.json()["detail"]
    r = small.post("/api/predict/file?filename=a.csv", content=b"formula\n" + b"Li3PS4\n" * 6)
    assert r.status_code == 422 and "6 rows" in r.json()["detail"]
    r = small.post("/api/screen", json={"parent": "Li3PS4", "substitutions": "P=Si,Ge", "step": 0.01, "top": 3})
    assert r.status_code == 422 and "100 candidates" in r.json()["detail"] and "at most 30" in r.json()["detail"]
    r = small.post("/api/screen", json={"parent": "Li3PS4", "substitutions": "P=Si+Ge+Sn", "step": 1e-6,
                                        "max_fraction": 1, "top": 3})
    assert r.status_code == 422 and "candidates" in r.json()["detail"]  # counted, never enumerated
    r = small.post("/api/screen", json={"parent": "Li3PS4", "substitutions": "P=Si", "top": 5})
    assert r.status_code == 422 and "between 1 and 4" in r.json()["detail"]
    # within the limits all is well
    assert _ok(small.post("/api/predict", json={"formulas": ["Li6PS5Cl"] * 5}))["n"] == 5


def test_limits_must_be_positive():
    from sulfml.errors import InputError

    with pytest.raises(InputError, match="max_rows"):
        Limits(max_rows=0)


# --- detail -----------------------------------------------------------------------------------------------

def test_detail_has_the_band_over_the_data_range_the_neighbours_and_the_why(client, predictor):
    got = _ok(client.post("/api/detail", json={"formula": "Li10GeP2S12", "temperature_C": 60}))
    row = got["row"]
    table = predictor.predict(["Li10GeP2S12"], temperature_c=60).iloc[0]
    assert math.isclose(row["log10_sigma"], table["log10_sigma"], abs_tol=1e-9)
    lo_k, hi_k = predictor.bundle.temperature_range_K
    assert got["temperature_range_K"] == [lo_k, hi_k] and got["range_from_data"] is True
    curve = got["arrhenius"]
    kelvins = [p["T_K"] for p in curve]
    assert kelvins == sorted(kelvins) and kelvins[0] == pytest.approx(lo_k) and kelvins[-1] == pytest.approx(hi_k)
    assert all(p["lo"] <= p["log10_sigma"] <= p["hi"] for p in curve)
    at = {round(p["T_K"], 2): p for p in curve}
    assert math.isclose(at[333.15]["log10_sigma"], row["log10_sigma"], abs_tol=1e-9)  # the table's own number
    assert math.isclose(at[333.15]["hi"], row["log10_sigma_hi"], abs_tol=1e-9)
    assert ROOM_T_K in [round(k, 2) for k in kelvins]
    neighbours = got["neighbors"]
    assert len(neighbours) == 3 and all(n["inv_T"] == pytest.approx(1000 / ROOM_T_K) for n in neighbours)
    from sulfml.service.physics import arrhenius_shift

    lines = [n for n in neighbours if n["ea_eV"] is not None and n["log10_sigma"] is not None]
    assert lines  # the shipped bundle's nearest materials to LGPS have measured Ea
    for n in lines:  # the measured RT σ carried along the measured Ea, over the same temperatures
        kelvin = np.array([1000 / p["inv_T"] for p in n["line"]])
        assert kelvin.min() == pytest.approx(lo_k) and kelvin.max() == pytest.approx(hi_k)
        assert np.allclose([p["log10_sigma"] for p in n["line"]], arrhenius_shift(n["log10_sigma"], n["ea_eV"], kelvin))
    rt = predictor.predict(["Li10GeP2S12"], known_first=False).iloc[0]  # the "why" explains the model
    for target, want in (("log10_sigma", rt["log10_sigma"]), ("ea_eV", rt["ea_eV"])):
        why = got["why"][target]
        assert len(why["top"]) == 6
        total = why["bias"] + sum(c["contribution"] for c in why["top"]) + why["rest"]
        assert total == pytest.approx(why["prediction"], abs=1e-4)
        assert why["prediction"] == pytest.approx(want, abs=1e-4)
        sizes = [abs(c["contribution"]) for c in why["top"]]
        assert sizes == sorted(sizes, reverse=True)
        for c in why["top"]:
            assert c["description"] != c["feature"] and "_" not in c["description"]


def test_detail_of_a_bad_formula_is_its_row_error(client):
    got = _ok(client.post("/api/detail", json={"formula": "<b>Li</b>"}))
    assert got["row"]["error"] and "arrhenius" not in got and "why" not in got


# --- screen -----------------------------------------------------------------------------------------------

def test_screen_gives_the_baseline_first_the_ranked_top_and_every_point(client, predictor):
    from sulfml.workflows.screen import Sweep, screen

    got = _ok(client.post("/api/screen", json={"parent": "Li3PS4", "substitutions": "P=Si,Ge; S=Cl",
                                                "max_fraction": 0.2, "step": 0.1, "top": 5, "state": "glass"}))
    want, counts = screen(Sweep("Li3PS4", {"P": ["Si", "Ge"], "S": ["Cl"]}, 0.2, 0.1), predictor, top=5,
                          state="glass")
    rows = got["rows"]
    assert rows[0]["role"] == "parent" and rows[0]["formula"] == "Li3PS4"
    assert [r["formula"] for r in rows] == list(want["formula"])
    assert np.allclose([r["log10_sigma"] for r in rows], want["log10_sigma"])
    assert got["counts"] == counts and got["parent_states"] == {"Li": 1, "P": 5, "S": -2}
    points = got["points"]
    assert len(points) == counts["predicted"] + counts["same_as_parent"]
    assert {p["series"] for p in points} == {"P→Si", "P→Ge", "S→Cl", "P→Si; S→Cl", "P→Ge; S→Cl"}
    assert all(p["lo"] <= p["log10_sigma"] <= p["hi"] for p in points)
    assert {round(p["fraction"], 6) for p in points if p["series"] == "P→Si"} == {0.1, 0.2}


def test_screen_accepts_a_mapping_and_explains_bad_requests(client):
    got = _ok(client.post("/api/screen", json={"parent": "Li3PS4", "substitutions": {"P": ["Si+Ge"]},
                                                "max_fraction": 0.2, "step": 0.1, "top": 3}))
    assert {p["series"] for p in got["points"]} == {"P→Si+Ge"}
    for body, fragment in (
            ({"parent": "Li3PS4", "substitutions": "P"}, "SITE=DOPANT"),
            ({"parent": "Li3PS4", "substitutions": "Q=Si"}, "site 'Q' is not in the parent"),
            ({"parent": "Li3PS4(", "substitutions": "P=Si"}, "cannot read the parent"),
            ({"parent": "Li3PS4", "substitutions": "P=Si", "step": 0}, "step"),
            ({"parent": "Li3PS4", "substitutions": "P=Xx"}, "unknown element"),
            ({"parent": "Li3PS4", "substitutions": "P=Si", "rank": "best"}, "rank"),
    ):
        r = client.post("/api/screen", json=body)
        assert r.status_code == 422 and fragment in r.json()["detail"], (body, r.text)


# --- about ------------------------------------------------------------------------------------------------

def test_about_names_the_models_their_cv_numbers_and_the_data_sources(client, predictor):
    about = _ok(client.get("/api/about"))
    assert about["source"] == predictor.source
    sigma = about["models"]["log10_sigma"]
    card = predictor.bundle.models["log10_sigma"].card
    assert sigma["registered_model"] == card["registered_model"] and sigma["alias"] == card["alias"]
    assert sigma["metrics"]["cv_mae"] == pytest.approx(card["metrics"]["cv_mae"])
    names = {s["name"] for s in about["sources"]}
    assert {"obelix", "liverpool", "laskowski"} <= names
    assert all(s["licence"] and s["citation"] for s in about["sources"])
    assert about["limits"]["max_rows"] == Limits().max_rows


# --- load -------------------------------------------------------------------------------------------------

def test_two_clients_at_once_both_succeed_and_the_model_is_not_reloaded(predictor, monkeypatch):
    app = create_app(predictor, Limits(concurrent=2))
    from sulfml.tracking import bundle

    def no_reload(*args, **kwargs):
        raise AssertionError("the models were loaded again for a request")

    monkeypatch.setattr(bundle.Bundle, "from_dir", no_reload)
    monkeypatch.setattr(bundle.LoadedModel, "from_dir", no_reload)
    batches = [[f"Li{6 - x / 10:.2f}PS{5 - x / 10:.2f}Cl{1 + x / 10:.2f}" for x in range(40)],
               ["Li3PS4", "Li7P3S11", "bad("] * 15]
    results: dict[int, object] = {}
    start = threading.Barrier(2)

    def worker(k: int) -> None:
        with TestClient(app) as c:
            start.wait(timeout=30)
            try:
                results[k] = c.post("/api/predict", json={"formulas": batches[k]})
            except Exception as exc:  # noqa: BLE001 - reported below
                results[k] = exc

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    for k in range(2):
        response = results[k]
        assert not isinstance(response, Exception), response
        rows = _ok(response)["rows"]
        assert [r["input"] for r in rows] == batches[k]
    assert sum(bool(r["error"]) for r in results[1].json()["rows"]) == 15


# --- sulfml serve -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, fragment", [
    (["serve", "--port", "70000"], "--port must be between 0 and 65535"),
    (["serve", "--max-rows", "0"], "--max-rows must be at least 1"),
    (["serve", "--models-dir", "no/such/dir"], "no log10_sigma model"),
])
def test_serve_usage_errors_are_one_line(capsys, argv, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("sulfml serve: error: ") and fragment in err and len(err.strip().splitlines()) == 1


def test_a_port_in_use_is_a_usage_error(capsys, monkeypatch):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_loopback_is_the_default_and_other_hosts_are_named():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("lab.example.org")
    from sulfml.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and args.port == 8000


def test_about_of_a_registry_model_and_a_why_without_knn_features(trained):
    predictor = Predictor.from_registry(trained["uri"], alias="champion")
    registry = TestClient(create_app(predictor))
    about = _ok(registry.get("/api/about"))
    assert about["source"].startswith("registry ") and about["source"].endswith("@champion")
    sigma = about["models"]["log10_sigma"]
    assert sigma["registered_model"] == "sulfml-log10-sigma" and sigma["registered_version"] >= 1
    assert sigma["preset"] == "composition-v1" and sigma["metrics"]["cv_mae"] > 0
    got = _ok(registry.post("/api/detail", json={"formula": "Li6PS5Cl"}))
    for target, why in got["why"].items():
        assert not any(c["feature"].startswith("knn_") for c in why["top"])  # this bundle has none
        total = why["bias"] + sum(c["contribution"] for c in why["top"]) + why["rest"]
        assert total == pytest.approx(why["prediction"], abs=1e-4), target


# --- known materials (GET /api/materials) ------------------------------------------------------------------

def test_materials_answers_the_search_with_its_records_and_is_in_the_schema(predictor, mini_data_dir):
    from sulfml.data.search import search
    from sulfml.data.table import build_table

    app = create_app(predictor, data_dir=mini_data_dir)
    known = TestClient(app)
    got = _ok(known.get("/api/materials", params={"q": "Li6PS5Cl"}))     # the data is loaded on first use
    assert got["query"]["kind"] == "formula" and got["query"]["description"] == "formula Li6PS5Cl (every state)"
    assert got["limit"] == 20 and {m["state"] for m in got["materials"]} == {"crystalline", "unknown"}
    records = search(build_table(mini_data_dir), "Li6PS5Cl")
    for m, r in zip(got["materials"], records, strict=True):
        assert (m["material_key"], m["log10_sigma"], m["n_papers"]) == (r.material_key, r.log10_sigma, r.n_papers)
        assert len(m["measurements"]) == len(r.measurements)
        for point, x in zip(m["measurements"], r.measurements, strict=True):
            assert point["inv_T"] == pytest.approx(1000 / (x.temperature_K or ROOM_T_K))
    assert app.state.table.get() is app.state.table.get()          # loaded once
    spec = _ok(known.get("/api/openapi.json"))
    answer = spec["paths"]["/api/materials"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["$ref"].endswith("/MaterialsResponse")
    assert {"MaterialsResponse", "MaterialModel", "MeasurementModel", "ArrheniusFitModel"} <= set(
        spec["components"]["schemas"])
    assert {p["name"] for p in spec["paths"]["/api/materials"]["get"]["parameters"]} == {"q", "limit"}


def test_materials_carry_the_fit_line_and_bad_queries_are_422(predictor, mini_data_dir, tmp_path):
    from sulfml.data.table import build_table

    mine = tmp_path / "mine.csv"
    mine.write_text("formula,sigma_S_cm,temperature_C,state,doi\nLi6PS5Cl,5e-3,50,crystalline,10.1234/x.s001\n")
    known = TestClient(create_app(predictor, table=build_table(mini_data_dir, extra=[mine])))
    got = _ok(known.get("/api/materials", params={"q": "https://doi.org/10.1234/X", "limit": 5}))
    assert [(m["formula"], m["state"]) for m in got["materials"]] == [("Li6PS5Cl", "crystalline")]
    fit = got["materials"][0]["arrhenius"]
    assert fit["n_points"] == 3 and len(fit["line"]) >= 2
    xs = [p["inv_T"] for p in fit["line"]]
    assert xs == sorted(xs) and xs[0] == pytest.approx(1000 / fit["temperature_max_K"])
    assert all(math.isfinite(p["log10_sigma"]) for p in fit["line"])
    for params, words in (({"q": "xyz!!"}, "cannot read"), ({"q": " "}, "empty search"), ({}, "q"),
                          ({"q": "Li6PS5Cl", "limit": 0}, "limit")):
        response = known.get("/api/materials", params=params)
        assert response.status_code == 422 and words in response.json()["detail"], params
        assert "--" not in response.json()["detail"]


def test_materials_without_data_is_a_clear_503_and_the_rest_still_works(predictor, tmp_path):
    known = TestClient(create_app(predictor, data_dir=tmp_path / "no-data"))
    response = known.get("/api/materials", params={"q": "Li6PS5Cl"})
    assert response.status_code == 503
    assert response.json()["detail"].startswith("the measured data is not available on this server: missing")
    assert known.get("/api/materials", params={"q": "Li6PS5Cl"}).status_code == 503
    assert _ok(known.get("/api/health")) == {"status": "ok"}
    assert _ok(known.post("/api/predict", json={"formulas": ["Li3PS4"]}))["n"] == 1


def test_a_known_material_answers_with_its_basis_and_measurements(client):
    """Known first over the API: the row says its basis and carries the measured values; the detail's "why"
    still explains the model's own share (its prediction is the model's, not the anchored answer)."""
    rows = client.post("/api/predict", json={"formulas": ["Li7P3S11 glass", "Li5.3PS4.3Cl0.35Br0.35I"]}).json()["rows"]
    known, new = rows
    assert known["basis"] in ("measured", "measured+model") and new["basis"] == "model"
    assert known["measured_n_papers"] >= 2 and known["measured_range"][0] <= known["measured_log10_sigma"]
    assert known["measured_range"][0] - 1e-9 <= known["log10_sigma"] <= known["measured_range"][1] + 1e-9
    assert new["measured_n_papers"] == 0 and new["measured_log10_sigma"] is None and new["measured_range"] is None
    detail = client.post("/api/detail", json={"formula": "Li7P3S11 glass"}).json()
    assert detail["row"]["basis"] == known["basis"]
    assert detail["why"]["log10_sigma"]["prediction"] != pytest.approx(known["log10_sigma"], abs=1e-6)


# --- the answers' cells and the server's start ----------------------------------------------------------------

def test_records_are_each_cell_made_json_ready_by_its_column():
    from sulfml.server.payloads import json_ready, records

    nan, inf = float("nan"), float("inf")
    frame = pd.DataFrame({
        "x": [1.5, nan, -inf], "n": np.array([1, 2, 3], np.int64), "ok": [True, False, True],
        "f32": np.array([0.1, nan, 2.0], np.float32), "u": np.array([1, 2, 2**63], np.uint64),
        "maybe": pd.array([1, None, 3], dtype="Int64"), "flag": [True, None, np.bool_(False)],
        "text": ["a", None, "c"], "scalar": [np.float64(nan), np.int32(4), np.str_("s")],
        "neighbors": [[{"d": np.float32(0.5), "papers": ["p"], 7: nan}], [], None],
        "pair": [(1, nan), [np.int64(2)], {"k": (np.array([1.0, nan]),)}],
    })
    got = records(frame)
    # the definition: every row as a dict of plain objects, each cell made JSON-ready
    assert got == [json_ready(r) for r in frame.astype(object).to_dict("records")]
    assert got[1]["x"] is None and got[2]["x"] is None and got[0]["neighbors"][0]["7"] is None
    assert json.dumps(got, allow_nan=False)  # NaN and infinities are null, NumPy values plain
    assert records(frame.iloc[:0]) == [] == records(pd.DataFrame(index=range(2)))  # as pandas' records: none


def test_the_server_answers_only_once_it_is_warm(predictor, monkeypatch):
    """The "why"'s imports run before the first answer, not beside the first requests (an import holds the
    interpreter's lock)."""
    import time

    import uvicorn

    from sulfml.server import app as server_app

    events: list[str] = []

    def slow_warm_up(_predictor) -> None:
        time.sleep(0.3)
        events.append("warm")

    monkeypatch.setattr(server_app.payloads, "warm_up", slow_warm_up)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: events.append("serving"))
    server_app.serve(predictor, "127.0.0.1", 0)
    assert events == ["warm", "serving"]
