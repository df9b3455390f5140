"""`sulfml.data.search`: every kind of query, supporting-information DOIs, the one aggregation rule, the
Arrhenius fit of a material's σ(T), and queries that read as nothing."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sulfml.data.arrhenius import K_B_EV, ROOM_T_K, arrhenius_fit, fit_series
from sulfml.data.search import MaterialRecord, read_query, search
from sulfml.data.table import DataTable, build_table
from sulfml.errors import InputError

# Two of the user's own measurements of crystalline Li6PS5Cl, from one paper cited once by its supporting
# information's DOI and once by its own: with the mini data's 25 and 100 °C rows, σ at four temperatures.
MINE = ("formula,sigma_S_cm,temperature_C,state,doi\n"
        "Li6PS5Cl,5e-3,50,crystalline,10.1234/JACS.abc.s001\n"
        "Li6PS5Cl,1e-3,0,crystalline,https://doi.org/10.1234/jacs.abc\n")


@pytest.fixture
def table(mini_data_dir, tmp_path) -> DataTable:
    mine = tmp_path / "mine.csv"
    mine.write_text(MINE)
    return build_table(mini_data_dir, extra=[mine])


def _by_state(records: list[MaterialRecord]) -> dict[str, MaterialRecord]:
    return {r.state: r for r in records}


def test_a_formula_in_any_notation_finds_every_state_of_its_composition(table):
    found = search(table, "Li7P3S11")
    assert {r.state for r in found} == {"glass", "glass-ceramic", "crystalline", "unknown"}
    assert {r.material_key for r in found} == {r.material_key for r in search(table, "70Li2S-30P2S5")}
    assert all(r.formula == "Li7P3S11" for r in found)
    # a state named in the text keeps that state only
    assert [r.state for r in search(table, "Li7P3S11 glass-ceramic")] == ["glass-ceramic"]
    assert read_query(table, "70Li2S-30P2S5").kind == "formula"
    nested = search(table, "Li10Ge(P0.925Sb0.075)2S12")
    assert nested and {r.formula for r in nested} == {"Li10Ge(P0.925Sb0.075)2S12"}  # as the source writes it
    # a formula that reads well but was never measured: nothing, not an error
    assert search(table, "Li9AlS6") == []


def test_each_material_has_the_tables_value_and_every_measurement(table):
    mats = table.materials()
    found = _by_state(search(table, "Li6PS5Cl"))
    crystalline = found["crystalline"]
    row = mats.loc[crystalline.material_key]
    # the one aggregation rule: the same median, papers and range as the table's per-material view
    assert crystalline.log10_sigma == pytest.approx(row["log10_sigma"])
    assert crystalline.n_papers == row["n_papers"]
    assert (crystalline.log10_sigma_min, crystalline.log10_sigma_max) == pytest.approx(
        (row["log10_sigma_min"], row["log10_sigma_max"]))
    # every measurement at every temperature, room temperature first
    m = table.measurements
    rows = m[m["material_key"] == crystalline.material_key]
    assert len(crystalline.measurements) == len(rows) == 5
    temps = [x.temperature_K for x in crystalline.measurements]
    assert temps[0] is None and {273.15, 298.15, 323.15, 373.15} <= {t for t in temps if t is not None}
    first = crystalline.measurements[0]
    assert first.sigma_S_cm == pytest.approx(10 ** first.log10_sigma)
    assert {x.source for x in crystalline.measurements} == {"obelix", "liverpool", "user"}
    assert dataclasses.is_dataclass(crystalline) and not isinstance(crystalline.measurements, list)
    with pytest.raises(dataclasses.FrozenInstanceError):
        crystalline.n_papers = 0  # type: ignore[misc]


def test_an_arrhenius_fit_needs_three_temperatures_and_is_the_one_kernel(table):
    found = _by_state(search(table, "Li6PS5Cl"))
    fit = found["crystalline"].arrhenius
    assert fit is not None and fit.n_points == 4
    series = [(x.temperature_K, x.log10_sigma) for x in found["crystalline"].measurements if x.temperature_K]
    ea, log_rt, r2 = arrhenius_fit([t for t, _ in series], [y for _, y in series])
    assert (fit.ea_eV, fit.log10_sigma_rt, fit.r2) == pytest.approx((ea, log_rt, r2))
    assert fit.log10_sigma_at(ROOM_T_K) == pytest.approx(fit.log10_sigma_rt)
    assert found["unknown"].arrhenius is None     # room temperature only

    # an exact σT-Arrhenius series gives back its Ea and prefactor
    t = np.array([250.0, 300.0, 350.0, 400.0])
    log_sigma = 3.0 - 0.3 / (K_B_EV * math.log(10) * t) - np.log10(t)
    exact = fit_series(t, log_sigma)
    assert exact is not None
    assert (exact.ea_eV, exact.log10_prefactor, exact.r2) == pytest.approx((0.3, 3.0, 1.0))
    assert fit_series([300.0, 300.0, 350.0], [-3.0, -3.1, -2.5]) is None   # two distinct temperatures
    # three papers at 25-29 °C: no activation energy, whatever the slope says
    assert fit_series([298.15, 300.15, 302.15], [-3.3, -5.8, -4.6]) is None


def test_element_sets_exactly_or_at_least(table):
    exact = search(table, "Li-P-S-Cl", limit=50)
    assert exact and {r.formula for r in exact} == {"Li6PS5Cl", "Li5.5PS4.5Cl1.5"}
    assert {r.material_key for r in search(table, "Cl,Li,P,S", limit=50)} == {r.material_key for r in exact}
    at_least = search(table, "Li-P-S*", limit=200)
    assert {r.formula for r in exact} < {r.formula for r in at_least}
    assert {"Li3PS4", "Li10GeP2S12"} <= {r.formula for r in at_least}
    assert all({"Li", "P", "S"} <= set(r.composition_key.replace(",", ":").split(":")[::2]) for r in at_least)
    assert read_query(table, "Li-P-S-*").value == "Li-P-S*"
    assert len(search(table, "Li-P-S*", limit=3)) == 3


def test_a_family_in_any_case_singular_or_plural(table):
    found = search(table, "argyrodite")
    assert {r.formula for r in found} == {"Li6PS5Cl", "Li6PS5Br", "Li6PS5I", "Li5.5PS4.5Cl1.5"}
    assert {r.material_key for r in search(table, "ARGYRODITES")} == {r.material_key for r in found}
    assert read_query(table, "lgps").kind == "family"
    assert {r.formula for r in search(table, "lgps")} == {"Li10GeP2S12", "Li10SnP2S12", "Li10SiP2S12"}


def test_a_doi_finds_its_papers_materials_and_a_supporting_information_doi_its_paper(table):
    paper = search(table, "https://doi.org/10.1234/JACS.ABC")
    si = search(table, "10.1234/jacs.abc.s001")
    assert [r.material_key for r in paper] == [r.material_key for r in si]
    assert [(r.formula, r.state) for r in paper] == [("Li6PS5Cl", "crystalline")]
    # both of the user's rows count as the one paper, whichever DOI they were given with
    mine = [x for x in paper[0].measurements if x.source == "user"]
    assert {x.paper for x in mine} == {"10.1234/jacs.abc"}
    assert {x.doi for x in mine} == {"10.1234/jacs.abc.s001", "10.1234/jacs.abc"}
    query = read_query(table, "doi:10.1234/jacs.abc.S001")
    assert (query.kind, query.value) == ("doi", "10.1234/jacs.abc")
    assert {r.formula for r in search(table, "10.9999/paper.0")} == {"Li6PS5Cl", "Li6PS5Br"}
    assert search(table, "10.4242/nothing.here") == []


@pytest.mark.parametrize("text, words", [
    ("", "empty search"),
    ("   ", "empty search"),
    ("xyz!!", "cannot read 'xyz!!'"),
    ("Li-Qq", "unknown element"),
])
def test_a_query_that_reads_as_nothing_says_why(table, text, words):
    with pytest.raises(InputError, match=words) as info:
        search(table, text)
    assert "--" not in str(info.value)      # the library's words, never a command-line flag


def test_limit_must_be_positive(table):
    with pytest.raises(InputError, match="at least 1"):
        search(table, "Li6PS5Cl", limit=0)
