"""What the two request-latency scripts share (serve_latency.py: the MLflow scoring server; web_latency.py: the
web page's API): the formulas they send, the timing loop and the table they print."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np


def formulas(n: int, seed: int = 0) -> list[str]:
    """n distinct Li argyrodite-like formulas (so nothing is served from a cache of repeated texts)."""
    rng = np.random.default_rng(seed)
    return [f"Li{6 - x:.4f}PS{5 - x:.4f}Cl{1 + x:.4f}" for x in rng.uniform(0, 1.5, n)]


def time_requests(post: Callable[[list[str]], float], sizes: Iterable[int], repeat: int, warmup_seed: int
                  ) -> dict[int, dict]:
    """Per request size: one warm-up request, then `repeat` timed ones (median, 90th percentile, count)."""
    results = {}
    for size in sizes:
        post(formulas(size, seed=warmup_seed))
        times = [post(formulas(size, seed=i)) for i in range(repeat)]
        results[size] = {"median_s": statistics.median(times), "p90_s": float(np.quantile(times, 0.9)),
                         "requests": len(times)}
    return results


def report(results: dict[int, dict], output: str | None) -> None:
    """Print the Markdown table; write the results as JSON to `output` when given."""
    print("| formulas per request | median latency | 90th percentile | requests |")
    print("|---|---|---|---|")
    for size, r in results.items():
        print(f"| {size:,} | {r['median_s'] * 1000:.0f} ms | {r['p90_s'] * 1000:.0f} ms | {r['requests']} |")
    if output:
        Path(output).write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2))
