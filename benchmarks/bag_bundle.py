"""A bundle with the trees of a seed bag of N, to measure what bagging costs at predict time without training it.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/bag_bundle.py OUT_DIR [--n 5] [--models-dir DIR]
       PYTHONPATH=src .venv/bin/python benchmarks/predict_speed.py --models-dir OUT_DIR

Each target's booster is merged with N - 1 copies of itself by `sulfml.model.bagging.merge_boosters`, the
routine that saves a real bag: N times the trees, each of the same shape as a real member's, and the same
predictions as the bundle it was made from (the mean of N equal models). The cards are rewritten with the new
checksums, so the bundle loads and verifies like any other. Only the speed means anything:
this bundle is no more accurate than its source.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import xgboost as xgb

from sulfml.model.bagging import merge_boosters
from sulfml.tracking.bundle import CARD_FILE, MODEL_FILE, shipped_bundle_dir, write_card


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=5, help="bag size (default 5)")
    ap.add_argument("--models-dir", help="source bundle (default: the shipped champion)")
    args = ap.parse_args(argv)
    source, out = Path(args.models_dir) if args.models_dir else shipped_bundle_dir(), Path(args.out)
    shutil.copytree(source, out, dirs_exist_ok=True)
    for card_path in sorted(out.glob(f"*/{CARD_FILE}")):
        folder = card_path.parent
        booster = xgb.Booster(model_file=str(folder / MODEL_FILE))
        merge_boosters([booster] * args.n).save_model(str(folder / MODEL_FILE))
        card = json.loads(card_path.read_text())
        card.pop("checksums", None)
        write_card(card, folder)
        print(f"{folder.name}: {booster.num_boosted_rounds()} -> {args.n * booster.num_boosted_rounds()} trees")
    return 0


if __name__ == "__main__":
    sys.exit(main())
