"""Structure over the web API: the space group as an input (`/api/predict`, `/api/predict/file`, `/api/detail`),
one uploaded CIF (`/api/predict/cif`), and the new output columns (`space_group`, `bvse_barrier_eV`,
`bvse_dimension`) as JSON without NaN."""

from __future__ import annotations

import json
import math
import tempfile

import pytest
from fastapi.testclient import TestClient

from sulfml.server.app import create_app
from sulfml.server.limits import Limits
from sulfml.service.predictor import Predictor

LLZO = "Li7La3Zr2O12"
NEW_COLUMNS = ("space_group", "bvse_barrier_eV", "bvse_dimension")


def _strict(response) -> dict:
    """The answer, parsed as strict JSON: NaN or Infinity anywhere fails."""
    assert response.status_code == 200, response.text

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in a JSON answer")

    return json.loads(response.content, parse_constant=refuse)


def _rock_salt_licl() -> str:
    """LiCl in the rock-salt structure (Fm-3m, 225), conventional cell, as pymatgen writes a CIF."""
    from pymatgen.core import Lattice, Structure

    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    return s.to(fmt="cif")


def _bvse_ok(row: dict) -> None:
    """The cross-check columns are there, each a number or null (never NaN: `_strict` parsed the answer)."""
    for name in ("bvse_barrier_eV", "bvse_dimension"):
        assert name in row
        assert row[name] is None or (isinstance(row[name], int | float) and math.isfinite(row[name])), row[name]


# --- the space group as an input --------------------------------------------------------------------------

def test_the_space_group_field_reaches_the_prediction(client, predictor):
    got = {}
    for sent in (230, "Ia-3d", 142, "I4_1/acd", "I4₁/acd"):
        answer = _strict(client.post("/api/predict", json={"formulas": [LLZO], "space_group": sent}))
        assert set(NEW_COLUMNS) <= set(answer["columns"])
        row = answer["rows"][0]
        assert row["error"] == "" and math.isfinite(row["log10_sigma"])
        got[sent] = row
        # the space group is a whole number in JSON (pandas holds it as a float where some are unknown)
        assert isinstance(row["space_group"], int)
        assert answer["space_groups"][str(row["space_group"])] == {230: "Ia-3d (230)", 142: "I4₁/acd (142)"}[
            row["space_group"]]
        # the same answer as the library's for that space group
        want = predictor.predict([LLZO], space_group=sent).iloc[0]
        assert row["log10_sigma"] == pytest.approx(want["log10_sigma"], abs=1e-9)
        assert row["warning"] == want["warning"]
    assert got[230]["space_group"] == got["Ia-3d"]["space_group"] == 230
    assert got[142]["space_group"] == got["I4_1/acd"]["space_group"] == got["I4₁/acd"]["space_group"] == 142
    # without one, the row's space group is the library's own (the data's, or none)
    plain = _strict(client.post("/api/predict", json={"formulas": [LLZO]}))["rows"][0]
    assert plain["space_group"] == _unsent(predictor)


def test_a_trained_bundle_answers_for_the_space_group_sent(trained):
    """The same through a bundle trained from the current code (its material keys carry space groups)."""
    client = TestClient(create_app(Predictor.from_dir(trained["models"])))
    rows = _strict(client.post("/api/predict", json={"formulas": [LLZO, LLZO, "beta-Li3PS4"], "space_group": None}))
    assert rows["rows"][2]["space_group"] == 62  # β-Li3PS4: Pnma by the table of named polymorphs
    for sent in (230, 142):
        row = _strict(client.post("/api/predict", json={"formulas": [LLZO], "space_group": sent}))["rows"][0]
        assert row["space_group"] == sent and row["error"] == ""
        assert all("space_group" in n for n in row["neighbors"])  # the neighbours carry theirs


def _unsent(predictor) -> int | None:
    """LLZO's space group when none is sent, as the library gives it (None when unknown)."""
    value = predictor.predict([LLZO]).iloc[0]["space_group"]
    return None if value is None or value != value else int(value)


