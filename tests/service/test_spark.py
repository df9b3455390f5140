"""The champion scored on a local Spark session through `mlflow.pyfunc.spark_udf` of `models:/sulfml@champion`
answers, row for row and in order, what `sulfml predict --input FILE.parquet` writes."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pandas as pd
import pytest

from sulfml.cli import main
from sulfml.service.serving import OUTPUT_TYPES, PYFUNC_NAME, publish_bundle, spark_result_type
from sulfml.tracking.bundle import shipped_bundle_dir
from sulfml.workflows.screen import Sweep

NUMBERS = [c for c, t in OUTPUT_TYPES.items() if t == "double"]
BAD = ["bad(", "", "Xx2", "NaCl", "Li2S-", "Li(", "   ", "LiQ3", "H2O", "Li-1S"]


def _pyspark():
    """pyspark, or a skip on a machine without it; CI installs the `spark` extra, so there it must import."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("pyspark is not installed (pip install 'sulfml[spark]')")
    from pyspark.sql import SparkSession

    return SparkSession


@pytest.fixture(scope="module")
def spark():
    """A local two-core session bound to the loopback interface, stopped at the end of the module."""
    session_cls = _pyspark()
    # The Python workers must run this interpreter, which imports sulfml and mlflow (else: `python3` on PATH).
    mp = pytest.MonkeyPatch()
    mp.setenv("PYSPARK_PYTHON", sys.executable)
    session = (session_cls.builder.master("local[2]").appName("sulfml-test")
               .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               # one Arrow batch per partition (see the test: the same rows in one batch as the command's)
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "100000")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    mp.undo()


@pytest.fixture(scope="module")
def champion_store(tmp_path_factory) -> str:
    """A private sqlite store whose `sulfml@champion` is the pyfunc model of the shipped bundle."""
    root = tmp_path_factory.mktemp("spark-store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    publish_bundle(shipped_bundle_dir(), uri)
    return uri


def _formulas() -> list[str]:
    """20,000+ screening candidates with bad formulas spread among them."""
    sweep = Sweep("Li6PS5Cl", {"P": ["Si", "Ge", "Sn", "Sb"], "S": ["Cl", "Br"]}, max_fraction=0.5, step=0.01)
    texts = list(sweep.candidates())
    for k, bad in enumerate(BAD):
        texts.insert(1 + k * (len(texts) // len(BAD)), bad)
    return texts


@pytest.mark.slow
def test_spark_udf_scores_like_sulfml_predict(spark, champion_store, tmp_path, monkeypatch):
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    monkeypatch.setenv("MLFLOW_TRACKING_URI", champion_store)
    mlflow.set_tracking_uri(champion_store)
    texts = _formulas()
    assert len(texts) >= 20000
    source = tmp_path / "candidates.parquet"
    pd.DataFrame({"id": np.arange(len(texts), dtype=np.int64), "formula": texts}).to_parquet(source, index=False)

    udf = mlflow.pyfunc.spark_udf(spark, f"models:/{PYFUNC_NAME}@champion", result_type=spark_result_type(),
                                  env_manager="local")
    # The file goes to the model as one batch, as the command reads it in one chunk: among references at equal
    # distances, the neighbour search still picks by the size of the batch a row comes in (a known defect,
    # fixed with a retrained bundle under the one-material issue), so other batchings can differ in a few
    # rows' kNN features. The session still runs local[2], and the sort is Spark's.
    scored = (spark.read.parquet(str(source)).coalesce(1)
              .withColumn("p", udf(F.col("formula"))).select("id", "p.*").orderBy("id"))
    got = scored.toPandas()

    out = tmp_path / "out.parquet"
    status = main(["predict", "--input", str(source), "--keep", "id", "--models-dir", str(shipped_bundle_dir()),
                   "--chunk-size", "100000", "--output", str(out)])
    assert status == 1  # the bad rows failed, each with its error
    want = pd.read_parquet(out)

    assert len(got) == len(want) == len(texts)
    assert list(got["id"]) == list(range(len(texts)))
    assert [int(i) for i in want["input_id"]] == list(range(len(texts)))
    assert list(got["input"]) == list(want["input"]) == texts
    for c in NUMBERS:
        a, b = got[c].to_numpy(float), want[c].to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), c
        off = np.flatnonzero(np.abs(a - b) > 1e-9)
        assert not len(off), f"{c}: {[(int(i), texts[i], a[i], b[i]) for i in off[:5]]} ({len(off)} rows)"
    for c in ("warning", "error"):
        assert [x or "" for x in got[c]] == [x or "" for x in want[c]], c
    errors = got["error"].fillna("")
    failed = (errors != "").to_numpy()
    # MLflow's spark_udf casts a struct field holding any value with NumPy (`astype(str)`, `astype(bool)`), so
    # the null `formula` and `in_domain` of a failed row arrive as "None" and False; the row's error says it.
    assert set(got.loc[failed, "formula"]) == {"None"} and not got.loc[failed, "in_domain"].any()
    assert want.loc[failed, "formula"].isna().all() and want.loc[failed, "in_domain"].isna().all()
    assert list(got.loc[~failed, "formula"]) == list(want.loc[~failed, "formula"])
    assert [bool(v) for v in got.loc[~failed, "in_domain"]] == [bool(v) for v in want.loc[~failed, "in_domain"]]
    assert [json.loads(g) for g in got["neighbors"]] == [json.loads(w) for w in want["neighbors"]]
    assert failed.sum() == len(BAD) - 3  # NaCl, H2O and Li-1S are read and predicted (out of the domain)
    assert (errors == "").sum() > 20000 * 0.9
