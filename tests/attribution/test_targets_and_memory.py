"""Attribution works with emulated targets, native ones (INT8 Q/DQ runs natively on ONNX Runtime
CPU), a user's --target-model (nodes matched by name, inserted Casts followed), and within a
memory budget by splitting nodes over several shadow models."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from attribution_helpers import attributed, build, offender_nodes, save

from trtdiff.attribution import reference_inputs_needed
from trtdiff.resources import parse_size
from trtdiff.errors import UsageError
from trtdiff.precision import PrecisionPlan, apply_plan


def _locals(comparison):
    return {t.name: t.local for t in comparison.tensors if t.local is not None}


def test_every_compared_tensor_gets_local_error_in_one_shadow_run(tmp_path):
    comparison = attributed(save(build.cancellation(), tmp_path / "c.onnx"), emulate="fp16")
    compared = [t for t in comparison.tensors if t.status == "compared"]
    assert compared and all(t.local is not None for t in compared)
    assert all(t.metrics is not None for t in compared)  # cumulative stays beside local
    assert "attribution_s" in comparison.timings
    assert len(comparison.offenders) == len(compared)
    centered = comparison.tensor("centered")
    assert centered.amplification is not None and centered.amplification > 100  # x - mean magnifies
    assert comparison.tensor("shifted").amplification is None  # fed by the graph input: nothing received


def test_memory_budget_splits_into_several_shadow_models_with_the_same_results(tmp_path, monkeypatch):
    from trtdiff.attribution import local

    runs = []
    original = local.run_shadows

    def counting(shadows, *args):
        shadows = list(shadows)
        runs.append(len(shadows))
        return original(iter(shadows), *args)

    monkeypatch.setattr("trtdiff.attribution.core.run_shadows", counting)
    path = save(build.cancellation(), tmp_path / "c.onnx")
    whole = attributed(path, fp16=True)
    split = attributed(path, budget=8 * 1024, fp16=True)  # each tensor is 4 KiB
    assert runs[0] == 1 and runs[1] >= 4
    assert _locals(whole) == _locals(split)
    assert offender_nodes(whole) == offender_nodes(split)


def test_native_int8_target_runs_qdq_in_the_shadow_model(tmp_path):
    comparison = attributed(save(build.quantization(), tmp_path / "q.onnx"), int8=True)
    proj = comparison.tensor("proj")
    assert proj.local is not None and proj.local.snr_db < 25  # coarse step at its quantized input
    assert comparison.tensor("spike").local.max_abs == 0.0  # Add is not quantized natively


def test_emulated_int8_target(tmp_path):
    comparison = attributed(save(build.quantization(), tmp_path / "q.onnx"), emulate="int8")
    assert offender_nodes(comparison)[0] == "spike"  # emulated: each tensor quantized by its producer
    assert comparison.offenders[0].hints == ("quantization",)


def test_user_target_model_matched_by_node_name(tmp_path, cli_run):
    model = build.two_culprits()
    target = apply_plan(model, PrecisionPlan("fp16", "emulated")).model
    reference_path = save(model, tmp_path / "ref.onnx")
    target_path = save(target, tmp_path / "target.onnx")
    comparison = attributed(reference_path, target_model=target_path)
    assert offender_nodes(comparison)[:2] == ["a_square", "b_shrink"]
    assert all(t.local is not None for t in comparison.tensors if t.status == "compared")


def test_user_target_model_converted_elsewhere_with_renamed_casts(tmp_path):
    """onnxconverter-common inserts Casts of its own naming in front of and behind FP16 nodes;
    each node's cone follows them back to reference tensors."""
    float16 = pytest.importorskip("onnxconverter_common.float16")
    model = build.cancellation()
    converted = float16.convert_float_to_float16(model, keep_io_types=True)
    comparison = attributed(save(model, tmp_path / "ref.onnx"),
                            target_model=save(converted, tmp_path / "fp16.onnx"))
    compared = [t for t in comparison.tensors if t.status == "compared"]
    assert all(t.local is not None for t in compared)
    assert comparison.tensor("centered").local.max_abs > 0.05  # FP16 storage of the inputs shows


def test_reference_inputs_needed_lists_unselected_inputs_only():
    model = build.two_culprits()
    assert reference_inputs_needed(model, ["a_square"]) == ["a_scale_up"]
    assert reference_inputs_needed(model, ["a_square", "a_scale_up"]) == []


def test_unselected_inputs_are_not_reported_as_reference_only(tmp_path):
    from trtdiff.options.targets import target_from_options
    from trtdiff.pipeline import RunRequest, TensorSelection, run_comparison

    request = RunRequest(model_path=save(build.two_culprits(), tmp_path / "m.onnx"),
                         target=target_from_options({"fp16": True}),
                         selection=TensorSelection(outputs=("a_square",)), attribution="on")
    comparison = run_comparison(request)
    assert [t.name for t in comparison.tensors] == ["a_square", "y"]
    assert math.isinf(comparison.offenders[0].score) and comparison.offenders[0].node == "a_square"


