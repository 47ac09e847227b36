"""The written HTML: self-contained, escaped, complete, atomic (acceptance 1, 2, 3, 6)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import re
from html.parser import HTMLParser

import pytest

from trtdiff import fileio
from report_factory import DOLLAR_NODE, IMG_TENSOR, SCRIPT_NODE, minimal_comparison, synthetic_comparison

from trtdiff.errors import ExitCode, TrtDiffError, UsageError
from trtdiff.report import render_report, write_report
from trtdiff.result import comparison_from_json, comparison_to_json


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text of each <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script" and dict(attrs).get("type") != "application/json"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def _parse(text: str) -> _Elements:
    parser = _Elements()
    parser.feed(text)
    return parser


@pytest.fixture(scope="module")
def comparison():
    return synthetic_comparison(150)


@pytest.fixture(scope="module")
def small():
    """For tests about writing files, where the size of the model does not matter."""
    return synthetic_comparison(30)


@pytest.fixture(scope="module")
def page(comparison):
    return render_report(comparison, command="trtdiff report r.json -o r.html")


def test_report_is_self_contained(page):
    """Acceptance 1: nothing to fetch: no src attributes; links, url() and SVG references point
    inside the page (or to data:)."""
    parsed = _parse(page)
    assert not [attrs for _, attrs in parsed.tags if "src" in attrs]
    hrefs = {attrs["href"] for tag, attrs in parsed.tags if tag in ("a", "link") and attrs.get("href")}
    assert hrefs and all(h.startswith("#") or h == "data:," for h in hrefs), hrefs
    assert not re.search(r"@import|<iframe|<object|<embed|<img|<image", page)
    assert all(url.startswith("#") for url in re.findall(r"url\(([^)]*)\)", page))
    links = [a["xlink:href"] for _, a in parsed.tags if "xlink:href" in a]
    assert links and all(link.startswith("#") for link in links)


def test_csp_forbids_fetches_and_pins_the_one_script(page):
    """Acceptance 1 and 3: default-src 'none', and only the report's own script may run."""
    parsed = _parse(page)
    (meta,) = [a for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    policy = meta["content"]
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    (script,) = parsed.scripts
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy


def test_hostile_model_strings_are_escaped(page):
    """Acceptance 3: a node named <script>alert(1)</script> shows as text and adds no element."""
    assert SCRIPT_NODE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert IMG_TENSOR not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    parsed = _parse(page)
    scripts = [a for t, a in parsed.tags if t == "script"]
    assert len(parsed.scripts) == 1 and [a.get("type") for a in scripts].count("application/json") == len(scripts) - 1
    assert "img" not in {t for t, _ in parsed.tags}
    assert not [a for _, a in parsed.tags if any(k.startswith("on") for k in a)]


def test_hostile_names_in_the_chart_are_escaped_and_dollar_signs_printed(comparison):
    """The chart labels the first divergence with its node name: matplotlib must escape it, and a
    `$` must not switch on mathtext."""
    for node in (SCRIPT_NODE, DOLLAR_NODE):
        tensor = next(t for t in comparison.tensors if t.node == node)
        page = render_report(dataclasses.replace(comparison, first_divergence=tensor.name))
        svg = page[page.index("<svg"):page.index("</svg>")]
        assert "first divergence" in svg
        assert SCRIPT_NODE not in svg
    assert "$x$" in svg


def test_report_has_every_section(page, comparison):
    """Acceptance 2: verdict, summary, environment, chart, table, histograms, neighbourhoods, bisect."""
    parsed = _parse(page)
    ids = {a.get("id") for _, a in parsed.tags}
    assert {"summary", "verdict", "chart", "tensors", "tensor-table", "filter-failing", "filter-op",
            "filter-name", "offenders", "histograms", "bisect", "engine", "environment"} <= ids
    rows = [a for t, a in parsed.tags if t == "tr" and (a.get("id") or "").startswith("t-")]
    assert len(rows) == len(comparison.tensors)
    assert sum(a["data-failing"] == "1" for a in rows) > 0
    for text in ("FAIL", "First divergence", "1.20.1", "NVIDIA H100 80GB HBM3", "atol 0.001",
                 "seed=1", "trtdiff run model.onnx", "nodes_to_exclude", "class=\"copy\""):
        assert text in page, text
    assert page.count('class="hood"') == 3 and page.count('class="hist"') == 6  # named offenders only


def test_minimal_comparison_renders():
    page = render_report(minimal_comparison())
    assert "No compared tensors to plot" in page and "No offenders" in page
    assert 'id="bisect"' not in page


def test_json_round_trip_renders_the_same_report(comparison, page):
    """`trtdiff report` reads the --json file: it must give the same page as the live object."""
    again = comparison_from_json(comparison_to_json(comparison))
    assert render_report(again, command="trtdiff report r.json -o r.html") == page


def test_write_report_writes_a_readable_file(tmp_path, small):
    target = tmp_path / "new" / "dir" / "report.html"
    write_report(small, target)
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert os.stat(target).st_mode & 0o044 == 0o044
    assert os.listdir(target.parent) == ["report.html"]


def test_render_failure_leaves_the_old_file_and_says_why(tmp_path, small):
    """Acceptance 6: a result that cannot be rendered raises TrtDiffError naming the cause; the
    previous report stays as it was and no temporary file is left."""
    target = tmp_path / "report.html"
    target.write_text("previous report")
    broken = dataclasses.replace(small, tensors=(dataclasses.replace(
        small.tensors[0], metrics="not metrics"),))
    with pytest.raises(TrtDiffError) as caught:
        write_report(broken, target)
    assert "could not render the HTML report" in str(caught.value)
    assert "AttributeError" in str(caught.value) and caught.value.exit_code == ExitCode.TOOL
    assert target.read_text() == "previous report"
    assert os.listdir(tmp_path) == ["report.html"]


def test_write_failure_removes_the_temporary_file(tmp_path, small, monkeypatch):
    """Acceptance 6: a failure between writing and renaming leaves no partial file anywhere."""
    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "replace", refuse)
    with pytest.raises(UsageError, match="No space left on device"):
        write_report(small, tmp_path / "report.html")
    assert os.listdir(tmp_path) == []


