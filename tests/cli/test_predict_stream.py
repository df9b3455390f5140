"""Streaming `sulfml predict --input`: order kept across chunk boundaries, bad rows, no bar when piped."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from sulfml.cli import main

ROWS = ["Li6PS5Cl", "bad((", "Li3PS4", "70Li2S-30P2S5", "", "Li10Ge(P0.925Sb0.075)2S12", "Xx2O", "Li7P3S11"]


def _input(tmp_path):
    path = tmp_path / "in.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["formula", "id"])
        w.writerows([f, i] for i, f in enumerate(ROWS))
    return path


def test_chunks_keep_order_and_rows(trained, tmp_path, capsys):
    path = _input(tmp_path)
    outs = []
    for chunk in ("1", "3", "100"):
        out = tmp_path / f"out{chunk}.csv"
        code = main(["predict", "--input", str(path), "--output", str(out), "--keep", "id", "--chunk-size", chunk,
                     "--models-dir", str(trained["models"])])
        assert code == 1  # some rows failed, none stopped the run
        with open(out, newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert [r["input"] for r in rows] == ROWS
        assert [r["input_id"] for r in rows] == [str(i) for i in range(len(ROWS))]
        assert rows[1]["error"] and not rows[0]["error"] and rows[0]["neighbors"]
        outs.append(rows)
    assert outs[0] == outs[1] == outs[2]


def test_json_streams_a_list(trained, tmp_path):
    out = tmp_path / "out.json"
    main(["predict", "--input", str(_input(tmp_path)), "--output", str(out), "--chunk-size", "3",
          "--models-dir", str(trained["models"])])
    data = json.loads(out.read_text())
    assert [r["input"] for r in data] == ROWS and isinstance(data[0]["neighbors"], list)


def test_progress_bar_only_on_a_terminal(trained, tmp_path, capsys, monkeypatch):
    import sys

    args = ["predict", "--input", str(_input(tmp_path)), "--models-dir", str(trained["models"])]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    main([*args, "--format", "csv"])  # rows piped on: no bar even though stderr is a terminal
    captured = capsys.readouterr()
    assert "rows/s" not in captured.err and "%|" not in captured.err
    assert len(captured.out.strip().splitlines()) == len(ROWS) + 1
    main([*args, "--output", str(tmp_path / "o.csv")])  # rows to a file, stderr a terminal: a bar
    assert f"{len(ROWS)}/{len(ROWS)}" in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    main([*args, "--output", str(tmp_path / "o.csv")])  # stderr not a terminal: no bar
    assert "%|" not in capsys.readouterr().err


def test_columns_without_error_column_still_sets_exit_status(tmp_path) -> None:
    out = tmp_path / "o.csv"
    rc = main(["predict", "Li6PS5Cl", "Xx", "--columns", "formula,log10_sigma", "--output", str(out)])
    assert rc == 1
    assert out.read_text(encoding="utf-8").splitlines()[0] == "formula,log10_sigma"


def test_large_input_imports_no_heavy_packages(tmp_path):
    """--input above the NumPy-tree batch size runs XGBoost through its library: no xgboost package,
    scikit-learn, matminer, pymatgen or MLflow in the process."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import sulfml

    path = tmp_path / "in.csv"
    path.write_text("formula\n" + "\n".join(f"Li{6 - i / 1000:.3f}PS{5 - i / 1000:.3f}Cl{1 + i / 1000:.3f}"
                                            for i in range(600)) + "\n", encoding="utf-8")
    code = ("import sys; from sulfml.cli import main; "
            f"rc = main(['predict', '--input', {str(path)!r}, '--output', {str(tmp_path / 'o.csv')!r}]); "
            "print(rc, [m for m in ('xgboost', 'sklearn', 'matminer', 'pymatgen', 'mlflow') if m in sys.modules])")
    src = str(Path(sulfml.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split("\n")[-2] == "0 []"
    assert len((tmp_path / "o.csv").read_text(encoding="utf-8").splitlines()) == 601


@pytest.mark.parametrize("columns", [None, ["formula"], ["log10_sigma"]])
def test_write_csv_writes_what_pandas_writes(columns):
    import io

    import pandas as pd

    from sulfml.service.output import write_csv

    frame = pd.DataFrame({
        "formula": ["Li6PS5Cl", "", 'say "hi"', "a,b", "two\nlines", None, "x\ry", " padded "],
        "log10_sigma": [-2.927370071411133, float("nan"), 1e-300, -0.1, 3.0, float("inf"), 12345678.9, 0.0],
        "in_domain": [True, None, False, True, None, False, True, True],
        "n": [1, 2, 3, 4, 5, 6, 7, 8],
    })
    frame = frame if columns is None else frame[columns]
    for header in (True, False):
        want, got = io.StringIO(), io.StringIO()
        frame.to_csv(want, index=False, header=header, lineterminator="\n")
        write_csv(got, frame, header=header)
        assert got.getvalue() == want.getvalue()


@pytest.mark.parametrize("columns", [[], ["--columns", "formula,ea_eV"]])
def test_table_streams_every_row_with_one_header_and_footer(tmp_path, capsys, columns):
    path = tmp_path / "in.csv"
    path.write_text("formula\nLi6PS5Cl\nLi7P3S11\nXx\nLi3PS4\nLiCl\n", encoding="utf-8")
    main(["predict", "--input", str(path), "--chunk-size", "2", "--format", "table", *columns])
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines() if line[:1] not in (" ", "-", "~", "f", "")]
    # the table names a failed row by its input; with --columns formula it is blank (an indented line)
    assert rows == ["Li6PS5Cl", "Li7P3S11", *([] if columns else ["Xx"]), "Li3PS4", "LiCl"]
    assert out.count("formula") == 1
    assert out.count("nearest known materials") == (0 if columns else 1)


def test_parquet_in_and_out_keep_every_row_in_order(trained, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = ["Li6PS5Cl", "bad(", "Li3PS4", "", "70Li2S-30P2S5"] * 7
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"formula": texts, "temperature_C": [25.0, None, 60.0, None, 80.0] * 7}), src)
    out_pq, out_csv = tmp_path / "out.parquet", tmp_path / "out.csv"
    models = str(trained["models"])
    for out in (out_pq, out_csv):
        assert main(["predict", "--models-dir", models, "--input", str(src), "--chunk-size", "4",
                     "--output", str(out)]) == 1
    got, want = pq.read_table(out_pq).to_pandas(), pd.read_csv(out_csv, keep_default_na=False)
    assert list(got["input"]) == texts == list(want["input"])
    assert np.allclose(got["log10_sigma"].to_numpy(float), pd.to_numeric(want["log10_sigma"]).to_numpy(float),
                       equal_nan=True, atol=1e-12, rtol=0)
    assert got["temperature_K"].iloc[2] == 333.15 and bool(got["error"].iloc[1])
    assert got["in_domain"].dtype == "bool" or str(got["in_domain"].dtype) == "boolean"
    assert json.loads(got["neighbors"].iloc[0])[0]["formula"]


@pytest.mark.parametrize("name", ["out.xlsx", "out.txt", "out"])
def test_an_unsupported_output_type_is_a_usage_error(trained, tmp_path, capsys, name):
    assert main(["predict", "--models-dir", str(trained["models"]), "--output", str(tmp_path / name),
                 "Li3PS4"]) == 2
    assert "unsupported file type" in capsys.readouterr().err and not (tmp_path / name).exists()
