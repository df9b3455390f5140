"""End-to-end speed of `sulfml predict --input` on N distinct formulas, against matminer's magpie featurization
of the same formulas, with peak memory (N and 2N rows) and the cold start of `sulfml predict Li6PS5Cl`.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/predict_speed.py [--n 100000] [--matminer-n 2000] [--reps 5]
                                                                    [--models-dir DIR]
(--models-dir: another bundle than the shipped champion, e.g. one written by benchmarks/bag_bundle.py)

Everything is measured in the same run, so the targets (relative to matminer and to importing MLflow and
matminer) hold whatever else the machine is doing; the load average is printed next to the numbers.
Targets: end to end >= 100x matminer's magpie ElementProperty alone; peak RSS < 1 GiB for N rows and not
growing with file size; cold start <= 0.5x `python -c "import mlflow, matminer.featurizers.composition"`.
Exit status 0 when all three are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GIB = 1 << 30


def formulas(n: int) -> list[str]:
    """N distinct deterministic screening-style formulas (the generator of featurize_speed.py)."""
    spec = importlib.util.spec_from_file_location("featurize_speed", HERE / "featurize_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.formulas(n)


def write_csv(path: Path, texts: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["formula"])
        w.writerows([t] for t in texts)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(HERE.parent / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_child(cmd: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak RSS (bytes) of a child process."""
    # stderr goes to a file: a pipe read only after the child ends would block a child that writes a lot
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=child_env(), stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        if os.WEXITSTATUS(status) not in (0, 1):
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed:\n{err.read().decode(errors='replace')}")
    return elapsed, usage.ru_maxrss * 1024


