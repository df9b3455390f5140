"""The champion as an MLflow pyfunc model, as MLflow itself loads and serves it: from code, no pickles,
the same numbers as `sulfml predict`, bad rows with their errors."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sulfml.cli import main
from sulfml.service.serving import OUTPUT_TYPES, PYFUNC_NAME, publish_bundle, scoring_server

NUMBERS = [c for c, t in OUTPUT_TYPES.items() if t == "double"]
TEXTS = ["Li6PS5Cl", "70Li2S-30P2S5", "bad(", "", "Li10Ge(P0.925Sb0.075)2S12", "NaCl", "Xx2"]


@pytest.fixture(scope="module")
def served_store(tmp_path_factory, trained) -> dict:
    """A store whose `sulfml@champion` is the pyfunc model of the trained test bundle."""
    root = tmp_path_factory.mktemp("pyfunc")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        publish_bundle(trained["models"], uri)
    return {"uri": uri, "models": trained["models"], "root": root}


def _cli_rows(models: Path, texts: list[str], capsys, *extra: str) -> pd.DataFrame:
    capsys.readouterr()
    main(["predict", "--models-dir", str(models), "--format", "json", *extra, "--", *texts])
    return pd.DataFrame(json.loads(capsys.readouterr().out))


def _assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got["input"]) == list(want["input"])
    for c in NUMBERS:
        a, b = pd.to_numeric(got[c]).to_numpy(float), pd.to_numeric(want[c]).to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), c
        assert np.nanmax(np.abs(a - b), initial=0) <= 1e-9, c
    for c in ("formula", "warning", "error"):
        assert [x or "" for x in got[c]] == [x or "" for x in want[c]], c
    assert [None if v is None else bool(v) for v in got["in_domain"]] == \
        [None if v is None else bool(v) for v in want["in_domain"]]
    for g, w in zip(got["neighbors"], want["neighbors"], strict=True):
        assert json.loads(g) == w


def test_pyfunc_loads_without_pickles_and_predicts_like_the_cli(served_store, monkeypatch, capsys):
    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    model = mlflow.pyfunc.load_model(f"models:/{PYFUNC_NAME}@champion")
    assert model.metadata.flavors["python_function"].get("model_code_path")  # a model from code
    from mlflow.artifacts import download_artifacts

    local = Path(download_artifacts(f"models:/{PYFUNC_NAME}@champion", dst_path=str(served_store["root"] / "a")))
    files = [p.name for p in local.rglob("*")]
    assert "model.json" in files and "card.json" in files and "pyfunc_model.py" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib", ".cloudpickle"))]
    frame = pd.DataFrame({"formula": TEXTS, "temperature_C": [None, 60.0, None, None, 25.0, None, None]})
    got = model.predict(frame)
    want = _cli_rows(served_store["models"], TEXTS[:1], capsys)
    _assert_same(got.iloc[:1], want)
    at_60 = _cli_rows(served_store["models"], TEXTS[1:2], capsys, "--temperature-c", "60")
    _assert_same(got.iloc[1:2].reset_index(drop=True), at_60)
    assert got.loc[2, "error"] and got.loc[3, "error"] and got.loc[2, "log10_sigma"] is None  # null, not NaN
    assert got.loc[5, "in_domain"] is False or got.loc[5, "in_domain"] == False  # noqa: E712 - NaCl: no Li


def test_a_damaged_bundle_artifact_is_refused(served_store, monkeypatch):
    import mlflow
    from mlflow.artifacts import download_artifacts

    from sulfml.errors import BundleError

    local = Path(download_artifacts(f"models:/{PYFUNC_NAME}@champion", dst_path=str(served_store["root"] / "dl")))
    model_json = next(local.rglob("log10_sigma/model.json"))
    model_json.write_text(model_json.read_text().replace("0", "1", 1))
    with pytest.raises(BundleError, match="checksum"):
        mlflow.pyfunc.load_model(str(local))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_scoring_server_finds_uvicorn_without_an_activated_environment(monkeypatch, tmp_path):
    """`mlflow models serve` starts `uvicorn` by name: the helper puts this interpreter's bin/ (the virtual
    environment's, where pip put uvicorn) first on the child's PATH, whatever the caller's PATH holds."""
    import os
    import subprocess
    import sys

    started = {}

    class Exited:
        def __init__(self, args, env, **kwargs):
            started.update(args=args, env=env)

        def poll(self):
            return 1

        def terminate(self):
            pass

        def wait(self, timeout=None):
            return 1

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setattr(subprocess, "Popen", Exited)
    with pytest.raises(RuntimeError, match="exited"), scoring_server("models:/m@a", "sqlite:///x.db", _free_port(),
                                                                     log_path=tmp_path / "log"):
        pass
    bindir = str(Path(sys.executable).parent)
    assert started["env"]["PATH"].split(os.pathsep)[0] == bindir and (Path(bindir) / "uvicorn").exists()
    assert started["args"][0] == str(Path(bindir) / "mlflow") and started["env"]["MLFLOW_TRACKING_URI"] == "sqlite:///x.db"


@pytest.mark.slow
def test_mlflow_models_serve_answers_like_the_cli(served_store, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    with scoring_server(f"models:/{PYFUNC_NAME}@champion", served_store["uri"], _free_port(),
                        log_path=tmp_path / "serve.log") as base:
        body = json.dumps({"dataframe_split": {"columns": ["formula"], "data": [[t] for t in TEXTS]}}).encode()
        status, raw = _post(f"{base}/invocations", body)
        assert status == 200, raw[:500]
        # strict JSON: a failed row's numbers are null (Python's json would read a bare NaN)
        got = pd.DataFrame(json.loads(raw, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))["predictions"])
        want = _cli_rows(served_store["models"], TEXTS, capsys)
        _assert_same(got, want)
        assert got.loc[2, "error"] and got.loc[6, "error"]
        status, _ = _post(f"{base}/invocations", b'{"dataframe_split": {"columns": ["formula"], "data": [[')
        assert 400 <= status < 500
        status, _ = _post(f"{base}/invocations", b'{"no_such_format": []}')
        assert 400 <= status < 500
        with urllib.request.urlopen(f"{base}/ping", timeout=5) as r:  # still alive after the bad bodies
            assert r.status == 200
