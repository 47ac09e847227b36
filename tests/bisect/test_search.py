"""The pure search: minimality, evaluation counts, memoisation, budget, resumable state."""

from __future__ import annotations

import json
import math
import random

import pytest

from trtdiff.bisect.search import (
    STATUS_ALL_FP32_FAILS, STATUS_ALL_LOWER_PASSES, STATUS_BUDGET, STATUS_MINIMAL, minimal_fp32_set,
    shortest_passing_prefix)
from trtdiff.bisect.state import Memo, Outcome, SearchState
from trtdiff.errors import UsageError

NODES = [f"n{i}" for i in range(40)]


def needs(*required_sets: set[str]):
    """A monotone evaluate: passes when the FP32 set covers every required set; counts calls."""
    calls: list[frozenset[str]] = []

    def evaluate(fp32: frozenset[str]) -> bool:
        calls.append(fp32)
        return all(req <= fp32 for req in required_sets)

    evaluate.calls = calls  # type: ignore[attr-defined]
    return evaluate


def run(ranking, evaluate, **kwargs):
    memo = Memo(evaluate, SearchState("h"), **{k: v for k, v in kwargs.items() if k != "groups"})
    return minimal_fp32_set(ranking, memo, groups=kwargs.get("groups")), memo


def test_single_culprit_ranked_first_costs_two_evaluations():
    evaluate = needs({"n0"})
    result, _ = run(NODES, evaluate)
    assert result.status == STATUS_MINIMAL and result.fp32 == ("n0",)
    assert result.evaluations == 2 == len(evaluate.calls)


def test_two_culprits_anywhere_in_the_ranking():
    evaluate = needs({"n3"}, {"n17"})
    result, _ = run(NODES, evaluate)
    assert set(result.fp32) == {"n3", "n17"}
    assert result.evaluations <= 20
    assert len(set(evaluate.calls)) == len(evaluate.calls), "an FP32 set was evaluated twice"


def test_result_is_one_minimal_for_random_monotone_functions():
    rng = random.Random(7)
    for _ in range(30):
        nodes = NODES[: rng.randint(5, 40)]
        # passes when it covers at least one of each clause's alternatives (a monotone CNF)
        clauses = [set(rng.sample(nodes, rng.randint(1, 3))) for _ in range(rng.randint(1, 4))]

        def evaluate(fp32, clauses=clauses):
            return all(fp32 & clause for clause in clauses)

        ranking = rng.sample(nodes, len(nodes))
        memo = Memo(evaluate, SearchState("h"), assume_monotone=False)
        result = minimal_fp32_set(ranking, memo, gallop=rng.random() < 0.5)
        chosen = frozenset(result.fp32)
        assert evaluate(chosen)
        for node in chosen:
            assert not evaluate(chosen - {node}), f"{node} could be dropped from {sorted(chosen)}"
        assert set(result.necessary) == set(chosen)


def test_all_lower_passes_and_all_fp32_fails_are_reported():
    result, _ = run(NODES, lambda s: True)
    assert result.status == STATUS_ALL_LOWER_PASSES and result.fp32 == () and result.evaluations == 1
    result, _ = run(NODES, lambda s: False)
    assert result.status == STATUS_ALL_FP32_FAILS and not result.passed


def test_budget_returns_best_passing_set_found():
    evaluate = needs({"n30"}, {"n31"})
    result, memo = run(NODES, evaluate, max_evals=8)
    assert result.status == STATUS_BUDGET and result.passed
    assert {"n30", "n31"} <= set(result.fp32)
    assert memo.evaluations == 8


def test_phases_count_every_evaluation_also_when_the_budget_runs_out_inside_one():
    for budget in (3, 8, 12):
        result, memo = run(NODES, needs({"n30"}, {"n31"}, {"n5"}), max_evals=budget)
        assert result.status == STATUS_BUDGET
        assert 1 + sum(result.phases.values()) == memo.evaluations == budget  # 1: the all-lower check


