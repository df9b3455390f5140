"""Serving through MLflow: the pyfunc model's input and output contract, and logging it as a model from code.

The pyfunc model (`sulfml.service.pyfunc_model`) answers exactly what `sulfml predict` answers, so a REST
endpoint (`mlflow models serve`) and a Spark UDF (`mlflow.pyfunc.spark_udf`) give the same numbers.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sulfml.errors import InputError
from sulfml.service.pipeline import OUTPUT_COLUMNS

if TYPE_CHECKING:
    from mlflow.models.signature import ModelSignature

    from sulfml.service.predictor import Predictor

PYFUNC_NAME = "sulfml"
SERVING_EXPERIMENT = "sulfml-serving"  # the runs that log the pyfunc model, apart from the training runs
# Input columns: a formula per row, optionally its temperature (°C, blank: 25 °C), a state, a space group
# (a number or a symbol, as text) and a CIF path.
INPUT_COLUMNS: dict[str, str] = {"formula": "string", "temperature_C": "double", "state": "string",
                                 "space_group": "string", "cif": "string"}
_OUTPUT_TYPES: dict[str, str] = {c: "double" for c in OUTPUT_COLUMNS} | {
    "input": "string", "formula": "string", "state": "string", "space_group": "long", "basis": "string",
    "measured_n_papers": "long",
    "measured_range": "string", "in_domain": "boolean", "warning": "string", "error": "string", "neighbors": "string"}
OUTPUT_TYPES: dict[str, str] = {c: _OUTPUT_TYPES[c] for c in OUTPUT_COLUMNS}


def pyfunc_output(predictor: Predictor, model_input: pd.DataFrame) -> pd.DataFrame:
    """The pyfunc model's answer: the rows of `sulfml predict`, `neighbors` as a JSON string per row.

    Raises:
        InputError: the input has no `formula` column (a malformed request, not a bad row).
    """
    if not isinstance(model_input, pd.DataFrame):
        model_input = pd.DataFrame(model_input)
    if "formula" not in model_input.columns:
        raise InputError(f"the input has no formula column (columns: {', '.join(map(str, model_input.columns))})")
    frame = model_input[[c for c in INPUT_COLUMNS if c in model_input.columns]].reset_index(drop=True)
    out = predictor.predict(frame)
    out["neighbors"] = [json.dumps(n, ensure_ascii=False, allow_nan=False, default=_plain) for n in out["neighbors"]]
    out["in_domain"] = out["in_domain"].astype(object)
    # [lowest, highest paper] as JSON text, as the neighbours are; blank for a material the data do not hold
    out["measured_range"] = ["" if r is None else json.dumps(r) for r in out["measured_range"]]
    # a number a row does not have is null, never NaN: MLflow's scoring server writes NaN as a bare `NaN`,
    # which is not JSON (a failed row, a material without a measured Ea)
    for c in out.columns:
        if out[c].dtype.kind == "f":
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def _plain(value: Any) -> Any:
    """NumPy scalars in neighbour labels as plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def signature() -> ModelSignature:
    """The pyfunc model's signature: `formula` required, the other inputs optional."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec(t, c, required=c == "formula") for c, t in INPUT_COLUMNS.items()])
    outputs = Schema([ColSpec(t, c) for c, t in OUTPUT_TYPES.items()])
    return ModelSignature(inputs=inputs, outputs=outputs)


def spark_result_type() -> str:
    """The `result_type` of `mlflow.pyfunc.spark_udf` for this model: one struct of the output columns."""
    return ", ".join(f"{c} {t}" for c, t in OUTPUT_TYPES.items())


def log_pyfunc_model(bundle_dir: str | Path, registered_model_name: str | None = PYFUNC_NAME) -> Any:
    """Log the pyfunc model of a bundle directory into the active MLflow run (and register it).

    The bundle is an artifact (JSON files, and a neural member's `network.npz` of plain arrays, read with
    `allow_pickle=False`); the model is code (`pyfunc_model.py`), so nothing is pickled and
    `MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false` loads it.

    Returns:
        MLflow's `ModelInfo` (with `registered_model_version` when registered).
    """
    import mlflow

    code = files("sulfml.service").joinpath("pyfunc_model.py")
    example = pd.DataFrame({"formula": ["Li6PS5Cl", "70Li2S-30P2S5"], "temperature_C": [25.0, 60.0]})
    return mlflow.pyfunc.log_model(
        name=PYFUNC_NAME, python_model=str(code), artifacts={"bundle": str(bundle_dir)},
        signature=signature(), input_example=example, registered_model_name=registered_model_name,
        pip_requirements=[f"sulfml=={_version()}"],
    )


def _version() -> str:
    from sulfml._version import __version__

    return __version__


def publish_bundle(bundle_dir: str | Path, tracking_uri: str, alias: str = "champion") -> str:
    """Log a bundle directory as the pyfunc model `sulfml` in the store at `tracking_uri` and point `alias` at
    it: a store to serve from without training (a lab's own bundle, the benchmarks, the tests).

    Returns:
        The new version of `sulfml`.
    """
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(experiment_id=_experiment_id(SERVING_EXPERIMENT), run_name=PYFUNC_NAME):
        info = log_pyfunc_model(bundle_dir)
    version = str(info.registered_model_version)
    mlflow.MlflowClient(tracking_uri).set_registered_model_alias(PYFUNC_NAME, alias, version)
    return version


def register_served_model(versions: dict[str, str], make_champion: bool) -> str:
    """Log and register the pyfunc model of one registered pair (target -> version of its model), in a run
    of its own; with `make_champion`, move `sulfml@champion` to it.

    The bundle artifact is exported from the registry and checked exactly as `sulfml registry export`
    checks it. Returns the new version of `sulfml`.
    """
    import tempfile

    import mlflow

    from sulfml.tracking.export import download_champions
    from sulfml.tracking.registry import promote
    from sulfml.tracking.store import retry_locked

    tags = {f"{target}_version": str(v) for target, v in versions.items()}
    with tempfile.TemporaryDirectory() as tmp:
        bundle = download_champions(Path(tmp) / "bundle", versions=versions)
        with mlflow.start_run(experiment_id=_experiment_id(SERVING_EXPERIMENT), run_name=PYFUNC_NAME, tags=tags):
            info = log_pyfunc_model(bundle)
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    for key, value in tags.items():
        retry_locked(client.set_model_version_tag, PYFUNC_NAME, version, key, value)
    if make_champion:
        promote(PYFUNC_NAME, version)
    return version


def _experiment_id(name: str) -> str:
    import mlflow
    from mlflow.exceptions import MlflowException

    from sulfml.tracking.store import retry_locked

    client = mlflow.MlflowClient()
    found = retry_locked(client.get_experiment_by_name, name)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(retry_locked(client.create_experiment, name))
    except MlflowException:  # another process created it in between
        created = retry_locked(client.get_experiment_by_name, name)
        if created is None:
            raise
        return str(created.experiment_id)


@contextlib.contextmanager
def scoring_server(model_uri: str, tracking_uri: str, port: int, host: str = "127.0.0.1",
                   log_path: str | Path | None = None, start_timeout_s: float = 180.0) -> Iterator[str]:
    """`mlflow models serve` of `model_uri` in a child process, for as long as the block runs.

    Yields the base URL once `/ping` answers (polled every half second, at most `start_timeout_s`).

    Raises:
        RuntimeError: the server exited or did not answer in time (the message ends with its log).
    """
    import subprocess
    import sys
    import time
    import urllib.request

    bindir = Path(sys.executable).parent  # mlflow starts uvicorn by name: the interpreter's own
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri,
           "PATH": str(bindir) + os.pathsep + os.environ.get("PATH", "")}
    with contextlib.ExitStack() as stack:
        log_file = Path(log_path) if log_path else Path(stack.enter_context(tempfile.TemporaryDirectory())) / "log"
        log = stack.enter_context(log_file.open("w"))
        server = subprocess.Popen([str(bindir / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager",
                                   "local", "-h", host, "-p", str(port), "--workers", "1"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://{host}:{port}"
        try:
            deadline = time.monotonic() + start_timeout_s
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/ping", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        why = "exited" if server.poll() is not None else f"did not answer in {start_timeout_s:g} s"
                        log.flush()
                        raise RuntimeError(f"the scoring server {why}: {log_file.read_text()[-2000:]}") from None
                    time.sleep(0.5)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
