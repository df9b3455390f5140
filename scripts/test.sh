#!/usr/bin/env bash
# Set up and run the checks and the tests: lint, import layers, types, the installed wheel, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks scripts examples
.venv/bin/lint-imports
.venv/bin/mypy
bash scripts/check-wheel.sh
# the slowest tests, so that a test that grows slow shows in CI's output
.venv/bin/python -m pytest -q --durations=20 "$@"