def matminer_rate(texts: list[str]) -> float:
    """Rows/s of matminer's magpie ElementProperty alone (compositions built beforehand, not timed)."""
    import warnings

    from matminer.featurizers.composition import ElementProperty
    from pymatgen.core import Composition

    from sulfml.parse.formula import parse_formula

    comps = [Composition(parse_formula(t).composition) for t in texts]
    ep = ElementProperty.from_preset("magpie", impute_nan=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        for c in comps:
            ep.featurize(c)
        return len(comps) / (time.perf_counter() - t0)


# Where the time goes: the predict path's stages, by the function that does each (cumulative time).
STAGES = {
    "read the input file": ("files.py", "read_chunks"),
    "parse formulas": ("bulk.py", "read_many"),
    "featurize": ("assemble.py", "preset_features"),
    "kNN target features (both models)": ("knn_features.py", "neighbour_array"),
    "XGBoost trees (both models)": ("native.py", "predict"),
    "neural member, NumPy (a bundle with one)": ("blend.py", "network_predict"),
    "domain distances (both models)": ("domain.py", "distance_array"),
    "known first: material keys": ("pipeline.py", "_material_keys"),
    "known first: anchoring": ("pipeline.py", "_known_first"),
    "write the CSV": ("output.py", "write_csv"),
}


def where_the_time_goes(path: Path, out: Path, bundle: list[str]) -> tuple[float, dict[str, float]]:
    """`sulfml predict --input path` in this process under cProfile: total seconds and seconds per stage.

    cProfile sees one thread only, so the two targets run one after the other here (no parallel threads).
    """
    import cProfile
    import pstats

    import sulfml.service.pipeline
    from sulfml.cli import main as cli

    parallel_from, sulfml.service.pipeline.PARALLEL_FROM = sulfml.service.pipeline.PARALLEL_FROM, float("inf")
    profile = cProfile.Profile()
    t0 = time.perf_counter()
    try:
        profile.runcall(cli, ["predict", *bundle, "--input", str(path), "--output", str(out)])
    finally:
        sulfml.service.pipeline.PARALLEL_FROM = parallel_from
    total = time.perf_counter() - t0
    stats = pstats.Stats(profile).stats
    found = {}
    for stage, (file, func) in STAGES.items():
        found[stage] = sum(v[3] for (f, _, name), v in stats.items() if f.endswith(file) and name == func)
    return total, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="distinct formulas (default 100000)")
    parser.add_argument("--matminer-n", type=int, default=2000, help="rows matminer featurizes (default 2000)")
    parser.add_argument("--reps", type=int, default=5, help="cold-start repetitions (default 5)")
    parser.add_argument("--models-dir", help="bundle to predict with (default: the shipped champion)")
    args = parser.parse_args(argv)
    bundle = ["--models-dir", args.models_dir] if args.models_dir else []
    py = sys.executable
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    texts = formulas(2 * args.n)
    assert len(set(texts)) == 2 * args.n
    with tempfile.TemporaryDirectory(prefix="sulfml-predict-speed-") as tmp:
        small, big = Path(tmp) / "formulas.csv", Path(tmp) / "formulas2x.csv"
        write_csv(small, texts[: args.n])
        write_csv(big, texts)
        step = max(1, args.n // args.matminer_n)
        mm = matminer_rate(texts[: args.n: step][: args.matminer_n])
        print(f"(a) matminer magpie ElementProperty alone: {mm:,.0f} rows/s (on {args.matminer_n} of the rows)")
        cmd = [py, "-m", "sulfml", "predict", *bundle, "--input"]
        t1, rss1 = run_child([*cmd, str(small), "--output", str(Path(tmp) / "out.csv")])
        rows = sum(1 for _ in open(Path(tmp) / "out.csv", encoding="utf-8")) - 1
        assert rows == args.n, f"{rows} output rows for {args.n} inputs"
        rate = args.n / t1
        print(f"(b) sulfml predict --input ({args.n:,} rows, end to end incl. start-up and writing): {t1:.2f} s, "
              f"{rate:,.0f} rows/s, {rate / mm:,.0f}x matminer; peak RSS {rss1 / 2**20:,.0f} MiB")
        t2, rss2 = run_child([*cmd, str(big), "--output", str(Path(tmp) / "out2.csv")])
        print(f"    {2 * args.n:,} rows: {t2:.2f} s, {2 * args.n / t2:,.0f} rows/s; peak RSS {rss2 / 2**20:,.0f} MiB")
        total, found = where_the_time_goes(small, Path(tmp) / "out-profiled.csv", bundle)
        print(f"    where the time goes (one more run, in this process, under cProfile, targets one after the "
              f"other: {total:.2f} s):")
        for stage, seconds in found.items():
            print(f"      {stage:<36} {seconds:6.2f} s  {seconds / total:5.1%}")
        print(f"      {'the rest (start-up excluded)':<36} {total - sum(found.values()):6.2f} s")
        cold = [run_child([py, "-m", "sulfml", "predict", *bundle, "Li6PS5Cl", "--format", "csv"])[0]
                for _ in range(args.reps)]
        imp = [run_child([py, "-c", "import mlflow, matminer.featurizers.composition"])[0] for _ in range(args.reps)]
        c, i = statistics.median(cold), statistics.median(imp)
        print(f"(c) cold start `sulfml predict Li6PS5Cl`: median {c:.2f} s; `import mlflow, matminer...`: median "
              f"{i:.2f} s; ratio {c / i:.2f} ({args.reps} repetitions each)")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    targets = [
        (f">= 100x matminer end to end ({rate / mm:,.0f}x, {rate:,.0f} rows/s)", rate >= 100 * mm),
        (f"peak RSS < 1 GiB for {args.n:,} rows ({rss1 / 2**20:,.0f} MiB) and not growing with the file "
         f"({rss2 / 2**20:,.0f} MiB for 2x)", rss1 < GIB and rss2 < 1.25 * rss1),
        (f"cold start <= 0.5x the MLflow + matminer import (ratio {c / i:.2f})", c <= 0.5 * i),
    ]
    for text, ok in targets:
        print(f"  [{'met' if ok else 'NOT met'}] {text}")
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
