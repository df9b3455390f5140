"""REST latency of the served champion: `mlflow models serve` on loopback, one formula and 1,000 formulas per
request, median and 90th percentile over repeated requests.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/serve_latency.py [--repeat 20] [--output latency.json]

It logs the shipped champion bundle as the pyfunc model `sulfml@champion` in a temporary MLflow store,
starts the server on 127.0.0.1 (a free port), waits for /ping (bounded), measures, and stops the server.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
import urllib.request

from latency import report, time_requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, texts: list[str]) -> float:
    body = json.dumps({"dataframe_split": {"columns": ["formula"], "data": [[t] for t in texts]}}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=300) as r:
        payload = json.loads(r.read())
    elapsed = time.perf_counter() - t0
    assert len(payload["predictions"]) == len(texts)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="requests per size (default 20)")
    parser.add_argument("--output", default=None, help="write the results as JSON")
    args = parser.parse_args(argv)

    from sulfml.service.serving import PYFUNC_NAME, publish_bundle, scoring_server
    from sulfml.tracking.bundle import shipped_bundle_dir

    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        publish_bundle(shipped_bundle_dir(), uri)
        with scoring_server(f"models:/{PYFUNC_NAME}@champion", uri, _free_port()) as base:
            results = time_requests(lambda texts: _post(f"{base}/invocations", texts), (1, 1000), args.repeat,
                                    warmup_seed=99)
    report(results, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
