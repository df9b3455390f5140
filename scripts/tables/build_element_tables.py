"""Regenerate src/sulfml/chem/element_tables.json from matminer's element data, and
src/sulfml/chem/element_embeddings.json from the `elementembeddings` package (pip install elementembeddings).

The batch featurizer (sulfml.featurize.element_stats) reads this file instead of importing matminer, so that
the predict path stays lean. Rerun after upgrading matminer or pymatgen; tests/featurize/test_element_stats.py
fails while the shipped file differs from what matminer gives.

Usage: python scripts/tables/build_element_tables.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sulfml.chem.build import build_element_embeddings, build_element_tables
from sulfml.chem.elements import EMBEDDING_PATH, TABLE_PATH


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the element tables; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the shipped file is current")
    args = parser.parse_args(argv)
    status = 0
    for path, data in ((TABLE_PATH, build_element_tables()), (EMBEDDING_PATH, build_element_embeddings())):
        if args.check:
            if json.loads(path.read_text(encoding="utf-8")) != data:
                print(f"{path} is out of date; rerun without --check", file=sys.stderr)
                status = 1
            else:
                print(f"{path} is current")
        else:
            write(path, data)
    return status


def write(path: Path, data: dict) -> None:
    """Write one table, one element per line (readable diffs)."""
    # One element per line keeps diffs readable.
    lines = ["{"]
    keys = list(data)
    for k, key in enumerate(keys):
        value = data[key]
        end = "," if k < len(keys) - 1 else ""
        if isinstance(value, list) and value and isinstance(value[0], list):
            rows = ",\n    ".join(json.dumps(v) for v in value)
            lines.append(f"  {json.dumps(key)}: [\n    {rows}\n  ]{end}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{end}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
