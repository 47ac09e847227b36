"""The HTML report's regression-gate section, from a result's `gate` (the JSON form of the gate):
present only for a check, model strings escaped, the chart drawn from both sides."""

from __future__ import annotations

import dataclasses

from gate_factory import chain, comparison, profile

from trtdiff.baseline.gate_json import diff_to_dict
from trtdiff.baseline.profile_diff import compare_profiles
from trtdiff.report.gate import gate_view
from trtdiff.report.html import render_report
from trtdiff.result import comparison_from_json, comparison_to_json

HOSTILE = "<script>alert(1)</script>"


def checked(**errors: float):
    old = profile({"t0": 1e-4, HOSTILE: 1e-4, "out": 1e-4})
    new_errors = {"t0": 1e-4, HOSTILE: 1e-4, "out": 1e-4, **errors}
    new = comparison(new_errors)
    return dataclasses.replace(new, gate=diff_to_dict(compare_profiles(old, profile(new_errors))))


def test_no_gate_no_section() -> None:
    assert gate_view(None) is None
    assert '<section id="gate">' not in render_report(comparison(chain(3)))


def test_the_section_shows_outputs_where_and_both_curves_escaped() -> None:
    result = checked(**{HOSTILE: 9e-4, "out": 9e-4})
    html = render_report(result)
    assert '<section id="gate">' in html and "gate fails" in html
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    view = gate_view(result.gate)
    assert view is not None and view["first"]["name"] == HOSTILE
    assert [r["name"] for r in view["rows"]] == [HOSTILE, "out"] and view["grew_count"] == "2 of 3"
    svg = str(view["chart_svg"])
    assert svg.startswith("<svg") and "candidate" in svg and "grew beyond the margin" in svg


def test_the_section_survives_the_json_round_trip() -> None:
    result = checked(out=9e-4)
    again = comparison_from_json(comparison_to_json(result))
    assert gate_view(again.gate) == gate_view(result.gate)
