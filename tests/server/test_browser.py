"""The page in a real browser: `sulfml serve` on loopback, driven by Python playwright in Debian's chromium
(launched by path: `playwright install` cannot download browsers here; .ci/run installs chromium).

Skipped only on a machine without /usr/bin/chromium and without $CI; in CI a missing browser fails the run.
Screenshots go to $SULFML_TEST_ARTIFACTS/browser if set, else to the test's temporary directory.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import re
from pathlib import Path

import pytest


def _flow():
    """tests/server/browser_flow.py (shared with scripts/docs/web_screenshot.py; tests are not a package)."""
    spec = importlib.util.spec_from_file_location("browser_flow", Path(__file__).with_name("browser_flow.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


flow = _flow()

pytestmark = pytest.mark.slow


def _need_browser() -> None:
    missing = [what for what, ok in (("/usr/bin/chromium", Path(flow.CHROMIUM).exists()),
                                     ("the playwright package", _has_playwright())) if not ok]
    if not missing:
        return
    why = f"{' and '.join(missing)} not installed (bash scripts/install-chromium.sh; pip install -e '.[dev]')"
    if os.environ.get("CI"):
        pytest.fail(f"the browser test must run in CI: {why}")
    pytest.skip(why)


def _has_playwright() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def _dois_in(rows: list[dict]) -> int:
    """How many DOI links the page should show: the distinct DOIs in each neighbour's citation fields."""
    doi = re.compile(r"10\.\d{4,9}/[^\s;,|\"'<>\[\]{}]+")
    count = 0
    for row in rows:
        for n in row.get("neighbors") or []:
            fields = [n.get(k) for k in ("paper", "papers", "doi", "dois", "citations", "evidence", "measurements")]
            count += len({m.rstrip(".") for m in doi.findall(json.dumps(fields, ensure_ascii=False))})
    return count


