"""Time of the CIF structure descriptors (`sulfml.featurize.cif`) on every OBELiX CIF: cold (an empty cache)
with N worker processes, then again from the cache; per-CIF times, successes and failures with their
reasons, and how much the BVSE barriers move with the grid on a sample of CIFs.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/cif_features.py [--data-dir DIR] [--n-jobs 2] [--limit N]
                                                                   [--resolution-sample 12] [--single]
                                                                   [--output cif_features.json]
(--data-dir: the folder holding obelix/all_cifs.tar.gz, default $SULFML_DATA_DIR; --limit: the first N CIFs
only; --resolution-sample 0 skips the grid study; --single also times the slowest CIF in a fresh process,
imports included.)

The CIFs are unpacked into a temporary folder and featurized with `cif_descriptors_many` (all kernels) into an
empty temporary cache, then read again from that cache in this process. A CIF's time is what its worker spent
on it (`timings["total"]`: reading, parsing and every kernel; each worker imports bvlain and the matcher
before its first CIF). The grid study computes BVSE E_3D of CIFs spread over the grid sizes at 0.2 Å, 0.3 Å
and the resolution `bvse_resolution` picks, and reports the differences.
Targets: all CIFs <= 10 min cold, <= 30 s from the cache, any one CIF <= 5 s. Exit status 0 when all are met,
1 otherwise. The load average is printed and saved: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLD_TARGET_S, CACHE_TARGET_S, ONE_CIF_TARGET_S = 600.0, 30.0, 5.0


def unpack(tarball: Path, dest: Path) -> list[Path]:
    """The CIFs of the tarball, flattened into `dest` (file name = OBELiX ID), sorted by name."""
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".cif"):
                member.name = Path(member.name).name
                tar.extract(member, dest, filter="data")
    return sorted(dest.glob("*.cif"))


def quantiles(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    if not xs:
        return {}
    p90 = xs[min(len(xs) - 1, math.ceil(0.9 * len(xs)) - 1)]
    return {"median": statistics.median(xs), "mean": statistics.fmean(xs), "p90": p90, "max": xs[-1]}


def reason_kind(note: str) -> str:
    """A note without its numbers, to count failures by kind."""
    return note.split(" (")[0]


def same_values(a: dict[str, float], b: dict[str, float]) -> bool:
    return all((math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a)


def grid_study(paths: list[Path], n: int) -> dict:
    """BVSE E_3D at 0.2 Å, 0.3 Å and the chosen resolution for `n` CIFs spread over the grid sizes."""
    from sulfml.featurize import cif

    sized = []
    for p in paths:
        try:
            s = cif.read_cif(p)
        except ValueError:
            continue
        sized.append((cif.bvse_grid_points(s.lattice.abc, 0.2), p, s))
    sized.sort(key=lambda t: t[0])
    picks = [sized[round(i * (len(sized) - 1) / max(n - 1, 1))] for i in range(n)] if sized else []
    rows = []
    for _, p, s in dict((str(t[1]), t) for t in picks).values():
        fw = cif.framework(s)
        chosen = cif.bvse_resolution(s.lattice.abc)
        row = {"cif": p.stem, "formula": s.composition.reduced_formula, "chosen_A": chosen}
        for label, r in (("0.2", 0.2), ("0.3", 0.3), ("chosen", chosen)):
            t0 = time.perf_counter()
            try:
                e3d = cif.bvse_values(cif.bvse_barriers(fw, r))["bvse_E3D_eV"]
            except Exception as exc:  # hydrides/phosphides: no parameters
                row["error"] = f"{type(exc).__name__}: {exc}"
                break
            row[f"E3D_{label}"] = e3d
            row[f"s_{label}"] = time.perf_counter() - t0
            row[f"grid_{label}"] = cif.bvse_grid_points(s.lattice.abc, r)
        rows.append(row)
        print(f"  {row}", flush=True)

    def diffs(a: str) -> list[float]:
        return [abs(r[f"E3D_{a}"] - r["E3D_0.2"]) for r in rows
                if math.isfinite(r.get(f"E3D_{a}", math.nan)) and math.isfinite(r.get("E3D_0.2", math.nan))]

    return {"rows": rows, "abs_diff_vs_0.2_of_0.3": quantiles(diffs("0.3")),
            "abs_diff_vs_0.2_of_chosen": quantiles(diffs("chosen"))}


def single_fresh_process(path: Path) -> float:
    """Wall time of one CIF, all kernels, no cache, in a fresh Python (imports included)."""
    code = ("import sys; from sulfml.featurize.cif import cif_descriptors; "
            "cif_descriptors(sys.argv[1], use_cache=False)")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(path)], env=env, check=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("SULFML_DATA_DIR"),
                        help="folder holding obelix/all_cifs.tar.gz (default $SULFML_DATA_DIR)")
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N CIFs")
    parser.add_argument("--resolution-sample", type=int, default=12, help="CIFs in the grid study (0: skip)")
    parser.add_argument("--single", action="store_true", help="also time the slowest CIF in a fresh process")
    parser.add_argument("--output", default="cif_features.json", help="JSON file of the results")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("no --data-dir and no $SULFML_DATA_DIR")
    tarball = Path(args.data_dir) / "obelix" / "all_cifs.tar.gz"

    from sulfml.cpus import resolve_n_jobs
    from sulfml.featurize import cif

    load_start = os.getloadavg()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in load_start)} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="sulfml-cif-bench-") as tmp:
        paths = unpack(tarball, Path(tmp) / "cifs")[: args.limit]
        cache = Path(tmp) / "cache"
        workers = resolve_n_jobs(args.n_jobs)
        print(f"{len(paths)} CIFs, {workers} workers, cache {cache} (empty)")

        t0 = time.perf_counter()
        cold = cif.cif_descriptors_many(paths, n_jobs=workers, cache_dir=cache, randomized=True)
        cold_s = time.perf_counter() - t0
        print(f"cold: {cold_s:.1f} s")

        cif.clear_memory_cache()
        t0 = time.perf_counter()
        warm = cif.cif_descriptors_many(paths, n_jobs=workers, cache_dir=cache, randomized=True)
        cached_s = time.perf_counter() - t0
        print(f"from the cache: {cached_s:.2f} s")
        identical = all(same_values(a.values, b.values) for a, b in zip(cold, warm, strict=True))
        all_cached = all(d.from_cache for d in warm if d.sha256)

        per_cif = {Path(d.path).stem: d.timings.get("total", math.nan) for d in cold}
        kernels = {k: quantiles([d.timings[k] for d in cold if k in d.timings]) for k in cif.KERNELS}
        slowest = sorted(per_cif.items(), key=lambda kv: -kv[1])[:10]
        bvse_ok = [d for d in cold if math.isfinite(d.values["bvse_E3D_eV"])]
        bvse_any = [d for d in cold if math.isfinite(d.values["bvse_E1D_eV"])]
        unreadable = [d for d in cold if not d.sha256 or any(n.startswith("unreadable") for n in d.notes)]
        reasons = Counter(reason_kind(n) for d in cold for n in d.notes)
        resolutions = Counter(d.bvse_resolution_A for d in cold if math.isfinite(d.bvse_resolution_A))
        matches = Counter(next((name for name in cif.ANION_LATTICES if d.values[f"anion_{name}"] == 1), "none")
                          for d in cold if math.isfinite(d.values["anion_bcc"]))

        study = grid_study(paths, args.resolution_sample) if args.resolution_sample > 0 else {}
        single = {}
        if args.single and slowest:
            name = slowest[0][0]
            single = {"cif": name, "seconds": single_fresh_process(Path(tmp) / "cifs" / f"{name}.cif")}
            print(f"slowest CIF {name} in a fresh process, imports included: {single['seconds']:.1f} s")

    times = [t for t in per_cif.values() if math.isfinite(t)]
    q = quantiles(times)
    results = {
        "n_cifs": len(paths), "workers": workers, "cpus": os.cpu_count(),
        "load_average_start": load_start, "load_average_end": os.getloadavg(),
        "bvse_resolution_A": cif.BVSE_RESOLUTION_A, "bvse_max_grid_points": cif.BVSE_MAX_GRID_POINTS,
        "cold_s": cold_s, "cached_s": cached_s, "cache_identical": identical, "all_from_cache": all_cached,
        "per_cif_s": q, "per_kernel_s": kernels, "slowest": slowest,
        "bvse_3d_barrier": len(bvse_ok), "bvse_some_barrier": len(bvse_any), "unreadable": len(unreadable),
        "notes_by_kind": dict(reasons.most_common()), "bvse_resolutions_A": {str(k): v for k, v in sorted(
            resolutions.items())}, "anion_lattices": dict(matches), "grid_study": study, "single": single,
        "per_cif": per_cif,
    }
    print(f"\nper CIF (s): median {q['median']:.2f}, p90 {q['p90']:.2f}, max {q['max']:.2f}, mean {q['mean']:.2f}")
    for k, v in kernels.items():
        if v:
            print(f"  {k:<10} median {v['median']:.2f} s, p90 {v['p90']:.2f} s, max {v['max']:.2f} s")
    print(f"slowest: {', '.join(f'{n} {t:.1f} s' for n, t in slowest[:5])}")
    print(f"BVSE: finite E_3D for {len(bvse_ok)} of {len(cold)}, some barrier for {len(bvse_any)}; "
          f"unreadable {len(unreadable)}")
    print(f"grid spacings used: {dict(sorted(resolutions.items()))}")
    print(f"anion lattices: {dict(matches)}")
    print("notes by kind:")
    for kind, n in reasons.most_common():
        print(f"  {n:4d}  {kind}")
    if study:
        print(f"grid study |E_3D - E_3D(0.2 Å)| (eV): 0.3 Å {study['abs_diff_vs_0.2_of_0.3']}, "
              f"chosen {study['abs_diff_vs_0.2_of_chosen']}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    targets = [
        (f"all {len(paths)} cold <= {COLD_TARGET_S:.0f} s ({cold_s:.1f} s)", cold_s <= COLD_TARGET_S),
        (f"all from the cache <= {CACHE_TARGET_S:.0f} s ({cached_s:.2f} s), identical values ({identical})",
         cached_s <= CACHE_TARGET_S and identical and all_cached),
        (f"any one CIF <= {ONE_CIF_TARGET_S:.0f} s (max {q['max']:.2f} s)", q["max"] <= ONE_CIF_TARGET_S),
    ]
    for text, ok in targets:
        print(f"  [{'met' if ok else 'NOT met'}] {text}")
    Path(args.output).write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
