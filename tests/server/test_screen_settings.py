"""What the page takes from the server rather than restating it: the intervals' coverage from the models' card
(labels read "80 %" for an 80 % card), the states of both forms, the screen's settings, and each scatter point's
fraction per site (the plot's x)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sulfml.parse.state import STATES
from sulfml.server.app import create_app
from sulfml.workflows.screen import DEFAULTS, RANK_LABELS, RANKS

STATIC = Path(__file__).resolve().parents[2] / "src" / "sulfml" / "server" / "static"


def _with_coverage(predictor, coverage: float):
    """The same models with the card's interval coverage set to `coverage`."""
    copy = dataclasses.replace(predictor, bundle=dataclasses.replace(predictor.bundle,
                                                                    models=dict(predictor.bundle.models)))
    model = copy.bundle.models["log10_sigma"]
    copy.bundle.models["log10_sigma"] = dataclasses.replace(
        model, calibration=dataclasses.replace(model.calibration, confidence=coverage))
    return copy


@pytest.fixture(scope="module")
def client80(predictor) -> TestClient:
    return TestClient(create_app(_with_coverage(predictor, 0.8)))


def test_about_carries_the_cards_coverage_the_states_and_the_screen_settings(client, client80, predictor):
    about = client.get("/api/about").json()
    assert about["coverage"] == pytest.approx(predictor.bundle.models["log10_sigma"].calibration.confidence)
    assert client80.get("/api/about").json()["coverage"] == pytest.approx(0.8)
    assert about["states"] == list(STATES)
    options = about["screen"]["options"]
    assert {n: o["default"] for n, o in options.items()} == dataclasses.asdict(DEFAULTS)
    assert options["rank"]["choices"] == list(RANKS) and options["state"]["choices"] == list(STATES)
    assert {n: r["label"] for n, r in about["screen"]["ranks"].items()} == RANK_LABELS


def test_a_screen_answers_with_the_cards_coverage_and_each_points_sites(client80):
    r = client80.post("/api/screen", json={"parent": "Li3PS4", "substitutions": "P=Si; S=Cl", "max_fraction": 0.2,
                                           "step": 0.1, "top": 3})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["coverage"] == pytest.approx(0.8)
    assert got["points"] and all(0 < f <= 0.2 + 1e-9 for p in got["points"] for f in p["sites"].values())
    both = [p for p in got["points"] if set(p["sites"]) == {"P", "S"}]
    assert both and all(p["fraction"] == pytest.approx(sum(p["sites"].values())) for p in both)
    assert max(p["fraction"] for p in both) > 0.2  # the total runs past the maximum; no site does


def test_the_page_restates_no_coverage_no_state_and_no_screen_default():
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    code = [line for line in (STATIC / "app.js").read_text(encoding="utf-8").splitlines()
            if not line.strip().startswith("//")]  # the comments may give an example
    assert not re.search(r"\d\d ?%", page) and not any(re.search(r"\b90 ?%", line) for line in code)
    assert page.count('<option value="">not given</option>') == 2
    assert not any(f'value="{s}"' in page for s in STATES) and 'value="p_gain"' not in page
    assert not re.search(r'id="(max-fraction|step|top|per-dopant)"[^>]*value=', page)