@pytest.fixture
def artifacts(tmp_path) -> Path:
    root = os.environ.get("SULFML_TEST_ARTIFACTS")
    folder = Path(root) / "browser" if root else tmp_path / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_paste_detail_screen_in_chromium(artifacts):
    _need_browser()
    from playwright.sync_api import expect

    formulas = [flow.FORMULAS[0], "<script>alert(1)</script>", flow.FORMULAS[1]]  # the bad one is markup, too
    with flow.sulfml_serve() as url, flow.chromium_page() as page:
        seen = flow.run_flow(page, url, artifacts, formulas=formulas)
        with page.expect_download() as download:
            page.click("#tab-predict")
            page.click("#download-predictions")
        table = download.value.path().read_text(encoding="utf-8")
        (artifacts / "predictions.csv").write_text(table, encoding="utf-8")
        # an uploaded file replaces the table, its rows in order, the bad one in place
        upload = artifacts / "lab.csv"
        upload.write_text("sample;formula;temperature_C\nA;Li3PS4;60\nB;Li3PS4(;\n", encoding="utf-8")
        page.set_input_files("#file", str(upload))
        expect(page.locator("#results tbody tr")).to_have_count(2)
        expect(page.locator("#results tr.error-row")).to_have_count(1)
        uploaded = [r.inner_text() for r in page.locator("#results tbody tr").all()]
        structure = _space_group_and_cif(page, artifacts)
        # a refused request clears the earlier answer, so nothing under the red message reads as its answer
        page.fill("#temperature", "hot")
        page.click("#predict-button")
        expect(page.locator("#predict-status")).to_contain_text("Not predicted")
        expect(page.locator("#results-card")).to_be_hidden()

    # the table: one row per formula, in order, the bad one in place with its error, shown as text
    rows = seen["rows"]
    assert len(rows) == 3 and seen["error_rows"] == 1
    assert rows[0].startswith("1") and "Li6PS5Cl" in rows[0] and "in domain" in rows[0]
    assert "<script>alert(1)</script>" in rows[1] and "unexpected '<'" in rows[1]
    assert "Li10GeP2S12" in rows[2] and re.search(r"−\d\.\d\d \[−\d\.\d\d, −\d\.\d\d\]", rows[2])
    # the DOIs among the nearest materials' citations are links to doi.org (the table shows the first
    # three citations of each material), and nothing else is
    assert all(h.startswith("https://doi.org/10.") for h in seen["doi_links"])
    assert 0 < len(seen["doi_links"]) <= _dois_in(seen["api_rows"])
    assert not seen["dialogs"] and not seen["page_errors"]  # the script never ran, nothing broke

    # the detail: the Arrhenius curve and its band drawn, the measured neighbours, the "why" in words
    assert seen["detail_title"] == "Li10GeP2S12"
    assert seen["band"].count("L") > 40 and seen["prediction_path"].startswith("M")
    assert seen["neighbour_points"] >= 1
    assert "Conductivity, log10 σ at 25 °C" in seen["why"] and "average of the training data" in seen["why"]
    assert "knn_" not in seen["why"] and "MagpieData" not in seen["why"]

    # the screen: the parent's baseline first, ranked candidates, points drawn
    assert seen["screen_rows"][0].startswith("parent") and "Li3PS4" in seen["screen_rows"][0]
    assert 2 <= len(seen["screen_rows"]) <= 6 and seen["screen_points"] >= 4
    assert "obelix" in seen["about"] and "CC BY 4.0" in seen["about"]

    assert "Li3PS4" in uploaded[0] and "333.1" in uploaded[0] and "malformed parentheses" in uploaded[1]

    # the CSV download: every row, the error row kept, neighbours in one cell
    records = list(csv.DictReader(io.StringIO(table)))
    assert [r["input"] for r in records] == formulas
    assert records[1]["error"].startswith("unreadable") and records[0]["neighbors"].count("log10 σ") == 3
    # each neighbour with its state, so the same composition in two states reads as two materials
    states = [n["state"] for n in seen["api_rows"][0]["neighbors"]]
    assert all(f"({s}, log10 σ" in records[0]["neighbors"] for s in states) and len(states) == 3
    for name in ("predict.png", "detail.png", "screen.png", "about.png", "page.png", "cif.png"):
        assert (artifacts / name).stat().st_size > 10_000, name

    # the space-group field reaches the table and the detail; a CIF upload is its own row, its CSV the new columns
    assert "Ia-3d (230)" in structure["llzo_row"] and "Ia-3d (230)" in structure["llzo_facts"]
    assert "LiCl" in structure["cif_row"] and "Fm-3m (225)" in structure["cif_row"]
    assert "Fm-3m (225)" in structure["cif_facts"] and structure["cif_title"] == "LiCl"
    barrier, dimension = structure["bvse_sent"]
    if barrier is None:  # the page was given 0.4321 eV in 3D (see `cross_check`)
        barrier, dimension = 0.4321, 3.0
    assert f"BVSE 3D Li barrier, eV\n{barrier:.3f}" in structure["cif_facts"], structure["cif_facts"]
    if dimension is not None:
        assert f"BVSE dimension\n{dimension:.0f}" in structure["cif_facts"]
    assert "ML prediction" in structure["cif_facts"] and "BVSE" not in structure["llzo_facts"]
    assert structure["cif_warnings"]  # the CIF row's notes (composition only, ...) shown in the detail
    cif_csv = list(csv.DictReader(io.StringIO(structure["csv"])))
    assert {"space_group", "bvse_barrier_eV", "bvse_dimension", "input_cif"} <= set(cif_csv[0])
    assert cif_csv[0]["space_group"] == "225" and cif_csv[0]["input_cif"] == "LiCl.cif"
    assert "space group 'Pxyz'" in structure["refused"] and structure["refused_hidden"]


