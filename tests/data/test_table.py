"""Loading every source into one table: parsing, validation, rejection counts, materials, cache."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sulfml.data.loaders import load_review, normalize_doi, parse_value
from sulfml.data.table import AGGREGATION, SOURCES, aggregate_materials, build_table, clean


@pytest.mark.parametrize(
    ("text", "value", "censored", "error"),
    [
        ("1.2E-4", 1.2e-4, False, False),
        ("1.2E\u22124", 1.2e-4, False, False),
        ("<1E-10", 1e-10, True, False),
        ("  3.4e-03 ", 3.4e-3, False, False),
        ("", None, False, False),
        ("abc", None, False, True),
        ("1e-3 (30C)", None, False, True),
    ],
)
def test_parse_value(text, value, censored, error):
    got, cens, err = parse_value(text)
    assert (got is None) == (value is None)
    if value is not None:
        assert got == pytest.approx(value)
    assert cens == censored
    assert bool(err) == error


def test_normalize_doi():
    assert normalize_doi("https://doi.org/10.1039/C3EE41655K") == "10.1039/c3ee41655k"
    assert normalize_doi("10.1/a|10.2/B") == "10.1/a|10.2/b"
    assert normalize_doi("") is None


def test_review_tables_load_with_their_counts():
    raw = load_review()
    assert (raw["source_row_id"].str.startswith("table1:")).sum() == 29
    assert (raw["source_row_id"].str.startswith("table2:")).sum() == 22
    t2 = raw[raw["source_row_id"].str.startswith("table2:")]
    assert t2["ea_eV"].notna().all()
    lgps = raw[raw["raw_formula"] == "Li10Ge(P0.925Sb0.075)2S12"]
    assert np.allclose(lgps["log10_sigma"], np.log10(1.7e-2))
    # 30 °C and 27 °C footnotes are kept; room temperature stays blank
    assert sorted(raw["temperature_K"].dropna().round(2).unique()) == [300.15, 303.15]


def _raw(rows):
    base = {"source": "laskowski", "sigma_raw": None, "log10_sigma": -3.0, "censored": False,
            "temperature_K": np.nan, "ea_eV": np.nan, "family": None, "structure_type": None, "doi": "10.1/x",
            "reference": None, "notes": None, "split": None, "space_group_number": np.nan, "a": np.nan,
            "b": np.nan, "c": np.nan, "alpha": np.nan, "beta": np.nan, "gamma": np.nan, "z": np.nan,
            "cif_path": None, "read_error": None}
    return pd.DataFrame([base | {"source_row_id": str(i)} | r for i, r in enumerate(rows)])


def test_clean_rejects_with_reasons_and_keeps_the_rest():
    raw = _raw([
        {"raw_formula": "70Li2S-30P2S5"},
        {"raw_formula": "Li2S-P2S5-LiI"},
        {"raw_formula": "Xx2O"},
        {"raw_formula": "Li3PS4", "log10_sigma": 3.0},
        {"raw_formula": "Li3PS4", "ea_eV": 5.0},
        {"raw_formula": "Li3PS4", "temperature_K": 2000.0},
        {"raw_formula": "Li3PS4", "log10_sigma": np.nan, "read_error": "unreadable conductivity"},
        {"raw_formula": "Li6PS5Cl", "temperature_K": 298.15, "ea_eV": 0.3},
    ])
    kept, rejected = clean(raw)
    assert list(kept["raw_formula"]) == ["70Li2S-30P2S5", "Li6PS5Cl"]
    assert kept.loc[0, "formula"] == "Li7P3S11" and kept.loc[0, "notation"] == "glass"
    reasons = dict(zip(rejected["source_row_id"], rejected["reason"], strict=True))
    assert reasons == {
        "1": "no stoichiometry",
        "2": "unknown element",
        "3": "sigma out of range (1e-30 to 1e2 S/cm)",
        "4": "Ea out of range (0.01 to 3 eV)",
        "5": "temperature out of range (0 to 1500 K)",
        "6": "unreadable conductivity",
    }
    assert len(kept) + len(rejected) == len(raw)


def test_materials_aggregate_by_median_and_keep_censoring():
    raw = _raw([
        {"raw_formula": "Li3PS4", "log10_sigma": -3.0, "doi": "10.1/a"},
        {"raw_formula": "Li3PS4", "log10_sigma": -4.0, "doi": "10.1/b", "source": "obelix"},
        {"raw_formula": "Li3PS4", "log10_sigma": -10.0, "censored": True, "doi": "10.1/c"},
        {"raw_formula": "Li3PS4 - 5 wt% Al2O3", "log10_sigma": -3.2},
        {"raw_formula": "Li2O", "log10_sigma": -10.0, "censored": True},
        {"raw_formula": "Li2O", "log10_sigma": -8.0, "censored": True, "source": "obelix"},
        {"raw_formula": "Li3PS4", "log10_sigma": -1.0, "temperature_K": 573.15, "source": "liverpool"},
        {"raw_formula": "NaCl", "log10_sigma": -9.0},
    ])
    kept, _ = clean(raw)
    mats = aggregate_materials(kept, AGGREGATION)
    assert len(mats) == 3  # Li3PS4, the Li3PS4 composite, Li2O; NaCl has no Li; 300 °C is not RT
    lps = mats[(mats["formula"] == "Li3PS4") & mats["additive"].isna()].iloc[0]
    assert lps["log10_sigma"] == pytest.approx(-3.5) and not lps["censored"]
    assert lps["n_measurements"] == 3 and lps["n_sources"] == 2
    assert lps["log10_sigma_spread"] == pytest.approx(7.0)
    li2o = mats[mats["formula"] == "Li2O"].iloc[0]
    assert li2o["censored"] and li2o["log10_sigma"] == pytest.approx(-10.0)
    with pytest.raises(ValueError):
        aggregate_materials(kept, "mean")


def test_build_table_on_mini_data_counts_and_caches(mini_data_dir, tmp_path):
    table = build_table(mini_data_dir)
    info = table.info()
    assert set(info["sources"]) == set(SOURCES)
    for src, s in info["sources"].items():
        assert s["rows_read"] == s["rows_kept"] + sum(s["rejected"].values()), src
    las = info["sources"]["laskowski"]["rejected"]
    assert las == {"no stoichiometry": 1, "sigma out of range (1e-30 to 1e2 S/cm)": 1,
                   "unreadable conductivity": 1, "Ea out of range (0.01 to 3 eV)": 1}
    assert info["sources"]["liverpool"]["rejected"] == {"unknown element": 1}
    assert info["sources"]["review"]["rejected"]["no stoichiometry"] >= 3
    obelix = table.measurements[table.measurements["source"] == "obelix"]
    assert obelix["censored"].sum() == 2 and obelix["cif_path"].notna().sum() == 1
    assert set(obelix["split"]) == {"train", "test"}
    mats = table.materials()
    assert info["materials"] == len(mats) and info["materials_with_ea"] == mats["ea_eV"].notna().sum()
    assert all("Li" in json.loads(c) for c in mats["composition"])
    cached = list((tmp_path / "cache" / "tables").iterdir())
    assert len(cached) == 1 and cached[0].name == table.key
    again = build_table(mini_data_dir)
    pd.testing.assert_frame_equal(again.measurements, table.measurements)
    # changing an input file changes the key
    p = mini_data_dir / "liverpool" / "LiIonDatabase.csv"
    p.write_text(p.read_text().replace("Xx2O", "Li2O"))
    assert build_table(mini_data_dir).key != table.key


def test_full_mirror_counts(mirror_dir):
    info = build_table(mirror_dir).info()
    s = info["sources"]
    assert s["obelix"]["rows_read"] == 599 and s["liverpool"]["rows_read"] == 820
    assert s["laskowski"]["rows_read"] == 1346 and s["review"]["rows_read"] == 51
    assert info["materials"] >= 1050 and info["materials_with_ea"] >= 600


def test_one_per_paper_counts_each_paper_once_and_keeps_ea():
    from sulfml.data.table import AGGREGATION_ONE_PER_PAPER, one_per_paper

    raw = _raw([
        # one paper's value copied into two sources, plus a second listing in that paper
        {"raw_formula": "Li3PS4", "log10_sigma": -3.0, "doi": "10.1/a", "source": "laskowski", "ea_eV": 0.40},
        {"raw_formula": "Li3PS4", "log10_sigma": -3.1, "doi": "10.1/a", "source": "obelix"},
        {"raw_formula": "Li3PS4", "log10_sigma": -3.2, "doi": "10.1/a", "source": "liverpool", "ea_eV": 0.30},
        {"raw_formula": "Li3PS4", "log10_sigma": -5.0, "doi": "10.1/b", "source": "laskowski"},
        {"raw_formula": "Li3PS4", "log10_sigma": -6.0, "doi": "10.1/c", "source": "laskowski"},
    ])
    kept, _ = clean(raw)
    dedup = one_per_paper(kept)
    assert len(dedup) == 3
    first = dedup[dedup["paper"] == "10.1/a"].iloc[0]
    assert first["source"] == "obelix" and first["log10_sigma"] == pytest.approx(-3.1)  # obelix first
    assert first["ea_eV"] == pytest.approx(0.35)  # the Ea of the rows it stands for
    plain = aggregate_materials(kept, AGGREGATION).iloc[0]
    once = aggregate_materials(kept, AGGREGATION_ONE_PER_PAPER).iloc[0]
    assert plain["log10_sigma"] == pytest.approx(-3.2)  # three copies of paper a outvote b and c
    assert once["log10_sigma"] == pytest.approx(-5.0)  # median of -3.1, -5, -6
    assert once["ea_eV"] == pytest.approx(plain["ea_eV"]) == pytest.approx(0.35)


def test_a_supporting_information_doi_counts_as_its_paper():
    from sulfml.data.loaders import paper_of_doi

    assert paper_of_doi("10.1021/jacs.7b06327.s001") == "10.1021/jacs.7b06327"
    assert paper_of_doi("10.1021/jacs.7b06327") == "10.1021/jacs.7b06327"
    assert paper_of_doi("10.1016/j.ssi.2013.04.002") == "10.1016/j.ssi.2013.04.002"
    raw = _raw([
        {"raw_formula": "Li6PS5Cl", "log10_sigma": -2.7, "doi": "10.1021/jacs.7b06327", "source": "obelix"},
        {"raw_formula": "Li6PS5Cl", "log10_sigma": -2.7, "doi": "10.1021/jacs.7b06327.s001", "source": "laskowski"},
        {"raw_formula": "Li6PS5Cl", "log10_sigma": -3.5, "doi": "10.1/other", "source": "laskowski"},
    ])
    kept, _ = clean(raw)
    assert set(kept["paper"]) == {"10.1021/jacs.7b06327", "10.1/other"}
    mat = aggregate_materials(kept).iloc[0]  # the default: each paper once
    assert mat["n_papers"] == 2 and mat["n_measurements"] == 2
    assert [p for p, _ in json.loads(mat["evidence"])] == ["10.1021/jacs.7b06327", "10.1/other"]
    assert (mat["log10_sigma_min"], mat["log10_sigma_max"]) == (pytest.approx(-3.5), pytest.approx(-2.7))


def test_one_aggregation_rule_for_the_export_and_the_models(mini_data_dir):
    """`data export materials` (DataTable.materials), the shipped configs and the bundle's neighbours all
    aggregate by the one default rule."""
    from sulfml.config import RunConfig, resolve_config
    from sulfml.data.table import DEFAULT_AGGREGATION

    for name in ("default", "tuned", "smoke"):
        assert RunConfig.from_toml(resolve_config(name)).data.aggregation == DEFAULT_AGGREGATION
    table = build_table(mini_data_dir)
    pd.testing.assert_frame_equal(table.materials(), aggregate_materials(table.measurements, DEFAULT_AGGREGATION))
    assert table.info()["aggregation"] == DEFAULT_AGGREGATION


def test_a_material_is_its_polymorph_where_the_data_know_it():
    raw = _raw([
        # two polymorphs of one composition, from their sources' space groups
        {"raw_formula": "Li7La3Zr2O12", "log10_sigma": -3.8, "doi": "10.1/cubic", "space_group_number": 230.0},
        {"raw_formula": "Li7La3Zr2O12", "log10_sigma": -5.8, "doi": "10.1/tetra", "space_group_number": 142.0},
        # a crystal measured without a space group, when the data hold two: polymorph not known
        {"raw_formula": "Li7La3Zr2O12 crystalline", "log10_sigma": -4.5, "doi": "10.1/none"},
        # a polymorph name in the formula gives the space group by the shipped table
        {"raw_formula": "β-Li3PS4", "log10_sigma": -3.8, "doi": "10.1/nano"},
        {"raw_formula": "Li3PS4", "log10_sigma": -6.0, "doi": "10.1/bulk", "space_group_number": 62.0},
        {"raw_formula": "Li3PS4", "log10_sigma": -6.6, "doi": "10.1/gamma", "space_group_number": 31.0},
        # one polymorph known: the rows without a space group join it
        {"raw_formula": "Li10GeP2S12", "log10_sigma": -2.0, "doi": "10.1/lgps", "space_group_number": 137.0},
        {"raw_formula": "Li10GeP2S12 crystalline", "log10_sigma": -1.9, "doi": "10.1/other"},
        # a glass never has a space group of its own
        {"raw_formula": "Li3PS4 glass", "log10_sigma": -3.5, "doi": "10.1/glass", "space_group_number": 62.0},
    ])
    kept, _ = clean(raw)
    sg = dict(zip(kept["doi"], kept["space_group"], strict=True))
    assert (sg["10.1/cubic"], sg["10.1/tetra"]) == (230, 142)
    assert np.isnan(sg["10.1/none"]) and np.isnan(sg["10.1/glass"])
    assert sg["10.1/nano"] == sg["10.1/bulk"] == 62 and sg["10.1/gamma"] == 31
    assert sg["10.1/lgps"] == sg["10.1/other"] == 137
    keys = dict(zip(kept["doi"], kept["polymorph_key"], strict=True))
    assert keys["10.1/cubic"].endswith("@crystalline#230") and keys["10.1/none"].endswith("@crystalline")
    assert set(kept["material_key"]) == {k.partition("#")[0] for k in keys.values()}  # a material is pooled
    mats = aggregate_materials(kept)
    llzo = mats.loc[keys["10.1/none"]]
    assert llzo["n_papers"] == 3 and llzo["log10_sigma"] == pytest.approx(-4.5) and llzo["space_group"] != 230
    polymorphs = {p["space_group"]: p for p in json.loads(llzo["polymorphs"])}
    assert set(polymorphs) == {None, 142, 230} and polymorphs[230]["log10_sigma"] == pytest.approx(-3.8)
    beta = {p["space_group"]: p for p in json.loads(mats.loc[keys["10.1/gamma"].partition("#")[0], "polymorphs"])}
    assert beta[62]["n_papers"] == 2 and beta[62]["log10_sigma"] == pytest.approx(-4.9)  # bulk and nanoporous β
    lgps = mats.loc[keys["10.1/lgps"].partition("#")[0]]
    assert lgps["space_group"] == 137 and lgps["n_papers"] == 2
    # a model that reads the space group learns from each polymorph apart
    from sulfml.data.table import AGGREGATION_PER_POLYMORPH

    apart = aggregate_materials(kept, AGGREGATION_PER_POLYMORPH)
    assert {keys["10.1/cubic"], keys["10.1/tetra"], keys["10.1/none"]} <= set(apart.index)
    assert apart.loc[keys["10.1/tetra"], "log10_sigma"] == pytest.approx(-5.8)


def test_a_material_is_shown_as_its_sources_most_often_write_it():
    """One formula per composition, as written in the sources (the most frequent spelling, ties to the first),
    never the reduced one; the material stays one."""
    raw = _raw([
        {"raw_formula": "Li12P2S10BrCl", "doi": "10.1/a"},
        {"raw_formula": "Li6PS5Cl0.5Br0.5", "doi": "10.1/b"},
        {"raw_formula": "Li6PS5Cl0.50Br0.5 (argyrodite)", "doi": "10.1/c"},
        {"raw_formula": "Li5.4PS4.4Cl1.6", "doi": "10.1/d"},
        {"raw_formula": "Li2S-P2S5 (75:25)", "doi": "10.1/e"},
        {"raw_formula": "Li3PS4", "doi": "10.1/f"},
    ])
    kept, _ = clean(raw)
    assert list(kept["formula"]) == ["Li6PS5Cl0.5Br0.5"] * 3 + ["Li5.4PS4.4Cl1.6"] + ["Li3PS4"] * 2
    assert kept["composition_key"].nunique() == 3
    mats = aggregate_materials(kept, AGGREGATION)
    assert sorted(mats["formula"]) == ["Li3PS4", "Li3PS4", "Li5.4PS4.4Cl1.6", "Li6PS5Cl0.5Br0.5"]  # glass, unknown