def test_an_upload_uses_its_own_space_groups_and_the_request_fills_blanks(client, predictor):
    body = (f"formula,space_group,sample\n{LLZO},230,a\n{LLZO},,b\n{LLZO},P4_2/nmc,c\n{LLZO},Pxyz,d\n"
            f"{LLZO},231,e\n").encode()
    answer = _strict(client.post("/api/predict/file?filename=lab.csv&space_group=I4_1/acd", content=body))
    rows = answer["rows"]
    assert [r["space_group"] for r in rows] == [230, 142, 137, None, None]
    assert [r["input_sample"] for r in rows] == ["a", "b", "c", "d", "e"]
    assert "input_space_group" not in answer["columns"]  # read as the space group, not kept as text
    # a cell that names no space group fails its row only, with the reason
    assert [bool(r["error"]) for r in rows] == [False, False, False, True, True]
    assert "'Pxyz'" in rows[3]["error"] and "Hermann-Mauguin" in rows[3]["error"]
    assert "1 to 230" in rows[4]["error"]
    assert answer["failed"] == 2
    # without the request's value the blank cell is the library's
    rows = _strict(client.post("/api/predict/file?filename=lab.csv", content=body))["rows"]
    assert rows[1]["space_group"] == _unsent(predictor) and rows[0]["space_group"] == 230


@pytest.mark.parametrize("bad", ["xyz", "0", "231", "P4/xyz", 62.5, -1])
def test_a_bad_space_group_is_a_422_with_the_reason_and_no_option_name(client, bad):
    requests = [
        ("/api/predict", {"json": {"formulas": ["Li6PS5Cl"], "space_group": bad}}),
        ("/api/detail", {"json": {"formula": "Li6PS5Cl", "space_group": bad}}),
        (f"/api/predict/file?filename=a.csv&space_group={bad}", {"content": b"formula\nLi6PS5Cl\n"}),
        (f"/api/predict/cif?filename=x.cif&space_group={bad}", {"content": _rock_salt_licl().encode()}),
    ]
    for path, kwargs in requests:
        response = client.post(path, **kwargs)
        assert response.status_code == 422, (path, response.text)
        detail = response.json()["detail"]
        assert detail.startswith("space group ") and str(bad) in detail, detail  # what was sent, quoted back
        assert "1 to 230" in detail and "--" not in detail


def test_a_space_group_of_the_wrong_type_is_a_422(client):
    for bad in (True, [230], {"n": 230}):
        response = client.post("/api/predict", json={"formulas": ["Li6PS5Cl"], "space_group": bad})
        assert response.status_code == 422 and "space_group" in response.json()["detail"], bad


def test_the_detail_takes_the_space_group_and_labels_it_and_the_neighbours(client):
    got = _strict(client.post("/api/detail", json={"formula": LLZO, "space_group": "Ia-3d"}))
    assert got["row"]["space_group"] == 230 and got["space_groups"]["230"] == "Ia-3d (230)"
    _bvse_ok(got["row"])
    assert got["neighbors"] and all("space_group" in n for n in got["neighbors"])
    for n in got["neighbors"]:
        if n["space_group"] is not None:
            assert str(n["space_group"]) in got["space_groups"]
    other = _strict(client.post("/api/detail", json={"formula": LLZO, "space_group": 142}))
    assert other["row"]["space_group"] == 142 and "142" in other["space_groups"]


# --- one CIF ----------------------------------------------------------------------------------------------

def test_a_cif_upload_is_predicted_from_its_structure(client, monkeypatch, tmp_path):
    own = tmp_path / "server-tmp"
    own.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own))  # where the server's temporary file goes
    response = client.post("/api/predict/cif?filename=LiCl.cif", content=_rock_salt_licl().encode())
    answer = _strict(response)
    assert set(NEW_COLUMNS) <= set(answer["columns"]) and "input_cif" in answer["columns"]
    assert answer["n"] == 1 and answer["failed"] == 0
    row = answer["rows"][0]
    assert row["error"] == "" and math.isfinite(row["log10_sigma"]) and math.isfinite(row["ea_eV"])
    assert row["formula"] == "LiCl" and row["state"] == "crystalline"  # the structure's composition; a crystal
    assert row["space_group"] == 225 and answer["space_groups"]["225"] == "Fm-3m (225)"
    assert row["input"] == "LiCl.cif" and row["input_cif"] == "LiCl.cif"
    _bvse_ok(row)
    # the server's temporary file is neither shown nor left behind
    assert str(own) not in response.text and "sulfml-cif-" not in response.text and "/tmp" not in response.text
    assert list(own.iterdir()) == []


