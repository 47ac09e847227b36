"""The other pure parts of the TensorRT runner: the optimization profile, data types, the
debug-tensor router and the parser-capability summary (features: test_trt_features.py)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from trtdiff.errors import ToolError, UsageError
from trtdiff.trt.capability import LEFT_OUT, ParserIssue, find_unsupported, issue_reasons, one_pass
from trtdiff.trt.collect import TensorRouter
from trtdiff.trt.dtypes import host_array, numpy_dtype, short_name, trt_name_for
from trtdiff.trt.options import TrtOptions
from trtdiff.trt.profile import resolve_profile


def test_profile_for_dynamic_and_static_inputs():
    inputs = {"input": (-1, 3, 8, 8), "mask": (1, 8)}
    options = TrtOptions(min_shapes={"input": (1, 3, 8, 8)}, opt_shapes={"input": (2, 3, 8, 8)},
                         max_shapes={"input": (4, 3, 8, 8)})
    assert resolve_profile(inputs, options) == {
        "input": ((1, 3, 8, 8), (2, 3, 8, 8), (4, 3, 8, 8))}
    fixed = resolve_profile(inputs, TrtOptions(opt_shapes={"input": (2, 3, 8, 8)}))
    assert fixed == {"input": ((2, 3, 8, 8),) * 3}
    assert resolve_profile({"x": (1, 3)}, TrtOptions()) == {}


def test_profile_errors_name_the_input_and_a_fix():
    with pytest.raises(UsageError) as info:
        resolve_profile({"input": (-1, 3, 8, 8)}, TrtOptions())
    assert "input" in info.value.what and "--trt-opt-shapes input:1x3x8x8" in info.value.fix
    with pytest.raises(UsageError, match="not a network input") as info:
        resolve_profile({"input": (-1, 3)}, TrtOptions(opt_shapes={"inptu": (1, 3)}))
    assert "input" in info.value.fix
    with pytest.raises(UsageError, match="does not fit"):
        resolve_profile({"input": (-1, 3)}, TrtOptions(opt_shapes={"input": (1, 4)}))
    with pytest.raises(UsageError, match="does not fit"):
        resolve_profile({"input": (-1, 3)}, TrtOptions(opt_shapes={"input": (1, 3, 1)}))


def test_numpy_dtypes_by_member_name():
    assert numpy_dtype("FLOAT") == np.float32 and numpy_dtype("HALF") == np.float16
    assert numpy_dtype("BF16") == np.dtype(ml_dtypes.bfloat16)
    assert numpy_dtype("FP8") == np.dtype(ml_dtypes.float8_e4m3fn)
    assert numpy_dtype("INT64") == np.int64 and numpy_dtype("BOOL") == np.bool_
    assert short_name("HALF") == "fp16" and trt_name_for(np.dtype(np.float16)) == "HALF"
    for packed in ("INT4", "FP4", "SOMETHING_NEW"):
        with pytest.raises(ToolError):
            numpy_dtype(packed)


def test_host_array_upcasts_bf16_and_fp8_exactly():
    values = np.array([1.5, -3.25, 65504.0, 1e-3], dtype=ml_dtypes.bfloat16)
    out = host_array(values.tobytes(), "BF16", (2, 2))
    assert out.dtype == np.float32 and out.shape == (2, 2)
    assert np.array_equal(out.ravel(), values.astype(np.float32))
    fp8 = np.array([0.5, -2.0, 448.0], dtype=ml_dtypes.float8_e4m3fn)
    assert np.array_equal(host_array(fp8.tobytes(), "FP8", (3,)), fp8.astype(np.float32))
    half = np.array([[1, 2]], dtype=np.float16)
    kept = host_array(half.tobytes(), "HALF", (1, 2))
    assert kept.dtype == np.float16 and np.array_equal(kept, half)
    assert host_array(np.float32(7).tobytes(), "FLOAT", ()).item() == 7.0
    with pytest.raises(ToolError, match="bytes"):
        host_array(b"\x00" * 6, "FLOAT", (2, 2))


def test_router_maps_filters_and_records_internal_tensors():
    router = TensorRouter({"relu1_out", "conv2_out", "probs"}, wanted={"relu1_out", "probs"})
    got = []
    router.start(lambda name, array: got.append((name, array.sum())))
    assert router.accepts("relu1_out")
    router.deliver("relu1_out", np.ones(3))
    assert not router.accepts("relu1_out")  # already delivered in this run
    assert not router.accepts("conv2_out")  # not wanted
    assert not router.accepts("__myl_internal_7")  # TensorRT-internal name
    assert got == [("relu1_out", 3.0)]
    assert router.delivered == ["relu1_out"] and router.internal == ["__myl_internal_7"]
    router.start(lambda name, array: None)
    assert router.delivered == [] and router.accepts("relu1_out")


def test_router_keeps_the_first_consumer_error_for_after_the_run():
    """TensorRT swallows exceptions raised inside the debug listener; the router must not."""
    router = TensorRouter(None)  # no model: every engine name counts

    def consume(name, array):
        raise MemoryError(f"no room for {name}")

    router.start(consume)
    router.deliver("a", np.zeros(1))  # must not raise here (inside TensorRT's callback)
    router.deliver("b", np.zeros(1))
    assert not router.accepts("c")  # after an error, later tensors are dropped
    with pytest.raises(MemoryError, match="no room for a"):
        router.raise_pending()
    router.raise_pending()  # cleared once raised


def test_router_records_copy_failures():
    router = TensorRouter(None)
    router.start(lambda name, array: None)
    router.fail(ToolError("copy failed"))
    with pytest.raises(ToolError, match="copy failed"):
        router.raise_pending()


def test_one_parser_pass_names_rejected_and_left_out_nodes():
    """As onnx-tensorrt's doSupportsModel reports: rejected nodes are in no subgraph; the other
    subgraphs are "unknown" (False) unless the whole model parsed."""
    names = ["conv1", "custom", "relu", "nms", "sig"]
    subgraphs = [(False, [0]), (False, [2, 4])]
    issues = [ParserIssue(1, "custom", "MyPlugin", "UNSUPPORTED_NODE", "no importer for op"),
              ParserIssue(1, "custom", "MyPlugin", "UNSUPPORTED_NODE", "no importer for op")]
    reasons, unknown = one_pass(names, subgraphs, issues)
    assert reasons == {"custom": "MyPlugin: UNSUPPORTED_NODE: no importer for op", "nms": LEFT_OUT}
    assert unknown == [[0], [2, 4]]
    assert one_pass(names[:1], [(True, [0])], []) == ({}, [])


def test_an_error_inside_a_body_is_said_against_its_main_graph_node():
    issue = ParserIssue(1, "body_identity", "Identity", "INVALID_GRAPH", "input not registered")
    assert issue_reasons(["a", "loop"], [issue]) == {
        "loop": "in its body, node 'body_identity' Identity: INVALID_GRAPH: input not registered"}


def test_unknown_subgraphs_are_asked_again_until_settled(make_model):
    """A stand-in probe that, like the real parser, stops at the first rejected node (relu1 and
    fc here): find_unsupported must cut out and ask about what followed each rejection."""
    model = make_model(batch=1)
    rejected = {"relu1", "fc"}
    asked = []

    def probe(piece):
        names = [n.name for n in piece.graph.node]
        asked.append(names)
        first = next((i for i, n in enumerate(names) if n in rejected), None)
        if first is None:
            return [(True, list(range(len(names))))], []
        issue = ParserIssue(first, names[first], "Op", "UNSUPPORTED_NODE", "no")
        return [(False, [i for i in range(len(names)) if i != first])], [issue]

    reasons = find_unsupported(model, probe)
    assert list(reasons) == ["relu1", "fc"]
    assert len(asked) == 3 and asked[1][0] == "conv1" and "relu1" not in asked[1]
    assert asked[2] == ["conv1", "conv2", "sig", "swish", "gap", "flat", "softmax"]


def test_cuda_failures_become_one_line_tool_errors():
    from polygraphy.exception import PolygraphyException

    from trtdiff.runners.trt_io import cuda_errors

    with pytest.raises(ToolError) as info:
        with cuda_errors("running TensorRT"):
            raise PolygraphyException("CUDA Error: 2.\nTo figure out what this means, refer to ...")
    line = info.value.one_line()
    assert line.startswith("a CUDA call failed while running TensorRT: CUDA Error: 2.")
    assert "\n" not in line and "trtdiff doctor" in line
