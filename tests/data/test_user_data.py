"""The user's own measurements (source `user`): read, cleaned and counted like every source, in the cache key."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sulfml.data.loaders import USER_COLUMNS, load_user
from sulfml.data.table import SOURCES, build_table, select_sources
from sulfml.errors import InputError

HEADER = "formula,sigma_S_cm,temperature_C,ea_eV,state,doi,ref\n"
GOOD_ROWS = [
    "Li6PS5Cl,2.4e-3,25,0.33,crystalline,https://doi.org/10.5555/Lab.1,",   # 1
    "Li7P3S11,3.2e-3,,0.30,glass,,Notebook B",                                # 2: blank T is room temperature
    "Li7P3S11,9.0e-3,−20,,Glass ceramic,,Notebook B",                        # 3: Unicode minus, state as written
    "Li3PS4,<1e-8,25,,,,",                                                    # 4: censored, no paper, no state
]
BAD_ROWS = {
    ",1e-3,25,,,,": "empty formula",
    "Li3PS4,abc,25,,,,": "unreadable conductivity",
    "Li3PS4,,25,,,,": "no conductivity",
    "Li3PS4,1e-4,25,,amorphouse,,": "unknown state",
    "Li3PS4,1e4,25,,,,": "sigma out of range (1e-30 to 1e2 S/cm)",
    "Li3PS4,1e-4,hot,,,,": "unreadable temperature",
    "Li3PS4,1e-4,25,0.3 eV,,,": "unreadable activation energy",
    "Li3PS4,1e-4,25,7.5,,,": "Ea out of range (0.01 to 3 eV)",
    "Li3PS4,1e-4,25,,,not a doi,": "unreadable DOI",
    "Xx2S,1e-4,25,,,,": "unknown element",
}


def _write(path, rows) -> str:
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def user_csv(tmp_path) -> str:
    return _write(tmp_path / "mine.csv", GOOD_ROWS + list(BAD_ROWS))


def test_every_row_is_kept_or_counted_with_its_reason(mini_data_dir, user_csv):
    table = build_table(mini_data_dir, extra=[user_csv])
    user = table.info()["sources"]["user"]
    assert user["rows_read"] == len(GOOD_ROWS) + len(BAD_ROWS)
    assert user["rows_kept"] == len(GOOD_ROWS)
    expected: dict[str, int] = {}
    for reason in BAD_ROWS.values():
        expected[reason] = expected.get(reason, 0) + 1
    assert user["rejected"] == expected
    rej = table.rejections[table.rejections["source"] == "user"].set_index("source_row_id")
    # the row id points at the data row to fix, and the detail says what was wrong with it
    assert rej.loc["mine.csv:8", "reason"] == "unknown state"
    assert "amorphouse" in rej.loc["mine.csv:8", "detail"]
    assert rej.loc["mine.csv:13", "detail"] == "not a DOI: 'not a doi'"


def test_a_row_keeps_the_state_temperature_and_paper_it_was_given(mini_data_dir, user_csv):
    table = build_table(mini_data_dir, extra=[user_csv])
    m = table.measurements[table.measurements["source"] == "user"].set_index("source_row_id")
    assert list(m.index) == ["mine.csv:1", "mine.csv:2", "mine.csv:3", "mine.csv:4"]
    assert m.loc["mine.csv:1", "state"] == "crystalline"
    assert m.loc["mine.csv:2", "state"] == "glass" and m.loc["mine.csv:2", "state_reason"] == "the source says so"
    assert m.loc["mine.csv:3", "state"] == "glass-ceramic"
    assert m.loc["mine.csv:4", "state"] != "glass"  # no state given: what the formula implies, never a guess
    assert m.loc["mine.csv:2", "room_temperature"] and pd.isna(m.loc["mine.csv:2", "temperature_K"])
    assert m.loc["mine.csv:3", "temperature_K"] == pytest.approx(253.15)
    assert not m.loc["mine.csv:3", "room_temperature"]
    assert bool(m.loc["mine.csv:4", "censored"]) and m.loc["mine.csv:4", "log10_sigma"] == pytest.approx(-8)
    assert m.loc["mine.csv:1", "doi"] == "10.5555/lab.1" and m.loc["mine.csv:1", "paper"] == "10.5555/lab.1"
    assert m.loc["mine.csv:2", "paper"] == "Notebook B"
    assert m.loc["mine.csv:4", "paper"].startswith("composition:")
    assert m.loc["mine.csv:1", "ea_eV"] == pytest.approx(0.33)
    # the glass and the glass-ceramic of one composition are two materials
    mats = table.materials()
    li7 = mats[mats["sources"].str.contains("user") & (mats["formula"] == "Li7P3S11")]
    assert set(li7["state"]) == {"glass"}  # its glass-ceramic row is at -20 °C, not in the RT materials


def test_the_cache_key_holds_the_users_file(mini_data_dir, tmp_path):
    path = tmp_path / "mine.csv"
    public = build_table(mini_data_dir)
    first = build_table(mini_data_dir, extra=[_write(path, GOOD_ROWS[:2])])
    again = build_table(mini_data_dir, extra=[str(path)])
    assert first.key == again.key != public.key
    assert first.extra == again.extra == ({"name": "mine.csv", "sha256": first.extra[0]["sha256"]},)
    changed = build_table(mini_data_dir, extra=[_write(path, GOOD_ROWS[:3])])
    assert changed.key != first.key
    assert (changed.measurements["source"] == "user").sum() == 3  # rebuilt, not the cached two rows
    # without the user's files nothing changes: no user line, the same public rows
    assert "user" not in public.info()["sources"] and set(public.info()["sources"]) == set(SOURCES)
    assert len(changed.measurements) == len(public.measurements) + 3


def test_json_and_parquet_read_like_csv(tmp_path):
    rows = [{"formula": "Li6PS5Cl", "sigma_S_cm": "2.4e-3", "state": "glass", "ref": "B"},
            {"formula": "Li3PS4", "sigma_S_cm": 1e-4}]
    csv_path = tmp_path / "a.csv"
    pd.DataFrame(rows).to_csv(csv_path, index=False)
    json_path = tmp_path / "a.json"
    json_path.write_text(json.dumps(rows))
    pq_path = tmp_path / "a.parquet"
    pd.DataFrame(rows).astype(str).replace("nan", "").to_parquet(pq_path)
    frames = [load_user([p]).drop(columns="source_row_id") for p in (csv_path, json_path, pq_path)]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])
    assert list(frames[0]["state"]) == ["glass", "unknown"]


def test_two_files_of_one_name_get_distinct_ids(tmp_path):
    (tmp_path / "b").mkdir()
    a = _write(tmp_path / "mine.csv", GOOD_ROWS[:1])
    b = _write(tmp_path / "b" / "mine.csv", GOOD_ROWS[:1])
    assert list(load_user([a, b])["source_row_id"]) == ["mine.csv:1", "mine.csv#2:1"]


@pytest.mark.parametrize(("text", "fragments"), [
    ("formula,sigma\nLi3PS4,1e-4\n", ["no column 'sigma_S_cm'", "unknown column 'sigma'"]),
    ("formula,sigma_S_cm,temprature_C\nLi3PS4,1e-4,25\n", ["unknown column 'temprature_C'"]),
])
def test_a_table_with_the_wrong_columns_is_refused_naming_the_file(tmp_path, text, fragments):
    path = tmp_path / "mine.csv"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_user([path])
    message = str(info.value)
    assert str(path) in message and all(f in message for f in fragments)
    assert ", ".join(USER_COLUMNS) in message
    assert "--" not in message


def test_a_missing_file_is_an_input_error(mini_data_dir, tmp_path):
    with pytest.raises(InputError, match="measurements file not found"):
        build_table(mini_data_dir, extra=[tmp_path / "nope.csv"])


def test_the_users_rows_are_selected_whatever_the_public_sources(mini_data_dir, user_csv):
    meas = build_table(mini_data_dir, extra=[user_csv]).measurements
    chosen = select_sources(meas, ["obelix"])
    assert set(chosen["source"]) == {"obelix", "user"}
    assert (chosen["source"] == "user").sum() == len(GOOD_ROWS)


def test_the_example_file_reads_without_a_rejection(mini_data_dir):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "my_measurements.csv"
    user = build_table(mini_data_dir, extra=[example]).info()["sources"]["user"]
    assert user["rows_read"] == user["rows_kept"] >= 6 and not user["rejected"]