def test_a_cif_with_a_formula_and_a_space_group_of_its_own(client):
    cif = _rock_salt_licl().encode()
    row = _strict(client.post("/api/predict/cif", params={"filename": "LiCl.cif", "formula": "Li3InCl6"},
                              content=cif))["rows"][0]
    assert row["error"] == "" and row["input"] == "Li3InCl6" and row["formula"] == "Li3InCl6"  # the formula wins
    assert "differs from the formula" in row["warning"] and row["input_cif"] == "LiCl.cif"
    given = _strict(client.post("/api/predict/cif", params={"filename": "LiCl.cif", "space_group": "Pm-3m"},
                                content=cif))["rows"][0]
    assert given["space_group"] == 221 and "Fm-3m (225)" in given["warning"]  # as given, the CIF's noted
    warm = _strict(client.post("/api/predict/cif", params={"filename": "LiCl.cif", "temperature_C": "80",
                                                           "state": "crystalline"}, content=cif))["rows"][0]
    assert warm["temperature_K"] == pytest.approx(353.15) and warm["state"] == "crystalline"


@pytest.mark.parametrize("content", [b"hello, this is not a crystal structure\n", b"\x89PNG\r\n\x1a\n\x00\x00\xff",
                                     b"data_empty\n_cell_length_a 5\n"])
def test_a_file_that_is_not_a_cif_is_its_rows_error(client, content):
    response = client.post("/api/predict/cif?filename=notes.cif", content=content)
    row = _strict(response)["rows"][0]
    assert row["error"].startswith("cannot read CIF 'notes.cif'") and row["log10_sigma"] is None
    assert row["input"] == "notes.cif" and "/tmp" not in response.text and "sulfml-cif-" not in response.text


def test_an_empty_cif_or_a_bad_request_is_a_4xx(client, predictor):
    for content in (b"", b"  \n\t"):
        response = client.post("/api/predict/cif?filename=empty.cif", content=content)
        assert response.status_code == 422 and "empty.cif is empty" in response.json()["detail"]
    response = client.post("/api/predict/cif?temperature_C=-500", content=_rock_salt_licl().encode())
    assert response.status_code == 422 and "below absolute zero" in response.json()["detail"]
    response = client.post("/api/predict/cif?state=liquid", content=_rock_salt_licl().encode())
    assert response.status_code == 422 and "state" in response.json()["detail"]
    small = TestClient(create_app(predictor, Limits(max_body_bytes=200)))
    response = small.post("/api/predict/cif", content=_rock_salt_licl().encode())
    assert response.status_code == 413 and "at most 200 bytes" in response.json()["detail"]


def test_a_request_never_names_a_path_the_server_opens(client, tmp_path):
    secret = tmp_path / "secret.cif"
    secret.write_text(_rock_salt_licl())
    # the name is only shown, never opened: with a body that is no CIF, a real CIF's path does not help
    response = client.post("/api/predict/cif", params={"filename": str(secret), "cif": str(secret)},
                           content=b"not a cif")
    row = _strict(response)["rows"][0]
    assert row["error"] and row["input"] == "secret.cif" and str(tmp_path) not in response.text
    # an upload's cif column is text, as before
    rows = _strict(client.post("/api/predict/file?filename=a.csv",
                               content=f"formula,cif\n,{secret}\n".encode()))["rows"]
    assert rows[0]["input_cif"] == str(secret) and rows[0]["space_group"] is None


def test_the_page_has_the_space_group_field_and_the_cif_upload(client):
    page = client.get("/").text
    assert 'id="space-group"' in page and 'placeholder="e.g. 230 or Ia-3d"' in page
    assert 'id="cif-file"' in page and 'id="cif-formula"' in page and 'id="detail-facts"' in page
    script = client.get("/static/app.js").text
    assert "/api/predict/cif" in script and "space_group" in script and "BVSE 3D Li barrier, eV" in script
    spec = client.get("/api/openapi.json").json()
    assert "/api/predict/cif" in spec["paths"]
    assert "space_group" in spec["components"]["schemas"]["PredictRequest"]["properties"]
    assert "space_group" in {p["name"] for p in spec["paths"]["/api/predict/file"]["post"]["parameters"]}
