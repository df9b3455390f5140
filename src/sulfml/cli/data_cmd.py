"""`sulfml data build|info|export`: build the clean table and say what was read and rejected."""

from __future__ import annotations

import argparse
from pathlib import Path

from sulfml.cli.common import add_data_dir, add_extra_data, print_json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `data` subcommand."""
    p = sub.add_parser("data", help="build and inspect the merged data table")
    add_data_dir(p)
    add_extra_data(p)
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    b = dsub.add_parser("build", help="build and cache the merged table")
    add_data_dir(b, argparse.SUPPRESS)
    add_extra_data(b, argparse.SUPPRESS)
    b.add_argument("--no-cache", action="store_true", help="rebuild even when a cached table matches")
    b.set_defaults(func=run_build)
    i = dsub.add_parser("info", help="rows read, kept and rejected per source; material counts")
    add_data_dir(i, argparse.SUPPRESS)
    add_extra_data(i, argparse.SUPPRESS)
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=run_info)
    e = dsub.add_parser("export", help="write the measurements, materials or rejections as CSV")
    add_data_dir(e, argparse.SUPPRESS)
    add_extra_data(e, argparse.SUPPRESS)
    e.add_argument("what", choices=["measurements", "materials", "rejections"])
    e.add_argument("--output", "-o", required=True, help="CSV file to write")
    e.set_defaults(func=run_export)


def _table(args: argparse.Namespace, use_cache: bool = True):
    from sulfml.data.table import build_table

    return build_table(args.data_dir, use_cache=use_cache, extra=args.extra_data or ())


def run_build(args: argparse.Namespace) -> int:
    """Build (or reuse) the cached table and print a one-line summary."""
    table = _table(args, use_cache=not args.no_cache)
    info = table.info()
    print(f"table {table.key}: {info['measurements']} measurements, {info['materials']} materials, "
          f"{info['materials_with_ea']} with Ea, {len(table.rejections)} rows rejected")
    return 0


def run_info(args: argparse.Namespace) -> int:
    """Print the per-source counts."""
    table = _table(args)
    info = table.info()
    if args.json:
        print_json(info)
        return 0
    examples = table.rejection_examples()
    print(f"{'source':<10} {'read':>6} {'kept':>6}  rejected")
    for src, s in info["sources"].items():
        print(f"{src:<10} {s['rows_read']:>6} {s['rows_kept']:>6}  {sum(s['rejected'].values())}")
        for reason, n in s["rejected"].items():
            print(f"{'':<25}{n:>5}  {reason}   e.g. {examples[src][reason]}")
    print(f"measurements: {info['measurements']}")
    print(f"materials (Li-containing, room-temperature sigma, {info['aggregation']}): {info['materials']}")
    print(f"materials with Ea: {info['materials_with_ea']}")
    print("materials by state: " + ", ".join(f"{k} {v}" for k, v in info["materials_by_state"].items()))
    for f in info.get("extra_files", []):
        print(f"user file: {f['name']} (sha256 {f['sha256'][:16]})")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Write one view of the table as CSV."""
    table = _table(args)
    frame = {
        "measurements": table.measurements,
        "materials": table.materials(),
        "rejections": table.rejections,
    }[args.what]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.output, index=False)
    print(f"wrote {len(frame)} rows to {args.output}")
    return 0
