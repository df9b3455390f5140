"""Training and tracking under faults: two trainings at once on one sqlite store, a training killed
halfway, an export that fails midway, a tampered registry artifact, promoting a version that does not exist.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sulfml.cli import main
from sulfml.tracking.bundle import Bundle

pytestmark = pytest.mark.slow


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _aliases(uri: str) -> dict[str, str]:
    import mlflow

    from sulfml.tracking.registry import ALIAS, MODEL_NAMES

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    return {n: client.get_model_version_by_alias(n, ALIAS).version for n in MODEL_NAMES.values()}


def _train_cmd(config: Path, data: Path, uri: str, models: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sulfml", "train", "--config", str(config), "--data-dir", str(data),
            "--tracking-uri", uri, "--models-dir", str(models), *extra]


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return os.environ | {"PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(
        p for p in (src, os.environ.get("PYTHONPATH", "")) if p)}


def test_concurrent_trainings_a_killed_one_and_a_failed_export(mini_data_dir, small_config, tmp_path, capsys,
                                                               monkeypatch):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    models = tmp_path / "models"
    models.mkdir()
    (models / "README.md").write_text("kept across exports\n")

    # 1. two trainings started at once on one fresh sqlite store (and one models/ dir): both finish, both recorded
    procs = [subprocess.Popen(_train_cmd(small_config, mini_data_dir, uri, models), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env(), cwd=tmp_path) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
        assert "Traceback" not in err and "exported the champion pair" in out
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.get_experiment_by_name("sulfml")
    assert len(client.search_runs([exp.experiment_id])) == 4
    for name in ("sulfml-log10-sigma", "sulfml-ea"):
        assert sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'")) == [1, 2]
    assert Bundle.from_dir(models).preset == "composition-v1"
    assert (models / "README.md").read_text() == "kept across exports\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".models.")]  # no staging dirs left

    before, aliases = _snapshot(models), _aliases(uri)

    # 2. a training killed halfway (after the first target is logged, with --promote) changes nothing
    proc = subprocess.Popen(_train_cmd(small_config, mini_data_dir, uri, models, "--promote"),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env(), cwd=tmp_path)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("log10_sigma:"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, seen
    assert _aliases(uri) == aliases
    assert _snapshot(models) == before

    # 3. an export that fails after writing the first target leaves models/ as it was
    from sulfml.tracking import export
    from sulfml.tracking.store import configure

    configure(uri)
    real, calls = export._export_version, []

    def failing(mv, out, alias):
        calls.append(mv.name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(mv, out, alias)

    monkeypatch.setattr(export, "_export_version", failing)
    with pytest.raises(OSError):
        export.download_champions(models)
    assert len(calls) == 2 and _snapshot(models) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".models.")]
    monkeypatch.undo()

    # 4. promoting a version that does not exist: exit 2, one line, alias unchanged
    code = main(["registry", "--tracking-uri", uri, "promote", "sulfml-ea", "42"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no such version (registered: 1, 2" in err and _aliases(uri) == aliases

    # 5. a tampered registry artifact: export and predict refuse it, models/ untouched, nothing unpickled
    mv = client.get_model_version_by_alias("sulfml-ea", "champion")
    artifacts = Path(client.get_run(mv.tags["source_run_id"]).info.artifact_uri.removeprefix("file://"))
    marker = tmp_path / "pwned"
    (artifacts / "bundle" / "model.json").write_bytes(
        pickle.dumps(_Payload(marker), protocol=pickle.HIGHEST_PROTOCOL))
    code = main(["registry", "--tracking-uri", uri, "export", "--models-dir", str(models)])
    err = capsys.readouterr().err
    assert code == 2 and "registry artifact sulfml-ea" in err and "pickle" in err
    code = main(["predict", "--tracking-uri", uri, "--alias", "champion", "Li6PS5Cl"])
    err = capsys.readouterr().err
    assert code == 2 and "pickle" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists() and _snapshot(models) == before
    # a registry artifact edited as JSON fails the checksum recorded at training time
    card = json.loads((artifacts / "bundle" / "card.json").read_text())
    (artifacts / "bundle" / "model.json").write_text('{"learner": {}}')
    assert "checksums" in card
    code = main(["registry", "--tracking-uri", uri, "export", "--models-dir", str(models)])
    assert code == 2 and "does not match the checksum" in capsys.readouterr().err
    assert _snapshot(models) == before


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_store_that_is_not_a_database_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "notes.db"
    bad.write_text("this is not sqlite\n" * 100)
    t0 = time.perf_counter()
    code = main(["registry", "--tracking-uri", f"sqlite:///{bad}", "list"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot use the MLflow store" in err and len(err.strip().splitlines()) == 1
    assert time.perf_counter() - t0 < 60
