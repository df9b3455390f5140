"""Speed targets of the formula parser and the CIF featurizer, moved here from the unit tests (which check
what the parser returns, not how fast): a machine shared with other jobs made those timings flaky.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/parse_speed.py
Targets: 3,008 literature formulas parsed in < 2 s; each pathological 5,000-character input answered in
< 2 s; one CIF featurized (with matminer's one-off structure import) in < 5 s. Exit 1 when one is missed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

LONG_INPUTS = ["Li" * 2500, "Li6PS5Cl-" * 550, "(" * 2500 + ")" * 2500, "1" * 5000, "a" * 5000,
               "Li6PS5Cl " + "glass " * 800, "Li3PS4-" + "5wt% Al2O3-" * 400, " " * 5000 + "Li"]


def literature_formulas() -> list[str]:
    texts = [f"{x / 100:.2f}Li2S-{1 - x / 100:.2f}P2S5" for x in range(1, 100)]
    texts += [f"Li{i}La3Zr2O{i + 5}-0.{i}Ga" for i in range(1, 10)]
    texts += [f"Li{1 + i / 1000:.3f}Al0.3Ti1.7(PO4)3" for i in range(2900)]
    return texts


def main() -> int:
    from sulfml.parse.formula import parse_formula

    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    results = []
    texts = literature_formulas()
    t0 = time.perf_counter()
    assert all(parse_formula(t).ok for t in texts)
    results.append((f"{len(texts):,} literature formulas", time.perf_counter() - t0, 2.0))
    for text in LONG_INPUTS:
        t0 = time.perf_counter()
        parse_formula(text)
        results.append((f"pathological input {text[:16]!r}...", time.perf_counter() - t0, 2.0))
    from pymatgen.core import Lattice, Structure

    from sulfml.featurize.structure import CifFeatures

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "li2s.cif"
        Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.7), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]]
                                  ).to(filename=str(path))
        t0 = time.perf_counter()
        CifFeatures().featurize(str(path))
        results.append(("one CIF featurized", time.perf_counter() - t0, 5.0))
    for what, seconds, limit in results:
        print(f"  [{'met' if seconds < limit else 'NOT met'}] {what}: {seconds:.3f} s (target < {limit:g} s)")
    return 0 if all(s < lim for _, s, lim in results) else 1


if __name__ == "__main__":
    import argparse

    # no options: --help shows the docstring, and nothing is measured
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    sys.exit(main())
