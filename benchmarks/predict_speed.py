"""The speed targets of the predict path, all measured in one run: `sulfml predict --input` on N distinct
formulas end to end against the models' own inference on the same rows and against matminer's magpie
featurization, peak memory (N and 2N rows), the cold start, the web page's request latency and one CIF.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/predict_speed.py [--n 100000] [--matminer-n 2000] [--reps 5]
           [--models-dir DIR] [--web-repeat 30] [--output experiments/results/predict_speed.json]
(--models-dir: another bundle than the shipped champion, e.g. one written by benchmarks/bag_bundle.py)

The machine is shared, so every target is a ratio to something measured in the same run, or an absolute
number printed next to the load average. Targets (issue 27):
- end to end (start-up, reading, writing included) <= 2.5x the models' own inference on the same rows (the
  trees of both targets, plus the network of a bundle with one, on the finished feature matrix);
- end to end >= 20x the rows per second of matminer's magpie `ElementProperty` alone;
- peak RSS <= 400 MiB for N rows, and flat: 2N rows at most 10 % more;
- cold start of `sulfml predict Li6PS5Cl` <= 0.25x `python -c "import mlflow, matminer.featurizers.composition"`;
- the web page's /api/predict with 100 formulas: median <= 120 ms (benchmarks/web_latency.py's measure);
- one CIF, `sulfml predict --cif` in a fresh process with an empty cache (structure features and the BVSE
  check computed), <= 5 s.
`--output` writes everything as JSON; `scripts/docs/speed_section.py` renders the README's Speed section
from it. Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CIF = HERE.parent / "tests" / "fixtures" / "cif" / "li10gep2s12.cif"


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
    "CIF rows: structure and BVSE check": ("pipeline.py", "_read_structures"),
    "parse formulas": ("bulk.py", "read_many"),
    "featurize": ("assemble.py", "preset_features"),
    "kNN target features (both models)": ("knn_features.py", "neighbour_array"),
    "XGBoost trees (both models)": ("native.py", "predict"),
    "neural member, NumPy (a bundle with one)": ("blend.py", "network_predict"),
    "domain distances": ("domain.py", "distance_array"),
    "known first: material keys": ("pipeline.py", "_material_keys"),
    "known first: anchoring": ("pipeline.py", "_known_first"),
    "the output table (columns, neighbour texts)": ("pipeline.py", "frame"),
    "write the CSV": ("output.py", "write_csv"),
}


def where_the_time_goes(path: Path, out: Path, bundle: list[str]) -> tuple[float, dict[str, float]]:
    """`sulfml predict --input path` in this process under cProfile: total seconds and seconds per stage.

    cProfile sees one thread only, so the two targets run one after the other here, and the chunks one after the
    other (no parallel threads).
    """
    import cProfile
    import pstats

    import sulfml.service.pipeline
    from sulfml.cli import main as cli
    from sulfml.service.predictor import Predictor

    def in_turn(self, frames, known_first=True):  # Predictor.stream without its helper thread
        for frame in frames:
            yield frame, self.run(frame, known_first)

    parallel_from, sulfml.service.pipeline.PARALLEL_FROM = sulfml.service.pipeline.PARALLEL_FROM, float("inf")
    stream, Predictor.stream = Predictor.stream, in_turn
    profile = cProfile.Profile()
    t0 = time.perf_counter()
    try:
        profile.runcall(cli, ["predict", *bundle, "--input", str(path), "--output", str(out)])
    finally:
        sulfml.service.pipeline.PARALLEL_FROM = parallel_from
        Predictor.stream = stream
    total = time.perf_counter() - t0
    stats = pstats.Stats(profile).stats
    found = {}
    for stage, (file, func) in STAGES.items():
        found[stage] = sum(v[3] for (f, _, name), v in stats.items() if f.endswith(file) and name == func)
    return total, found


def models_own_inference(texts: list[str], models_dir: str | None, reps: int = 3) -> float:
    """Seconds the shipped models themselves take on the rows of `texts` (best of `reps`): the trees of both
    targets (plus a neural member's forward pass) on their finished input matrices, everything before them
    (parsing, features, the kNN target features) computed beforehand and not timed."""
    from sulfml.service.pipeline import feature_matrix, network_rows
    from sulfml.service.predictor import Predictor

    bundle = Predictor.from_dir(models_dir).bundle
    X, errors = feature_matrix(bundle, texts, [None] * len(texts))
    assert not any(errors), "the benchmark's formulas are all readable"
    inputs = {target: m.booster_input(X) for target, m in bundle.models.items()}
    networks = {target: m for target, m in bundle.models.items() if m.network is not None}
    rows = network_rows(bundle, texts, [None] * len(texts)) if networks else None
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        for target, m in bundle.models.items():
            pred = m._predict_input(inputs[target])
            if target in networks:
                m.blend(pred, *rows)
        best = min(best, time.perf_counter() - t0)
    return best


def cif_cold(cif: Path) -> float:
    """Wall seconds of `sulfml predict --cif` in a fresh process with an empty cache (BVSE computed)."""
    with tempfile.TemporaryDirectory(prefix="sulfml-cif-cache-") as cache:
        env = child_env() | {"SULFML_CACHE_DIR": cache}
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "sulfml", "predict", "--cif", str(cif), "--format", "csv"],
                              env=env, capture_output=True, text=True, timeout=600)
        elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"sulfml predict --cif {cif} failed:\n{done.stderr}")
    return elapsed


def web_latency(repeat: int) -> dict:
    """benchmarks/web_latency.py's 100-formula measure: median and 90th percentile in seconds."""
    from web_latency import measure  # this script's folder is on the path, as for any script

    return measure(repeat, 100)[100]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="distinct formulas (default 100000)")
    parser.add_argument("--matminer-n", type=int, default=2000, help="rows matminer featurizes (default 2000)")
    parser.add_argument("--reps", type=int, default=5, help="cold-start repetitions (default 5)")
    parser.add_argument("--models-dir", help="bundle to predict with (default: the shipped champion)")
    parser.add_argument("--web-repeat", type=int, default=30, help="timed web requests (default 30; 0: skip)")
    parser.add_argument("--output", help="write the results as JSON (for scripts/docs/speed_section.py)")
    parser.add_argument("--models-own", type=int, help=argparse.SUPPRESS)  # the child that times the models
    args = parser.parse_args(argv)
    if args.models_own:
        print(models_own_inference(formulas(2 * args.models_own)[: args.models_own], args.models_dir))
        return 0
    bundle = ["--models-dir", args.models_dir] if args.models_dir else []
    py = sys.executable
    load_start = os.getloadavg()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in load_start)} on {os.cpu_count()} CPUs")
    texts = formulas(2 * args.n)
    assert len(set(texts)) == 2 * args.n
    with tempfile.TemporaryDirectory(prefix="sulfml-predict-speed-") as tmp:
        small, big = Path(tmp) / "formulas.csv", Path(tmp) / "formulas2x.csv"
        write_csv(small, texts[: args.n])
        write_csv(big, texts)
        step = max(1, args.n // args.matminer_n)
        mm = matminer_rate(texts[: args.n: step][: args.matminer_n])
        print(f"(a) matminer magpie ElementProperty alone: {mm:,.0f} rows/s (on {args.matminer_n} of the rows)")
        # in a child: this process must stay small (a child's peak RSS starts from its parent's at the fork)
        # and must not load XGBoost's OpenMP runtime before the profiled run sets its wait policy
        own = float(subprocess.run([py, __file__, "--models-own", str(args.n), *bundle], env=child_env(),
                                   capture_output=True, text=True, check=True, timeout=1800).stdout.split()[-1])
        print(f"    the models' own inference on the {args.n:,} rows (the trees of both targets, and a network where "
              f"the bundle has one): {own:.2f} s")
        cmd = [py, "-m", "sulfml", "predict", *bundle, "--input"]
        t1, rss1 = run_child([*cmd, str(small), "--output", str(Path(tmp) / "out.csv")])
        rows = sum(1 for _ in open(Path(tmp) / "out.csv", encoding="utf-8")) - 1
        assert rows == args.n, f"{rows} output rows for {args.n} inputs"
        rate = args.n / t1
        print(f"(b) sulfml predict --input ({args.n:,} rows, end to end incl. start-up and writing): {t1:.2f} s, "
              f"{rate:,.0f} rows/s, {t1 / own:.1f}x the models' own inference, {rate / mm:,.1f}x matminer; "
              f"peak RSS {rss1 / 2**20:,.0f} MiB")
        t2, rss2 = run_child([*cmd, str(big), "--output", str(Path(tmp) / "out2.csv")])
        print(f"    {2 * args.n:,} rows: {t2:.2f} s, {2 * args.n / t2:,.0f} rows/s; peak RSS {rss2 / 2**20:,.0f} MiB")
        total, found = where_the_time_goes(small, Path(tmp) / "out-profiled.csv", bundle)
        print(f"    where the time goes (one more run, in this process, under cProfile, targets one after the "
              f"other: {total:.2f} s):")
        for stage, seconds in found.items():
            print(f"      {stage:<42} {seconds:6.2f} s  {seconds / total:5.1%}")
        print(f"      {'the rest (start-up excluded)':<42} {total - sum(found.values()):6.2f} s")
        cold = [run_child([py, "-m", "sulfml", "predict", *bundle, "Li6PS5Cl", "--format", "csv"])[0]
                for _ in range(args.reps)]
        imp = [run_child([py, "-c", "import mlflow, matminer.featurizers.composition"])[0] for _ in range(args.reps)]
        c, i = statistics.median(cold), statistics.median(imp)
        print(f"(c) cold start `sulfml predict Li6PS5Cl`: median {c:.2f} s; `import mlflow, matminer...`: median "
              f"{i:.2f} s; ratio {c / i:.2f} ({args.reps} repetitions each)")
    web = web_latency(args.web_repeat) if args.web_repeat and not args.models_dir else None
    if web:
        print(f"(d) web page /api/predict, 100 formulas: median {web['median_s'] * 1000:.0f} ms, 90th percentile "
              f"{web['p90_s'] * 1000:.0f} ms ({web['requests']} requests)")
    cif = cif_cold(CIF)
    print(f"(e) one CIF ({CIF.name}), cold, empty cache: {cif:.2f} s")
    load_end = os.getloadavg()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in load_end)}")
    targets = [
        {"measure": f"{args.n:,} distinct formulas end to end, against the models' own inference",
         "value": f"{t1:.2f} s against {own:.2f} s: {t1 / own:.1f}x", "target": "<= 2.5x", "met": t1 / own <= 2.5},
        {"measure": "the same, against matminer's magpie ElementProperty alone",
         "value": f"{rate:,.0f} against {mm:,.0f} rows/s: {rate / mm:.1f}x", "target": ">= 20x",
         "met": rate >= 20 * mm},
        {"measure": f"peak RSS, {args.n:,} and {2 * args.n:,} rows",
         "value": f"{rss1 / 2**20:,.0f} and {rss2 / 2**20:,.0f} MiB", "target": "<= 400 MiB, flat (2x rows: <= +10 %)",
         "met": rss1 <= 400 * 2**20 and rss2 <= 1.1 * rss1},
        {"measure": "cold `sulfml predict Li6PS5Cl`, against `import mlflow, matminer`",
         "value": f"{c:.2f} s against {i:.2f} s: {c / i:.2f}", "target": "<= 0.25", "met": c / i <= 0.25},
    ]
    if web:
        targets.append({"measure": "web page, 100 formulas, median request",
                        "value": f"{web['median_s'] * 1000:.0f} ms", "target": "<= 120 ms",
                        "met": web["median_s"] <= 0.120})
    targets.append({"measure": "one CIF, structure features and BVSE included (fresh process, empty cache)",
                    "value": f"{cif:.2f} s", "target": "<= 5 s", "met": cif <= 5.0})
    for t in targets:
        print(f"  [{'met' if t['met'] else 'NOT met'}] {t['measure']}: {t['value']} (target {t['target']})")
    if args.output:
        result = {"command": "PYTHONPATH=src .venv/bin/python benchmarks/predict_speed.py"
                             + (f" --n {args.n}" if args.n != 100_000 else "")
                             + (f" --models-dir {args.models_dir}" if args.models_dir else ""),
                  "commit": _commit(), "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                  "load_average": [round(load_start[0], 2), round(load_end[0], 2)], "n": args.n,
                  "matminer_rows_per_s": mm, "models_own_s": own, "end_to_end_s": t1, "end_to_end_2n_s": t2,
                  "peak_rss_mib": [rss1 / 2**20, rss2 / 2**20], "cold_start_s": c, "imports_s": i,
                  "web_100": web, "cif_s": cif, "profiled_s": total, "stages": found, "targets": targets}
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.output}")
    return 0 if all(t["met"] for t in targets) else 1


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


if __name__ == "__main__":
    sys.exit(main())
