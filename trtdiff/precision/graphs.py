"""Graph helpers of the precision transforms: the Cast they insert, the names a graph already uses
(inserted tensors and nodes avoid them), and giving value info the element types a transform
changed."""

from __future__ import annotations

import onnx

from trtdiff.model import subgraphs


def cast_node(source: str, target: str, to: int, saturate: bool | None = None) -> onnx.NodeProto:
    """A Cast (named by `GraphWalk.emit` after the tensor it makes): what `onnx.helper.make_node`
    makes, built field by field (a transform inserts thousands)."""
    node = onnx.NodeProto(op_type="Cast", input=[source], output=[target])
    if saturate is not None:  # attributes in name order, as make_node sorts them
        node.attribute.add(name="saturate", type=onnx.AttributeProto.INT, i=int(saturate))
    node.attribute.add(name="to", type=onnx.AttributeProto.INT, i=to)
    return node


def all_names(graph: onnx.GraphProto) -> tuple[set[str], set[str]]:
    """Every tensor name and every node name in a graph and its bodies (new names avoid them)."""
    tensors = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    tensors |= {o.name for o in graph.output}
    nodes = set()
    for node in graph.node:
        tensors.update(node.input)
        tensors.update(node.output)
        nodes.add(node.name)
        for sub in subgraphs(node):
            sub_tensors, sub_nodes = all_names(sub)
            tensors |= sub_tensors
            nodes |= sub_nodes
    return tensors, nodes


def retype(graph: onnx.GraphProto, retyped: dict[str, int], io: bool) -> None:
    """Give value_info (and, when IO types change, inputs/outputs) the new element types."""
    infos = list(graph.value_info) + (list(graph.input) + list(graph.output) if io else [])
    for vi in infos:
        if vi.name in retyped and vi.type.HasField("tensor_type"):
            vi.type.tensor_type.elem_type = retyped[vi.name]
    for node in graph.node:
        for sub in subgraphs(node):
            retype(sub, retyped, io=False)
