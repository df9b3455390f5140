"""One material, one answer: a composition gives the same row however it is scaled or written, in small
batches (NumPy trees, matrix neighbour search) and large ones (XGBoost's C library, k-d tree search)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sulfml import Predictor
from sulfml.chem.composition import key_variants
from sulfml.model.trees import SMALL_BATCH
from sulfml.parse.formula import parse_formula

ELEMENTS = ["Li", "P", "S", "Cl", "Br", "I", "Ge", "Si", "Sn", "Sb", "O", "Se", "Al", "Zr", "La", "N"]
LARGE = 1100  # above SMALL_BATCH and the k-d tree's threshold


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.default()


def _text(comp: dict[str, float]) -> str:
    # Amounts and factors are exact decimals (hundredths times thousandths), written exactly: a text can only
    # say a composition to the digits it has, so an arbitrary float factor would change the composition.
    return "".join(f"{el}{x:.5f}".rstrip("0").rstrip(".") for el, x in comp.items())


def assert_same_rows(a: pd.Series, b: pd.Series) -> None:
    for column in a.index:
        if column == "input":
            continue
        x, y = a[column], b[column]
        if column == "formula":  # shown as written, so it may differ; the material it names may not
            # (a fraction on a rounding tie may key either way, KeyedComposition's documented exception)
            keys_x, keys_y = (set(key_variants(parse_formula(s).composition)) for s in (x, y))
            assert keys_x & keys_y, (x, y)
            continue
        if isinstance(x, float) and isinstance(y, float):
            assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, abs=1e-9, rel=0), column
        else:
            assert x == y, column


compositions = st.dictionaries(st.sampled_from(ELEMENTS[1:]), st.integers(1, 1200).map(lambda n: n / 100),
                               min_size=1, max_size=4).flatmap(
    lambda rest: st.integers(1, 1200).map(lambda n: {"Li": n / 100, **rest}))
factors = st.sampled_from([0.01, 0.1, 0.3, 0.7, 2.0, 3.0, 7.0, 13.0, 100.0]) | st.integers(1, 50_000).map(
    lambda n: n / 1000)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(comps=st.lists(compositions, min_size=1, max_size=4), factor=factors)
def test_scaled_compositions_give_identical_rows(predictor, comps, factor):
    texts = [_text(c) for c in comps]
    scaled = [_text({el: round(x * factor, 5) for el, x in c.items()}) for c in comps]
    # a text that looks like a typing slip (Li101P101O101: '101' for 'lOl'?) rightly gets a note of its own
    assume(not any(parse_formula(t).notes for t in texts + scaled))
    small = predictor.predict(texts + scaled)
    n = len(texts)
    for i in range(n):
        assert_same_rows(small.iloc[i], small.iloc[n + i])
    # the same rows inside a large batch: the other code paths give the same numbers and neighbours
    filler = [f"Li{1 + (j % 97) / 10:g}P{1 + (j % 13) / 10:g}S4" for j in range(LARGE - 2 * n)]
    large = predictor.predict(texts + scaled + filler)
    assert len(large) > SMALL_BATCH
    for i in range(2 * n):
        assert_same_rows(small.iloc[i], large.iloc[i])


SAME = [
    ["Li3PS4", "Li6P2S8", "Li0.6P0.2S0.8", "Li₃PS₄", "Li3 P S4"],
    ["70Li2S-30P2S5", "0.7Li2S-0.3P2S5", "7Li2S·3P2S5", "(Li2S)0.7(P2S5)0.3"],
]


@pytest.mark.parametrize("texts", SAME)
def test_spellings_of_one_material_give_identical_rows(predictor, texts):
    out = predictor.predict(texts)
    for i in range(1, len(texts)):
        assert_same_rows(out.iloc[0], out.iloc[i])


def test_the_state_is_an_input_and_is_reported(predictor):
    out = predictor.predict(pd.DataFrame({
        "formula": ["70Li2S-30P2S5", "Li7P3S11", "Li7P3S11", "Li7P3S11 glass-ceramic", "Li7P3S11", "Li7P3S11"],
        "state": ["", "glass", "glass-ceramic", "", "", "liquid"]}))
    assert list(out["state"][:5]) == ["glass", "glass", "glass-ceramic", "glass-ceramic", "unknown"]
    # the same composition in the same state: one answer, however it is written
    for column in ("log10_sigma", "ea_eV", "log10_sigma_lo", "log10_sigma_hi", "ea_lo", "ea_hi"):
        assert out.loc[0, column] == out.loc[1, column]
        assert out.loc[2, column] == out.loc[3, column]
    assert out.loc[0, "neighbors"] == out.loc[1, "neighbors"]
    # and the state matters: glass and glass-ceramic are different materials
    assert abs(out.loc[0, "log10_sigma"] - out.loc[2, "log10_sigma"]) > 0.1
    assert "state glass: a glass notation" in out.loc[0, "warning"]
    assert "state glass-ceramic: the formula says glass-ceramic" in out.loc[3, "warning"]
    assert out.loc[1, "warning"] == "" or "state" not in out.loc[1, "warning"]
    assert "unknown state 'liquid'" in out.loc[5, "error"] and np.isnan(out.loc[5, "log10_sigma"])


def test_neighbours_start_with_the_material_itself_and_cite_every_paper(predictor):
    out = predictor.predict(["Li7P3S11 glass-ceramic", "70Li2S-30P2S5", "Li10GeP2S12"], state=None)
    for row, state in zip(out.itertuples(), ["glass-ceramic", "glass", "crystalline"], strict=True):
        first = row.neighbors[0]
        assert first["formula"] == row.formula and first["state"] == state
        # the same material sits at 0; the same composition in another state right after (a tie-breaker)
        assert first["distance"] == 0.0 if row.state == state else 0 < first["distance"] < 1e-4
        # a different composition never sits at distance 0
        assert all(n["distance"] > 0 for n in row.neighbors[1:] if n["formula"] != row.formula)
        for n in row.neighbors:
            values = [m["log10_sigma"] for m in n["measurements"]]
            assert n["papers"] and set(n["papers"]) == {m["paper"] for m in n["measurements"]}
            if not n["censored"]:
                assert n["log10_sigma"] == pytest.approx(float(np.median(values)), abs=1e-6)


def test_every_output_format_names_the_papers(predictor, tmp_path):
    from sulfml.service.output import flat_csv, render_table

    out = predictor.predict(["Li7P3S11 glass-ceramic"])
    papers = out.loc[0, "neighbors"][0]["papers"]
    assert all(p in flat_csv(out).loc[0, "neighbors"] for p in papers)
    assert all(p in render_table(out) for p in papers)
