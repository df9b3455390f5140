"""Latency of the web page's API: a 100-formula POST to /api/predict against a real `sulfml serve` on
loopback, median and 90th percentile over repeated requests (plus one formula, for the fixed cost).

Usage: PYTHONPATH=src .venv/bin/python benchmarks/web_latency.py [--repeat 30] [--size 100] [--output latency.json]

It starts `sulfml serve --port 0` with the shipped champion bundle (the port the server bound is read from
its start-up line), waits for /api/health (bounded), sends one warm-up request per size, measures, and
stops the server. Each request has distinct formulas, so nothing is answered from a cache of repeated texts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import urllib.request
from pathlib import Path

from latency import report, time_requests

REPO = Path(__file__).resolve().parents[1]


def _post(url: str, texts: list[str]) -> float:
    body = json.dumps({"formulas": texts}).encode()
    request = urllib.request.Request(f"{url}api/predict", data=body, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        payload = json.loads(response.read())
    elapsed = time.perf_counter() - t0
    assert payload["n"] == len(texts) and payload["failed"] == 0
    return elapsed


def _serve():
    """tests/server/browser_flow.sulfml_serve: the same bounded start and stop as the browser test."""
    spec = importlib.util.spec_from_file_location("browser_flow", REPO / "tests" / "server" / "browser_flow.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sulfml_serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="requests per size (default 30)")
    parser.add_argument("--size", type=int, default=100, help="formulas per request (default 100)")
    parser.add_argument("--output", default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 1000:
        parser.error("--repeat must be between 1 and 1000")
    report(measure(args.repeat, args.size), args.output)
    return 0


def measure(repeat: int, size: int) -> dict[int, dict]:
    """Per request size (1 and `size` formulas): the median and 90th percentile latency under a real server."""
    with _serve()() as url:
        return time_requests(lambda texts: _post(url, texts), (1, size), repeat, warmup_seed=10_000)


if __name__ == "__main__":
    sys.exit(main())
