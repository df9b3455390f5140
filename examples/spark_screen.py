"""Score a screen's candidates with the registered champion on Spark, rank them, write the ranking as Parquet.

    sulfml screen Li6PS5Cl --substitute P=Si,Ge,Sn --substitute S=Cl,Br --step 0.01 \\
        --enumerate-only --output candidates.parquet
    MLFLOW_TRACKING_URI=sqlite:///mlflow.db python examples/spark_screen.py candidates.parquet ranked.parquet

The model is `mlflow.pyfunc.spark_udf` of a registry URI (default `models:/sulfml@champion`), so every row
gets exactly what `sulfml predict` answers (errors included, in the `error` column). Needs `sulfml[spark]`
and Java 17+ (scripts/install-java.sh).

Scaling: Spark gives each task one partition of the candidates, and each executor's Python worker loads the
model once and predicts Arrow batches of `spark.sql.execution.arrow.maxRecordsPerBatch` rows (10,000 by
default). Throughput grows with the cores: `--master local[N]` on one machine, or a cluster master
(`spark://host:7077`, `yarn`, `k8s://...`) whose executors run a Python with `sulfml` installed and can
reach the tracking server (use a shared registry, not a local sqlite file). Keep several partitions per
core (`--partitions`, default 4 x the default parallelism) so that slow partitions do not leave cores idle;
the input may live on HDFS/S3 and the output is a directory of Parquet part files, written in parallel.
"""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_URI = "models:/sulfml@champion"


def rank_candidates(spark, source: str, output: str, model_uri: str = DEFAULT_URI, by: str = "log10_sigma",
                    partitions: int | None = None) -> int:
    """Score `source` (Parquet with a `formula` column) with the model's spark_udf and write the rows that
    predicted to `output`, best first by `by` (log10_sigma or log10_sigma_hi).

    Returns:
        The number of rows written (failed rows are left out).
    """
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    from sulfml.service.serving import spark_result_type

    udf = mlflow.pyfunc.spark_udf(spark, model_uri, result_type=spark_result_type(), env_manager="local")
    frame = spark.read.parquet(source)
    frame = frame.repartition(partitions or 4 * spark.sparkContext.defaultParallelism)
    extra = [c for c in frame.columns if c != "formula"]  # e.g. parent and substitution from `sulfml screen`
    scored = frame.withColumn("p", udf(F.col("formula"))).select(*extra, "p.*")
    ok = F.col("error").isNull() | (F.col("error") == "")
    # Persisted (memory, spilling to disk): the global sort first samples its input to range-partition it,
    # which would otherwise score every candidate twice.
    scored = scored.where(ok).persist()
    # part-00000 holds the best rows: the part files, in name order, are the ranking.
    scored.orderBy(F.col(by).desc(), "input").write.mode("overwrite").parquet(output)
    scored.unpersist()
    return spark.read.parquet(output).count()  # from the Parquet footers, not another scoring pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="candidates (Parquet, a formula column), e.g. from sulfml screen --enumerate-only")
    parser.add_argument("output", help="ranked predictions: a directory of Parquet part files")
    parser.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    parser.add_argument("--model-uri", default=DEFAULT_URI, help=f"MLflow model URI (default {DEFAULT_URI}; "
                                                                 "the registry is $MLFLOW_TRACKING_URI)")
    parser.add_argument("--rank", choices=["log10_sigma", "log10_sigma_hi"], default="log10_sigma",
                        help="rank by the prediction or by the upper end of its interval")
    parser.add_argument("--partitions", type=int, default=None, help="input partitions (default 4 x cores)")
    args = parser.parse_args(argv)

    from pyspark.sql import SparkSession

    # Local workers must run this interpreter (the one that has sulfml); cluster executors bring their own.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = SparkSession.builder.master(args.master).appName("sulfml-screen").getOrCreate()
    try:
        n = rank_candidates(spark, args.input, args.output, args.model_uri, args.rank, args.partitions)
    finally:
        spark.stop()
    print(f"wrote {n} ranked candidates to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
