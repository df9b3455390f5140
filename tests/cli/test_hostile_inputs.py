"""The hostile-input corpus, run through `parse`, `predict` (arguments, CSV and JSON) and, once it exists,
`screen`: every bad row gets an error a chemist can act on, every good row is predicted, one output row per
input row in order, exit 0 / 1 (rows failed) / 2 (usage error, one line on stderr), never a traceback.

Corpus: `FORMULAS` (formula texts), `TEMPERATURES`, the files in tests/fixtures/hostile/ (`FILES`),
`USAGE` (bad command lines) and `SCREEN` (bad `screen` command lines).
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import pytest

from sulfml.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
OK = None  # the row is predicted

# (formula text, None if it must be predicted, else a fragment of its error)
FORMULAS = [
    ("Li6PS5Cl", OK),
    ("", "empty formula"),
    ("   ", "empty formula"),
    ("\t\u00a0\u3000", "empty formula"),
    ("Xx2S", "unknown element: Xx"),
    ("Li2Qq", "unknown element: Qq"),
    ("LiJ", "unknown element: J"),
    ("Li-2S", OK),  # read as written: Li + 2 S
    ("Li(-2)S", "empty component"),
    ("-Li2S", "leading minus"),
    ("Li0S0", "non-positive total"),
    ("0Li2S-0P2S5", "non-positive total"),
    ("Li1e400S", "unexpected 'e'"),
    ("Li" + "9" * 400 + "S", "implausible amount"),
    ("Li99999999S", "implausible amount"),
    ("Li" * 2500, OK),  # 5,000 characters, Li2500: odd but readable
    ("Li6PS5Cl" + "(" * 4992, "malformed parentheses"),
    ("Li6PS5Cl)", "malformed parentheses"),
    ("(Li2S", "malformed parentheses"),
    ("Li10Ge(P0.925Sb0.075]2S12", "malformed parentheses"),
    ("li6ps5cl", "unreadable"),
    ("LI6PS5CL", "unknown element"),
    ("Li6PS5Cl\nLi3PS4", "several lines"),
    ("Li6PS5Cl\r\n", OK),  # a trailing line ending is whitespace
    ("Li\x00S", "unexpected '\\x00'"),
    ("\x00", "unexpected"),
    ("🔋", "unexpected"),
    ("Li6PS5Cl 🔋", "unexpected"),
    ("锂硫磷", "unexpected"),
    ("Li₆PS₅Cl", OK),
    ("Ⅼi6PS5Cl", "unexpected"),  # U+216C ROMAN NUMERAL FIFTY, looks like an L
    ("Li6PS5Cl; rm -rf /", "unexpected"),
    ("$(reboot)", "unexpected"),
    ("`id`", "unexpected"),
    ("Li3PS4 && echo pwned", "unexpected"),
    ("Li3PS4' OR '1'='1", "unexpected"),
    ("Robert'); DROP TABLE materials;--", "malformed parentheses"),
    ("=cmd|' /C calc'!A0", "unexpected"),
    ("<script>alert(1)</script>", "unexpected"),
    ("../../etc/passwd", "unexpected"),
    ("%s%s%s%n", "percentage"),
    ("{formula}", "unexpected"),
    ("NaN", "missing value"),
    ("nan", "missing value"),
    ("None", "missing value"),
    ("null", "missing value"),
    ("#N/A", "missing value"),
    ("inf", "unexpected"),
    ("Li3PS4", OK),
    ("70Li2S-30P2S5", OK),
    ("\ufeffLi7P3S11", OK),
]
TEMPERATURES = [
    ("25", OK), ("", OK), ("  ", OK), ("-40", OK), ("1e2", OK),
    ("abc", "not a number"), ("25 °C", "not a number"), ("25,5", "not a number"),
    ("nan", "not a finite number"), ("inf", "not a finite number"), ("-inf", "not a finite number"),
    ("-300", "below absolute zero"), ("-273.15", "below absolute zero"), ("1e9", "above"),
    ("1e400", "not a finite number"), ("0x10", "not a number"), ("None", "not a number"),
]


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "Traceback" not in out.out
    return code, out.out, out.err


def check_rows(rows: list[dict], cases: list[tuple[str, str | None]], key: str = "input") -> None:
    """One output row per case, in order; good rows predicted, bad rows with the expected error."""
    assert len(rows) == len(cases)
    for row, (text, expect) in zip(rows, cases, strict=True):
        if key:
            assert row[key] == text, (row[key], text)
        if expect is OK:
            assert row["error"] in ("", None), (text, row["error"])
            assert row["log10_sigma"] is not None and math.isfinite(float(row["log10_sigma"])), text
        else:
            assert expect in row["error"], (text, row["error"])
            assert row["log10_sigma"] in (None, ""), text
            assert "\n" not in row["error"] and "Traceback" not in row["error"]


def test_parse_corpus(capsys):
    code, out, _ = run(capsys, "parse", "--json", "--", *[t for t, _ in FORMULAS])
    rows = json.loads(out)
    assert code == 1 and len(rows) == len(FORMULAS)
    for row, (text, expect) in zip(rows, FORMULAS, strict=True):
        assert row["input"] == text
        assert (row["error"] is None) == (expect is OK), (text, row["error"])
        if expect is not OK:
            assert expect in row["error"], (text, row["error"])
    code, out, _ = run(capsys, "parse", "--", *[t for t, _ in FORMULAS])     # the text output too
    assert code == 1 and out.count("\n") == len(FORMULAS)


def test_predict_arguments_corpus(capsys, trained):
    code, out, _ = run(capsys, "predict", "--models-dir", trained["models"], "--format", "json", "--",
                       *[t for t, _ in FORMULAS])
    assert code == 1
    check_rows(json.loads(out), FORMULAS)
    for fmt in ("csv", "table"):  # every output format survives the corpus
        code, out, _ = run(capsys, "predict", "--models-dir", trained["models"], "--format", fmt, "--",
                           *[t for t, _ in FORMULAS])
        assert code == 1 and out


def test_predict_csv_and_json_corpus(capsys, trained, tmp_path):
    cases = FORMULAS + [("Li6PS5Cl", expect) for _, expect in TEMPERATURES]
    temps = [""] * len(FORMULAS) + [t for t, _ in TEMPERATURES]
    src = tmp_path / "corpus.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["formula", "temperature_C", "extra; column", "doi"])
        for (text, _), t in zip(cases, temps, strict=True):
            w.writerow([text, t, "x,y;z", "10.1/abc"])
    for path in (src, tmp_path / "corpus.json"):
        if path.suffix == ".json":
            path.write_text(json.dumps([{"formula": f, "temperature_C": t, "other": [1, 2]}
                                        for (f, _), t in zip(cases, temps, strict=True)]))
        out_json = tmp_path / f"out-{path.suffix[1:]}.json"
        code, _, _ = run(capsys, "predict", "--models-dir", trained["models"], "--input", path,
                         "--output", out_json, "--keep", "temperature_C")
        rows = json.loads(out_json.read_text())
        assert code == 1
        # csv.writer keeps "\r\n" inside a quoted cell; the row must still be the same one
        check_rows(rows, cases, key="")
        assert [r["input"] for r in rows] == [t for t, _ in cases]
        assert [r["input_temperature_C"] for r in rows] == temps


def test_predict_all_good_is_exit_0(capsys, trained):
    code, out, err = run(capsys, "predict", "--models-dir", trained["models"], "--format", "json",
                         *[t for t, e in FORMULAS if e is OK])
    assert code == 0 and all(r["error"] == "" for r in json.loads(out)) and not err


# file -> (exit status, expected rows [(input, None or error fragment)] or a fragment of the usage error)
FILES = {
    "bom.csv": (1, [("Li6PS5Cl", OK), ("Xx2S", "unknown element"), ("Li3PS4", OK)]),
    "semicolon.csv": (1, [("Li6PS5Cl", OK), ("Li3PS4", "not a number"), ("Li7P3S11", OK)]),
    "cp1252.csv": (1, [("Li6PS5Cl", OK), ("LiéS", "unexpected 'é'"), ("Li3PS4", OK)]),
    "utf16.csv": (1, [("Li6PS5Cl", OK), ("li6ps5cl", "unreadable")]),
    "extra_columns.csv": (1, [("Li6PS5Cl", OK), ("Li10GeP2S12", OK), ("=cmd|' /C calc'!A0", "unexpected")]),
    "ragged.csv": (1, [("Li6PS5Cl", OK), ("Li3PS4", OK), ("", "empty formula"), ("Li7P3S11", OK)]),
    "nul_bytes.csv": (1, [("Li\x00S", "unexpected '\\x00'"), ("Li6PS5Cl", OK), ("\x00", "unexpected")]),
    "multiline_cell.csv": (1, [("Li6PS5Cl\nLi3PS4", "several lines"), ("Li3PS4", OK)]),
    "header_only.csv": (0, []),
    "strings.json": (1, [("Li6PS5Cl", OK), ("", "empty formula"), ("NaN", "missing value"),
                         ("Li1e400S", "unexpected"), ("🔋", "unexpected"), ("Li7P3S11", OK)]),
    "objects.json": (1, [("Li6PS5Cl", OK), ("", "empty formula"), ("", "empty formula"),
                         ("Li3PS4", "not a number"), ('["Li3PS4"]', "unexpected"), ("Li7P3S11", OK),
                         ("42", "coefficient without a formula"), ("Li3PS4", "below absolute zero")]),
    "no_formula_column.csv": (2, "column 'formula' not in"),
    "empty.csv": (2, "is empty"),
    "whitespace_only.csv": (2, "is empty"),
    "object.json": (2, "expected a JSON list"),
    "broken.json": (2, "not valid JSON"),
    "deep.json": (2, "nested too deeply"),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_predict_hostile_files(capsys, trained, name):
    status, expected = FILES[name]
    code, out, err = run(capsys, "predict", "--models-dir", trained["models"], "--format", "json",
                         "--input", FIXTURES / name)
    assert code == status, err
    if status == 2:
        assert err.startswith("sulfml predict: error: ") and len(err.strip().splitlines()) == 1
        assert expected in err and not out
        return
    check_rows(json.loads(out), expected)


def test_cif_cells_that_are_not_files_fail_their_row_only(capsys, trained, tmp_path):
    src = tmp_path / "cifs.csv"
    src.write_text(f"formula,cif\nLi6PS5Cl,\n,/dev/zero\n,{tmp_path}\n,{tmp_path / 'none.cif'}\nLi3PS4,\n")
    code, out, _ = run(capsys, "predict", "--models-dir", trained["models"], "--format", "json", "--input", src)
    rows = json.loads(out)
    assert code == 1 and len(rows) == 5
    assert [bool(r["error"]) for r in rows] == [False, True, True, True, False]
    assert "not a regular file" in rows[1]["error"] and "no such file" in rows[3]["error"]


def test_unwritable_output_is_a_usage_error(capsys, trained, tmp_path):
    code, _, err = run(capsys, "predict", "--models-dir", trained["models"], "--output", tmp_path, "Li3PS4")
    assert code == 2
    one_line_usage_error(err, "is a directory")


def test_file_notes_the_guessed_encoding(capsys, trained):
    _, _, err = run(capsys, "predict", "--models-dir", trained["models"], "--input", FIXTURES / "cp1252.csv")
    assert "not UTF-8; read it as cp1252" in err


def test_semicolon_file_reads_decimal_commas(capsys, trained):
    _, out, _ = run(capsys, "predict", "--models-dir", trained["models"], "--format", "json", "--input",
                    FIXTURES / "semicolon.csv")
    assert json.loads(out)[0]["temperature_K"] == pytest.approx(298.65)


def one_line_usage_error(err: str, fragment: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "error" in lines[0] and fragment in lines[0], err


def test_unreadable_inputs(capsys, trained, tmp_path, monkeypatch):
    models = trained["models"]
    code, _, err = run(capsys, "predict", "--models-dir", models, "--input", tmp_path / "missing.csv")
    assert code == 2
    one_line_usage_error(err, "not found")
    code, _, err = run(capsys, "predict", "--models-dir", models, "--input", tmp_path)
    assert code == 2
    one_line_usage_error(err, "is a directory")
    locked = tmp_path / "locked.csv"
    locked.write_text("formula\nLi3PS4\n")
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the read itself fail as it would for a user
        real = Path.read_bytes
        monkeypatch.setattr(Path, "read_bytes", lambda p: (_ for _ in ()).throw(PermissionError(13, "Permission denied", str(p)))
                            if p.name == "locked.csv" else real(p))
    code, _, err = run(capsys, "predict", "--models-dir", models, "--input", locked)
    assert code == 2
    one_line_usage_error(err, "permission denied")


USAGE = [
    (["predict"], "give formulas"),
    (["predict", "--temperature-c", "abc", "Li3PS4"], "not a number"),
    (["predict", "--temperature-c", "-500", "Li3PS4"], "absolute zero"),
    (["predict", "--temperature-c", "nan", "--input", FIXTURES / "bom.csv"], "not a finite number"),
    (["predict", "--input", FIXTURES / "bom.csv", "--column", "nope"], "column 'nope'"),
    (["predict", "--input", FIXTURES / "bom.csv", "--keep", "nope"], "--keep column"),
    (["predict", "--columns", "nope", "Li3PS4"], "unknown --columns"),
    (["predict", "--cif", "/nonexistent.cif"], "CIF file not found"),
    (["predict", "--format", "xml", "Li3PS4"], "invalid choice"),
    (["predict", "--frobnicate", "Li3PS4"], "unrecognized arguments"),
    (["frobnicate"], "invalid choice"),
    (["parse", "-Li2S"], "after `--`"),
    (["registry", "promote", "sulfml-ea", "abc"], "positive whole number"),
    (["registry", "promote", "sulfml-ea", "-1"], "positive whole number"),
]


@pytest.mark.parametrize(("argv", "fragment"), USAGE, ids=lambda v: " ".join(map(str, v))[:40] if isinstance(v, list) else None)
def test_usage_errors_are_one_line(capsys, trained, argv, fragment):
    if argv[0] == "predict":
        argv = argv[:1] + ["--models-dir", trained["models"]] + argv[1:]
    try:
        code, _, err = run(capsys, *argv)
    except SystemExit as exc:  # argparse's own errors
        code, err = exc.code, capsys.readouterr().err
    assert code == 2
    one_line_usage_error(err, fragment)


def test_internal_errors_are_one_line_and_debug_shows_the_traceback(capsys, monkeypatch):
    import sulfml.cli.parse_cmd as parse_cmd

    def boom(args):
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr(parse_cmd, "run", boom)
    code, _, err = run(capsys, "parse", "Li3PS4")
    assert code == 3 and len(err.strip().splitlines()) == 1
    assert "internal error: RuntimeError: something broke" in err and "--debug" in err
    code = main(["parse", "Li3PS4", "--debug"])
    err = capsys.readouterr().err
    assert code == 3 and "Traceback" in err and "RuntimeError" in err


def test_undecodable_argument_bytes_do_not_crash_printing(capsys):
    # what Python makes of a non-UTF-8 byte on the command line (surrogateescape)
    code, out, _ = run(capsys, "parse", "--json", "Li\udce9S", "Li\ud800S")
    rows = json.loads(out)
    assert code == 1 and rows[0]["input"] == "LiéS" and "unexpected 'é'" in rows[0]["error"]
    assert "unexpected" in rows[1]["error"]


def test_undecodable_argument_bytes_can_be_written_to_files(capsys, trained, tmp_path):
    for name in ("out.json", "out.csv"):
        code, _, err = run(capsys, "predict", "--models-dir", trained["models"], "--output", tmp_path / name,
                           "Li\udce9S", "Li3PS4")
        assert code == 1 and "LiéS" in (tmp_path / name).read_text(encoding="utf-8"), err


SCREEN = [
    (["screen", "Li6PS5Cl)", "--substitute", "P=Si"], "parenthes"),
    (["screen", "Li6PS5Cl", "--substitute", "Q=Si"], "Q"),
    (["screen", "Li6PS5Cl", "--substitute", "P=Xx"], "Xx"),
    (["screen", "", "--substitute", "P=Si"], "empty formula"),
    (["screen", "Li6PS5Cl", "--substitute", "P=Si; rm -rf /"], "SITE=DOPANT"),  # the shell debris is not a substitution
    (["screen", "NaN", "--substitute", "P=Si"], "missing value"),
]


@pytest.mark.parametrize(("argv", "fragment"), SCREEN, ids=lambda v: " ".join(map(str, v))[:40] if isinstance(v, list) else None)
def test_screen_bad_calls_are_one_line_usage_errors(capsys, argv, fragment):
    try:
        code, _, err = run(capsys, *argv)
    except SystemExit as exc:
        code, err = exc.code, capsys.readouterr().err
    assert code == 2
    one_line_usage_error(err, fragment)
