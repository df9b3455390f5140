"""`sulfml registry list|promote|export`: the registered models and their `champion` alias."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterator

from sulfml.cli.common import print_json
from sulfml.errors import UsageError

STORE_HELP = "MLflow store (default $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db)"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `registry` subcommand. --tracking-uri goes before or after the action."""
    p = sub.add_parser("registry", help="list, promote and export registered models")
    p.add_argument("--tracking-uri", default=None, help=STORE_HELP)
    rsub = p.add_subparsers(dest="registry_command", required=True, metavar="ACTION")
    ls = rsub.add_parser("list", help="every registered version with aliases and CV MAE (reads the store, never "
                                      "creates one)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    pr = rsub.add_parser("promote", help="point `champion` at a version")
    pr.add_argument("name", help="sulfml-log10-sigma or sulfml-ea")
    pr.add_argument("version")
    pr.set_defaults(func=run_promote)
    ex = rsub.add_parser("export", help="write the champion pair to the models dir")
    ex.add_argument("--models-dir", default=None, help="default models/")
    ex.set_defaults(func=run_export)
    for action in (ls, pr, ex):
        # after the action too; SUPPRESS keeps a value given before the action when none is given after it
        action.add_argument("--tracking-uri", default=argparse.SUPPRESS, help=STORE_HELP)


def run_list(args: argparse.Namespace) -> int:
    """Print the versions of an existing store (never creates one) and which store was read."""
    import sys

    from sulfml.errors import StoreError
    from sulfml.service.serving import PYFUNC_NAME
    from sulfml.tracking.registry import MODEL_NAMES, list_models
    from sulfml.tracking.store import masked, open_existing

    with _quiet_mlflow():
        try:
            uri = open_existing(args.tracking_uri)
        except StoreError as exc:
            raise UsageError(f"{exc}; pass --tracking-uri or set MLFLOW_TRACKING_URI") from exc
        rows = list_models(MODEL_NAMES | {"pyfunc": PYFUNC_NAME})  # the served pair too
    if args.json:
        print(f"sulfml registry list: store {masked(uri)}", file=sys.stderr)
        print_json(rows)
        return 0
    print(f"store: {masked(uri)}")
    if not rows:
        print("no registered sulfml models in this store")
    for r in rows:
        mae = f"{r['cv_mae']:.4f}" if r["cv_mae"] is not None else "-"
        print(f"{r['name']:<20} v{r['version']:<4} cv_mae={mae:<8} {','.join(r['aliases']) or '-':<10} "
              f"data={r['data_hash']} run={r['run_id']} {r['created']}")
    return 0


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """MLflow's and alembic's INFO lines (store migrations) kept off the terminal of a read-only command."""
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def run_promote(args: argparse.Namespace) -> int:
    """Move the alias."""
    from mlflow.exceptions import MlflowException

    from sulfml.tracking.registry import MODEL_NAMES, list_models, promote
    from sulfml.tracking.store import configure

    if args.name not in MODEL_NAMES.values():
        raise UsageError(f"unknown model {args.name!r}; known: {', '.join(MODEL_NAMES.values())}")
    version = args.version.strip().lstrip("vV")
    if not version.isascii() or not version.isdigit() or int(version) < 1:
        raise UsageError(f"cannot promote {args.name} {args.version!r}: a version is a positive whole number")
    configure(args.tracking_uri)
    try:
        promote(args.name, version)
    except MlflowException as exc:
        known = [str(r["version"]) for r in list_models() if r["name"] == args.name]
        raise UsageError(f"cannot promote {args.name} v{version}: no such version (registered: "
                         f"{', '.join(known) or 'none'})" if version not in known else
                         f"cannot promote {args.name} v{version}: {exc.message}") from exc
    args.version = version
    print(f"{args.name}@champion -> v{args.version}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Download the champion pair into the models dir."""
    from mlflow.exceptions import MlflowException

    from sulfml.tracking.bundle import default_export_dir
    from sulfml.tracking.export import download_champions
    from sulfml.tracking.store import configure

    configure(args.tracking_uri)
    try:
        dest = download_champions(args.models_dir or default_export_dir())
    except MlflowException as exc:
        raise UsageError(f"no champion to export: {exc.message}") from exc
    print(f"exported the champion pair to {dest}")
    return 0
