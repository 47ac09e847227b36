"""Precision bisect over plans, on the planted-fault fixtures (with the FP16 emulation stand-in)."""

from __future__ import annotations

import json

import pytest
from bisect_helpers import load_fixture, ort_infer
from fakes import FakePlan, fake_apply

from trtdiff.bisect.precision import SearchInterrupted, bisect_precision
from trtdiff.bisect.search import STATUS_ALL_FP32_FAILS, STATUS_ALL_LOWER_PASSES, STATUS_MINIMAL
from trtdiff.errors import UsageError
from trtdiff.result import Tolerances

KINDS = ("one_culprit", "two_culprits", "amplified_culprit", "paired_overflow")


def tolerances(expected, atol=None):
    return Tolerances(atol=atol if atol is not None else expected["atol"], rtol=expected["rtol"],
                      check="elementwise", rel_floor=1e-6)


def bisect(kind, expected, feeds, **kwargs):
    model = load_fixture(kind)
    reference = ort_infer(model, feeds)
    kwargs.setdefault("ranking", [])
    tol = kwargs.pop("tol", tolerances(expected))
    return bisect_precision(model, FakePlan(), feeds, reference, tol, infer=ort_infer, apply=fake_apply, **kwargs)


@pytest.mark.parametrize("kind", KINDS)
def test_bisect_finds_the_planted_minimal_set_in_graph_order(kind, expected, fixture_feeds):
    found = bisect(kind, expected, fixture_feeds)
    assert found.search.status == STATUS_MINIMAL
    assert sorted(n["node"] for n in found.fp32_nodes) == sorted(expected["minimal_fp32"][kind])
    assert all("without it" in n["reason"] and "fails" in n["reason"] for n in found.fp32_nodes)
    assert any(not error <= expected["atol"] for error in found.outputs_before.values())  # NaN too
    assert max(found.outputs_after.values()) < expected["atol"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_good_ranking_makes_the_search_cheap(kind, expected, fixture_feeds):
    culprits = expected["minimal_fp32"][kind]
    found = bisect(kind, expected, fixture_feeds, ranking=culprits)
    assert sorted(n["node"] for n in found.fp32_nodes) == sorted(culprits)
    # all-lower, galloping prefixes up to the culprits, then one removal check per extra culprit
    assert found.search.evaluations <= 2 + 2 * (len(culprits) - 1)


def test_by_op_type_finds_the_same_set(expected, fixture_feeds):
    found = bisect("two_culprits", expected, fixture_feeds, by_op_type=True)
    assert sorted(n["node"] for n in found.fp32_nodes) == ["culprit_div_a", "culprit_div_b"]
    assert "op_type_prefix" in found.search.phases


def test_json_layout(expected, fixture_feeds):
    data = json.loads(json.dumps(bisect("one_culprit", expected, fixture_feeds).to_dict()))
    assert {"passed", "fp32_nodes", "evaluations", "outputs_before", "outputs_after", "exports"} <= set(data)
    assert data["passed"] is True and data["fp32_nodes"][0]["op_type"] == "Div"
    assert data["plan"]["keep_fp32_nodes"] == ["culprit_div"]


def test_tolerance_unreachable_even_in_fp32_is_said_plainly(expected, fixture_feeds):
    found = bisect("one_culprit", expected, fixture_feeds, tol=tolerances(expected, atol=-1.0))
    assert found.search.status == STATUS_ALL_FP32_FAILS and not found.passed
    assert "even with all" in found.message


def test_all_lower_passing_is_said_plainly(expected, fixture_feeds):
    found = bisect("one_culprit", expected, fixture_feeds, tol=tolerances(expected, atol=10.0))
    assert found.search.status == STATUS_ALL_LOWER_PASSES and found.fp32_nodes == ()
    assert "nothing needs FP32" in found.message and found.search.evaluations == 1


def test_interrupt_saves_state_and_resume_repeats_nothing(tmp_path, expected, fixture_feeds):
    calls = []

    def counting_infer(model, feeds):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return ort_infer(model, feeds)

    model = load_fixture("two_culprits")
    reference = ort_infer(model, fixture_feeds)
    state = tmp_path / "s.json"
    args = (model, FakePlan(), fixture_feeds, reference, tolerances(expected))
    with pytest.raises(SearchInterrupted) as info:
        bisect_precision(*args, infer=counting_infer, apply=fake_apply, ranking=[], interrupt_path=state)
    assert info.value.path == state and info.value.evaluations == 3
    done = len(calls)
    found = bisect_precision(*args, infer=counting_infer, apply=fake_apply, ranking=[], state_path=state)
    assert found.search.evaluations == found.search.new_evaluations + 3
    assert len(calls) - done == found.search.new_evaluations
    other = load_fixture("one_culprit")
    with pytest.raises(UsageError, match="another model"):
        bisect_precision(other, FakePlan(), fixture_feeds, ort_infer(other, fixture_feeds), tolerances(expected),
                         infer=ort_infer, apply=fake_apply, ranking=[], state_path=state)


def test_max_evals_returns_best_passing_set(expected, fixture_feeds):
    found = bisect("two_culprits", expected, fixture_feeds, max_evals=5)
    assert found.search.status == "budget" and found.search.evaluations == 5
    assert "max-evals" in found.message


def test_attribution_ranking_is_used_when_available(monkeypatch, expected, fixture_feeds):
    import trtdiff.attribution

    calls = []

    def local_error_ranking(model, plan, feeds):
        calls.append(plan)
        return ["culprit_div_b", "culprit_div_a"]

    monkeypatch.setattr(trtdiff.attribution, "local_error_ranking", local_error_ranking)
    found = bisect("two_culprits", expected, fixture_feeds, ranking=None)
    assert calls and found.ranking_source == "local error (attribution)"
    assert [n["node"] for n in found.fp32_nodes] == ["culprit_div_b", "culprit_div_a"]
    assert found.search.evaluations == 4
