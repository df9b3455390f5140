"""The command contract: outputs, exit statuses (0 ok, 1 a row failed, 2 usage error), no tracebacks."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from sulfml.cli import main


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_parse_json_in_order(capsys):
    code, out, _ = run(capsys, "parse", "--json", "Li6PS5Cl", "70Li2S-30P2S5", "Xx2", "")
    rows = json.loads(out)
    assert [r["input"] for r in rows] == ["Li6PS5Cl", "70Li2S-30P2S5", "Xx2", ""]
    assert set(rows[0]) >= {"input", "formula", "composition", "notation", "additive", "error"}
    assert rows[1]["formula"] == "Li7P3S11" and rows[1]["notation"] == "glass"
    assert rows[2]["error"] and rows[2]["composition"] is None
    assert code == 1


def test_parse_text_output(capsys):
    code, out, _ = run(capsys, "parse", "La0.56Li0.33TiO3-5wt% Al2O3")
    assert code == 0 and "additive=5wt% Al2O3" in out


def test_data_info_json(capsys, mini_data_dir):
    code, out, _ = run(capsys, "data", "info", "--json", "--data-dir", str(mini_data_dir))
    info = json.loads(out)
    assert code == 0
    for src in ("review", "obelix", "liverpool", "laskowski"):
        assert {"rows_read", "rows_kept", "rejected"} <= set(info["sources"][src])
    assert info["materials"] > 30 and info["measurements"] > info["materials"]
    code, out, _ = run(capsys, "data", "info", "--data-dir", str(mini_data_dir))
    assert "no stoichiometry" in out and "e.g." in out


def test_data_missing_dir_is_a_usage_error(capsys, tmp_path):
    code, _, err = run(capsys, "data", "info", "--data-dir", str(tmp_path / "none"))
    assert code == 2 and "missing dataset file" in err and "Traceback" not in err


def test_no_data_and_no_network_names_both_ways_out(capsys, monkeypatch):
    monkeypatch.setenv("SULFML_DATA_URL", "http://127.0.0.1:9")  # nothing listens there: as without network
    code, _, err = run(capsys, "data", "info")
    assert code == 2 and "cannot download" in err and "SULFML_DATA_DIR" in err and "--data-dir" in err


def test_a_headerless_csv_names_the_column_option(capsys, trained, tmp_path):
    path = tmp_path / "headerless.csv"
    path.write_text("Li6PS5Cl\nLi3PS4\n")
    code, _, err = run(capsys, "predict", "--models-dir", str(trained["models"]), "--input", str(path))
    assert code == 2 and "'Li6PS5Cl'" in err and "--column" in err and "header" in err


def test_data_export(capsys, mini_data_dir, tmp_path):
    code, out, _ = run(capsys, "data", "export", "rejections", "-o", str(tmp_path / "r.csv"),
                       "--data-dir", str(mini_data_dir))
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert code == 0 and {"source", "source_row_id", "raw_formula", "reason"} <= set(rows[0])


def test_predict_exit_codes_and_files(capsys, trained, tmp_path):
    models = str(trained["models"])
    code, out, _ = run(capsys, "predict", "--models-dir", models, "--format", "json", "Li6PS5Cl", "Xx2")
    rows = json.loads(out)
    assert code == 1 and len(rows) == 2 and rows[1]["error"] and rows[1]["log10_sigma"] is None
    code, out, _ = run(capsys, "predict", "--models-dir", models, "--format", "csv", "Li6PS5Cl")
    assert code == 0 and out.splitlines()[0].startswith("input,formula,state,space_group,basis,log10_sigma")

    src = tmp_path / "in.csv"
    src.write_text("name,T\nLi3PS4,25\n,25\nbad(,30\nLi7P3S11,60\n")
    code, _, err = run(capsys, "predict", "--models-dir", models, "--input", str(src))
    assert code == 2 and "column 'formula'" in err
    out_json = tmp_path / "out.json"
    code, _, _ = run(capsys, "predict", "--models-dir", models, "--input", str(src), "--column", "name",
                     "--keep", "T", "--output", str(out_json))
    rows = json.loads(out_json.read_text())
    assert code == 1 and [r["input"] for r in rows] == ["Li3PS4", "", "bad(", "Li7P3S11"]
    assert rows[1]["error"] and rows[2]["error"] and rows[3]["input_T"] == "60"

    code, _, err = run(capsys, "predict", "--models-dir", models, "--input", str(tmp_path / "nope.csv"))
    assert code == 2 and "not found" in err
    code, _, err = run(capsys, "predict", "--models-dir", str(tmp_path / "empty"), "Li3PS4")
    assert code == 2 and "no log10_sigma model" in err


def test_predict_table_temperature_and_cif(capsys, trained, tmp_path):
    from pymatgen.core import Lattice, Structure

    models = str(trained["models"])
    code, out, _ = run(capsys, "predict", "--models-dir", models, "--format", "table", "Li6PS5Cl", "NaCl")
    lines = out.splitlines()
    assert code == 0 and "[90 % interval]" in lines[0]
    first = next(line for line in lines if line.startswith("Li6PS5Cl"))
    assert "[" in first and "in domain" in first
    assert any(line.strip().startswith("~ ") and "measured log10" in line for line in lines)
    assert any("OUTSIDE" in line for line in lines) and any("no lithium" in line for line in lines)

    code, out, _ = run(capsys, "predict", "--models-dir", models, "--format", "json", "--temperature-c", "100",
                       "Li6PS5Cl")
    row = json.loads(out)[0]
    assert code == 0 and row["temperature_K"] == 373.15 and len(row["neighbors"]) == 3
    code, _, err = run(capsys, "predict", "--models-dir", models, "--temperature-c", "-500", "Li6PS5Cl")
    assert code == 2 and "absolute zero" in err and "Traceback" not in err

    src = tmp_path / "t.csv"
    src.write_text("formula,temperature_C\nLi3PS4,\nLi3PS4,60\n")
    code, out, _ = run(capsys, "predict", "--models-dir", models, "--input", str(src), "--temperature-c", "100",
                       "--format", "csv")
    import csv

    assert code == 0 and [round(float(r["temperature_K"]), 2) for r in csv.DictReader(out.splitlines())] == \
        [373.15, 333.15]
    assert ", log10 σ " in out.splitlines()[1]        # neighbours flattened into one CSV cell

    cif = tmp_path / "li3n.cif"
    Structure(Lattice.hexagonal(3.65, 3.87), ["N", "Li", "Li", "Li"],
              [[0, 0, 0], [0, 0, 0.5], [1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0]]).to(filename=str(cif))
    code, out, _ = run(capsys, "predict", "--models-dir", models, "--format", "json", "--cif", str(cif))
    row = json.loads(out)[0]
    assert code == 0 and row["formula"] == "Li3N" and row["error"] == ""
    code, _, err = run(capsys, "predict", "--models-dir", models, "--cif", str(tmp_path / "none.cif"))
    assert code == 2 and "CIF file not found" in err


def test_help_speaks_to_a_user(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0
    assert "conductivity" in out and "sulfml predict Li6PS5Cl" in out and "exit status" in out
    assert "register(" not in out and "subparsers" not in out  # not the module's developer docstring


def test_json_temperatures_are_the_kelvin_written(capsys, trained):
    main(["predict", "--models-dir", str(trained["models"]), "--format", "json", "--temperature-c", "-40", "Li3PS4"])
    out = capsys.readouterr().out
    assert json.loads(out)[0]["temperature_K"] == 233.15 and "233.14999" not in out


def test_unknown_subcommand_is_exit_2():
    proc = subprocess.run([sys.executable, "-m", "sulfml.cli", "frobnicate"], capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_registry_list_promote_export(capsys, trained, tmp_path):
    uri = trained["uri"]
    code, out, _ = run(capsys, "registry", "--tracking-uri", uri, "list", "--json")
    rows = json.loads(out)
    # the two targets' models and the served pyfunc model of the pair, with its champion
    assert code == 0 and {r["name"] for r in rows} == {"sulfml-log10-sigma", "sulfml-ea", "sulfml"}
    assert any(r["name"] == "sulfml" and "champion" in r["aliases"] for r in rows)
    code, _, err = run(capsys, "registry", "--tracking-uri", uri, "promote", "sulfml-ea", "99")
    assert code == 2 and "cannot promote" in err
    code, _, err = run(capsys, "registry", "--tracking-uri", uri, "promote", "nonsense", "1")
    assert code == 2
    code, out, _ = run(capsys, "registry", "--tracking-uri", uri, "promote", "sulfml-ea", "1")
    assert code == 0 and "v1" in out
    code, _, _ = run(capsys, "registry", "--tracking-uri", uri, "export", "--models-dir", str(tmp_path / "m"))
    assert code == 0 and (tmp_path / "m" / "ea_eV" / "model.json").exists()


@pytest.mark.slow
def test_train_and_predict_through_a_real_mlflow_server(mini_data_dir, small_config, tmp_path):
    """A real `mlflow server` on 127.0.0.1 with a sqlite backend; predict via --tracking-uri --alias."""
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "w"))
    uri = f"http://127.0.0.1:{port}"
    try:
        for _ in range(360):  # bounded: 180 s (a loaded machine starts MLflow slowly)
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start: " + (tmp_path / "server.log").read_text()[-2000:])
        code = main(["train", "--config", str(small_config), "--data-dir", str(mini_data_dir),
                     "--tracking-uri", uri, "--no-export"])
        assert code == 0
        out = tmp_path / "pred.csv"
        code = main(["predict", "--tracking-uri", uri, "--alias", "champion", "--output", str(out),
                     "Li6PS5Cl", "Li10GeP2S12"])
        rows = list(csv.DictReader(open(out)))
        assert code == 0 and len(rows) == 2 and all(float(r["log10_sigma"]) < 0 for r in rows)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_predict_formulas_and_input_together_is_a_usage_error(capsys, trained, tmp_path):
    src = tmp_path / "f.csv"
    src.write_text("formula\nLi3PS4\n")
    code, out, err = run(capsys, "predict", "--models-dir", str(trained["models"]), "LiI", "--input", str(src))
    assert code == 2 and "not both" in err and out == ""  # LiI was silently dropped before
    cif = tmp_path / "x.cif"
    cif.write_text("")
    code, _, err = run(capsys, "predict", "--models-dir", str(trained["models"]), "--cif", str(cif),
                       "--input", str(src))
    assert code == 2 and "not both" in err


def test_registry_list_never_creates_a_store(tmp_path):
    import os
    from pathlib import Path

    import sulfml

    # the sulfml under test, whatever the working directory
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(sulfml.__file__).resolve().parents[1]),
                                         *filter(None, [os.environ.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-m", "sulfml.cli", "registry", "list"], capture_output=True, text=True,
                          cwd=tmp_path, env=env)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no mlflow.db, no lock file
    assert proc.returncode == 2 and f"no MLflow store at {tmp_path / 'mlflow.db'}" in proc.stderr
    assert "INFO" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    other = tmp_path / "other.db"
    proc = subprocess.run([sys.executable, "-m", "sulfml.cli", "registry", "list", "--tracking-uri",
                           f"sqlite:///{other}"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 2 and not other.exists() and "INFO" not in proc.stderr


def test_registry_list_says_which_store_and_takes_options_after_the_action(capsys, trained, tmp_path):
    uri = trained["uri"]
    code, out, err = run(capsys, "registry", "list", "--tracking-uri", uri)
    assert code == 0 and out.splitlines()[0] == f"store: {uri}" and "sulfml-ea" in out
    assert "INFO" not in err
    code, out, err = run(capsys, "registry", "list", "--json", "--tracking-uri", uri)
    assert code == 0 and {r["name"] for r in json.loads(out)} == {"sulfml-log10-sigma", "sulfml-ea", "sulfml"}
    assert uri in err
    # given after the action it wins; given only before the action it is kept
    code, out, _ = run(capsys, "registry", "--tracking-uri", "sqlite:///nowhere.db", "list", "--tracking-uri", uri)
    assert code == 0 and f"store: {uri}" in out
    code, _, err = run(capsys, "registry", "promote", "sulfml-ea", "99", "--tracking-uri", uri)
    assert code == 2 and "cannot promote" in err and "after `--`" not in err
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    code, _, err = run(capsys, "registry", "list", "--tracking-uri", f"sqlite:///{empty}")
    assert code == 2 and "has no model registry tables" in err and empty.stat().st_size == 0


def test_data_dir_goes_before_or_after_the_action(capsys, mini_data_dir):
    code, out, _ = run(capsys, "data", "--data-dir", str(mini_data_dir), "info", "--json")
    assert code == 0 and json.loads(out)["materials"] > 30


def test_misplaced_options_get_no_hint_about_formulas(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["parse", "--frobnicate", "Li3PS4"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "unrecognized arguments: --frobnicate" in err and "after `--`" not in err


def test_data_info_counts_the_users_rows(capsys, mini_data_dir, tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text("formula,sigma_S_cm,state\nLi6PS5Cl,2e-3,glass\nLi3PS4,1e-4,amorphouse\n")
    code, out, _ = run(capsys, "data", "info", "--data-dir", str(mini_data_dir), "--extra-data", str(mine))
    line = next(x for x in out.splitlines() if x.startswith("user "))
    assert code == 0 and line.split() == ["user", "2", "1", "1"]
    assert "unknown state" in out and "mine.csv:2" in out and "user file: mine.csv" in out
    code, out, _ = run(capsys, "data", "info", "--data-dir", str(mini_data_dir))
    assert not any(x.startswith("user ") for x in out.splitlines())



def test_predict_space_group_names_the_polymorph(capsys, trained, tmp_path):
    models = str(trained["models"])
    code, out, _ = run(capsys, "predict", "--models-dir", models, "--format", "json", "--space-group", "Ia-3d",
                       "Li7La3Zr2O12", "Li6PS5Cl")
    rows = json.loads(out)
    assert code == 0 and [r["space_group"] for r in rows] == [230, 230]
    assert all(r["state"] == "crystalline" for r in rows)  # a space group says the row is a crystal
    code, _, err = run(capsys, "predict", "--models-dir", models, "--space-group", "P9", "Li6PS5Cl")
    assert code == 2 and "space group 'P9'" in err
    src = tmp_path / "in.csv"
    src.write_text("formula,space_group\nLi3PS4,62\nLi3PS4,\nLi3PS4,P9\n", encoding="utf-8")
    code, out, _ = run(capsys, "predict", "--models-dir", models, "--format", "json", "--input", str(src),
                       "--space-group", "31")
    rows = json.loads(out)
    assert code == 1 and [r["space_group"] for r in rows[:2]] == [62, 31] and "space group 'P9'" in rows[2]["error"]


def _in_a_fresh_process(code: str) -> str:
    """What `code` prints, run by this interpreter on the checkout's own sources."""
    import os
    from pathlib import Path

    import sulfml

    src = str(Path(sulfml.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout


def test_a_command_loads_its_own_module_and_not_the_others():
    out = _in_a_fresh_process(
        "import sys; from sulfml.cli import main, SUBCOMMANDS; rc = main(['predict', 'Li6PS5Cl', '--format', 'csv']); "
        "print(rc, sorted(n for n in SUBCOMMANDS if f'sulfml.cli.{n}_cmd' in sys.modules), "
        "[m for m in sys.modules if m.startswith('sulfml.workflows')])")
    assert out.splitlines()[-1] == "0 ['predict'] []"
    assert "Li6PS5Cl" in out


def test_help_and_a_mistyped_command_still_know_every_command(capsys):
    from sulfml.cli import SUBCOMMANDS

    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert all(name in help_text for name in SUBCOMMANDS)
    with pytest.raises(SystemExit) as stop:
        main(["predcit", "Li6PS5Cl"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "invalid choice: 'predcit'" in err and all(name in err for name in SUBCOMMANDS)


def test_the_program_skips_its_last_heap_collection_and_a_caller_keeps_its_own():
    import gc

    # run as the program (its own arguments): the heap is frozen once the command is done
    out = _in_a_fresh_process("import gc, sys; from sulfml.cli import main; sys.argv = ['sulfml', 'parse', 'Li2S']; "
                              "rc = main(); print(rc, gc.get_freeze_count() > 0)")
    assert out.splitlines()[-1] == "0 True"
    # called with arguments (a test, a notebook): the caller's collector is left as it was
    before = gc.get_freeze_count()
    assert main(["parse", "Li2S"]) == 0
    assert gc.get_freeze_count() == before