def test_unwritable_paths_are_usage_errors(tmp_path, small):
    with pytest.raises(UsageError, match="it is a directory"):
        write_report(small, tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="cannot write"):
        write_report(small, blocker / "report.html")
    assert os.listdir(tmp_path) == ["file"]


def test_rendering_is_deterministic(comparison, page):
    assert render_report(comparison, command="trtdiff report r.json -o r.html") == page


def test_inconsistent_but_valid_results_still_render(small):
    """Fields that disagree with each other (as a hand-edited or older JSON might) still give a
    page: an offender and a first divergence naming absent tensors, a histogram of another
    length, a graph node with an empty input, engine layers missing their fields."""
    from trtdiff.result import GraphNode, Offender

    tensors = [dataclasses.replace(t, metrics=dataclasses.replace(t.metrics, histogram=(1, 2, 3)))
               if t.metrics else t for t in small.tensors]
    odd = dataclasses.replace(
        small, tensors=tuple(tensors), first_divergence="gone",
        offenders=(Offender(1, "ghost", "ghost_out", "Exp", -1, 1.0, ("overflow",)),
                   Offender(2, "nan_score", "x", "Exp", -1, float("nan"))),
        graph=small.graph + (GraphNode("ghost", "Exp", 99, ("", "w"), ("ghost_out",)),),
        engine_layers=({}, {"name": None, "onnx_nodes": []}), bisect={"exports": {"x": None}})
    page = render_report(odd)
    assert "ghost" in page and "bin 2" in page and "gone" in page and "nan_score" not in page
