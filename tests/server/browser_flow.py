"""The browser flow shared by tests/server/test_browser.py and scripts/docs/web_screenshot.py: start the real
`sulfml serve` on loopback, drive Debian's chromium with Python playwright through the page (paste three
formulas, one bad; open a detail; run a small screen), and save screenshots.

Every wait is bounded; a failure says what the page or the server showed.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]
FORMULAS = ["Li6PS5Cl", "Li10GeP2S12", "Li7P3Xx11"]  # the third has an unknown element: its row is an error
START_TIMEOUT_S = 120.0
STEP_TIMEOUT_MS = 60_000


@contextlib.contextmanager
def sulfml_serve(*extra: str, env: dict[str, str] | None = None,
                 timeout_s: float = START_TIMEOUT_S) -> Iterator[str]:
    """`sulfml serve --port 0` in a child process; yields the page's address once /api/health answers.

    The port is the one the server itself bound (read from its start-up line), so no other process can
    take it in between.
    """
    environment = {**os.environ, **(env or {})}
    # the checkout's own sources, whatever is installed
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), environment.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "sulfml", "serve", "--host", "127.0.0.1", "--port", "0", *extra]
    server = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, encoding="utf-8", errors="replace")
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []

    def pump() -> None:
        assert server.stderr is not None
        for line in server.stderr:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + timeout_s
        url = None
        while url is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"sulfml serve did not start in {timeout_s:g} s: {''.join(seen)[-2000:]}")
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if server.poll() is not None:
                    time.sleep(0.2)
                    while not lines.empty():
                        seen.append(lines.get())
                    raise RuntimeError(f"sulfml serve exited ({server.returncode}): {''.join(seen)[-2000:]}") from None
                continue
            seen.append(line)
            found = re.search(r" at (http://127\.0\.0\.1:\d+/)", line)
            url = found.group(1) if found else None
        while True:
            try:
                with urllib.request.urlopen(f"{url}api/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"sulfml serve did not answer /api/health: {''.join(seen)[-2000:]}") from None
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 1000) -> Iterator[object]:
    """A playwright page in Debian's chromium with a fresh profile directory (removed afterwards)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="sulfml-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height}, device_scale_factor=1, accept_downloads=True)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


def _api_predict(url: str, formulas: list[str]) -> list[dict]:
    """The rows the API gives for `formulas` at 25 °C (what the page's table should show)."""
    import json

    request = urllib.request.Request(f"{url}api/predict", data=json.dumps({"formulas": formulas}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["rows"]


def run_screen(page, parent: str, substitutions: str, max_fraction: float = 0.3, step: float = 0.1, top: int = 5
               ) -> None:
    """Fill the screen form (its tab open) and start the screen."""
    page.fill("#parent", parent)
    page.fill("#substitutions", substitutions)
    page.fill("#max-fraction", str(max_fraction))
    page.fill("#step", str(step))
    page.fill("#top", str(top))
    page.click("#screen-button")


def run_flow(page, url: str, shots: Path, formulas: list[str] | None = None) -> dict:
    """Drive the page: predict three formulas (one bad, default `FORMULAS`), open the second good one in
    detail, run a small screen; screenshots in `shots`. Returns what was seen (for the test's assertions)."""
    from playwright.sync_api import expect

    shots.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    expect(page.locator("#model-badge")).not_to_have_text("loading the models…")

    formulas = formulas or FORMULAS
    page.fill("#formulas", "\n".join(formulas))
    page.fill("#temperature", "25")
    page.click("#predict-button")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(len(formulas))
    expect(page.locator("#predict-status")).to_contain_text(f"{len(formulas)} rows")
    seen: dict = {"rows": [rows.nth(i).inner_text() for i in range(len(formulas))],
                  "error_rows": page.locator("#results tr.error-row").count(),
                  "doi_links": [a.get_attribute("href") for a in page.locator("#results a").all()],
                  "api_rows": _api_predict(url, formulas)}
    page.screenshot(path=str(shots / "predict.png"), full_page=True)

    page.locator("#results tbody tr:not(.error-row)").nth(1).get_by_role("button", name="Details").click()
    expect(page.locator("#arrhenius-plot svg path.prediction")).to_have_count(1)
    expect(page.locator("#why table.why-table")).to_have_count(2)
    seen["band"] = page.locator("#arrhenius-plot svg path.band").get_attribute("d") or ""
    seen["prediction_path"] = page.locator("#arrhenius-plot svg path.prediction").get_attribute("d") or ""
    seen["neighbour_points"] = page.locator("#arrhenius-plot svg .neighbour-point").count()
    seen["why"] = page.locator("#why").inner_text()
    seen["detail_title"] = page.locator("#detail-title").inner_text()
    page.locator("#detail-card").screenshot(path=str(shots / "detail.png"))
    page.screenshot(path=str(shots / "page.png"), full_page=True)

    page.click("#tab-screen")
    run_screen(page, "Li3PS4", "P=Si,Ge", top=5)
    expect(page.locator("#screen-table tbody tr").first).to_contain_text("parent")
    expect(page.locator("#screen-plot svg circle.point").first).to_be_visible()
    seen["screen_rows"] = [r.inner_text() for r in page.locator("#screen-table tbody tr").all()]
    seen["screen_points"] = page.locator("#screen-plot svg circle.point").count()
    page.screenshot(path=str(shots / "screen.png"), full_page=True)

    page.click("#tab-about")
    expect(page.locator("#about-sources li").first).to_be_visible()
    seen["about"] = page.locator("#panel-about").inner_text()
    page.screenshot(path=str(shots / "about.png"), full_page=True)
    seen["dialogs"], seen["page_errors"] = dialogs, errors
    return seen
