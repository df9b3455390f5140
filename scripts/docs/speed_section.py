"""Regenerate the Speed section of the README and of docs/benchmarks.md from the last run of
`benchmarks/predict_speed.py --output experiments/results/predict_speed.json` (and docs/training.md's cost of
the neural member from `experiments/results/predict_speed_neural.json`), so that the numbers shown are the
numbers measured.

The section sits between two markers in each page:

    <!-- speed: experiments/results/predict_speed.json -->
    ...generated...
    <!-- /speed -->

`python scripts/docs/speed_section.py` rewrites the sections; `--check` only compares and exits 1 on a
difference (tests/test_readme.py does that).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "docs" / "benchmarks.md", ROOT / "docs" / "training.md"]
BLOCK = re.compile(r"(<!-- speed: (?P<results>\S+) -->\n)(?P<body>.*?)(<!-- /speed -->)", re.S)


def render(result: dict) -> str:
    """The section's Markdown: the targets, then where the time goes."""
    load = result["load_average"]
    lines = [
        f"`{result['command']}` at commit {result['commit']} ({result['date']}, {result['cpus']} CPUs, load "
        f"average {load[0]:.1f} at the start and {load[1]:.1f} at the end), every ratio measured in that one run:",
        "",
        "| measure | value | target | |",
        "|---|---|---|---|",
    ]
    lines += [f"| {t['measure']} | {t['value']} | {t['target']} | {'met' if t['met'] else '**not met**'} |"
              for t in result["targets"]]
    total = result["profiled_s"]
    lines += [
        "",
        f"Where the time goes: the same {result['n']:,} rows once more under cProfile, the stages one after "
        f"the other ({total:.2f} s; the models' own inference alone took {result['models_own_s']:.2f} s):",
        "",
        "| stage | seconds | share |",
        "|---|---|---|",
    ]
    stages = {k: v for k, v in result["stages"].items() if v > 0}
    lines += [f"| {stage} | {seconds:.2f} | {seconds / total:.0%} |" for stage, seconds in stages.items()]
    rest = total - sum(stages.values())
    lines.append(f"| the rest (loading the models, output columns, notes) | {rest:.2f} | {rest / total:.0%} |")
    return "\n".join(lines) + "\n"


def regenerate(text: str, root: Path = ROOT) -> str:
    """`text` with every speed block rendered from the results file it names."""
    def block(match: re.Match) -> str:
        result = json.loads((root / match["results"]).read_text(encoding="utf-8"))
        return match.group(1) + render(result) + match.group(4)

    return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if a page is out of date")
    args = parser.parse_args(argv)
    stale = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        if not BLOCK.search(text):
            print(f"{page.relative_to(ROOT)}: no speed block", file=sys.stderr)
            return 1
        new = regenerate(text)
        if new != text:
            stale.append(page)
            if not args.check:
                page.write_text(new, encoding="utf-8")
    if args.check and stale:
        print("out of date (run scripts/docs/speed_section.py): " + ", ".join(str(p.relative_to(ROOT)) for p in stale))
        return 1
    print("up to date" if args.check else f"rewrote {len(stale)} page(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
