"""The output layouts: the table labels its intervals with the models' own coverage."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sulfml.service.output import coverage_label, open_sink, render_table, write_csv


def _row() -> pd.DataFrame:
    return pd.DataFrame([{"input": "Li6PS5Cl", "formula": "Li6PS5Cl", "state": "crystalline", "basis": "model",
                          "log10_sigma": -3.0, "log10_sigma_lo": -4.5, "log10_sigma_hi": -1.5, "sigma_S_cm": 1e-3,
                          "ea_eV": 0.3, "ea_lo": 0.2, "ea_hi": 0.4, "temperature_K": 298.15, "in_domain": True}])


@pytest.mark.parametrize("coverage", [0.8, 0.9, 0.683])
def test_the_table_header_names_the_cards_coverage(coverage):
    head = render_table(_row(), coverage=coverage).splitlines()[0]
    assert f"[{coverage_label(coverage)} interval]" in head
    assert ("90" in head) == (coverage == 0.9)


def test_a_streamed_table_labels_its_intervals_with_the_coverage_it_was_given():
    out = io.StringIO()
    sink = open_sink("table", out, coverage=0.8)
    sink.write(_row())
    sink.close()
    assert "[80 % interval]" in out.getvalue()


def test_rows_line_up_under_the_header():
    lines = render_table(_row(), coverage=0.683).splitlines()
    # right-aligned columns end where their header ends, whatever the width of the coverage label
    assert lines[0].index("σ (S/cm)  Ea") + len("σ (S/cm)") == lines[2].index("1.0e-03") + len("1.0e-03")
    assert lines[0].index("T (K)") + len("T (K)") == lines[2].index("298.1") + len("298.1")


@pytest.mark.parametrize("coverage, label", [(0.9, "90 %"), (0.683, "68.3 %"), (0.95, "95 %"), (None, "calibrated")])
def test_the_coverage_label(coverage, label):
    assert coverage_label(coverage) == label


def test_a_long_formula_is_shown_whole_on_a_line_of_its_own():
    row = _row().assign(formula="Li10Ge(P0.925Sb0.075)2S12")
    lines = render_table(row, coverage=0.9).splitlines()
    assert lines[2] == "Li10Ge(P0.925Sb0.075)2S12"
    assert lines[3].startswith(" " * 24) and "-3.00" in lines[3]


_FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 298.15, float("nan")]))
_TEXTS = st.text(alphabet='ab,"\n\r ;1', max_size=6)
_COLUMNS = {
    "float": st.lists(_FLOATS, min_size=1, max_size=1).map(lambda v: v * 5),  # one number (or NaN) throughout
    "floats": st.lists(_FLOATS, min_size=5, max_size=5),
    "bool": st.lists(st.booleans(), min_size=5, max_size=5),
    "int": st.lists(st.integers(-10**20, 10**20) | st.sampled_from([0, 1]), min_size=5, max_size=5),
    "text": st.lists(_TEXTS, min_size=5, max_size=5),
    "text_or_none": st.lists(st.none() | _TEXTS, min_size=5, max_size=5),
    "mixed": st.lists(st.none() | _TEXTS | st.integers(0, 300) | st.just(float("nan"))
                      | st.lists(st.integers(0, 3), max_size=2), min_size=5, max_size=5),
}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(_COLUMNS)), min_size=1, max_size=4).flatmap(
    lambda kinds: st.tuples(st.just(kinds), *(_COLUMNS[k] for k in kinds))))
def test_write_csv_writes_each_kind_of_column_as_pandas_does(drawn):
    kinds, *values = drawn
    frame = pd.DataFrame({f"{kind}{j}": pd.Series(v, dtype=float if kind.startswith("float") else None)
                          for j, (kind, v) in enumerate(zip(kinds, values, strict=True))})
    want, got = io.StringIO(), io.StringIO()
    frame.to_csv(want, index=False, lineterminator="\n")
    write_csv(got, frame)
    assert got.getvalue() == want.getvalue()
