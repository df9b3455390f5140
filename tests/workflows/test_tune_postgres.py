"""Two `sulfml tune` workers started together share one study on a throwaway PostgreSQL server."""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlflow
import optuna
import pytest

from sulfml.tracking.store import configure
from sulfml.workflows.tune import EXPERIMENT

pytestmark = pytest.mark.slow

SKIP = "PostgreSQL server binaries not found (initdb/pg_ctl); .ci/run installs them with scripts/install-postgres.sh"
TRIALS = 4


def _pg_bin() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres: on PATH, else Debian's /usr/lib/postgresql/<ver>/bin."""
    dirs = []
    if shutil.which("initdb"):
        # Debian links some of them into PATH; pg_ctl must sit beside the real `postgres`
        dirs.append(Path(shutil.which("initdb")).resolve().parent)
    dirs += [Path(d) for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)]
    for d in dirs:
        if all((d / exe).exists() for exe in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def _version(path: str) -> float:
    try:
        return float(Path(path).parent.name)
    except ValueError:
        return 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A PostgreSQL server in a temporary directory, on 127.0.0.1, trusting local connections.

    initdb and postgres refuse to run as root, so as root the server runs as the `postgres` system
    user (which the Debian package creates) in a directory owned by it.
    """

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="sulfml-pg-"))  # not under pytest's root-only tmp dirs
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.root)
                pytest.skip("running as root and there is no `postgres` user to run the server as")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.url = f"postgresql+psycopg2://sulfml@127.0.0.1:{self.port}/optuna"

    def run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            runuser = shutil.which("runuser")
            cmd = [runuser, "-u", "postgres", "--", *cmd] if runuser else \
                ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.root)

    def start(self) -> None:
        res = self.run("initdb", "-D", str(self.data), "-U", "sulfml", "-A", "trust", "-E", "UTF8",
                       "--locale=C", "--no-sync")
        assert res.returncode == 0, res.stdout + res.stderr
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root} "
                "-c fsync=off -c max_connections=50")
        res = self.run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "server.log"),
                       "-w", "-t", "60", "start")
        assert res.returncode == 0, res.stdout + res.stderr + self.log()
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="sulfml", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE optuna")
        conn.close()

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.data.exists():
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def test_two_workers_share_one_study(mini_data_dir, small_config, tmp_path):
    pytest.importorskip("psycopg2")
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip(SKIP)
    server = Server(bindir)
    workers: list[subprocess.Popen] = []
    try:
        server.start()
        for i in range(2):
            # separate caches and MLflow stores, as on two machines
            env = {**os.environ, "SULFML_CACHE_DIR": str(tmp_path / f"cache-{i}")}
            cmd = [sys.executable, "-m", "sulfml", "tune", "--target", "ea", "--trials", str(TRIALS),
                   "--storage", server.url, "--study", "shared", "--seed", str(100 * i), "--n-jobs", "1",
                   "--config", str(small_config), "--data-dir", str(mini_data_dir),
                   "--tracking-uri", f"sqlite:///{tmp_path / f'mlflow-{i}.db'}",
                   "--output-config", str(tmp_path / f"tuned-{i}.toml")]
            workers.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                            env=env, cwd=tmp_path))
        deadline = time.monotonic() + 900
        outputs = [w.communicate(timeout=max(1.0, deadline - time.monotonic()))[0] for w in workers]
        for w, out in zip(workers, outputs, strict=True):
            assert w.returncode == 0, out

        study = optuna.load_study(study_name="shared", storage=server.url)
        trials = study.get_trials(deepcopy=False)
        assert sorted(t.number for t in trials) == list(range(2 * TRIALS))
        assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in trials)
        assert study.user_attrs["sulfml.setup"]["target"] == "ea_eV"

        for i in range(2):
            configure(f"sqlite:///{tmp_path / f'mlflow-{i}.db'}", experiment=EXPERIMENT)
            runs = mlflow.search_runs(experiment_names=[EXPERIMENT], output_format="list")
            parents = [r for r in runs if r.data.tags.get("sulfml.workflows.tune") == "study"]
            assert len(parents) == 1
            assert "sulfml@127.0.0.1" in parents[0].data.params["storage"]
            children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
            assert len(children) == TRIALS
            assert all(c.data.tags["sulfml.workflows.tune.state"] in ("COMPLETE", "PRUNED") for c in children)
            assert f"{TRIALS} trials" in outputs[i] and "in study 'shared'" in outputs[i]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
        server.stop()
