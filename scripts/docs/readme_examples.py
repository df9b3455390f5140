"""Regenerate the command examples of the README and the docs pages from the commands themselves, so a
changed number cannot lie.

Each example in README.md or a page under docs/ sits between two markers:

    <!-- example: sulfml predict --format table Li6PS5Cl -->
    ```console
    $ sulfml predict --format table Li6PS5Cl
    ...what the command prints...
    ```
    <!-- /example -->

`python scripts/docs/readme_examples.py` runs every command with the installed sulfml (the shipped bundle) and
rewrites the blocks; `--check` only compares and exits 1 on a difference (tests/test_readme.py does that).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- example: (?P<command>.+?) -->\n)(?P<body>.*?)(<!-- /example -->)", re.S)


def pages() -> list[Path]:
    """The files whose examples are generated: the README and every Markdown page of the docs site."""
    return [README, *sorted((ROOT / "docs").rglob("*.md"))]


def run_example(command: str) -> str:
    """The console block of one example: the command line and what it prints (stdout and stderr)."""
    argv = shlex.split(command)
    if argv[0] != "sulfml":
        raise ValueError(f"an example runs sulfml, not {argv[0]!r}")
    env = {**os.environ, "COLUMNS": "200", "SULFML_DATA_DIR": os.environ.get("SULFML_DATA_DIR", "")}
    # from the checkout's root, as the reader runs them (an example may name a file of the checkout)
    done = subprocess.run([sys.executable, "-m", "sulfml", *argv[1:]], capture_output=True, text=True, env=env,
                          timeout=300, check=False, cwd=ROOT)
    printed = (done.stdout + done.stderr).rstrip("\n")
    return f"```console\n$ {command}\n{printed}\n```\n"


def examples(text: str) -> list[tuple[str, str]]:
    """(command, block as written) of every example in a page's text."""
    return [(m["command"], m["body"]) for m in BLOCK.finditer(text)]


def regenerate(text: str) -> str:
    """The page's text with every example block rewritten from its command."""
    return BLOCK.sub(lambda m: m.group(1) + run_example(m["command"]) + m.group(4), text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if a block is stale")
    args = parser.parse_args()
    stale = 0
    for page in pages():
        text = page.read_text(encoding="utf-8")
        if not examples(text):
            continue
        new = regenerate(text)
        name = page.relative_to(ROOT)
        if args.check:
            for (command, old), (_, fresh) in zip(examples(text), examples(new), strict=True):
                if old != fresh:
                    stale += 1
                    print(f"stale example in {name}: {command}", file=sys.stderr)
            continue
        page.write_text(new, encoding="utf-8")
        print(f"rewrote {len(examples(text))} examples in {name}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
