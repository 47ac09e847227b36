"""Split a model into maximal subgraphs a target supports and those it does not.

Support comes from TensorRT's own parser when TensorRT is installed (`trtdiff.runners.trt`), and
otherwise from the operator table shipped in `trtdiff/data/trt_onnx_ops.json` (`trtdiff.trt.optable`:
onnx/onnx-tensorrt docs/operators.md, corrected against TensorRT-RTX's parser). Nodes are ordered so
that nodes of the same kind sit together (a topological order that switches kind only when it
must), then cut into runs; each run becomes a standalone model. Run in order, feeding each the
tensors the earlier ones produced, the pieces compute exactly what the whole model computes.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from trtdiff.bisect.graph import external_inputs, extract
from trtdiff.errors import UsageError
from trtdiff.fileio import write_text_atomic
from trtdiff.model import inferred_value_info, node_inputs, save_model, topological_nodes
from trtdiff.trt.optable import load_op_table, unsupported_by_table

log = logging.getLogger(__name__)

TARGETS = ("trt",)


@dataclass(frozen=True)
class Segment:
    """One piece: consecutive nodes (in the split order) that are all supported or all not."""

    index: int
    supported: bool
    nodes: tuple[str, ...]
    op_types: tuple[str, ...]
    first: int  # position of the first node in the original topological order
    last: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    reasons: dict[str, str] = field(default_factory=dict)  # unsupported node -> reason
    file: str = ""

    @property
    def name(self) -> str:
        kind = "supported" if self.supported else "unsupported"
        return f"{self.index:02d}_{kind}_nodes_{self.first:04d}-{self.last:04d}"


def unsupported_nodes(model: onnx.ModelProto, target: str = "trt") -> tuple[dict[str, str], str]:
    """Unsupported nodes and where the verdict came from (TensorRT's parser or the table)."""
    if target not in TARGETS:
        raise UsageError(f"unknown split target '{target}'", f"the targets are {', '.join(TARGETS)}",
                         "pass --target trt")
    from trtdiff.runners import trt  # TensorRT itself is imported only by tensorrt_available()

    available, label = trt.tensorrt_available()
    if available:
        return dict(trt.unsupported_nodes(model)), f"{label} ONNX parser (supports_model_v2)"
    table = load_op_table()
    source = f"operator table for TensorRT {table['tensorrt_version']} ({table['source']})"
    return unsupported_by_table(model, table), source


def grouped_order(nodes: Sequence[onnx.NodeProto], unsupported: Mapping[str, str]) -> list[onnx.NodeProto]:
    """A topological order that keeps nodes of one kind together: it picks the earliest ready
    node of the current kind, and switches kind only when none is ready."""
    producer = {out: i for i, node in enumerate(nodes) for out in node.output if out}
    deps = [{producer[n] for n in node_inputs(node) if n in producer} for node in nodes]
    users: list[list[int]] = [[] for _ in nodes]
    for i, needed in enumerate(deps):
        for j in needed:
            users[j].append(i)
    waiting = [len(d) for d in deps]
    ready: dict[bool, list[int]] = {True: [], False: []}
    for i, count in enumerate(waiting):
        if count == 0:
            heapq.heappush(ready[nodes[i].name not in unsupported], i)
    kind = bool(ready[True]) if ready[True] and (not ready[False] or ready[True][0] < ready[False][0]) else False
    order: list[onnx.NodeProto] = []
    while ready[True] or ready[False]:
        if not ready[kind]:
            kind = not kind
        i = heapq.heappop(ready[kind])
        order.append(nodes[i])
        for j in users[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready[nodes[j].name not in unsupported], j)
    return order


def partition(model: onnx.ModelProto, unsupported: Mapping[str, str]) -> list[Segment]:
    """Cut the grouped order into maximal runs of one kind, with each run's inputs and outputs."""
    nodes = topological_nodes(model.graph)
    position = {node.name: i for i, node in enumerate(nodes)}
    runs: list[list[onnx.NodeProto]] = []
    for node in grouped_order(nodes, unsupported):
        if runs and (runs[-1][0].name in unsupported) == (node.name in unsupported):
            runs[-1].append(node)
        else:
            runs.append([node])
    weights = {init.name for init in model.graph.initializer}
    graph_outputs = {o.name for o in model.graph.output}
    last_reader = {n: index for index, run in enumerate(runs) for node in run for n in node_inputs(node)}
    segments = []
    for index, run in enumerate(runs):
        inputs = external_inputs(run, weights)
        outputs = [n for node in run for n in node.output
                   if n and (last_reader.get(n, -1) > index or n in graph_outputs)]
        names = tuple(node.name for node in run)
        segments.append(Segment(
            index, run[0].name not in unsupported, names, tuple(node.op_type for node in run),
            min(position[n] for n in names), max(position[n] for n in names), tuple(inputs), tuple(outputs),
            {n: unsupported[n] for n in names if n in unsupported}))
    return segments


def split_model(model: onnx.ModelProto, unsupported: Mapping[str, str], directory: str | Path,
                source: str = "") -> tuple[list[Segment], list[onnx.ModelProto], dict[str, Any]]:
    """Write each segment as `<index>_<kind>_nodes_<first>-<last>.onnx` plus `summary.json`."""
    out = Path(directory)
    infos = inferred_value_info(model)
    nodes = topological_nodes(model.graph)
    segments, models = [], []
    for segment in partition(model, unsupported):
        members = set(segment.nodes)
        pool = [node for node in nodes if node.name in members]
        part = extract(model, segment.inputs, segment.outputs, infos=infos, nodes=pool)
        part.graph.name = segment.name
        path = out / f"{segment.name}.onnx"
        save_model(part, path)
        segments.append(Segment(**{**asdict(segment), "file": str(path)}))
        models.append(part)
    summary = split_summary(segments, source, [o.name for o in model.graph.output])
    write_json(out / "summary.json", summary)
    return segments, models, summary


def split_summary(segments: Sequence[Segment], source: str, outputs: Sequence[str]) -> dict[str, Any]:
    """The `--json` / summary.json layout: segments, and unsupported nodes grouped by op and reason."""
    by_op: dict[tuple[str, str], list[str]] = {}
    for segment in segments:
        for node, reason in segment.reasons.items():
            op = segment.op_types[segment.nodes.index(node)]
            by_op.setdefault((op, reason), []).append(node)
    return {
        "source": source,
        "outputs": list(outputs),
        "segments": [{**asdict(s), "name": s.name} for s in segments],
        "unsupported": [{"op": op, "reason": reason, "nodes": names} for (op, reason), names in by_op.items()],
    }


def run_chain(models: Sequence[onnx.ModelProto], feeds: Mapping[str, np.ndarray],
              infer: Callable[[onnx.ModelProto, dict[str, np.ndarray]],
                              dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Run the pieces in order, each fed from the graph inputs and the earlier pieces' outputs;
    returns every tensor produced."""
    tensors = dict(feeds)
    for part in models:
        wanted = {i.name: tensors[i.name] for i in part.graph.input if i.name in tensors}
        tensors.update(infer(part, wanted))
    return tensors


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON atomically (temp file + rename)."""
    write_text_atomic(path, json.dumps(data, indent=1) + "\n")