def _space_group_and_cif(page, artifacts: Path) -> dict:
    """Predict LLZO in Ia-3d from the form, open its detail; upload rock-salt LiCl as a CIF, open its detail and
    download its CSV; then a bad space group, refused in red with the earlier answer cleared."""
    from playwright.sync_api import expect
    from pymatgen.core import Lattice, Structure

    seen: dict = {}
    page.click("#tab-predict")
    page.fill("#formulas", "Li7La3Zr2O12")
    page.fill("#temperature", "")
    page.fill("#space-group", "Ia-3d")
    page.click("#predict-button")
    row = page.locator("#results tbody tr")
    expect(row).to_have_count(1)
    expect(row.first).to_contain_text("Ia-3d (230)")
    seen["llzo_row"] = row.first.inner_text()
    row.first.get_by_role("button", name="Details").click()
    expect(page.locator("#arrhenius-plot svg path.prediction")).to_have_count(1)
    seen["llzo_facts"] = page.locator("#detail-facts").inner_text()

    cif = artifacts / "LiCl.cif"
    licl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.13), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cif.write_text(licl.to(fmt="cif"), encoding="utf-8")
    page.fill("#space-group", "")

    def cross_check(route) -> None:
        """The server's answer; where its BVSE columns are null (a structure without a Li path, or a
        pipeline that does not compute them), numbers of our own, so the detail's display is checked."""
        answer = route.fetch().json()
        row = answer["rows"][0]
        seen["bvse_sent"] = row["bvse_barrier_eV"], row["bvse_dimension"]
        if row["bvse_barrier_eV"] is None:
            row["bvse_barrier_eV"], row["bvse_dimension"] = 0.4321, 3.0
        route.fulfill(json=answer)

    page.route("**/api/predict/cif?*", cross_check)
    page.set_input_files("#cif-file", str(cif))
    expect(page.locator("#predict-status")).to_contain_text("1 row")
    row = page.locator("#results tbody tr")
    expect(row).to_have_count(1)
    expect(row.first).to_contain_text("Fm-3m (225)")
    seen["cif_row"] = row.first.inner_text()
    row.first.get_by_role("button", name="Details").click()
    expect(page.locator("#arrhenius-plot svg path.prediction")).to_have_count(1)
    seen["cif_title"] = page.locator("#detail-title").inner_text()
    seen["cif_facts"] = page.locator("#detail-facts").inner_text()
    seen["cif_warnings"] = [w.inner_text() for w in page.locator("#detail-warnings li").all()]
    page.unroute("**/api/predict/cif?*")
    page.screenshot(path=str(artifacts / "cif.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#download-predictions")
    seen["csv"] = download.value.path().read_text(encoding="utf-8")

    page.fill("#space-group", "Pxyz")
    page.click("#predict-button")
    expect(page.locator("#predict-status")).to_contain_text("Not predicted")
    expect(page.locator("#results-card")).to_be_hidden()
    expect(page.locator("#predict-status")).to_have_class(re.compile(r"\berror\b"))  # red
    seen["refused"] = page.locator("#predict-status").inner_text()
    seen["refused_hidden"] = page.locator("#results-card").is_hidden() and page.locator("#detail-card").is_hidden()
    # the form as the rest of the flow expects it, with an answer on the page again
    page.fill("#space-group", "")
    page.click("#predict-button")
    expect(page.locator("#results-card")).to_be_visible()
    return seen


def test_known_materials_tab_in_chromium(mini_data_dir, artifacts):
    """The "Known materials" tab: a search lists the measured materials; one opens with its measurements as a
    table and its σ(T) points on an Arrhenius plot (the mini data's Liverpool rows carry temperatures)."""
    _need_browser()
    from playwright.sync_api import expect

    with flow.sulfml_serve("--data-dir", str(mini_data_dir)) as url, flow.chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        expect(page.locator("#model-badge")).not_to_have_text("loading the models…")
        page.click("#tab-known")
        page.fill("#known-query", "Li-P-S*")
        page.click("#known-button")
        materials = page.locator("#known-materials tbody tr")
        expect(materials.first).to_be_visible()
        names = [r.inner_text() for r in materials.all()]
        materials.first.get_by_role("button", name="Show").click()
        expect(page.locator("#known-detail")).to_be_visible()
        expect(page.locator("#known-plot > svg")).to_have_count(1)
        expect(page.locator("#known-measurements tbody tr").first).to_be_visible()
        measured = page.locator("#known-measurements tbody tr").count()
        page.screenshot(path=str(artifacts / "known.png"), full_page=True)
        title = page.locator("#known-title").inner_text()
    assert not errors
    assert names and all("P" in n.split()[0] and "S" in n.split()[0] for n in names)
    assert title == names[0].split()[0] and measured >= 1


def test_the_page_takes_its_labels_and_forms_from_the_server_in_chromium(artifacts):
    """An 80 % card (the server's /api/about and /api/screen answers played with coverage 0.8): every interval
    label reads 80 %; both state lists and the screen form come from the server's one definition; the scatter's
    x axis spans the site fractions, not their sum, with interval bars for the listed candidates only."""
    _need_browser()
    from playwright.sync_api import expect

    from sulfml.parse.state import STATES
    from sulfml.workflows.screen import DEFAULTS

    def at_80(route) -> None:
        answer = route.fetch().json()
        answer["coverage"] = 0.8
        route.fulfill(json=answer)

    seen: dict = {}
    with flow.sulfml_serve() as url, flow.chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("**/api/about", at_80)
        page.route("**/api/screen", at_80)
        page.goto(url)
        expect(page.locator("#model-badge")).not_to_have_text("loading the models…")
        page.fill("#formulas", "Li6PS5Cl")
        page.click("#predict-button")
        expect(page.locator("#results tbody tr")).to_have_count(1)
        seen["predict_head"] = page.locator("#results thead").inner_text()
        seen["footnote"] = page.locator("#results-card .footnote").inner_text()
        page.locator("#results tbody tr").first.get_by_role("button", name="Details").click()
        expect(page.locator("#arrhenius-plot svg path.prediction")).to_have_count(1)
        seen["arrhenius_legend"] = page.locator("#arrhenius-plot .legend").inner_text()
        seen["states"] = [page.locator(f"#{s} option").all_inner_texts() for s in ("state", "screen-state")]
        page.click("#tab-screen")
        seen["form"] = {i: page.input_value(f"#{i}") for i in ("max-fraction", "step", "top", "per-dopant", "rank")}
        flow.run_screen(page, "Li3PS4", "P=Si,Ge; S=Cl", top=4)
        expect(page.locator("#screen-plot svg circle.point").first).to_be_visible()
        seen["screen_head"] = page.locator("#screen-table thead").inner_text()
        seen["caption"] = page.locator("#screen-caption").inner_text()
        seen["screen_legend"] = page.locator("#screen-plot .legend").inner_text()
        seen["x_ticks"] = [float(t.replace("−", "-")) for t in
                           page.locator("#screen-plot svg g.grid text[text-anchor=middle]").all_text_contents()]
        seen["points"] = page.locator("#screen-plot svg circle.point").count()
        seen["listed"] = page.locator("#screen-plot svg circle.point.listed").count()
        seen["bars"] = page.locator("#screen-plot svg line.interval.listed").count()
        page.locator("#screen-plot svg circle.point:not(.listed)").first.hover()
        seen["hover"] = page.locator("#screen-plot svg line.interval.hover").get_attribute("visibility")
        page.locator("#screen-plot").screenshot(path=str(artifacts / "screen-plot.png"))

    assert not errors
    assert "log10 σ [80 % interval]" in seen["predict_head"] and "calibrated 80 % interval" in seen["footnote"]
    assert "80 % interval" in seen["arrhenius_legend"] and "80 % interval" in seen["screen_head"]
    assert "80 % interval" in seen["caption"] and "parent's 80 % interval" in seen["screen_legend"]
    assert not any("90 %" in text for text in seen.values() if isinstance(text, str))
    assert seen["states"] == [["not given", *STATES]] * 2
    assert seen["form"] == {"max-fraction": f"{DEFAULTS.max_fraction:g}", "step": f"{DEFAULTS.step:g}",
                            "top": str(DEFAULTS.top), "per-dopant": str(DEFAULTS.per_dopant), "rank": DEFAULTS.rank}
    # two sites at most 0.3 each: the axis runs over the site fractions (0.1 to 0.3), not their sum (0.6)
    assert seen["x_ticks"] and max(seen["x_ticks"]) <= 0.35 and min(seen["x_ticks"]) >= 0.05
    assert seen["points"] > seen["listed"] >= 1 and seen["bars"] == seen["listed"] and seen["hover"] == "visible"
