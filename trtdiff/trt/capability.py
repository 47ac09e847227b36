"""Which ONNX nodes the TensorRT ONNX parser cannot take, and why, from what
`OnnxParser.supports_model_v2` reports.

What the parser reports (onnx-tensorrt `ModelImporter::doSupportsModel`, and seen with
TensorRT-RTX 1.7): it parses the model, which STOPS at the first node it rejects, then lists
subgraphs of the nodes that were not rejected (not the failing node, not a data-dependent-shape
op, not fed by a rejected input). A subgraph is flagged supported only when the whole model
parsed; otherwise every subgraph is "unknown": its nodes after the failure were never looked at.
So the nodes in no subgraph are the unsupported ones, and each unknown subgraph is cut out as a
model of its own and asked again (as Polygraphy's `inspect capability` does), until every node
is either in a supported subgraph or named unsupported. Pure: the caller supplies `probe`, which
runs the real parser on one model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import onnx

from trtdiff.bisect.graph import external_inputs, extract
from trtdiff.model import inferred_value_info

LEFT_OUT = "left out by TensorRT's ONNX parser (a data-dependent-shape op, or fed by a rejected input)"
NOT_LOCATED = "TensorRT's ONNX parser rejected this subgraph without naming a node"


@dataclass(frozen=True)
class ParserIssue:
    """One `IParserError`: the node it names (index and/or name), its operator and text."""

    node_index: int
    node_name: str
    op_type: str
    code: str
    description: str


Subgraphs = Sequence[tuple[bool, Sequence[int]]]  # (flagged supported, node indices)
Probe = Callable[[onnx.ModelProto], tuple[Subgraphs, Sequence[ParserIssue]]]


def issue_reasons(node_names: Sequence[str], issues: Sequence[ParserIssue]) -> dict[str, str]:
    """Node name -> the parser's own words, for the main-graph nodes its errors name. An error
    inside an If/Loop body names the body's node and the main-graph node's index: it is said
    against the main-graph node, naming the inner one."""
    main = set(node_names)
    by_node: dict[str, list[str]] = {}
    for issue in issues:
        name, where = issue.node_name, ""
        if name not in main and 0 <= issue.node_index < len(node_names):
            name, where = node_names[issue.node_index], issue.node_name
        if not name:
            continue
        text = f"{issue.code}: {issue.description}".strip(": ")
        if issue.op_type:
            text = f"{issue.op_type}: {text}"
        if where:
            text = f"in its body, node '{where}' {text}"
        texts = by_node.setdefault(name, [])
        if text not in texts:
            texts.append(text)
    return {name: "; ".join(texts) for name, texts in by_node.items()}


def one_pass(node_names: Sequence[str], subgraphs: Subgraphs,
             issues: Sequence[ParserIssue]) -> tuple[dict[str, str], list[list[int]]]:
    """What one `supports_model_v2` call settles: (unsupported node -> reason, the unknown
    subgraphs still to be asked about, as node indices)."""
    reasons = issue_reasons(node_names, issues)
    covered = {index for _, indices in subgraphs for index in indices}
    for index, name in enumerate(node_names):
        if index not in covered:
            reasons.setdefault(name, LEFT_OUT)
    unknown = [[i for i in indices if 0 <= i < len(node_names)] for supported, indices in subgraphs
               if not supported]
    return reasons, [indices for indices in unknown if indices]


def find_unsupported(model: onnx.ModelProto, probe: Probe,
                     infos: dict[str, onnx.ValueInfoProto] | None = None) -> dict[str, str]:
    """Node name -> reason for every main-graph node TensorRT's parser cannot take, asking the
    parser again about each unknown subgraph (cut out with its inputs typed from `infos`)."""
    infos = infos if infos is not None else inferred_value_info(model)
    nodes = list(model.graph.node)
    names = [node.name for node in nodes]
    reasons, unknown = one_pass(names, *probe(model))
    weights = {init.name for init in model.graph.initializer}
    graph_outputs = [g.name for g in model.graph.output]
    for indices in unknown:
        if len(indices) == len(nodes):  # nothing was rejected, yet nothing is known to be supported
            reasons.update({name: NOT_LOCATED for name in names})
            continue
        chosen = set(indices)
        part = [node for i, node in enumerate(nodes) if i in chosen]
        inside = [o for node in part for o in node.output if o]
        read_outside = {n for i, node in enumerate(nodes) if i not in chosen for n in node.input}
        outputs = [o for o in inside if o in read_outside or o in graph_outputs] or inside
        piece = extract(model, external_inputs(part, weights), outputs, infos=infos, nodes=part)
        reasons.update(find_unsupported(piece, probe, infos))
    order = {name: i for i, name in enumerate(names)}
    return dict(sorted(reasons.items(), key=lambda item: order.get(item[0], len(order))))
