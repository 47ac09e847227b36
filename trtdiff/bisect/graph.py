"""Cutting a model into standalone pieces: the subgraph between chosen input and output tensors,
as a valid ONNX model that keeps every original node and tensor name.

Used by reduce (the smallest failing subgraph) and split (supported/unsupported partitions).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import onnx
from onnx import helper

from trtdiff.errors import ModelError
from trtdiff.model import inferred_value_info, node_inputs, topological_nodes


def needed_nodes(nodes: Sequence[onnx.NodeProto], inputs: Iterable[str],
                 outputs: Iterable[str]) -> list[onnx.NodeProto]:
    """The nodes (from `nodes`, in their order) that compute `outputs` when `inputs` are given."""
    producer = {out: node for node in nodes for out in node.output if out}
    given = set(inputs)
    keep: set[str] = set()
    stack = [name for name in outputs if name not in given]
    while stack:
        tensor = stack.pop()
        node = producer.get(tensor)
        if node is None or node.name in keep:
            continue
        keep.add(node.name)
        stack.extend(n for n in node_inputs(node) if n not in given)
    return [node for node in nodes if node.name in keep]


def external_inputs(nodes: Sequence[onnx.NodeProto], weights: set[str] | frozenset[str]) -> list[str]:
    """What `nodes` read that none of them produce, weights aside, in first-read order: the
    inputs of a piece cut out of a graph."""
    produced = {o for node in nodes for o in node.output if o}
    return [n for n in dict.fromkeys(n for node in nodes for n in node_inputs(node))
            if n not in produced and n not in weights]


def extract(model: onnx.ModelProto, inputs: Sequence[str], outputs: Sequence[str],
            infos: dict[str, onnx.ValueInfoProto] | None = None,
            nodes: Sequence[onnx.NodeProto] | None = None) -> onnx.ModelProto:
    """A standalone model computing `outputs` from `inputs` (plus the weights it uses).

    `nodes` restricts which nodes may be used (default: all); `infos` is the model's inferred
    value info, passed in when extracting many pieces so shape inference runs once."""
    inputs, outputs = list(dict.fromkeys(inputs)), list(dict.fromkeys(outputs))
    infos = infos if infos is not None else inferred_value_info(model)
    pool = list(nodes) if nodes is not None else topological_nodes(model.graph)
    chosen = needed_nodes(pool, inputs, outputs)
    weights = {init.name: init for init in model.graph.initializer}
    produced = {o for node in chosen for o in node.output} | set(inputs)
    used = [n for node in chosen for n in node_inputs(node)]
    missing = sorted({n for n in used if n not in produced and n not in weights})
    if missing:
        raise ModelError("cannot cut the requested subgraph",
                         f"tensors {', '.join(missing[:5])} are neither produced inside it nor given as inputs",
                         "include their producers or list them as inputs")
    graph = helper.make_graph(
        chosen, f"{model.graph.name or 'graph'}_part",
        [_value_info(name, infos) for name in inputs],
        [_value_info(name, infos) for name in outputs],
        initializer=[weights[n] for n in dict.fromkeys(used) if n in weights and n not in inputs])
    part = helper.make_model(graph, opset_imports=list(model.opset_import), producer_name="trtdiff")
    part.ir_version = model.ir_version
    part.functions.extend(model.functions)
    return part


def _value_info(name: str, infos: dict[str, onnx.ValueInfoProto]) -> onnx.ValueInfoProto:
    known = infos.get(name)
    if known is None or not known.type.tensor_type.elem_type:
        return helper.make_empty_tensor_value_info(name)
    info = onnx.ValueInfoProto()
    info.CopyFrom(known)
    info.name = name
    return info
