"""`sulfml data search`: the materials a formula, element set, family or DOI names, in plain text and JSON."""

from __future__ import annotations

import json

from sulfml.cli import main

MINE = ("formula,sigma_S_cm,temperature_C,state,doi\n"
        "Li6PS5Cl,5e-3,50,crystalline,10.1234/jacs.abc.s001\n")


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_plain_output_has_one_block_per_material_and_its_measurements(capsys, mini_data_dir):
    code, out, _ = run(capsys, "data", "search", "Li6PS5Cl", "--data-dir", str(mini_data_dir))
    assert code == 0
    assert out.startswith("2 measured materials: formula Li6PS5Cl (every state)")
    assert "Li6PS5Cl · crystalline · P1 (1) · family argyrodites" in out and "Li6PS5Cl · unknown" in out
    assert "log10 σ at room temperature" in out and "median of 2 papers" in out
    head = next(line for line in out.splitlines() if "log10 σ" in line and "paper or DOI" in line)
    assert head.split() == ["log10", "σ", "σ", "(S/cm)", "T", "(°C)", "Ea", "(eV)", "state", "space", "group",
                            "source", "paper", "or", "DOI"]
    rows = [line for line in out.splitlines() if "liverpool" in line]
    assert [r.split()[2] for r in rows] == ["25", "100"] and all("10.8888/liv.0" in r for r in rows)
    assert any("obelix" in line and line.split()[2] == "RT" and "P1 (1)" in line for line in out.splitlines())
    # several words are one search; a state word keeps one state
    code, out, _ = run(capsys, "data", "search", "--data-dir", str(mini_data_dir), "Li7P3S11", "glass-ceramic")
    assert code == 0 and out.startswith("1 measured material: formula Li7P3S11, glass-ceramic")


def test_json_is_the_records(capsys, mini_data_dir, tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text(MINE)
    code, out, _ = run(capsys, "data", "--data-dir", str(mini_data_dir), "--extra-data", str(mine), "search",
                       "10.1234/JACS.ABC", "--json")
    records = json.loads(out)
    assert code == 0 and len(records) == 1
    record = records[0]
    assert set(record) == {"material_key", "formula", "composition_key", "additive", "state", "space_group", "polymorphs", "family",
                           "log10_sigma", "censored", "n_papers", "log10_sigma_min", "log10_sigma_max", "ea_eV",
                           "measurements", "arrhenius"}
    assert (record["formula"], record["state"]) == ("Li6PS5Cl", "crystalline")
    assert set(record["measurements"][0]) == {"log10_sigma", "sigma_S_cm", "temperature_K", "room_temperature",
                                              "ea_eV", "paper", "doi", "source", "source_row_id", "state",
                                              "censored", "space_group"}
    user = [m for m in record["measurements"] if m["source"] == "user"]
    assert [(m["paper"], m["doi"], m["temperature_K"]) for m in user] == [
        ("10.1234/jacs.abc", "10.1234/jacs.abc.s001", 323.15)]
    assert record["arrhenius"]["n_points"] == 3 and record["arrhenius"]["ea_eV"] > 0
    code, out, _ = run(capsys, "data", "search", "Li-P-S*", "--limit", "2", "--json", "--data-dir",
                       str(mini_data_dir))
    assert code == 0 and len(json.loads(out)) == 2


def test_nothing_found_and_bad_queries(capsys, mini_data_dir):
    code, out, _ = run(capsys, "data", "search", "Li9AlS6", "--data-dir", str(mini_data_dir))
    assert code == 0 and out.strip() == "no measured material: formula Li9AlS6 (every state)"
    code, out, _ = run(capsys, "data", "search", "Li9AlS6", "--json", "--data-dir", str(mini_data_dir))
    assert code == 0 and json.loads(out) == []
    code, out, err = run(capsys, "data", "search", "Li-Qq", "--data-dir", str(mini_data_dir))
    assert code == 2 and out == "" and "unknown element: Qq" in err and "Traceback" not in err
    code, _, err = run(capsys, "data", "search", "Li6PS5Cl", "--limit", "0", "--data-dir", str(mini_data_dir))
    assert code == 2 and "--limit must be at least 1" in err
