"""Known first: a material the training data hold answers with its measurements, by the stated rule of
`sulfml.service.known`, and lists itself first among its neighbours; one aggregation rule everywhere."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sulfml.service.known import (
    BOTH,
    MEASURED,
    MODEL,
    Spread,
    anchor,
    inter_paper_spread,
    known_materials,
    paper_values,
)
from sulfml.service.predictor import Predictor


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.default()


@pytest.fixture(scope="module")
def every_material(predictor) -> tuple[dict, pd.DataFrame]:
    """Every training material of the shipped bundle, predicted from its formula in its state and space group."""
    labels = predictor.bundle.models["log10_sigma"].domain.labels
    frame = pd.DataFrame({"formula": labels["formula"], "state": labels["state"],
                          "space_group": [None if g is None else str(int(g)) for g in labels["space_group"]]})
    return labels, predictor.predict(frame)


def test_every_training_material_lists_itself_first(every_material):
    labels, out = every_material
    assert len(out) == len(labels["formula"]) > 1000
    for j, row in enumerate(out.itertuples()):
        assert row.error == "", (j, labels["formula"][j], row.error)
        first = row.neighbors[0]
        identity = (labels["formula"][j], labels["state"][j], labels["space_group"][j])
        assert (first["formula"], first["state"], first["space_group"]) == identity, labels["formula"][j]
        assert len(row.neighbors) == 3
        assert len({(n["formula"], n["state"], n["space_group"]) for n in row.neighbors}) == 3
        # a measured material is within what the model knows: no domain rule calls its answer unusable
        assert row.in_domain, (labels["formula"][j], row.warning)


def test_every_material_of_two_or_more_papers_is_anchored_on_its_measurements(every_material):
    labels, out = every_material
    checked = 0
    for j, row in enumerate(out.itertuples()):
        papers = paper_values(labels["evidence"][j])
        assert row.measured_n_papers == len(papers)
        assert row.basis in (MEASURED, BOTH)
        if len(papers) < 2 or labels["censored"][j]:
            continue
        checked += 1
        median = float(np.median(papers))
        assert row.measured_log10_sigma == pytest.approx(median)
        assert row.measured_range == [pytest.approx(papers.min()), pytest.approx(papers.max())]
        assert papers.min() - 1e-9 <= row.log10_sigma <= papers.max() + 1e-9
        assert row.log10_sigma_lo <= median <= row.log10_sigma_hi
        ea = paper_values(labels["ea_evidence"][j])
        if len(ea):
            assert row.measured_ea_eV == pytest.approx(float(np.median(ea)))
            assert ea.min() - 1e-9 <= row.ea_eV <= ea.max() + 1e-9
            assert row.ea_lo <= float(np.median(ea)) <= row.ea_hi
    assert checked > 100


def test_a_single_paper_is_the_answer_and_the_model_answers_the_unknown(predictor):
    labels = predictor.bundle.models["log10_sigma"].domain.labels
    j = next(j for j, e in enumerate(labels["evidence"]) if len(paper_values(e)) == 1 and not labels["censored"][j]
             and labels["state"][j] == "crystalline")
    out = predictor.predict([labels["formula"][j], "Li9.9Ge0.95P2.05S12Cl0.013"], state="crystalline")
    assert out["basis"].tolist() == [MEASURED, MODEL]
    assert out["log10_sigma"][0] == pytest.approx(paper_values(labels["evidence"][j])[0])
    assert out["measured_n_papers"][1] == 0 and math.isnan(out["measured_log10_sigma"][1])
    model = predictor.predict([labels["formula"][j]], state="crystalline", known_first=False)
    assert model["basis"][0] == MODEL and model["measured_n_papers"][0] == 0


def test_the_state_tells_measured_materials_apart(predictor):
    out = predictor.predict(["Li7P3S11 glass-ceramic", "Li7P3S11 glass"])
    known = known_materials(predictor.bundle)
    glass, ceramic = (e.material for e in known.lookup(["Li:0.333,P:0.143,S:0.524@glass",
                                                        "Li:0.333,P:0.143,S:0.524@glass-ceramic"]) if e)
    for row, j in zip(out.itertuples(), (ceramic, glass), strict=True):
        papers = known.sigma_papers(j)
        assert row.basis != MODEL and papers.min() - 1e-9 <= row.log10_sigma <= papers.max() + 1e-9


def test_a_composition_measured_in_one_state_takes_that_state(predictor):
    known = known_materials(predictor.bundle)
    assert known.states_of["Ge:0.04,Li:0.4,P:0.08,S:0.48"] == ["crystalline"]
    out = predictor.predict(["Li10GeP2S12"])
    assert out["state"][0] == "crystalline" and out["basis"][0] != MODEL
    assert "the only state the training data hold" in out["warning"][0]


def test_the_known_answer_holds_at_other_temperatures(predictor):
    rt, hot = predictor.predict(["Li10GeP2S12", "Li10GeP2S12"], state="crystalline").iloc[0], \
        predictor.predict(["Li10GeP2S12"], temperature_c=100, state="crystalline").iloc[0]
    assert hot["basis"] == rt["basis"] != MODEL
    assert hot["log10_sigma"] > rt["log10_sigma"]  # shifted with the anchored Ea


def test_inter_paper_spread_is_measured_from_the_data():
    evidence = [json.dumps([["a", -2.0], ["b", -3.0]])] * 6 + [json.dumps([["a", -2.0], ["b", -2.5]])] * 6
    spread = inter_paper_spread(evidence, fallback=9.0)
    assert spread.n_materials == 12 and spread.tau == pytest.approx(math.sqrt(math.pi / 2) * 0.75)
    assert spread.next_paper(0.9) == 1.0 and spread.next_paper(0.4) == 0.5  # conformal quantiles of |deviation|
    few = inter_paper_spread(evidence[:3], fallback=9.0)
    assert few.tau == 9.0 and few.n_materials == 3


_PAPER = st.sampled_from([-4.0, -3.5, -3.0, -0.0, 0.0, 1.25]) | st.floats(-12, 1, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(materials=st.lists(st.lists(_PAPER, max_size=9), max_size=14))
def test_each_papers_deviation_is_from_the_median_of_its_materials_other_papers(materials):
    evidence = [json.dumps([[f"p{i}", v] for i, v in enumerate(values)]) for values in materials]
    spread = inter_paper_spread(evidence, fallback=9.0)
    # the rule as numpy states it, paper by paper
    want = [abs(v[i] - float(np.median(np.delete(v, i)))) for v in map(np.array, materials) if len(v) >= 2
            for i in range(len(v))]
    assert spread.n_materials == sum(len(v) >= 2 for v in materials)
    assert spread.deviations.tolist() == sorted(want)  # the same floats, not nearly
    if spread.n_materials >= 10:
        assert spread.tau == math.sqrt(math.pi / 2) * float(np.mean(want))


finite = st.floats(-12, 1, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(model=finite, halfwidth=st.floats(0.01, 8), papers=st.lists(finite, min_size=1, max_size=9),
       tau=st.floats(0.05, 2), confidence=st.sampled_from([0.8, 0.9, 0.95]))
def test_the_rule_stays_within_the_papers_and_covers_their_median(model, halfwidth, papers, tau, confidence):
    v = np.array(papers)
    a = anchor(np.array([model]), np.array([halfwidth]), [v], np.array([False]), _spread(tau), confidence)
    assert v.min() - 1e-9 <= a.value[0] <= v.max() + 1e-9
    assert a.lo[0] <= float(np.median(v)) <= a.hi[0] and a.lo[0] < a.value[0] < a.hi[0]
    assert a.basis[0] == (MEASURED if v.min() == v.max() else BOTH)


def _spread(tau: float) -> Spread:
    return Spread(tau, np.zeros(0), 0)  # too few materials: the interval takes z·τ


def test_the_rule_leans_on_the_model_as_it_grows_sure():
    papers = [np.array([-4.0, -3.0, -2.0])]
    unsure, sure = (anchor(np.array([-2.2]), np.array([hw]), papers, np.array([False]), _spread(0.6), 0.9).value[0]
                    for hw in (5.0, 0.05))
    assert -3.0 < unsure < -2.9 and -2.25 < sure < -2.2


def test_a_censored_material_answers_below_its_bound():
    a = anchor(np.array([-5.0, -12.0]), np.array([2.0, 2.0]), [np.array([-10.0]), np.array([-10.0])],
               np.array([True, True]), _spread(0.6), 0.9)
    assert a.value.tolist() == [-10.0, -12.0] and a.hi.tolist() == [-10.0, -10.0]
    assert (a.lo <= a.value).all()


def test_the_neighbours_the_measured_columns_and_the_export_give_one_median(predictor, mirror_dir):
    """One aggregation rule: the shipped bundle's materials (neighbours, `measured_*`) and `data export
    materials` give the same median and count of papers for every material."""
    from sulfml.data.table import build_table

    materials = build_table(mirror_dir).materials()
    labels = predictor.bundle.models["log10_sigma"].domain.labels
    assert set(labels["material_key"]) == set(materials["material_key"])
    for key, value, evidence in zip(labels["material_key"], labels["log10_sigma"], labels["evidence"], strict=True):
        row = materials.loc[key]
        assert value == pytest.approx(row["log10_sigma"]) and len(paper_values(evidence)) == row["n_papers"], key


@settings(max_examples=40, deadline=None)
@given(j=st.integers(0, 10_000), factor=st.sampled_from([0.5, 2.0, 3.0, 10.0]))
def test_a_known_material_is_known_at_any_scale(predictor, j, factor):
    """The lookup's fast pre-filter never misses: the same composition written at another scale is the same
    material (the fractions, not the amounts, make its key)."""
    from sulfml.parse.formula import parse_formula

    labels = predictor.bundle.models["log10_sigma"].domain.labels
    plain = [i for i, f in enumerate(labels["formula"]) if "+" not in f]
    i = plain[j % len(plain)]
    parsed = parse_formula(labels["formula"][i])
    assert parsed.composition is not None
    text = "".join(f"{el}{amount * factor:.10g}" for el, amount in parsed.composition.items())
    sg = labels["space_group"][i]
    out = predictor.predict([text], state=labels["state"][i], space_group=None if sg is None else int(sg))
    assert out["basis"][0] != MODEL, (labels["formula"][i], text)
    assert out["measured_n_papers"][0] == len(paper_values(labels["evidence"][i]))


def test_each_polymorph_answers_with_its_own_measurements(predictor):
    """Tetragonal and cubic Li7La3Zr2O12 differ by two decades; a space group, a polymorph name or a symbol
    picks one, and without one the material answers with all its papers and says which polymorphs they are."""
    known = known_materials(predictor.bundle)
    base = "La:0.125,Li:0.292,O:0.5,Zr:0.083@crystalline"
    tetragonal, cubic, pooled = known.lookup([f"{base}#142", f"{base}#230", base])
    assert tetragonal.material == cubic.material == pooled.material and pooled.polymorph is None
    measured = {e.polymorph["space_group"]: known.answer(e) for e in (tetragonal, cubic)}
    assert measured[230].log10_sigma - measured[142].log10_sigma > 1.5
    out = predictor.predict(pd.DataFrame({"formula": ["Li7La3Zr2O12", "c-Li7La3Zr2O12", "Li7La3Zr2O12",
                                                      "t-Li7La3Zr2O12", "Li7La3Zr2O12 crystalline"],
                                          "space_group": ["230", None, "I4_1/acd", None, None]}))
    assert list(out["space_group"][:4]) == [230, 230, 142, 142] and out["space_group"][4] is None
    assert (out["state"] == "crystalline").all() and (out["basis"] != MODEL).all()
    for row, sg in zip(list(out.itertuples())[:4], (230, 230, 142, 142), strict=True):
        assert row.measured_log10_sigma == pytest.approx(measured[sg].log10_sigma)
        assert row.measured_n_papers == len(measured[sg].sigma_papers)
        assert row.neighbors[0]["formula"] == "Li7La3Zr2O12" and row.neighbors[0]["state"] == "crystalline"
        assert {p["space_group"] for p in row.neighbors[0]["polymorphs"]} >= {142, 230}
    assert out["log10_sigma"][0] - out["log10_sigma"][2] > 1.0
    whole = out.iloc[4]
    assert whole["measured_log10_sigma"] == pytest.approx(known.measured(pooled.material)[0])
    assert "I4₁/acd (142) -6.04" in whole["warning"] and "median of all their papers" in whole["warning"]


def test_an_unmeasured_polymorph_gets_the_models_answer_and_a_bad_one_an_error(predictor):
    out = predictor.predict(pd.DataFrame({"formula": ["Li7La3Zr2O12", "Li7La3Zr2O12", "δ-Li3PS4", "Li10GeP2S12"],
                                          "space_group": ["Fm-3m", "P9", None, None]}))
    assert out["basis"][0] == MODEL and out["space_group"][0] == 225
    assert "not as Fm-3m (225)" in out["warning"][0]
    assert out["error"][1].startswith("space group 'P9'") and out["log10_sigma"][1] != out["log10_sigma"][1]
    assert "not in the table of named polymorphs" in out["warning"][2]
    # the only polymorph the data hold is the one a plain formula means
    assert out["space_group"][3] == 137 and "the only one the training data hold" in out["warning"][3]
