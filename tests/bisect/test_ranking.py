"""The search order: consumers of a top-ranked node's overflowing output are tried right after it."""

from __future__ import annotations

from bisect_helpers import load_fixture, ort_infer

from trtdiff.bisect.ranking import promote_overflow_consumers, resolve_ranking


def test_consumer_of_an_overflowing_tensor_follows_its_producer(fixture_feeds):
    model = load_fixture("paired_overflow")
    order = ["square", "add_19", "matmul_1", "root"]
    promoted, moved = promote_overflow_consumers(model, "fp16", fixture_feeds, order, ort_infer)
    assert promoted == ["square", "root", "add_19", "matmul_1"] and moved == ["root"]


def test_no_promotion_where_the_type_has_fp32_range_or_nothing_overflows(fixture_feeds):
    model = load_fixture("paired_overflow")
    order = ["square", "add_19", "root"]
    assert promote_overflow_consumers(model, "bf16", fixture_feeds, order, ort_infer) == (order, [])
    assert promote_overflow_consumers(model, "fp16", fixture_feeds, ["add_19", "root"], ort_infer)[1] == []


def test_a_given_ranking_is_kept_as_given_and_completed_in_graph_order(fixture_feeds):
    model = load_fixture("paired_overflow")
    names = [n.name for n in model.graph.node]
    ordered, source, promoted = resolve_ranking(["root", "nope"], model, None, fixture_feeds, names, ort_infer)
    assert promoted == []
    assert source == "given" and ordered[0] == "root" and sorted(ordered) == sorted(names)