def test_budget_before_any_pass_reports_failure():
    result, _ = run(NODES, needs({"n39"}), max_evals=2)
    assert result.status == STATUS_BUDGET and not result.passed and result.fp32 == ()


def test_by_op_type_searches_types_first():
    groups = {n: ("Conv" if i % 2 else "Relu") for i, n in enumerate(NODES)}
    evaluate = needs({"n5"})
    result, _ = run(NODES, evaluate, groups=groups)
    assert result.fp32 == ("n5",)
    assert any(k.startswith("op_type_") for k in result.phases)
    # the first non-trivial evaluation keeps every Conv at once
    assert frozenset(n for n in NODES if groups[n] == "Conv") in evaluate.calls


def test_prefix_search_matches_a_linear_scan():
    for k in range(1, 20):
        assert shortest_passing_prefix(NODES[:19], lambda p, k=k: len(p) >= k) == k
    assert shortest_passing_prefix(NODES[:19], lambda p: False) is None


def test_interrupted_search_resumes_without_repeating_evaluations(tmp_path):
    path = tmp_path / "state.json"
    evaluate = needs({"n11"}, {"n25"})

    class Interrupt(Exception):
        pass

    def interrupted(fp32):
        if len(evaluate.calls) == 5:
            raise Interrupt()
        return evaluate(fp32)

    memo = Memo(interrupted, SearchState("model-a", "s"), state_path=path)
    with pytest.raises(Interrupt):
        minimal_fp32_set(NODES, memo)
    assert len(json.loads(path.read_text())["evaluations"]) == 5

    state = SearchState.load(path, "model-a", "s")
    memo = Memo(evaluate, state, state_path=path)
    result = minimal_fp32_set(NODES, memo)
    assert set(result.fp32) == {"n11", "n25"}
    assert len(set(evaluate.calls)) == len(evaluate.calls), "a resumed search repeated an evaluation"
    assert result.evaluations == len(evaluate.calls) and result.new_evaluations == len(evaluate.calls) - 5


def test_state_from_another_model_is_refused(tmp_path):
    path = tmp_path / "state.json"
    state = SearchState("model-a", "s")
    state.add(frozenset({"x"}), Outcome(True))
    state.save(path)
    with pytest.raises(UsageError, match="another model"):
        SearchState.load(path, "model-b", "s")
    with pytest.raises(UsageError, match="other settings"):
        SearchState.load(path, "model-a", "t")
    path.write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        SearchState.load(path, "model-a", "s")


def test_progress_hook_sees_every_real_evaluation_and_set_size():
    seen = []
    memo = Memo(needs({"n2"}), SearchState("h"), progress=lambda n, size, passed: seen.append((n, size, passed)))
    result = minimal_fp32_set(NODES[:8], memo)
    assert [n for n, _, _ in seen] == list(range(1, result.evaluations + 1))
    assert seen[0] == (1, 0, False) and seen[-1][2] in (True, False)


def test_without_a_ranking_one_culprit_costs_a_bisection_plus_two():
    for position in (0, 7, 20, 39):
        evaluate = needs({f"n{position}"})
        memo = Memo(evaluate, SearchState("h"))
        result = minimal_fp32_set(NODES, memo, gallop=False)
        assert result.fp32 == (f"n{position}",)
        assert result.evaluations <= 6 + 3  # all-lower, log2(40) bisection steps, the culprit alone


def information_bound(n: int, k: int) -> float:
    """The issue's target: k*log2(n/k) + 2k + 10 evaluations for k needed nodes of n."""
    return k * math.log2(n / k) + 2 * k + 10


def informative_ranking(nodes: list[str], needed: set[str], rng: random.Random) -> list[str]:
    """A ranking that tends to put needed nodes first, as a local-error ranking does (not always)."""
    score = {node: rng.random() + (0.5 if node in needed else 0.0) for node in nodes}
    return sorted(nodes, key=lambda node: -score[node])


