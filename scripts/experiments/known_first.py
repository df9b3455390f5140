"""Measure the known-first rule (`sulfml.service.known`) on a bundle's own training materials.

Prints the inter-paper spread τ of log10 σ and of Ea (and the materials it was measured on), then checks the
rule's interval by leaving one paper out: for every material with two or more uncensored papers, each paper
in turn is held out, the rule combines the other papers with the model's own answer for the material, and
the held-out paper is scored against the interval (90 % nominal). The model has seen the material in
training (its kNN features are out of fold), so this checks the rule's spread, not the model.

Usage: .venv/bin/python scripts/experiments/known_first.py [--models-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from sulfml.service.known import anchor, known_materials, paper_values
from sulfml.service.predictor import Predictor


def leave_one_paper_out(predictor: Predictor, target: str) -> dict[str, float]:
    """Coverage and median width of the rule's interval for held-out papers of `target`."""
    known = known_materials(predictor.bundle)
    labels = predictor.bundle.models["log10_sigma"].domain.labels
    column = "evidence" if target == "log10_sigma" else "ea_evidence"
    rows = [j for j, e in enumerate(labels[column]) if len(paper_values(e)) >= 2
            and not (target == "log10_sigma" and labels["censored"][j])]
    frame = pd.DataFrame({"formula": [labels["formula"][j] for j in rows],
                          "state": [labels["state"][j] for j in rows]})
    model = predictor.predict(frame, known_first=False)
    value = model[target].to_numpy(float)
    lo, hi = (model["log10_sigma_lo"], model["log10_sigma_hi"]) if target == "log10_sigma" else \
        (model["ea_lo"], model["ea_hi"])
    halfwidth = (hi.to_numpy(float) - lo.to_numpy(float)) / 2
    calibration = predictor.bundle.models[target].calibration
    inside, widths = [], []
    for r, j in enumerate(rows):
        papers = paper_values(labels[column][j])
        for i in range(len(papers)):
            rest = np.delete(papers, i)
            a = anchor(value[r:r + 1], halfwidth[r:r + 1], [rest], np.array([False]), known.spread[target],
                       calibration.confidence)
            inside.append(a.lo[0] <= papers[i] <= a.hi[0])
            widths.append(a.hi[0] - a.lo[0])
    return {"materials": len(rows), "held_out_papers": len(inside), "coverage": float(np.mean(inside)),
            "median_width": float(np.median(widths)), "nominal": calibration.confidence}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default=None, help="a bundle directory (default: the shipped one)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    predictor = Predictor.from_dir(args.models_dir)
    known = known_materials(predictor.bundle)
    result = {t: {"spread": known.spread[t].tau, "spread_materials": known.spread[t].n_materials,
                  "next_paper_quantile": known.spread[t].next_paper(predictor.bundle.models[t].calibration.confidence)}
              | leave_one_paper_out(predictor, t) for t in ("log10_sigma", "ea_eV")}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("| target | τ (inter-paper spread) | q (next paper) | materials (≥ 2 papers) | held-out papers | coverage "
          "| median width |")
    print("|---|---|---|---|---|---|---|")
    for t, r in result.items():
        print(f"| {t} | {r['spread']:.3f} | {r['next_paper_quantile']:.3f} | {r['materials']} | {r['held_out_papers']} | "
              f"{r['coverage']:.1%} (nominal {r['nominal']:.0%}) | {r['median_width']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
