"""Which ONNX nodes the TensorRT ONNX parser cannot take, and why, from what
`OnnxParser.supports_model_v2` reports (subgraphs of node indices, each supported or not, and
parser errors naming a node).

The runner collects those raw facts from TensorRT; turning them into `{node name: reason}` is
pure and lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ParserIssue:
    """One `IParserError`: the node it names (index and/or name), its operator and text."""

    node_index: int
    node_name: str
    op_type: str
    code: str
    description: str


def unsupported_reasons(
    node_names: Sequence[str],
    subgraphs: Sequence[tuple[bool, Sequence[int]]],
    issues: Sequence[ParserIssue],
) -> dict[str, str]:
    """Node name -> reason, for nodes in unsupported subgraphs and nodes named by an error.

    `node_names` are the model's main-graph node names by index (the parser's node indices)."""
    by_node: dict[str, list[str]] = {}
    for issue in issues:
        name = issue.node_name
        if not name and 0 <= issue.node_index < len(node_names):
            name = node_names[issue.node_index]
        if not name:
            continue
        text = f"{issue.code}: {issue.description}".strip(": ")
        if issue.op_type:
            text = f"{issue.op_type}: {text}"
        by_node.setdefault(name, [])
        if text not in by_node[name]:
            by_node[name].append(text)
    reasons = {name: "; ".join(texts) for name, texts in by_node.items()}
    for supported, indices in subgraphs:
        if supported:
            continue
        for index in indices:
            if 0 <= index < len(node_names):
                reasons.setdefault(node_names[index],
                                   "in a subgraph the TensorRT ONNX parser does not support")
    order = {name: i for i, name in enumerate(node_names)}
    return dict(sorted(reasons.items(), key=lambda item: order.get(item[0], len(order))))
