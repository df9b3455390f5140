#!/usr/bin/env bash
# Create .venv (if needed) and install sulfml with its test tools, the Spark extra, the docs tools and torch
# (the neural extra, CPU build). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,spark,docs,neural]'
# The element-embedding source, for the test that checks the shipped vectors (src/sulfml/chem/
# element_embeddings.json) against it: only its data files are read, so its plotting and UMAP
# dependencies are not installed.
.venv/bin/python -m pip install --quiet --no-deps 'elementembeddings==0.8.0'
