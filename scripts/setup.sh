#!/usr/bin/env bash
# Create .venv (if needed) and install sulfml with its test tools and the Spark extra. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,spark]'
