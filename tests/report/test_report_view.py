"""The view model: what the report says, formatted in Python, and a template that computes nothing."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jinja2
import pytest
from jinja2 import nodes
from markupsafe import Markup
from report_factory import SCRIPT_NODE, minimal_comparison, synthetic_comparison

import trtdiff.report
from trtdiff import formatting as fmt
from trtdiff.report.view import view_from_comparison

TEMPLATES = Path(trtdiff.report.__file__).parent / "templates"


@pytest.fixture(scope="module")
def comparison():
    return synthetic_comparison(120)


@pytest.fixture(scope="module")
def view(comparison):
    return view_from_comparison(comparison, command="trtdiff report r.json -o r.html")


def test_formatting_covers_missing_and_non_finite_values():
    assert fmt.fmt_error(None) == fmt.MISSING
    assert fmt.fmt_error(math.nan) == "NaN"
    assert fmt.fmt_error(math.inf) == "inf"
    assert fmt.fmt_error(0.0) == "0"
    assert fmt.fmt_error(0.4) == "0.4"
    assert fmt.fmt_error(1.234e-5) == "1.23e-05"
    assert fmt.fmt_cosine(0.99999) == "0.999990"
    assert fmt.fmt_ratio(12.34) == "12.3×"
    assert fmt.fmt_count(12, 1000) == "12 (1.2%)"
    assert [fmt.sort_key(v) for v in (None, math.nan, math.inf, -math.inf, 3, 0.5)] == [
        "", "", "Infinity", "-Infinity", "3", "0.5"]


def _leaves(value, path="view"):
    """Every leaf of the view model, with where it sits."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def test_view_holds_only_text_so_the_template_formats_nothing(view):
    """Acceptance 3: numbers are formatted in Python; the context has no int or float left."""
    for path, leaf in _leaves(view):
        assert leaf is None or isinstance(leaf, (str, bool, Markup)), f"{path} = {leaf!r}"


ARITHMETIC = (nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow,
              nodes.Neg)
NUMERIC_FILTERS = {"round", "sum", "int", "float", "format", "filesizeformat", "abs", "max", "min",
                   "length", "count"}


@pytest.mark.parametrize("name", ["report.html.j2"])
def test_template_has_no_arithmetic_and_no_numeric_filters(name):
    """Acceptance 3: the template only places strings; a static walk of its syntax tree proves
    it does no arithmetic and calls no filter that computes a number."""
    env = jinja2.Environment()
    tree = env.parse((TEMPLATES / name).read_text(encoding="utf-8"))
    assert not list(tree.find_all(ARITHMETIC))
    filters = {f.name for f in tree.find_all(nodes.Filter)}
    assert not filters & NUMERIC_FILTERS, filters
    assert not [f for f in tree.find_all(nodes.Filter) if f.name == "safe"], "no |safe on model text"


def test_verdict_and_first_divergence(view, comparison):
    assert view["verdict"]["label"] == "FAIL"
    assert view["verdict"]["detail"].startswith("2 of 2 outputs outside tolerance; ")
    assert "could not be compared" in view["verdict"]["detail"]
    divergence = view["divergence"]
    assert divergence["label"] == "First divergence"
    lead, other = divergence["lead"], divergence["other"]
    assert lead["tensor"] == comparison.significant_divergence == "/blocks.7/attn/Exp_output_0"
    assert "SNR 20.0 dB, below the 40 dB divergence threshold" in lead["why"]
    assert other["tensor"] == comparison.first_divergence != lead["tensor"]
    assert other["why"] == "first outside tolerance, but SNR 62.0 dB, not below the 40 dB divergence threshold"
    assert lead["anchor"].startswith("t-") and lead["max_abs"] not in ("", fmt.MISSING)


def test_outputs_worst_first(view):
    outputs = view["outputs"]
    assert len(outputs) == 2
    assert outputs[0]["status"] == "FAIL"
    first, second = (float(o["max_abs"]) for o in outputs)
    assert first >= second


def test_top_offenders_carry_cause_hint_messages(view):
    top = view["top_offenders"]
    assert top[0]["rank"] == "1" and top[0]["op_type"] == "Exp"
    assert any("65504" in hint for hint in top[0]["hints"])


