"""Screenshot of the web page for the README: runs the browser test's flow (tests/server/browser_flow.py)
against a real `sulfml serve` and writes docs/web-page.png.

Usage: PYTHONPATH=src .venv/bin/python scripts/docs/web_screenshot.py [--output docs/web-page.png] [--keep DIR]

Needs Debian's chromium (bash scripts/install-chromium.sh) and the `playwright` package (dev extra).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _flow():
    spec = importlib.util.spec_from_file_location("browser_flow", REPO / "tests" / "server" / "browser_flow.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(REPO / "docs" / "web-page.png"), help="the PNG to write")
    parser.add_argument("--keep", default=None, help="also keep every screenshot of the flow in this directory")
    args = parser.parse_args(argv)
    flow = _flow()
    with tempfile.TemporaryDirectory(prefix="sulfml-shots-") as tmp:
        shots = Path(tmp)
        with flow.sulfml_serve() as url, flow.chromium_page(width=1360, height=900) as page:
            flow.run_flow(page, url, shots)
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shots / "page.png", output)
        if args.keep:
            shutil.copytree(shots, args.keep, dirs_exist_ok=True)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
