"""The target run in segments gives exactly the results of one run, holding fewer tensors."""

from __future__ import annotations

import json

import pytest

from trtdiff import segmented

from model_builders import REPO

DEMO = REPO / "fixtures" / "demo_convnet.onnx"


def _run(cli_run, tmp_path, name: str) -> dict:
    out = tmp_path / f"{name}.json"
    result = cli_run("run", DEMO, "--fp16", "--mark-all", "--no-attribute", "--json", out)
    assert result.exit_code == 1, result.output
    return json.loads(out.read_text())


def test_segmented_target_run_matches_a_single_run(cli_run, tmp_path, monkeypatch):
    whole = _run(cli_run, tmp_path, "whole")
    calls = []
    original = segmented.extract
    monkeypatch.setattr(segmented, "extract", lambda *a, **k: calls.append(1) or original(*a, **k))
    monkeypatch.setattr(segmented, "SEGMENT_BYTES", 40_000)  # the demo's tensors: ~32 KB each
    pieces = _run(cli_run, tmp_path, "pieces")
    assert len(calls) >= 4  # really ran in several segments
    for a, b in zip(whole["tensors"], pieces["tensors"], strict=True):
        assert a["name"] == b["name"]
        for key in ("max_abs", "mean_abs", "median_abs", "p99_abs", "mismatches", "inf_target", "nan_target", "passed"):
            assert a[key] == b[key], (a["name"], key)
    assert whole["first_divergence"] == pieces["first_divergence"]


def test_plan_segments_carries_boundary_tensors():
    from trtdiff.model import load_model

    model = load_model(DEMO)
    wanted = [n.output[0] for n in model.graph.node]
    sizes = {name: 32_768 for name in wanted}
    plan = segmented.plan_segments(model, wanted, sizes, segment_bytes=4 * 32_768)
    assert len(plan) == 3
    produced_before: set[str] = {"images"}
    for segment in plan:
        assert set(segment.inputs) <= produced_before  # every input comes from an earlier segment
        produced_before |= set(segment.outputs)
    assert [o for s in plan for o in s.outputs if o in wanted] == wanted


@pytest.mark.parametrize("budget", [1, 10**12])
def test_plan_segments_extremes(budget):
    from trtdiff.model import load_model

    model = load_model(DEMO)
    wanted = [n.output[0] for n in model.graph.node]
    plan = segmented.plan_segments(model, wanted, {n: 1000 for n in wanted}, segment_bytes=budget)
    assert len(plan) == (len(model.graph.node) if budget == 1 else 1)
