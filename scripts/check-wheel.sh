#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtual environment, and use it from an empty directory outside
# the checkout: what `pip install sulfml` gives a researcher. Called by scripts/test.sh (and so by CI).
# The data commands read $SULFML_DATA_DIR when it is set; without it they download the pinned files.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$repo"
wheel=$(ls "$work"/dist/sulfml-*.whl)
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet "$wheel"
mkdir "$work/empty"
cd "$work/empty"
export MLFLOW_TRACKING_URI="sqlite:///$work/empty/mlflow.db"
run() { echo "+ sulfml $*" >&2; "$work/venv/bin/sulfml" "$@"; }
check() { if ! eval "$1"; then echo "check-wheel: FAILED: $2" >&2; exit 1; fi; }

# nothing of the checkout is on the path: the installed package must find its own files
check '"$work/venv/bin/python" -c "import sys; sys.exit(\"$repo/src\" in \":\".join(sys.path))"' "the checkout is on sys.path"
check '"$work/venv/bin/python" -c "import os, sulfml; assert \"OMP_WAIT_POLICY\" not in os.environ"' "import sulfml changed os.environ"
for f in sulfml/py.typed sulfml/champion/log10_sigma/model.json sulfml/configs/tuned.toml \
         sulfml/data/sources.toml sulfml/data/review/su2022_table1.csv sulfml/tracking/card.schema.json \
         sulfml/server/static/index.html sulfml/server/static/app.js sulfml/server/static/app.css; do
  check 'python3 -c "import sys, zipfile; sys.exit(\"$f\" not in zipfile.ZipFile(\"$wheel\").namelist())"' \
      "the wheel lacks $f"
done
# a champion with a neural member ships its network; predicting with it needs no torch (not even installed here)
for f in $(cd "$repo/src" && find sulfml/champion -name network.npz); do
  check 'python3 -c "import sys, zipfile; sys.exit(\"$f\" not in zipfile.ZipFile(\"$wheel\").namelist())"' \
      "the wheel lacks $f"
done
check '! "$work/venv/bin/python" -c "import torch" 2>/dev/null' "torch is installed without the neural extra"
# `sulfml serve`'s application builds from the installed files (it reads its page, script and stylesheet)
check '"$work/venv/bin/python" -c "from sulfml import Predictor; from sulfml.server.app import create_app; create_app(Predictor.default())"' \
    "the web application builds from the installed package"
run --version | tee version.txt
check 'grep -q "^sulfml " version.txt' "sulfml --version"
run predict --format csv Li6PS5Cl > predict.csv
check 'grep -q "^Li6PS5Cl,Li6PS5Cl," predict.csv' "sulfml predict Li6PS5Cl from the shipped bundle"
data_args=()
[ -n "${SULFML_DATA_DIR:-}" ] && data_args=(--data-dir "$SULFML_DATA_DIR")
run data info "${data_args[@]}" | tee info.txt
check 'grep -q "laskowski" info.txt' "sulfml data info"
run train --config smoke "${data_args[@]}" --models-dir trained
check '[ -f trained/log10_sigma/model.json ] && [ -f trained/ea_eV/card.json ]' "sulfml train exported a bundle"
run predict --format csv --models-dir trained Li6PS5Cl "70Li2S-30P2S5" > trained.csv
check '[ "$(wc -l < trained.csv)" -eq 3 ]' "predict with the freshly trained bundle"
check '[ -z "$(find "$work/venv" -path "*site-packages/sulfml/*" -type f -newer version.txt ! -name "*.pyc")" ]' \
    "a command wrote into the installed package"
echo "check-wheel: the installed wheel works outside the checkout"
