"""Rows per second of the champion through Spark (`mlflow.pyfunc.spark_udf`, `local[2]`) against `sulfml predict
--input` (a subprocess) on the same Parquet file of N distinct formulas, measured in the same run.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/spark_throughput.py [--n 100000] [--master local[2]]
       [--output spark_throughput.json]

A temporary MLflow store gets the shipped bundle as the pyfunc `models:/sulfml@champion`; both sides write
Parquet. Spark's rate counts the scoring and writing job only; its session start and model load are
reported apart (a cluster pays them once per job, not per row). Exit status 1 when the two outputs differ
(log10_sigma by more than 1e-9 for any row). Needs `sulfml[spark]` and Java 17+.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def formulas(n: int) -> list[str]:
    """N distinct deterministic screening-style formulas (the generator of featurize_speed.py)."""
    spec = importlib.util.spec_from_file_location("featurize_speed", HERE / "featurize_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.formulas(n)


def child_env(tracking_uri: str) -> dict[str, str]:
    env = dict(os.environ, MLFLOW_TRACKING_URI=tracking_uri)
    src = str(HERE.parent / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # Spark's local Python workers run this interpreter, which can import sulfml (via PYTHONPATH above)
    env["PYSPARK_PYTHON"] = sys.executable
    return env


def champion_store(root: Path) -> str:
    """A sqlite store under `root` whose `sulfml@champion` is the shipped bundle as the pyfunc model."""
    from sulfml.service.serving import publish_bundle
    from sulfml.tracking.bundle import shipped_bundle_dir

    uri = f"sqlite:///{root / 'mlflow.db'}"
    publish_bundle(shipped_bundle_dir(), uri)
    return uri


def cli_seconds(source: Path, out: Path, env: dict[str, str]) -> float:
    """Wall time of `sulfml predict --input SOURCE --output OUT.parquet` (exit 0 or 1: some rows may fail)."""
    cmd = [sys.executable, "-m", "sulfml", "predict", "--input", str(source), "--keep", "id", "--output", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return elapsed


def spark_seconds(source: Path, out: Path, master: str, partitions: int | None) -> dict[str, float]:
    """Session start, spark_udf creation (model download) and the scoring job (read, score, write Parquet)."""
    import mlflow.pyfunc
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from sulfml.service.serving import spark_result_type

    t0 = time.perf_counter()
    spark = (SparkSession.builder.master(master).appName("sulfml-throughput")
             .config("spark.ui.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        t1 = time.perf_counter()
        udf = mlflow.pyfunc.spark_udf(spark, "models:/sulfml@champion", result_type=spark_result_type(),
                                      env_manager="local")
        t2 = time.perf_counter()
        # A single small file is one partition: split it so that every core gets work (2 per core).
        frame = spark.read.parquet(str(source)).repartition(partitions or 2 * spark.sparkContext.defaultParallelism)
        frame.withColumn("p", udf(F.col("formula"))).select("id", "p.*").write.mode("overwrite").parquet(str(out))
        t3 = time.perf_counter()
    finally:
        spark.stop()
    return {"session_start_s": t1 - t0, "udf_setup_s": t2 - t1, "score_s": t3 - t2}


def agreement(cli_out: Path, spark_out: Path) -> float:
    """Largest |log10_sigma| difference between the two outputs, matched by row id."""
    import numpy as np
    import pandas as pd

    a = pd.read_parquet(cli_out, columns=["input_id", "log10_sigma"])
    a = a.assign(id=a["input_id"].astype("int64")).set_index("id")["log10_sigma"]
    b = pd.read_parquet(spark_out, columns=["id", "log10_sigma"]).set_index("id")["log10_sigma"]
    if len(a) != len(b):
        raise SystemExit(f"row counts differ: sulfml predict {len(a)}, Spark {len(b)}")
    diff = np.abs(a.sort_index().to_numpy(float) - b.sort_index().to_numpy(float))
    return float(np.nanmax(diff, initial=0.0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100000, help="formulas (default 100000)")
    parser.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    parser.add_argument("--partitions", type=int, default=None, help="Spark input partitions (default 2 x cores)")
    parser.add_argument("--output", default="spark_throughput.json", help="JSON file of the results")
    args = parser.parse_args()

    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="sulfml-spark-bench-") as tmp:
        root = Path(tmp)
        uri = champion_store(root)
        env = child_env(uri)
        os.environ.update(PYSPARK_PYTHON=env["PYSPARK_PYTHON"], PYTHONPATH=env["PYTHONPATH"])
        source = root / "formulas.parquet"
        pd.DataFrame({"id": range(args.n), "formula": formulas(args.n)}).to_parquet(source, index=False)
        cli_s = cli_seconds(source, root / "cli.parquet", env)
        spark = spark_seconds(source, root / "spark.parquet", args.master, args.partitions)
        max_diff = agreement(root / "cli.parquet", root / "spark.parquet")
    results = {
        "n": args.n, "master": args.master, "cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0],
        "cli_s": cli_s, "cli_rows_per_s": args.n / cli_s,
        **spark, "spark_rows_per_s": args.n / spark["score_s"],
        "spark_rows_per_s_with_startup": args.n / sum(spark.values()),
        "max_abs_diff_log10_sigma": max_diff,
    }
    print(f"| path ({args.n} rows) | seconds | rows/s |\n|---|---:|---:|")
    print(f"| `sulfml predict --input` (subprocess, end to end) | {cli_s:.1f} | {results['cli_rows_per_s']:,.0f} |")
    print(f"| Spark `{args.master}` spark_udf (score + write) | {spark['score_s']:.1f} | "
          f"{results['spark_rows_per_s']:,.0f} |")
    print(f"| Spark incl. session start {spark['session_start_s']:.1f} s and udf setup {spark['udf_setup_s']:.1f} s "
          f"| {sum(spark.values()):.1f} | {results['spark_rows_per_s_with_startup']:,.0f} |")
    print(f"\nmax |log10_sigma| difference: {max_diff:.3g}; load average {results['load_average_1m']:.2f}")
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if max_diff <= 1e-9 else 1  # the two paths must answer the same numbers


if __name__ == "__main__":
    raise SystemExit(main())
