"""The per-layer error chart: what it plots, and that it stays light for 2,000 layers."""

from __future__ import annotations

import dataclasses
import math
import re

from report_factory import SCRIPT_NODE, metrics_for, synthetic_comparison

from trtdiff.report.plots import ChartData, chart_data_from_comparison, error_chart, short, shown_cumulative


def test_chart_data_follows_topological_order_and_skips_uncompared():
    comparison = synthetic_comparison(80)
    data = chart_data_from_comparison(comparison)
    assert data.index == sorted(data.index) and min(data.index) == 0
    assert len(data.index) == 80  # graph input, unpaired and mismatched tensors are left out
    assert data.first_divergence is not None and data.first_divergence[0] == 32  # the Exp's SNR
    assert data.tolerance_failure is not None and data.tolerance_failure[0] == 26  # scale only
    assert data.offenders[0] == (32, 0.4, 1)
    assert sum(data.failing) == sum(1 for t in comparison.compared if t.passed is False)


def test_chart_for_2000_layers_is_one_light_svg():
    """Readable and cheap for 2,000 layers: dense series are single paths, not one element per
    point (each <use> costs the browser layout time)."""
    svg = error_chart(chart_data_from_comparison(synthetic_comparison(2000))).svg
    assert svg.startswith("<svg") and svg.endswith("</svg>\n")
    assert "<?xml" not in svg and "DOCTYPE" not in svg and "<metadata" not in svg
    assert 'viewBox="' in svg and not re.search(r'<svg[^>]*\swidth="', svg)
    assert len(svg) < 600_000
    assert svg.count("<use") < 200
    for label in ("tolerance (atol)", "cumulative error", "local error", "failing",
                  "NaN/Inf in one run only", "top offenders", "first divergence", "#1"):
        assert label in svg, label


def test_chart_handles_zero_nan_inf_and_missing_values():
    values = [0.0, 1e-5, math.inf, math.nan, 2.0]
    data = ChartData(index=list(range(5)), cumulative=values, local=[None, 0.0, 1e-6, math.nan, 1.0],
                     tolerance=[0.0] * 5, failing=[False, False, True, True, True],
                     offenders=[(4, math.inf, 1)], first_divergence=(2, "first divergence: x"))
    svg = error_chart(data).svg
    assert "<svg" in svg and "NaN/Inf in one run only" in svg


def test_perfect_match_still_draws_a_chart():
    comparison = synthetic_comparison(30, extras=False)
    zero = metrics_for(0.0)
    perfect = dataclasses.replace(comparison, passed=True, first_divergence=None, significant_divergence=None,
                                  offenders=(), tensors=tuple(
        dataclasses.replace(t, metrics=zero, local=zero, passed=True) if t.metrics else t
        for t in comparison.tensors))
    svg = error_chart(chart_data_from_comparison(perfect)).svg
    assert "<svg" in svg and "failing" not in svg and "first divergence" not in svg


def test_empty_chart_is_empty_and_labels_keep_the_end_of_long_names():
    assert error_chart(ChartData([], [], [], [], [])).svg == ""
    name = "/model/encoder/layers.11/self_attn/" + "x" * 60 + "/Softmax"
    assert short(name).endswith("/Softmax") and len(short(name)) == 48
    assert short(SCRIPT_NODE) == SCRIPT_NODE


def test_nonfinite_disagreements_are_drawn_at_the_top_at_their_position_never_as_a_drop():
    """A tensor holding Inf where the reference is finite has a small finite max_abs; the chart
    must not show the error recovering there."""
    comparison = synthetic_comparison(80)
    data = chart_data_from_comparison(comparison)
    overflowing = [i for i, bad in enumerate(data.nonfinite) if bad]
    assert overflowing and all(math.isinf(shown_cumulative(data)[i]) for i in overflowing)
    chart = error_chart(data)
    tops = {round(p.y, 1) for i, p in enumerate(chart.points) if i in overflowing}
    assert len(tops) == 1  # all on the same top edge
    top = tops.pop()
    assert all(p.y > top for i, p in enumerate(chart.points) if i not in overflowing and math.isfinite(
        shown_cumulative(data)[i]))  # SVG y grows downwards: everything finite is drawn lower
    xs = [p.x for p in chart.points]
    assert xs == sorted(xs) and len(xs) == len(data.index)


def test_hover_points_name_the_tensor_node_and_values():
    chart = error_chart(chart_data_from_comparison(synthetic_comparison(40)))
    exp = next(p for p in chart.points if p.text["node"].startswith("/blocks.7/attn/Exp"))
    assert exp.text["tensor"] == "/blocks.7/attn/Exp_output_0"
    assert exp.text["max abs error"] == "0.4" and exp.text["status"] == "FAIL"
    width, height = (float(v) for v in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', chart.svg).groups())
    assert all(0 < p.x < width and 0 < p.y < height for p in chart.points)


def test_small_charts_name_their_tensors_on_the_x_axis():
    small = error_chart(chart_data_from_comparison(synthetic_comparison(20, extras=False))).svg
    assert "tensor, in topological order" in small and ">/blocks.0/Add_3_output_0<" in small
    large = error_chart(chart_data_from_comparison(synthetic_comparison(80, extras=False))).svg
    assert "topological index of the producing node" in large
