"""Regenerate src/sulfml/featurize/element_tables.json from matminer's element data.

The fast featurizer (sulfml.featurize.fast) reads this file instead of importing matminer, so that the
predict path stays lean. Rerun after upgrading matminer or pymatgen; tests/featurize/test_fast.py fails
while the shipped file differs from what matminer gives.

Usage: python scripts/build_element_tables.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys

from sulfml.chem.build import build_element_tables
from sulfml.chem.elements import TABLE_PATH


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the element tables; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the shipped file is current")
    args = parser.parse_args(argv)
    data = build_element_tables()
    if args.check:
        current = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
        if current != data:
            print(f"{TABLE_PATH} is out of date; rerun without --check", file=sys.stderr)
            return 1
        print(f"{TABLE_PATH} is current")
        return 0
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
    TABLE_PATH.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {TABLE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
