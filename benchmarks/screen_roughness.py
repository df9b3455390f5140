"""How much the screen's dopant series zig-zag: per series, the total variation of the predicted log10 σ along
the dopant fraction divided by its net change (`sulfml.workflows.screen.roughness`; 1 = monotone).

Usage: PYTHONPATH=src .venv/bin/python benchmarks/screen_roughness.py [--models-dir DIR] [--max-fraction 0.5]
           [--step 0.05] [--output roughness.json]

Each series is one parent, one site and one dopant, charge-balanced through Li as `sulfml screen` does it, at
the fractions step, 2·step, ... max-fraction (the parent itself, x = 0, is left out: once a known material
answers with its measurements, its row is anchored on them and is no longer the model's response). The
parents and dopants are the substitutions the review (Su et al. 2022) discusses. The net change is floored at
0.05 decades, so a flat series that wiggles counts as rough rather than dividing by zero. Prints a Markdown
table, the median and the worst series; `--output` writes the same as JSON, with every point.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

# (parent, state, site, dopant): the review's usual substitutions
SERIES: list[tuple[str, str, str, str]] = [
    ("Li6PS5Cl", "crystalline", "P", "Si"), ("Li6PS5Cl", "crystalline", "P", "Ge"),
    ("Li6PS5Cl", "crystalline", "P", "Sn"), ("Li6PS5Cl", "crystalline", "S", "Cl"),
    ("Li6PS5Cl", "crystalline", "S", "Br"), ("Li6PS5Br", "crystalline", "P", "Si"),
    ("Li6PS5Br", "crystalline", "P", "Ge"), ("Li7P3S11", "glass", "P", "Ge"), ("Li7P3S11", "glass", "P", "Si"),
    ("Li7P3S11", "glass-ceramic", "P", "Ge"), ("Li3PS4", "crystalline", "P", "Ge"),
    ("Li3PS4", "crystalline", "P", "Si"), ("Li3PS4", "crystalline", "P", "Sn"), ("Li3PS4", "glass", "S", "O"),
    ("Li10GeP2S12", "crystalline", "Ge", "Sn"), ("Li10GeP2S12", "crystalline", "Ge", "Si"),
    ("Li10GeP2S12", "crystalline", "P", "Sb"), ("Li4SnS4", "crystalline", "Sn", "Ge"),
    ("Li4SnS4", "crystalline", "Sn", "Si"), ("Li4GeS4", "crystalline", "Ge", "P"),
]


def series_points(predictor, parent: str, state: str, site: str, dopant: str, max_fraction: float,
                  step: float) -> list[dict]:
    """The series' candidates with their fraction, prediction and basis (fraction order)."""
    from sulfml.service.predictor import as_frame
    from sulfml.workflows.screen import Sweep

    sweep = Sweep(parent, {site: [dopant]}, max_fraction, step)
    rows = [(text, subs[0][2]) for text, subs in sweep.enumerate()]
    if not rows:
        return []
    frame = as_frame([t for t, _ in rows], None)
    frame["state"] = state
    out = predictor.run(frame).columns
    basis = out.get("basis") or ["model"] * len(rows)
    return [{"formula": t, "fraction": x, "log10_sigma": float(out["log10_sigma"][i]),
             "lo": float(out["log10_sigma_lo"][i]), "hi": float(out["log10_sigma_hi"][i]),
             "basis": basis[i] or "model", "error": out["error"][i] or None}
            for i, (t, x) in enumerate(rows)]


def measure(predictor, max_fraction: float = 0.5, step: float = 0.05,
            series: list[tuple[str, str, str, str]] | None = None) -> dict:
    """Roughness of every series, with the median and the worst."""
    from sulfml.workflows.screen import roughness

    results = []
    for parent, state, site, dopant in series or SERIES:
        points = [p for p in series_points(predictor, parent, state, site, dopant, max_fraction, step)
                  if not p["error"]]
        xs, ys = [p["fraction"] for p in points], [p["log10_sigma"] for p in points]
        tv = sum(abs(b - a) for a, b in zip(ys, ys[1:], strict=False))
        results.append({"parent": parent, "state": state, "substitution": f"{site}={dopant}",
                        "points": points, "n": len(points), "total_variation": tv,
                        "net_change": ys[-1] - ys[0] if ys else float("nan"),
                        "reversals": sum(1 for a, b, c in zip(ys, ys[1:], ys[2:], strict=False)
                                         if (b - a) * (c - b) < 0),
                        "measured_points": sum(1 for p in points if "measured" in p["basis"]),
                        "roughness": roughness(xs, ys)})
    rough = [r["roughness"] for r in results if r["roughness"] == r["roughness"]]
    worst = max(results, key=lambda r: r["roughness"] if r["roughness"] == r["roughness"] else -1)
    return {"source": predictor.source, "max_fraction": max_fraction, "step": step, "series": results,
            "median_roughness": statistics.median(rough) if rough else float("nan"),
            "mean_roughness": statistics.fmean(rough) if rough else float("nan"),
            "worst": {"series": f"{worst['parent']} ({worst['state']}) {worst['substitution']}",
                      "roughness": worst["roughness"]}}


def report(result: dict) -> None:
    """The Markdown table and the summary line."""
    print(f"models: {result['source']}; fractions {result['step']:g} to {result['max_fraction']:g}\n")
    print("| parent | state | substitution | points | log10 σ first → last | total variation | net change | "
          "reversals | roughness |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in result["series"]:
        ys = [p["log10_sigma"] for p in r["points"]]
        span = f"{ys[0]:.2f} → {ys[-1]:.2f}" if ys else "–"
        known = f" ({r['measured_points']} measured)" if r["measured_points"] else ""
        print(f"| {r['parent']} | {r['state']} | {r['substitution']} | {r['n']}{known} | {span} | "
              f"{r['total_variation']:.2f} | {r['net_change']:+.2f} | {r['reversals']} | {r['roughness']:.2f} |")
    print(f"\nmedian roughness {result['median_roughness']:.2f}, mean {result['mean_roughness']:.2f}, worst "
          f"{result['worst']['roughness']:.2f} ({result['worst']['series']}) over {len(result['series'])} series")


def main(argv: list[str] | None = None) -> int:
    head, _, rest = __doc__.partition("\n\n")
    ap = argparse.ArgumentParser(description=" ".join(head.split()),
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=rest)
    ap.add_argument("--models-dir", help="the bundle to measure (default: the shipped champion)")
    ap.add_argument("--max-fraction", type=float, default=0.5, help="largest dopant fraction of the site (0.5)")
    ap.add_argument("--step", type=float, default=0.05, help="fraction step (0.05)")
    ap.add_argument("--output", help="write the results, with every point, as JSON")
    args = ap.parse_args(argv)
    from sulfml.service.predictor import Predictor

    predictor = Predictor.from_dir(args.models_dir) if args.models_dir else Predictor.default()
    result = measure(predictor, args.max_fraction, args.step)
    report(result)
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
