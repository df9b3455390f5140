"""`sulfml serve`: the web page (paste formulas, details, screening) and its JSON API, on this machine."""

from __future__ import annotations

import argparse
import sys

from sulfml.cli.common import add_data_dir, add_model_options
from sulfml.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `serve` subcommand."""
    p = sub.add_parser(
        "serve", help="serve the web page and its JSON API",
        description="Serve a web page to paste formulas (or upload a CSV/JSON file), see predictions with their "
                    "intervals, domain flag and nearest known materials, open one candidate in detail, run "
                    "dopant screens and search the measured materials (read from --data-dir on the first "
                    "search); the JSON API is under /api (OpenAPI docs at /api/docs). Binds to "
                    "127.0.0.1: only this machine can connect unless --host says otherwise.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1, this machine only; 0.0.0.0 serves every network "
                        "this machine is on)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    add_model_options(p)
    add_data_dir(p)
    from sulfml.server.limits import Limits

    defaults = Limits()
    p.add_argument("--max-body-bytes", type=int, default=defaults.max_body_bytes, metavar="N",
                   help=f"largest request body, e.g. an uploaded file (default {defaults.max_body_bytes})")
    p.add_argument("--max-rows", type=int, default=defaults.max_rows, metavar="N",
                   help=f"most rows predicted per request (default {defaults.max_rows})")
    p.add_argument("--max-screen", type=int, default=defaults.max_screen, metavar="N",
                   help=f"most candidates one screen may enumerate (default {defaults.max_screen})")
    p.add_argument("--max-concurrent", type=int, default=defaults.concurrent, metavar="N",
                   help=f"requests predicting at once; more wait their turn (default {defaults.concurrent})")
    p.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"], default="warning",
                   help="uvicorn's log level (default warning; info also logs each request)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the models once, then serve until interrupted."""
    from sulfml.cli.common import load_predictor
    from sulfml.server.app import is_loopback, serve
    from sulfml.server.limits import Limits

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    for flag, value in (("--max-body-bytes", args.max_body_bytes), ("--max-rows", args.max_rows),
                        ("--max-screen", args.max_screen), ("--max-concurrent", args.max_concurrent)):
        if value < 1:
            raise UsageError(f"{flag} must be at least 1, got {value}")
    limits = Limits(max_body_bytes=args.max_body_bytes, max_rows=args.max_rows, max_screen=args.max_screen,
                    concurrent=args.max_concurrent)
    predictor = load_predictor(args)
    if not is_loopback(args.host):
        print(f"sulfml serve: note: serving on {args.host}, beyond this machine: anyone who can reach this "
              "address can use the page and the API (there is no login)", file=sys.stderr)

    def ready(url: str) -> None:
        print(f"sulfml serve: {predictor.source} at {url} (API docs at {url}api/docs; Ctrl-C to stop)",
              file=sys.stderr, flush=True)

    serve(predictor, args.host, args.port, limits, log_level=args.log_level, ready=ready, data_dir=args.data_dir)
    return 0
