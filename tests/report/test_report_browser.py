"""The report in a real browser (acceptance 4): headless Chromium opens it from a file:// URL.

Checks: no console errors, no network request of any kind (only the file:// document loads), the
chart and the table are there, the failing-only, op and name filters change the visible rows,
sorting orders them, the node named `<script>alert(1)</script>` shows as text and runs nothing,
and a screenshot is saved under the pytest tmp dir. Playwright's `launch` gives Chromium a fresh
temporary profile (--user-data-dir) of its own and removes it afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from model_builders import REPO
from report_factory import SCRIPT_NODE, minimal_comparison, synthetic_comparison

from trtdiff.report import write_report

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
N_NODES = 300
MAX_ABS_COLUMN = 6  # position of "max abs" in TENSOR_COLUMNS
PAGE = 250  # trtdiff.report.tables.PAGE_ROWS: rows laid out before "show more"


@dataclass
class Loaded:
    """A page and everything it did while it was open."""

    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"] + self.page_errors


@pytest.fixture(scope="module")
def browser():
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is missing (Debian: apt-get install chromium; .ci/run does it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def open_report(browser: Any, path: Path) -> Loaded:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    loaded = Loaded(page, path.as_uri())
    context.on("request", lambda request: loaded.requests.append(request.url))
    page.on("console", lambda message: loaded.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: loaded.page_errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        loaded.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(loaded.url, wait_until="load")
    return loaded


@pytest.fixture(scope="module")
def comparison():
    return synthetic_comparison(N_NODES)


@pytest.fixture(scope="module")
def loaded(browser, comparison, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(comparison, path)
    loaded = open_report(browser, path)
    yield loaded
    loaded.page.context.close()


def visible_rows(page: Any) -> int:
    return page.locator("#tensor-table tbody tr:visible").count()


def column_keys(page: Any, column: int) -> list[str | None]:
    return page.eval_on_selector_all(
        "#tensor-table tbody tr:not([hidden])",
        f"rows => rows.map(r => r.cells[{column}].dataset.v ?? r.cells[{column}].textContent)")


def test_loads_with_no_console_errors_and_no_network(loaded):
    assert loaded.errors() == []
    assert loaded.requests == [loaded.url]
    assert loaded.page.evaluate("performance.getEntriesByType('resource').length") == 0
    assert loaded.page.title().startswith("trtdiff: ")


def test_chart_and_table_are_present(loaded, comparison):
    page = loaded.page
    chart = page.locator("svg.chart")
    assert chart.is_visible() and chart.bounding_box()["width"] > 800
    assert page.locator("svg.chart text", has_text="first divergence").count() == 1
    total = len(comparison.tensors)
    assert total > PAGE
    assert page.locator("#tensor-table tbody tr").count() == total
    assert visible_rows(page) == PAGE
    assert page.locator("#filter-count").inner_text() == f"{PAGE} of {total} matching shown"
    page.click("#show-all")
    assert visible_rows(page) == total and not page.locator("#table-more").is_visible()
    assert page.locator("#filter-count").inner_text() == f"{total} of {total} shown"
    assert page.locator("#verdict").inner_text().startswith("FAIL")


def test_failing_only_filter_changes_the_visible_rows(loaded, comparison):
    page = loaded.page
    total = len(comparison.tensors)
    failing = sum(1 for t in comparison.tensors if t.passed is False)
    page.check("#filter-failing")
    assert visible_rows(page) == failing < total
    flags = page.eval_on_selector_all("#tensor-table tbody tr:not([hidden])",
                                      "rows => rows.map(r => r.dataset.failing)")
    assert set(flags) == {"1"}
    assert page.locator("#filter-count").inner_text() == f"{failing} of {total} shown"
    page.uncheck("#filter-failing")
    assert visible_rows(page) == PAGE
    page.click("#show-more")
    assert visible_rows(page) == total


def test_op_and_name_filters(loaded, comparison):
    page = loaded.page
    page.select_option("#filter-op", "Exp")
    assert visible_rows(page) == sum(1 for t in comparison.tensors if t.op_type == "Exp") == 1
    page.select_option("#filter-op", "")
    page.fill("#filter-name", "attn/exp")
    assert visible_rows(page) == 1
    page.fill("#filter-name", "")
    assert visible_rows(page) == PAGE


def test_link_to_a_hidden_row_reveals_it(loaded, comparison):
    page = loaded.page
    page.check("#filter-failing")
    last = f"t-{len(comparison.tensors) - 2}"  # a passing row beyond the first page
    assert page.locator(f"#{last}").is_hidden()
    page.evaluate(f"location.hash = '#{last}'")
    page.wait_for_function(f"!document.getElementById('{last}').hidden", timeout=2000)
    assert not page.is_checked("#filter-failing")
    page.evaluate("history.replaceState(null, '', location.pathname)")


def test_sorting_orders_rows(loaded):
    page = loaded.page
    header = page.locator("#tensor-table thead th").nth(MAX_ABS_COLUMN)
    header.locator("button").click()  # numeric columns sort worst first
    assert header.get_attribute("aria-sort") == "descending"
    keys = column_keys(page, MAX_ABS_COLUMN)
    numbers = [float(k.replace("Infinity", "inf")) for k in keys if k]
    assert numbers == sorted(numbers, reverse=True) and numbers[0] == float("inf")
    assert all(not k for k in keys[len(numbers):]), "rows without a value sort last"
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    numbers = [float(k.replace("Infinity", "inf")) for k in column_keys(page, MAX_ABS_COLUMN) if k]
    assert numbers == sorted(numbers)
    page.locator("#tensor-table thead th").nth(1).locator("button").click()
    names = column_keys(page, 1)
    assert names == sorted(names, key=lambda n: n.lower()) or names[0] <= names[-1]


def test_copy_button_answers(loaded):
    button = loaded.page.locator("button.copy").first
    button.click()
    loaded.page.wait_for_function(
        "b => b.textContent !== 'Copy'", arg=button.element_handle(), timeout=2000)
    assert button.inner_text() in ("Copied", "Selected: press Ctrl+C")
    assert loaded.errors() == []


def test_script_node_name_shows_as_text_and_runs_nothing(loaded):
    page = loaded.page
    shown = page.get_by_text(SCRIPT_NODE, exact=True)
    assert shown.count() > 0
    assert page.evaluate("[...document.scripts].filter(s => s.type !== 'application/json').length") == 1
    assert page.evaluate("document.images.length") == 0
    page.fill("#filter-name", "<script>")  # the name filter finds it as plain text
    assert visible_rows(page) == 1
    assert page.locator("#tensor-table tbody tr:visible td").nth(2).inner_text() == SCRIPT_NODE
    page.fill("#filter-name", "")
    assert loaded.dialogs == []


def screenshot(loaded: Loaded, tmp_path_factory: Any, name: str) -> None:
    """A full-page screenshot under the pytest tmp dir (its path printed, to look at with -s)."""
    path = tmp_path_factory.mktemp("screenshots") / name
    loaded.page.evaluate("window.scrollTo(0, 0)")
    loaded.page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 20_000
    print(f"screenshot: {path}")


def test_screenshot(loaded, tmp_path_factory):
    screenshot(loaded, tmp_path_factory, "report.png")
    assert loaded.errors() == [] and loaded.dialogs == []
    assert loaded.requests == [loaded.url]


def test_minimal_report_loads_cleanly(browser, tmp_path):
    path = tmp_path / "minimal.html"
    write_report(minimal_comparison(), path)
    loaded = open_report(browser, path)
    try:
        loaded.page.check("#filter-failing")
        assert visible_rows(loaded.page) == 0
        assert loaded.errors() == [] and loaded.requests == [loaded.url]
    finally:
        loaded.page.context.close()


def test_no_horizontal_scroll_at_1400_px(loaded):
    """Acceptance 3: the page and the tensor table fit 1,400 px (long names wrap, the rarer
    columns wait behind the column toggles)."""
    page = loaded.page
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    box = page.evaluate("(() => { const b = document.querySelector('#tensors .table-box');"
                        " return [b.scrollWidth, b.clientWidth]; })()")
    assert box[0] <= box[1], box


def test_column_toggles_show_a_column_and_names_stay_in_view(loaded):
    page = loaded.page
    cosine = page.locator("#tensor-table thead th[data-key=cosine]")
    assert cosine.is_hidden()
    page.click("#column-toggles summary")
    for key in ("node", "p99_abs", "max_rel", "cosine"):
        page.check(f"#column-toggles input[data-column={key}]")
    assert cosine.is_visible()
    page.evaluate("document.querySelector('#tensors .table-box').scrollLeft = 10000")
    name = page.locator("#tensor-table tbody tr:visible td:nth-child(2)").first
    box = page.locator("#tensors .table-box").bounding_box()
    assert name.bounding_box()["x"] < box["x"] + 120  # sticky: still at the left edge
    page.uncheck("#column-toggles input[data-column=cosine]")
    assert cosine.is_hidden()
    for key in ("node", "p99_abs", "max_rel"):
        page.uncheck(f"#column-toggles input[data-column={key}]")
    page.click("#column-toggles summary")


def hover_point(page: Any, tensor: str) -> str:
    """Move the mouse onto the chart point of `tensor`; the text the hover box shows."""
    page.locator("svg.chart").scroll_into_view_if_needed()
    spot = page.evaluate("""name => {
      const svg = document.querySelector('svg.chart');
      const points = JSON.parse(document.getElementById('chart-points').textContent);
      const p = points.find(q => q.rows.some(r => r[0] === 'tensor' && r[1] === name));
      const m = svg.getScreenCTM();
      return [p.x * m.a + m.e, p.y * m.d + m.f];
    }""", tensor)
    page.mouse.move(spot[0] + 40, spot[1] + 40)
    page.mouse.move(*spot)
    page.wait_for_selector("#chart-tip:not([hidden])", timeout=2000)
    return page.locator("#chart-tip").inner_text()


def test_hovering_a_chart_point_names_the_tensor_and_node(loaded):
    text = hover_point(loaded.page, "/blocks.7/attn/Exp_output_0")
    assert "tensor: /blocks.7/attn/Exp_output_0" in text and "node: /blocks.7/attn/Exp (Exp" in text
    assert "max abs error: 0.4" in text and "status: FAIL" in text
    loaded.page.mouse.move(1, 1)
    assert loaded.page.locator("#chart-tip").is_hidden()


@pytest.fixture(scope="module")
def demo(browser, tmp_path_factory):
    """The demo's report, written by `trtdiff run` as `make demo` does (a real process, so that
    the command line it records is the real one)."""
    path = tmp_path_factory.mktemp("demo") / "demo.html"
    args = ["run", "fixtures/demo_convnet.onnx", "--fp16", "--mark-all", "--report", str(path)]
    done = subprocess.run([sys.executable, "-m", "trtdiff", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    loaded = open_report(browser, path)
    yield loaded
    loaded.page.context.close()


OVERFLOWING = ["head_out", "rescaled", "head_relu", "pooled", "features", "logits", "probs"]


def test_demo_marks_its_overflowing_tensors_at_the_top_in_place(demo):
    """Acceptance 4: each tensor holding Inf/NaN the reference lacks is drawn on the top edge at
    its own position (never as a drop of the error line); the others below it."""
    points = demo.page.evaluate("JSON.parse(document.getElementById('chart-points').textContent)")
    by_name = {dict(p["rows"])["tensor"]: p for p in points}
    top = min(p["y"] for p in points)
    assert {name for name, p in by_name.items() if p["y"] == top} == set(OVERFLOWING)
    xs = [by_name[name]["x"] for name in OVERFLOWING]
    assert xs == sorted(xs)
    assert demo.page.locator("svg.chart text", has_text="NaN/Inf in one run only").count() == 1
    text = hover_point(demo.page, "rescaled")
    assert "NaN/Inf in one run only: 3,409" in text and "node: rescale (Mul, #6)" in text


def test_demo_leads_with_the_overflow_and_ends_with_the_settings(demo):
    page = demo.page
    card = " ".join(page.locator("#divergence").inner_text().split())
    assert card.startswith("First divergence head_out node head_conv (Conv), index 5")
    assert "Not amplified" in card and "SNR 62.2 dB, not below the 40 dB" in card
    assert page.locator("#top-offenders tbody tr").count() == 1
    command = page.locator("#environment code.cmd").first.inner_text()
    assert command == f"trtdiff run fixtures/demo_convnet.onnx --fp16 --mark-all --report {demo.url[7:]}"
    assert "pooled" in page.locator("#histograms-left-out").inner_text()
    last = page.evaluate("document.querySelector('main').lastElementChild.id")
    assert last == "next-step"  # a failing report ends with the next command to try
    assert "trtdiff bisect fixtures/demo_convnet.onnx --fp16" in page.locator("#next-step").inner_text()
    assert demo.errors() == [] and demo.requests == [demo.url]


def test_demo_screenshot(demo, tmp_path_factory):
    screenshot(demo, tmp_path_factory, "demo.png")