def test_neighbourhood_lists_producers_and_consumers_with_errors(view):
    culprit = view["neighbourhoods"][0]
    assert culprit["node"] == "/blocks.7/attn/Exp"
    (incoming,) = culprit["hood"]["inputs"]
    assert incoming["from"].endswith("(Gelu)") and incoming["css"] == "pass"
    (outgoing,) = culprit["hood"]["outputs"]
    assert outgoing["css"] == "fail"
    assert outgoing["to"] and all("(" in consumer for consumer in outgoing["to"])


def test_neighbourhood_without_graph_says_so(comparison):
    bare = dataclasses.replace(comparison, graph=())
    hoods = view_from_comparison(bare)["neighbourhoods"]
    assert hoods and all(h["hood"] is None for h in hoods)


def test_histograms_are_the_worst_tensors_and_mark_bins_over_tolerance(view):
    hists = view["histograms"]["shown"]
    assert 0 < len(hists) <= 6
    assert hists[0]["max_abs"] == "inf"  # the overflowing tensor is the worst
    bars = hists[1]["bars"]
    assert len(bars) == 19 and {b["css"] for b in bars} >= {"over", "zero"}
    assert max(b["height"] for b in bars if b["height"].startswith("100"))


def test_table_has_every_tensor_and_flags_failing_rows(view, comparison):
    table = view["table"]
    assert len(table["rows"]) == len(comparison.tensors)
    failing = [r for r in table["rows"] if r["failing"]]
    assert table["failing"] == f"{len(failing):,}" and 0 < len(failing) < len(comparison.tensors)
    assert SCRIPT_NODE in {r["cells"][2]["text"] for r in table["rows"]}
    statuses = {r["cells"][5]["text"] for r in table["rows"]}
    assert {"pass", "FAIL", "FAIL; Inf in target 3", "reference only", "shape mismatch"} <= statuses
    assert "Exp" in table["op_types"]


def test_environment_lists_versions_first_and_the_settings(view):
    env = view["environment"]
    assert [k for k, _ in env["versions"]][:4] == ["trtdiff", "onnx", "onnxruntime", "tensorrt"]
    settings = dict(env["settings"])
    assert "atol 0.001" in settings["tolerances"] and settings["seed"] == "1"
    assert env["inputs"][0][0] == "input" and '"default": "fp16"' in env["precision_plan"]
    commands = dict(env["commands"])
    assert commands["command"].startswith("trtdiff run") and commands["report written by"].startswith("trtdiff report")
    assert settings["divergence SNR"] == "40.0 dB"


def test_bisect_view_with_exports(view):
    bisect = view["bisect"]
    assert bisect["label"] == "passes" and bisect["fp32_count"] == "2 nodes"
    assert [o["name"] for o in bisect["outputs"]] == ["logits", "aux"]
    assert {x["name"] for x in bisect["exports"]} == {
        "modelopt_autocast", "onnxruntime_node_block_list", "json"}


def test_partial_bisect_and_engine_layers_still_give_a_view(comparison):
    odd = dataclasses.replace(comparison, bisect={"fp32_nodes": ["n1", {"node": "n2"}]},
                              engine_layers=({"name": "L0"}, {"type": "Conv", "extra": [1, 2]}))
    view = view_from_comparison(odd)
    assert view["bisect"]["label"] == "unknown" and view["bisect"]["exports"] == []
    assert [n["node"] for n in view["bisect"]["fp32_nodes"]] == ["n1", "n2"]
    assert view["engine_layers"]["rows"][1][-1] == "extra=1, 2"


def test_minimal_comparison_gives_a_view():
    view = view_from_comparison(minimal_comparison())
    assert view["chart_svg"] == "" and view["table"]["rows"] == []
    assert view["divergence"] is None and view["bisect"] is None
    assert view["engine_layers"] is None


