from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtdiff.errors import ModelError, UsageError
from trtdiff.model import (comparable_tensors, exceeds_protobuf_limit, ensure_node_names, load_model, session_source,
                           topological_nodes, with_outputs)

from model_builders import conv_relu_model, make_model


def _shape_plumbing_model() -> onnx.ModelProto:
    """x -> Relu -> (Shape -> Gather -> Unsqueeze -> Concat) -> Reshape; plus a Constant."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Shape", ["r"], ["shp"], name="shape"),
        helper.make_node("Constant", [], ["idx"], name="const", value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Gather", ["shp", "idx"], ["batch"], name="gather"),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"], name="unsq"),
        helper.make_node("Concat", ["batch1", "minus1"], ["newshape"], name="concat", axis=0),
        helper.make_node("Reshape", ["r", "newshape"], ["y"], name="reshape"),
    ]
    return make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 3])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                      [numpy_helper.from_array(np.array([0], np.int64), "axes"),
                       numpy_helper.from_array(np.array([-1], np.int64), "minus1")])


def test_mark_all_skips_constants_and_shape_plumbing_unless_asked():
    model = _shape_plumbing_model()
    names = [t.name for t in comparable_tensors(model)[0]]
    assert names == ["r", "y"]
    with_shapes = [t.name for t in comparable_tensors(model, include_shape_tensors=True)[0]]
    assert with_shapes == ["r", "shp", "batch", "batch1", "newshape", "y"]


def test_tensor_infos_carry_inferred_types_and_order():
    infos = comparable_tensors(conv_relu_model())[0]
    assert [(t.name, t.op_type, t.index) for t in infos] == [("c", "Conv", 0), ("r", "Relu", 1), ("y", "ReduceMean", 2)]
    assert infos[0].shape == (1, 4, 8, 8) and infos[0].dtype_name == "float32"


def test_subgraph_tensors_are_reported_not_dropped():
    then_graph = helper.make_graph([helper.make_node("Neg", ["x"], ["t1"]), helper.make_node("Abs", ["t1"], ["t2"])],
                                   "then", [], [helper.make_tensor_value_info("t2", TensorProto.FLOAT, None)])
    else_graph = helper.make_graph([helper.make_node("Identity", ["x"], ["e1"])], "else", [],
                                   [helper.make_tensor_value_info("e1", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], name="sum", keepdims=0),
             helper.make_node("Greater", ["s", "zero"], ["cond"], name="gt"),
             helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then_graph, else_branch=else_graph)]
    model = make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                       [numpy_helper.from_array(np.array(0, np.float32), "zero")])
    tensors, unmarked = comparable_tensors(model)
    assert "y" in [t.name for t in tensors]
    assert len(unmarked) == 1 and unmarked[0].node == "branch" and unmarked[0].count == 3
    assert "cannot be graph outputs" in unmarked[0].reason


def test_topological_order_fixes_shuffled_nodes_and_detects_cycles():
    model = conv_relu_model()
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(reversed(nodes))
    assert [n.name for n in topological_nodes(model.graph)] == ["conv", "relu", "mean"]
    cyclic = make_model([helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])],
                        [], [helper.make_tensor_value_info("a", TensorProto.FLOAT, None)])
    with pytest.raises(ModelError, match="cycle"):
        topological_nodes(cyclic.graph)


def test_unnamed_and_duplicate_nodes_get_unique_names():
    model = make_model([helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["b"], name="r"),
                        helper.make_node("Relu", ["b"], ["c"], name="r")],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                       [helper.make_tensor_value_info("c", TensorProto.FLOAT, [1])])
    ensure_node_names(model)
    assert [n.name for n in model.graph.node] == ["Relu_0", "r", "Relu_2"]


def test_with_outputs_marks_intermediates_and_runs():
    model = conv_relu_model()
    marked = with_outputs(model, ["c", "r", "y"])
    assert [o.name for o in marked.graph.output] == ["y", "c", "r"]
    assert len(model.graph.output) == 1  # original untouched
    with session_source(marked) as source:
        session = ort.InferenceSession(source)
    outs = session.run(None, {"x": np.ones((1, 3, 8, 8), np.float32)})
    assert outs[1].shape == (1, 4, 8, 8)


def test_load_missing_and_corrupt_model(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_model(tmp_path / "none.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path / "bad.onnx")


def test_external_data_model_loads(tmp_path):
    model = conv_relu_model()
    onnx.save_model(model, tmp_path / "m.onnx", save_as_external_data=True, location="m.data", size_threshold=0)
    assert (tmp_path / "m.data").exists()
    loaded = load_model(tmp_path / "m.onnx")
    assert numpy_helper.to_array(loaded.graph.initializer[0]).shape == (4, 3, 3, 3)


def _external_initializer(name: str, dims: list[int], location: str) -> onnx.TensorProto:
    tensor = onnx.TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims)
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    return tensor


@pytest.mark.slow
def test_model_over_2gb_loads_marks_and_runs(tmp_path):
    """A model whose weights exceed protobuf's 2 GB limit goes through external data end to end."""
    count = 2**29 + 2**20  # 2.004 GiB of float32
    weights = np.zeros(count, np.float32)
    weights[:4] = 1.0
    weights.tofile(tmp_path / "big.data")
    del weights
    nodes = [helper.make_node("Slice", ["W", "starts", "ends"], ["w4"], name="slice"),
             helper.make_node("Add", ["x", "w4"], ["a"], name="add"),
             helper.make_node("Relu", ["a"], ["y"], name="relu")]
    model = make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
                       [_external_initializer("W", [count], "big.data"),
                        numpy_helper.from_array(np.array([0], np.int64), "starts"),
                        numpy_helper.from_array(np.array([4], np.int64), "ends")])
    onnx.save_model(model, tmp_path / "big.onnx")
    loaded = load_model(tmp_path / "big.onnx")
    assert exceeds_protobuf_limit(loaded)
    marked = with_outputs(loaded, ["a"])
    del loaded
    with session_source(marked) as source:
        assert isinstance(source, str)
        out = ort.InferenceSession(source).run(["a"], {"x": np.ones(4, np.float32)})[0]
    assert out.tolist() == [2.0, 2.0, 2.0, 2.0]
