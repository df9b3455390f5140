"""`sulfml data build|info|export|search`: build the clean table, say what was read and rejected, and find
the measured materials a formula, element set, family or DOI names."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from sulfml.chem.space_groups import space_group_label
from sulfml.cli.common import add_data_dir, add_extra_data, print_json
from sulfml.service.output import polymorphs_text

if TYPE_CHECKING:
    from sulfml.data.search import MaterialRecord


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
    s = dsub.add_parser(
        "search", help="the measured materials a formula, element set, family or DOI names, with every measurement",
        description="Find measured materials: TEXT is a formula in any notation (Li6PS5Cl, 70Li2S-30P2S5; a state "
                    "word such as 'Li7P3S11 glass-ceramic' keeps that state), an element set (Li-P-S-Cl: exactly "
                    "these elements; Li-P-S*: at least these), a family (argyrodite) or a DOI (a supporting-"
                    "information DOI finds its paper). Each material shows its room-temperature value (median "
                    "over papers, one value per paper), then every measurement at any temperature.")
    add_data_dir(s, argparse.SUPPRESS)
    add_extra_data(s, argparse.SUPPRESS)
    s.add_argument("text", nargs="+", metavar="TEXT", help="what to search for (several words are one search)")
    s.add_argument("--limit", type=int, default=20, metavar="N", help="most materials shown (default 20)")
    s.add_argument("--json", action="store_true", help="print the records as JSON")
    s.set_defaults(func=run_search)


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


def run_search(args: argparse.Namespace) -> int:
    """Print the materials a search finds, each with its measurements."""
    from sulfml.data.search import read_query, search
    from sulfml.errors import UsageError

    if args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    table = _table(args)
    text = " ".join(args.text)
    query = read_query(table, text)
    records = search(table, query, limit=args.limit)
    if args.json:
        print_json([dataclasses.asdict(r) for r in records])
        return 0
    if not records:
        print(f"no measured material: {query.description}")
        return 0
    more = f" (the first {args.limit}; --limit N shows more)" if len(records) == args.limit else ""
    print(f"{len(records)} measured material{'s' if len(records) > 1 else ''}: {query.description}{more}")
    for record in records:
        print()
        _print_material(record)
    return 0


def _fmt(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _print_material(r: MaterialRecord) -> None:
    """One material: a heading, its room-temperature value and Ea, its fit, then its measurements."""
    name = r.formula + (f" + {r.additive}" if r.additive else "")
    polymorph = [space_group_label(r.space_group)] if r.space_group is not None else []
    print(" · ".join([name, r.state, *polymorph, *([f"family {r.family}"] if r.family else [])]))
    if r.log10_sigma is None:
        print("  no room-temperature value")
    else:
        spread = (f", range {_fmt(r.log10_sigma_min)} to {_fmt(r.log10_sigma_max)}" if r.n_papers > 1 else "")
        bound = "< " if r.censored else ""
        basis = f"median of {r.n_papers} papers, one value each{spread}" if r.n_papers > 1 else "1 paper"
        print(f"  log10 σ at room temperature {bound}{_fmt(r.log10_sigma)} ({basis})"
              + (f" · Ea {_fmt(r.ea_eV, 3)} eV" if r.ea_eV is not None else ""))
    if len(r.polymorphs) > 1:
        print(f"  polymorphs at room temperature: {polymorphs_text(list(r.polymorphs))}")
    if r.arrhenius is not None:
        a = r.arrhenius
        print(f"  Arrhenius fit (σT form) of {a.n_points} points, {a.temperature_min_K - 273.15:.0f} to "
              f"{a.temperature_max_K - 273.15:.0f} °C: Ea {a.ea_eV:.3f} eV, log10 σ at 25 °C "
              f"{a.log10_sigma_rt:.2f}, R² {a.r2:.3f}")
    head = ["log10 σ", "σ (S/cm)", "T (°C)", "Ea (eV)", "state", "space group", "source", "paper or DOI"]
    rows = [[("< " if m.censored else "") + f"{m.log10_sigma:.2f}", f"{m.sigma_S_cm:.2e}",
             "RT" if m.temperature_K is None else f"{m.temperature_K - 273.15:.0f}", _fmt(m.ea_eV, 3), m.state,
             space_group_label(m.space_group) if m.space_group else "", f"{m.source} {m.source_row_id}",
             m.paper or m.doi or ""] for m in r.measurements]
    widths = [max(len(x) for x in column) for column in zip(head, *rows, strict=True)]
    numeric = 4  # the first four columns are numbers: right-aligned
    for line in [head, *rows]:
        cells = [x.rjust(w) if i < numeric else x.ljust(w) for i, (x, w) in enumerate(zip(line, widths, strict=True))]
        print("    " + "  ".join(cells).rstrip())