@pytest.mark.parametrize("said,expected", [
    ("skipped: the verdict passed (--attribute runs it anyway)", "attribution skipped: the verdict passed"),
    ("off", "attribution was off (--attribute turns it on)"),
    ("on", "no local errors in this result"),
])
def test_an_empty_offender_table_says_why(said, expected):
    base = minimal_comparison()
    comparison = dataclasses.replace(base, offenders=(),
                                     settings=dataclasses.replace(base.settings, attribution=said))
    assert expected in view_from_comparison(comparison)["no_offenders"]
    from trtdiff.report.html import render_report

    assert expected in render_report(comparison).replace("&#39;", "'")


def test_offenders_show_score_and_local_error_and_only_those_near_the_top(view, comparison):
    """Acceptance 3: the score (relative RMS added) and the local max abs are separate columns;
    only nodes scoring at least 1 % of the top are called offenders, and the rule is stated."""
    top = view["top_offenders"]
    assert [o["node"] for o in top][:1] == ["/blocks.7/attn/Exp"] and len(top) == 3
    assert all(o["score"] and o["local"] for o in top)
    by_node = {t.node: t for t in comparison.tensors}
    assert top[0]["local"] == fmt.fmt_error(by_node[top[0]["node"]].local.max_abs)
    assert "score at least 1% of the top score" in view["offender_rule"]
    assert f"{len(comparison.offenders) - 3} other nodes" in view["offender_rule"]


def test_histograms_leave_out_all_nonfinite_tensors_and_say_so(comparison):
    boom = comparison.tensors[5]
    size = boom.metrics.size
    histogram = (0,) * (len(boom.metrics.histogram) - 1) + (size,)
    every = dataclasses.replace(boom, metrics=dataclasses.replace(boom.metrics, histogram=histogram,
                                                                  max_abs=math.nan), passed=False)
    tensors = (*comparison.tensors[:5], every, *comparison.tensors[6:])
    hists = view_from_comparison(dataclasses.replace(comparison, tensors=tensors))["histograms"]
    assert boom.name not in {h["tensor"] for h in hists["shown"]}
    assert [t["tensor"] for t in hists["left_out"]] == [boom.name] and hists["left_out_count"] == "1"


def test_chart_points_are_json_that_cannot_close_the_script(view):
    points = str(view["chart_points"])
    assert "<" not in points and ">" not in points and "\\u003cscript\\u003e" in points
    import json

    decoded = json.loads(points)
    assert all({"x", "y", "a", "rows"} <= set(p) for p in decoded)
    assert any(dict(p["rows"])["node"].startswith(SCRIPT_NODE) for p in decoded)


def test_tensor_table_starts_with_the_columns_that_fit(view):
    columns = {c["key"]: c["shown"] for c in view["table"]["columns"]}
    assert not columns["node"] and not columns["cosine"] and columns["max_abs"] and columns["tensor"]
    assert set(view["table"]["hidden_classes"].split()) == {f"hide-{k}" for k, shown in columns.items()
                                                            if not shown}


def test_a_failing_report_ends_with_the_next_command(comparison):
    from trtdiff.result import NextStep

    step = NextStep("trtdiff bisect model.onnx --fp16", "find the smallest set of nodes to keep in FP32")
    shown = view_from_comparison(dataclasses.replace(comparison, bisect=None, next_steps=(step,)))["next_steps"]
    assert shown == [{"command": step.command, "why": step.why, "id": "next-command-0"}]
    assert view_from_comparison(dataclasses.replace(comparison, passed=True, next_steps=()))["next_steps"] == []

def test_settings_name_the_checks_that_decided(comparison):
    """A run judged by `--check topk:1 --min-agreement 0.9` said "check elementwise" in the
    report's settings (the shared statistic, not the checks given)."""
    tol = dataclasses.replace(comparison.settings.tolerances, checks=("topk:1", "boxes:cosine:0.999"),
                              min_agreement=0.9)
    judged = dataclasses.replace(comparison, settings=dataclasses.replace(comparison.settings, tolerances=tol))
    settings = dict(view_from_comparison(judged)["environment"]["settings"])
    assert "check topk:1, boxes:cosine:0.999," in settings["tolerances"]
    assert settings["min agreement"] == "90.0% of the samples must pass"
