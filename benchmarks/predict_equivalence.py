"""Whether a speed change moved any answer: every output column of `Predictor.run` on a fixed corpus, written
by one version of the code and compared with another's.

Usage:
  PYTHONPATH=src .venv/bin/python benchmarks/predict_equivalence.py write OUT.json [--models-dir DIR]
  PYTHONPATH=src .venv/bin/python benchmarks/predict_equivalence.py compare BEFORE.json AFTER.json [--tol 1e-9]

To compare against an older commit, write with that commit's code and this script:
  git worktree add /tmp/base COMMIT
  PYTHONPATH=/tmp/base/src .venv/bin/python benchmarks/predict_equivalence.py write before.json
  PYTHONPATH=src .venv/bin/python benchmarks/predict_equivalence.py write after.json
  PYTHONPATH=src .venv/bin/python benchmarks/predict_equivalence.py compare before.json after.json

The corpus (needs the data directory, $SULFML_DATA_DIR): every distinct formula of the review tables, OBELiX,
the Liverpool Ionics Dataset and Laskowski et al. as their sources write them, with states, space groups and
polymorph names on some rows, temperatures (blank, hot, cold, unreadable), unreadable formulas, and CIF rows
(the test fixtures, OBELiX CIFs, a missing file), then screening formulas (`--generated`, so that the large
batch crosses the pipeline's own chunk sizes). It is predicted in one batch and again in batches of 100 rows; both are
written. Numbers are compared to `--tol`, text exactly, the neighbours' distances to `--tol` and the rest
of each neighbour exactly. Exit 0 when everything agrees, 1 otherwise (the differences are listed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

HERE = Path(__file__).resolve().parent
FIXTURE_CIFS = sorted((HERE.parent / "tests" / "fixtures" / "cif").glob("*.cif"))
N_OBELIX_CIFS = 12
STATES = ["glass", "crystalline", "glass-ceramic", "amorphous", "liquid"]
TEMPERATURES = ["100", "-20", "25", "300 K", "abc", "-400", "500"]
SPACE_GROUPS = ["230", "P4_2/nmc", "62", "Fm-3m", "999", "142", "Pnma"]
EXTRA = ["Li6PS5Cl", "beta-Li3PS4", "γ-Li3PS4", "Li3PS4 (beta)", "c-Li7La3Zr2O12", "t-Li7La3Zr2O12",
         "70Li2S-30P2S5", "Li7P3S11-glass-ceramic", "Li2S-P2S5 (75:25)", "Li10Ge(P0.925Sb0.075)2S12",
         "Li6PS5Cl0.5Br0.5", "Li3PS4 + 10 wt% SiO2", "Xx2S", "", "Li((PS4", "H2O", "NaCl", "Li6PS5Cl1e9",
         "Li3N", "LiBH4", "Li3YCl6", "Li3InCl6", "Li7P2S8I", "Li4SnS4", "Li6.6P0.4Ge0.6S5I"]


def corpus(n_generated: int) -> pd.DataFrame:
    import pandas as pd

    from sulfml.data.sources import resolve_data_dir
    from sulfml.data.table import load_raw

    raw, _ = load_raw(resolve_data_dir(progress=False))
    texts = list(dict.fromkeys([str(t) for t in raw["raw_formula"].tolist() if isinstance(t, str)] + EXTRA))
    blank = {"temperature_C": "", "state": "", "space_group": "", "cif": ""}
    rows = [{"formula": text, **blank} for text in texts]  # each as it stands, then again with a setting
    rows += [{"formula": text, **blank, "state": STATES[i % len(STATES)]} for i, text in enumerate(texts[::3])]
    rows += [{"formula": text, **blank, "temperature_C": TEMPERATURES[i % len(TEMPERATURES)]}
             for i, text in enumerate(texts[1::4])]
    rows += [{"formula": text, **blank, "space_group": SPACE_GROUPS[i % len(SPACE_GROUPS)]}
             for i, text in enumerate(texts[2::7])]
    obelix = sorted(str(p) for p in raw["cif_path"].dropna().unique())[:: 25][:N_OBELIX_CIFS] \
        if "cif_path" in raw else []
    for i, cif in enumerate([*map(str, FIXTURE_CIFS), *obelix]):
        rows.append({"formula": "", "temperature_C": TEMPERATURES[i % len(TEMPERATURES)], "state": "",
                     "space_group": "", "cif": cif})
    rows.append({"formula": "Li6PS5Cl", **blank, "cif": str(FIXTURE_CIFS[0]) if FIXTURE_CIFS else ""})
    rows.append({"formula": "", **blank, "cif": str(HERE / "no-such.cif")})
    # screening candidates, so that batches cross the pipeline's own chunk sizes
    rows += [{"formula": text, **blank} for text in generated(n_generated)]
    return pd.DataFrame(rows)


def generated(n: int) -> list[str]:
    """The first `n` screening formulas of featurize_speed.py (the speed benchmarks' rows)."""
    from featurize_speed import formulas  # this script's folder is on the path, as for any script

    return formulas(n) if n else []


def predictions(frame: pd.DataFrame, models_dir: str | None) -> dict[str, list[dict]]:
    """One large batch and 100-row batches, each row as a JSON-able dict."""
    import pandas as pd

    from sulfml.service.predictor import Predictor

    predictor = Predictor.from_dir(models_dir)
    whole = predictor.run(frame).frame()
    parts = [predictor.run(frame.iloc[s: s + 100].reset_index(drop=True)).frame() for s in range(0, len(frame), 100)]
    small = pd.concat(parts, ignore_index=True)
    return {"one batch": _records(whole), "100-row batches": _records(small)}


def _records(frame: pd.DataFrame) -> list[dict]:
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({k: _plain(v) for k, v in row.items()})
    return out


def _plain(value):
    import numpy as np

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # nan, inf: JSON has no such numbers
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def differences(before, after, tol: float, path: str = "") -> list[str]:
    """Where two JSON values differ: numbers beyond `tol`, anything else at all."""
    if isinstance(before, bool) or isinstance(after, bool) or not (
            isinstance(before, (int, float)) and isinstance(after, (int, float))):
        if isinstance(before, dict) and isinstance(after, dict):
            if before.keys() != after.keys():
                return [f"{path}: keys {sorted(before)} != {sorted(after)}"]
            return [d for k in before for d in differences(before[k], after[k], tol, f"{path}.{k}")]
        if isinstance(before, list) and isinstance(after, list):
            if len(before) != len(after):
                return [f"{path}: {len(before)} items != {len(after)}"]
            return [d for i, (b, a) in enumerate(zip(before, after, strict=True))
                    for d in differences(b, a, tol, f"{path}[{i}]")]
        return [] if before == after else [f"{path}: {before!r} != {after!r}"]
    return [] if abs(before - after) <= tol else [f"{path}: {before!r} != {after!r}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="predict the corpus and write the answers as JSON")
    w.add_argument("output")
    w.add_argument("--models-dir", help="bundle to predict with (default: the shipped champion)")
    w.add_argument("--generated", type=int, default=6000,
                   help="screening formulas added to the corpus (default 6000)")
    c = sub.add_parser("compare", help="compare two written answers")
    c.add_argument("before")
    c.add_argument("after")
    c.add_argument("--tol", type=float, default=1e-9, help="largest difference of a number (default 1e-9)")
    args = parser.parse_args(argv)
    if args.command == "write":
        frame = corpus(args.generated)
        answers = predictions(frame, args.models_dir)
        Path(args.output).write_text(json.dumps({"inputs": frame.to_dict(orient="records"), **answers}),
                                     encoding="utf-8")
        print(f"{len(frame):,} inputs ({int((frame['cif'] != '').sum())} with a CIF) written to {args.output}")
        return 0
    before = json.loads(Path(args.before).read_text(encoding="utf-8"))
    after = json.loads(Path(args.after).read_text(encoding="utf-8"))
    found = differences(before["inputs"], after["inputs"], 0.0, "inputs")
    if found:
        print("the two files predict different corpora:", *found[:5], sep="\n  ")
        return 1
    bad = 0
    for name in ("one batch", "100-row batches"):
        rows = differences(before[name], after[name], args.tol, name)
        bad += len(rows)
        columns = sorted({r.split("]", 1)[1].split(".")[1].split("[")[0].split(":")[0] for r in rows if "]." in r})
        print(f"{name}: {len(before[name]):,} rows, {len(rows)} differences beyond {args.tol:g}"
              + (f" (columns: {', '.join(columns)})" if columns else ""))
        for r in rows[:10]:
            print("  ", r)
    within = differences(after["one batch"], after["100-row batches"], args.tol, "after")
    print(f"one batch against 100-row batches (after): {len(within)} differences")
    return 0 if not bad and not within else 1


if __name__ == "__main__":
    sys.exit(main())
