"""Featurization speed on N distinct formulas: matminer's magpie ElementProperty, the vectorized featurizer
(sulfml.featurize.assemble and its parts) and the formula parser, in rows per second, with where the time goes.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/featurize_speed.py [--n 100000] [--matminer-n 2000]

matminer is timed on a random subsample (`--matminer-n` rows; it runs at about 1 ms per row) and its rate
is extrapolated; everything else runs on all N formulas. The formulas are screening-style variants of real
electrolytes (dopant, fraction, halogen mix), generated deterministically and all distinct, so no cache
helps. Informational: exits 0 unless the vectorized featurizer disagrees with matminer on the subsample.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from sulfml.chem.batch import composition_batch
from sulfml.chem.elements import element_tables
from sulfml.featurize import assemble, element_stats


def formulas(n: int, seed: int = 0) -> list[str]:
    """N distinct, deterministic formulas around argyrodite, LGPS, halide, garnet, NASICON and glass parents."""
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}

    def f(x: float) -> str:
        return f"{x:.3f}".rstrip("0").rstrip(".")

    while len(out) < n:
        kind = int(rng.integers(0, 6))
        x = int(rng.integers(1, 1000)) / 1000
        y = int(rng.integers(0, 1000)) / 1000
        if kind == 0:
            d = rng.choice(["Si", "Ge", "Sn", "Sb", "Al", "Ga"])
            h1, h2 = rng.choice(["Cl", "Br", "I"], size=2, replace=False)
            text = f"Li{f(6 - y + x)}P{f(1 - x)}{d}{f(x)}S{f(5 - y)}{h1}{f(1 + y - x / 2)}{h2}{f(x / 2)}"
        elif kind == 1:
            m = rng.choice(["Ge", "Si", "Sn"])
            text = f"Li{f(10 + x)}{m}{f(1 + x)}P{f(2 - x)}S{f(12 - y / 10)}Cl{f(y / 10)}" if y else \
                f"Li{f(10 + x)}{m}{f(1 + x)}P{f(2 - x)}S12"
        elif kind == 2:
            m = rng.choice(["In", "Y", "Sc", "Er", "Ho"])
            text = f"Li{f(3 - x)}{m}{f(1 - x)}Zr{f(x)}Cl{f(6 - 6 * y)}Br{f(6 * y)}" if y else \
                f"Li{f(3 - x)}{m}{f(1 - x)}Zr{f(x)}Cl6"
        elif kind == 3:
            m = rng.choice(["Ta", "Nb", "W", "Te"])
            text = f"Li{f(7 - x)}La3Zr{f(2 - x)}{m}{f(x)}Al{f(y / 4)}O12"
        elif kind == 4:
            m = rng.choice(["Al", "Ga", "Sc", "Y"])
            text = f"Li{f(1 + x)}{m}{f(x)}Ti{f(2 - x)}(PO4)3" if y < 0.5 else f"Li{f(1 + x)}{m}{f(x)}Ge{f(2 - x)}P3O12"
        else:
            a = 50 + 40 * x
            text = f"{f(a)}Li2S-{f(100 - a)}P2S5" if y < 0.5 else f"{f(a)}Li2S-{f(100 - a - y)}P2S5-{f(y)}LiI"
        out[text] = None
    return list(out)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="distinct formulas (default 100000)")
    parser.add_argument("--matminer-n", type=int, default=2000, help="rows matminer featurizes (default 2000)")
    args = parser.parse_args(argv)
    n = args.n

    t_gen, texts = timed(lambda: formulas(n))
    assert len(set(texts)) == n
    print(f"{n} distinct formulas generated in {t_gen:.2f} s, e.g. {texts[:3]}")

    from sulfml.parse.formula import parse_formula

    parse_formula("Li6PS5Cl")  # imports pymatgen outside the timing
    t_parse, parsed = timed(lambda: [parse_formula(t) for t in texts])
    bad = [p.input for p in parsed if not p.ok]
    if bad:
        print(f"parser rejected {len(bad)} formulas, e.g. {bad[:3]}")
        return 1
    comps = [p.composition for p in parsed]
    notation = [p.notation for p in parsed]
    tags = [";".join(p.tags) for p in parsed]

    element_tables()
    block = element_stats._BLOCK
    t_batch, batch = timed(lambda: composition_batch(comps))
    t_mm, batch_mm = timed(lambda: element_stats.element_statistics(batch))
    t_oxi, _ = timed(lambda: [
        element_stats._compound_possible(b.index, b.amount, b.present, element_tables())
        for b in (batch.rows(slice(s, s + block)) for s in range(0, n, block))])
    t_el, _ = timed(lambda: assemble.electrolyte_features(batch, notation, tags))
    t_all, _ = timed(lambda: assemble.preset_features(comps, "composition-v1", notation, tags))

    # matminer: magpie ElementProperty alone, on a subsample of the same formulas.
    from matminer.featurizers.composition import ElementProperty
    from pymatgen.core import Composition

    from sulfml.featurize.presets import featurize

    rng = np.random.default_rng(1)
    sub = np.sort(rng.choice(n, size=min(args.matminer_n, n), replace=False))
    sub_comps = [Composition(comps[i]) for i in sub]
    magpie = ElementProperty.from_preset("magpie", impute_nan=True)
    t_magpie, magpie_rows = timed(lambda: [magpie.featurize(c) for c in sub_comps])
    # Agreement on the subsample, against the whole preset through presets.featurize.
    import pandas as pd

    frame = pd.DataFrame({"composition": [comps[i] for i in sub], "notation": [notation[i] for i in sub],
                          "tags": [tags[i] for i in sub]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_preset, ref = timed(lambda: featurize(frame, "composition-v1"))
    got = assemble.preset_features(frame["composition"].tolist(), "composition-v1", frame["notation"].tolist(),
                                   frame["tags"].tolist())
    ref_np = ref.to_numpy()
    both = ~np.isnan(ref_np) & ~np.isnan(got)
    max_diff = float(np.abs(ref_np - got)[both].max(initial=0.0))
    nan_ok = bool((np.isnan(ref_np) == np.isnan(got)).all())
    magpie_ok = np.allclose(np.array(magpie_rows, dtype=float), batch_mm[sub, :132], rtol=1e-9, atol=1e-9)

    rate = {
        "matminer magpie ElementProperty (featurize only)": len(sub) / t_magpie,
        "matminer+ours, presets.featurize (whole preset)": len(sub) / t_preset,
        "parser (parse_formula)": n / t_parse,
        "vectorized: composition arrays": n / t_batch,
        "vectorized: matminer part (4 featurizers)": n / t_mm,
        "vectorized: electrolyte part (5 featurizers)": n / t_el,
        "vectorized: whole preset incl. arrays": n / t_all,
    }
    width = max(map(len, rate))
    print(f"\n{'':{width}}   rows/s")
    for name, r in rate.items():
        print(f"{name:{width}}   {r:12,.0f}")
    print(f"\nspeed-up, vectorized matminer part vs matminer magpie alone: "
          f"{rate[list(rate)[4]] / rate[list(rate)[0]]:,.0f}x")
    print(f"speed-up, vectorized whole preset vs presets.featurize: {rate[list(rate)[6]] / rate[list(rate)[1]]:,.0f}x")
    print(f"\nwhere the time goes for {n} rows (parse + vectorized whole preset = {t_parse + t_all:.2f} s):")
    for name, t in (("parse_formula", t_parse), ("composition arrays", t_batch), ("matminer part", t_mm),
                    ("  of which compound-possible search", t_oxi), ("electrolyte part", t_el)):
        print(f"  {name:38} {t:7.3f} s  {1e6 * t / n:6.2f} us/row")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MiB")
    print(f"agreement on {len(sub)} rows: max abs difference {max_diff:.3g}, NaN positions equal: {nan_ok}, "
          f"magpie columns equal ElementProperty: {magpie_ok}")
    return 0 if nan_ok and magpie_ok and max_diff <= 1e-9 * max(1.0, float(np.nanmax(np.abs(ref_np)))) else 1


if __name__ == "__main__":
    sys.exit(main())