@pytest.mark.parametrize("outputs", [(), ("a_square",)])
def test_on_failure_runs_the_reference_again_for_attribution_and_lists_only_selected_tensors(tmp_path, outputs):
    from trtdiff.options.targets import target_from_options
    from trtdiff.pipeline import RunRequest, TensorSelection, run_comparison
    from trtdiff.runners.onnxrt import OnnxRuntimeRunner

    reference_runs = []

    def reference_runner(model):
        reference_runs.append([o.name for o in model.graph.output])
        return OnnxRuntimeRunner(model, optimize=False, name="reference")

    request = RunRequest(model_path=save(build.two_culprits(), tmp_path / "m.onnx"),
                         target=target_from_options({"fp16": True}),
                         selection=TensorSelection(mark_all=not outputs, outputs=outputs),
                         reference_runner=reference_runner, attribution="on-failure")
    comparison = run_comparison(request)
    assert not comparison.passed and comparison.settings.attribution == "on"
    # the comparison dropped the reference tensors as it went; the failing verdict ran it again,
    # holding the tensors the shadow models read as well
    assert len(reference_runs) == 2 and set(reference_runs[0]) <= set(reference_runs[1])
    assert comparison.timings["reference_again_s"] > 0
    assert comparison.offenders[0].node == "a_square" and math.isinf(comparison.offenders[0].score)
    assert not [t.name for t in comparison.tensors if t.status == "reference_only"]
    if outputs:  # the inputs held for the shadow model are not listed as tensors
        assert [t.name for t in comparison.tensors] == ["a_square", "y"]


def test_on_failure_costs_a_passing_run_nothing(tmp_path):
    from trtdiff.options.targets import target_from_options
    from trtdiff.measure.tolerance import ToleranceSpec
    from trtdiff.pipeline import RunRequest, TensorSelection, run_comparison
    from trtdiff.runners.onnxrt import OnnxRuntimeRunner

    reference_runs = []

    def reference_runner(model):
        reference_runs.append(model)
        return OnnxRuntimeRunner(model, optimize=False, name="reference")

    request = RunRequest(model_path=save(build.cancellation(), tmp_path / "c.onnx"),
                         target=target_from_options({"fp16": True}), selection=TensorSelection(mark_all=True),
                         tolerances=ToleranceSpec(atol=1e3, rtol=1.0), reference_runner=reference_runner,
                         attribution="on-failure")
    comparison = run_comparison(request)
    assert comparison.passed and len(reference_runs) == 1 and "attribution_s" not in comparison.timings
    assert comparison.settings.attribution.startswith("skipped") and not comparison.offenders


@pytest.mark.parametrize("text,expected", [("4G", 4 << 30), ("512M", 512 << 20), ("1.5GiB", 3 << 29),
                                           ("1000", 1000), ("64kb", 64 << 10)])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1G", "0"])
def test_parse_size_rejects(text):
    with pytest.raises(UsageError):
        parse_size(text)


def test_shadow_model_is_valid_onnx(tmp_path):
    from trtdiff.attribution.index import TargetIndex
    from trtdiff.attribution.shadow import ShadowBuilder

    model = build.quantization()
    target = apply_plan(model, PrecisionPlan("int8"), [{"x": np.ones((256, 64), np.float32)}]).model
    shapes = {"x": (256, 64), "embed": (256, 64), "spike": (256, 64), "proj": (256, 32), "head": (256, 16),
              "y": (256, 16)}
    specs = {name: (np.dtype(np.float32), shape) for name, shape in shapes.items()}
    builder = ShadowBuilder(TargetIndex.build(model, target, specs))
    for node in model.graph.node:
        assert builder.add(node.output[0], node.name) is not None
    shadow = builder.finish()
    onnx.checker.check_model(shadow.model, full_check=True)
    precision = {o.node: o.precision for o in shadow.outputs}
    assert precision == {"embed": "int8", "spike": "fp32", "proj": "int8", "head": "int8", "y": "fp32"}
    assert [q.tensor for q in next(o for o in shadow.outputs if o.node == "proj").quantizers] == ["spike"]


def test_a_shadow_model_that_cannot_run_leaves_the_comparison_standing(tmp_path):
    from dataclasses import replace

    from trtdiff.options.targets import target_from_options
    from trtdiff.errors import ToolError
    from trtdiff.pipeline import RunRequest, TensorSelection, run_comparison

    spec = target_from_options({"fp16": True})

    def picky(model):
        if model.graph.name == "trtdiff_shadow":
            raise ToolError("provider cannot run this model", "unsupported op", "try another provider")
        return spec.make_runner(model)

    request = RunRequest(model_path=save(build.overflow(), tmp_path / "o.onnx"),
                         target=replace(spec, make_runner=picky), selection=TensorSelection(mark_all=True),
                         attribution="on")
    comparison = run_comparison(request)
    assert comparison.tensor("square").metrics is not None and comparison.tensor("square").local is None
    assert any("could not run" in w and "unsupported op" in w for w in comparison.warnings)
    assert comparison.offenders == ()