@pytest.mark.parametrize("density", [0.01, 0.03, 0.1, 0.2, 0.35, 0.5, 0.7])
def test_evaluations_stay_within_the_information_bound_at_every_density(density):
    """k needed nodes of n (a set passes when it holds all of them), placed at random: with a
    ranking that knows nothing (graph order, no galloping) and with an informative one."""
    rng = random.Random(round(density * 1000))
    for n in (60, 200, 400):
        nodes = [f"n{i}" for i in range(n)]
        k = max(1, round(density * n))
        for _ in range(3):
            needed = set(rng.sample(nodes, k))
            for ranking, gallop in ((rng.sample(nodes, n), False), (informative_ranking(nodes, needed, rng), True)):
                memo = Memo(needs(needed), SearchState("h"))
                result = minimal_fp32_set(ranking, memo, gallop=gallop)
                assert set(result.fp32) == needed
                assert result.evaluations <= information_bound(n, k), (n, k, gallop, result.phases)


def remove_from_the_lowest_rank(ranking: list[str], evaluate) -> list[str]:
    """The reference answer: drop nodes one at a time from the lowest rank up, keeping a node when
    the set fails without it (what the previous search, one binary search per node, returned)."""
    kept = list(ranking)
    for node in reversed(ranking):
        without = [x for x in kept if x != node]
        if evaluate(frozenset(without)):
            kept = without
    return kept


def test_same_set_as_one_at_a_time_removal_for_random_monotone_functions():
    """Interactions included: clauses that any one of several nodes satisfies (two nodes that
    overflow only together) and thresholds (enough of a group in FP32): never a larger set than
    the previous search returned."""
    rng = random.Random(11)
    for _ in range(150):
        nodes = [f"n{i}" for i in range(rng.randint(8, 60))]
        if rng.random() < 0.5:
            clauses = [set(rng.sample(nodes, rng.randint(1, 3))) for _ in range(rng.randint(1, len(nodes) // 3))]

            def evaluate(fp32, clauses=clauses):
                return all(fp32 & clause for clause in clauses)
        else:
            groups = [set(rng.sample(nodes, rng.randint(1, 6))) for _ in range(rng.randint(1, 5))]
            minimum = [rng.randint(1, len(group)) for group in groups]

            def evaluate(fp32, groups=groups, minimum=minimum):
                return all(len(fp32 & group) >= m for group, m in zip(groups, minimum))

        ranking = rng.sample(nodes, len(nodes))
        result = minimal_fp32_set(ranking, Memo(evaluate, SearchState("h")), gallop=rng.random() < 0.5)
        assert list(result.fp32) == remove_from_the_lowest_rank(ranking, evaluate)


def test_state_file_of_the_previous_search_resumes(tmp_path):
    """A version-1 state file holds answers (set -> pass/fail) that do not depend on the search
    that asked: the new search resumes from one without repeating any of them."""
    path = tmp_path / "state.json"
    evaluate = needs({"n3"}, {"n17"}, {"n30"})
    previous = [frozenset(), frozenset(NODES[:20]), frozenset(NODES[:31]), frozenset(NODES[:30]), frozenset({"n30"})]
    path.write_text(json.dumps({"version": 1, "model_hash": "m", "settings_hash": "s", "evaluations": [
        {"fp32": sorted(fp32), "passed": evaluate(fp32), "info": {}} for fp32 in previous]}))
    evaluate.calls.clear()
    memo = Memo(evaluate, SearchState.load(path, "m", "s"), state_path=path)
    result = minimal_fp32_set(NODES, memo)
    assert set(result.fp32) == {"n3", "n17", "n30"}
    assert not set(evaluate.calls) & set(previous), "a resumed search repeated an evaluation"
    assert result.evaluations == len(previous) + len(evaluate.calls)


def test_state_file_from_a_newer_trtdiff_is_refused(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 99, "model_hash": "m", "settings_hash": "s", "evaluations": []}))
    with pytest.raises(UsageError, match="newer"):
        SearchState.load(path, "m", "s")
