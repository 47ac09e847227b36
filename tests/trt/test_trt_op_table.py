"""The operator table (`trtdiff/data/trt_onnx_ops.json`): its rules on small models, and its
agreement with a REAL TensorRT ONNX parser over every ONNX backend node test (generated in memory
by the onnx package's own generator, tests/node_cases.py). In CI the parser is TensorRT-RTX 1.7's,
on a CPU; the agreement test skips (with the reason) where no TensorRT imports."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from node_cases import node_cases
from trtdiff.trt.optable import agreement, load_op_table, unsupported_by_table

FLOOR = 0.85  # with another parser or onnx version than the one recorded, at least this agrees


def one_node(op: str, inputs: list[tuple[str, int, list[int]]], outputs: list[str], initializers=(),
             opset: int = 17, **attributes) -> onnx.ModelProto:
    node = helper.make_node(op, [name for name, _, _ in inputs], outputs, "n", **attributes)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outputs],
        initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def reason(model: onnx.ModelProto) -> str:
    return unsupported_by_table(model).get("n", "")


def test_types_tensorrt_lacks_and_non_tensors():
    assert "INT16: TensorRT has no such type" in reason(
        one_node("Add", [("a", TensorProto.INT16, [2]), ("b", TensorProto.INT16, [2])], ["c"]))
    assert reason(one_node("Add", [("a", TensorProto.FLOAT, [2]), ("b", TensorProto.FLOAT, [2])], ["c"])) == ""
    assert "TensorRT supports BF16, FP16, FP32, INT32, INT64" in reason(  # the op's own type list
        one_node("Add", [("a", TensorProto.INT8, [2]), ("b", TensorProto.INT8, [2])], ["c"]))


def test_inputs_that_must_be_initializers():
    data = ("x", TensorProto.FLOAT, [2, 3])
    axes = ("axes", TensorProto.INT64, [1])
    model = one_node("ReduceSum", [data, axes], ["y"], opset=18)
    assert "`axes` input must be an initializer" in reason(model)
    constant = one_node("ReduceSum", [data], ["y"], opset=18)
    constant.graph.node[0].input.append("axes")
    constant.graph.initializer.append(helper.make_tensor("axes", TensorProto.INT64, [1], [1]))
    assert reason(constant) == ""


def test_outputs_and_attributes_the_table_restricts():
    x = ("x", TensorProto.FLOAT, [1, 1, 4, 4])
    assert "only the first output" in reason(one_node("MaxPool", [x], ["y", "i"], kernel_shape=[2, 2]))
    assert "`dilations` all ones" in reason(one_node("MaxPool", [x], ["y"], kernel_shape=[2, 2], dilations=[2, 2]))
    assert reason(one_node("MaxPool", [x], ["y"], kernel_shape=[2, 2], dilations=[1, 1])) == ""
    data, indices = ("d", TensorProto.FLOAT, [4]), ("i", TensorProto.INT64, [1, 1])
    updates = ("u", TensorProto.FLOAT, [1])
    assert "`reduction` other than 'none'" in reason(one_node("ScatterND", [data, indices, updates], ["o"],
                                                             reduction="add"))
    assert reason(one_node("ScatterND", [data, indices, updates], ["o"])) == ""
    bn = [x] + [(n, TensorProto.FLOAT, [1]) for n in ("s", "b", "m", "v")]
    assert "`training_mode` = 0" in reason(one_node("BatchNormalization", bn, ["y"], training_mode=1))


def test_corrections_are_recorded_with_their_reason():
    rows = {row["op"]: row for row in load_op_table()["ops"]}
    assert "INT64" in rows["ConstantOfShape"]["types"] and "INF64" not in rows["ConstantOfShape"]["types"]
    assert rows["Dropout"]["constant_inputs"] == ["training_mode"] and "is_traning" in rows["Dropout"]["corrected"]
    assert "scales" in rows["Resize"]["constant_inputs"]


@pytest.mark.slow
@pytest.mark.trt_builder
def test_the_table_agrees_with_the_real_parser_over_the_onnx_node_tests(trt_builder):
    """Where the parser and onnx versions are the recorded ones, the figures and every op that
    disagrees must be exactly those recorded (and each explained); elsewhere at least FLOOR."""
    from trtdiff.runners.trt import parser_accepts

    cases = node_cases()
    result = agreement(((c.name, c.op_type, c.model) for c in cases), parser_accepts)
    check = load_op_table()["parser_check"]
    print(f"\n{trt_builder.label} vs the table over {result.cases} node tests: {result.ratio:.1%} agree")
    assert result.cases == len(cases) > 1000
    if (check["parser"], check["onnx"]) != (trt_builder.label, onnx.__version__):
        assert result.ratio >= FLOOR, result.differences
        return
    assert (result.cases, result.agree) == (check["cases"], check["agree"])
    assert result.differences == check["differences"], result.examples
    assert all(check["explained"][op] for op in result.differences)
