"""Run a model in topological segments so that its compared tensors never all exist at once.

ONNX Runtime hands back every output of a run together; for a model whose compared tensors add
up to gigabytes that means holding all of them while they are compared. Cut into segments, each
segment's tensors are compared and dropped before the next segment runs; only the tensors a
later segment reads (the boundary) are carried over. Each segment is a standalone model
(`trtdiff.bisect.graph.extract`) keeping every original node and tensor name, extracted and given
a runner once, then run on every sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from trtdiff.bisect.graph import external_inputs, extract
from trtdiff.model import inferred_value_info, node_inputs, topological_nodes
from trtdiff.runners.base import Runner

SEGMENT_BYTES = 128 * 2**20  # compared bytes per segment


@dataclass(frozen=True)
class Segment:
    nodes: tuple[onnx.NodeProto, ...]
    inputs: tuple[str, ...]  # read by the segment, produced before it (or graph inputs)
    outputs: tuple[str, ...]  # compared tensors it produces, then boundary tensors later segments read
    compared: tuple[str, ...] = ()  # the outputs that are compared (the rest only carry values on)


def plan_segments(model: onnx.ModelProto, wanted: Sequence[str], sizes: Mapping[str, int],
                  segment_bytes: int | None = None) -> list[Segment]:
    """Contiguous runs of nodes in topological order, each producing about `segment_bytes`
    (default SEGMENT_BYTES) of the `wanted` tensors (`sizes`: bytes per tensor, e.g. from the
    reference run)."""
    segment_bytes = segment_bytes or SEGMENT_BYTES
    nodes = topological_nodes(model.graph)
    total = sum(sizes.get(name, 0) for name in wanted)
    count = max(1, min(len(nodes), math.ceil(total / segment_bytes)))
    groups = _split(nodes, set(wanted), sizes, total / count)
    weights = {init.name for init in model.graph.initializer}
    last_reader = _last_reader(groups)
    last_reader.update({o.name: len(groups) for o in model.graph.output})  # read after every segment
    wanted_set = set(wanted)
    segments = []
    for index, group in enumerate(groups):
        produced = {o for node in group for o in node.output if o}
        inputs = external_inputs(group, weights)
        compared = tuple(n for n in wanted if n in produced)
        boundary = sorted(n for n in produced - wanted_set if last_reader.get(n, -1) > index)
        segments.append(Segment(tuple(group), tuple(inputs), compared + tuple(boundary), compared))
    return [s for s in segments if s.outputs]


def _last_reader(groups: Sequence[Sequence[onnx.NodeProto]]) -> dict[str, int]:
    """For each tensor, the index of the last group that reads it."""
    last: dict[str, int] = {}
    for index, group in enumerate(groups):
        for node in group:
            last.update((name, index) for name in node_inputs(node))
    return last


def _split(nodes: Sequence[onnx.NodeProto], wanted: set[str], sizes: Mapping[str, int],
           target: float) -> list[list[onnx.NodeProto]]:
    groups: list[list[onnx.NodeProto]] = [[]]
    filled = 0.0
    for node in nodes:
        if filled >= target and groups[-1]:
            groups.append([])
            filled = 0.0
        groups[-1].append(node)
        filled += sum(sizes.get(o, 0) for o in node.output if o in wanted)
    return groups


class SegmentedRun:
    """Runs a model's segments sample after sample: each segment is extracted and its runner
    opened once (on entering), then `run` feeds every sample through all of them."""

    def __init__(self, model: onnx.ModelProto, segments: Sequence[Segment], wanted: Sequence[str],
                 make_runner: Callable[[onnx.ModelProto], Runner],
                 infos: dict[str, onnx.ValueInfoProto] | None = None) -> None:
        self._model, self._segments, self._wanted = model, list(segments), list(wanted)
        self._make_runner, self._infos = make_runner, infos
        self._last_use = {name: index for index, segment in enumerate(segments) for name in segment.inputs}
        self._stack = ExitStack()
        self.runners: list[Runner] = []

    def __enter__(self) -> SegmentedRun:
        infos = self._infos if self._infos is not None else inferred_value_info(self._model)
        with self._stack:
            for segment in self._segments:
                part = extract(self._model, segment.inputs, segment.outputs, infos, nodes=segment.nodes)
                self.runners.append(self._stack.enter_context(self._make_runner(part)))
            self._stack = self._stack.pop_all()  # keep them open past this block
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self.runners.clear()

    def run(self, feeds: Mapping[str, np.ndarray], consume: Callable[[str, np.ndarray], None],
            between: Callable[[], None]) -> None:
        """Run each segment on one sample, hand its compared tensors to `consume`, call `between`
        (e.g. wait for their comparison), and carry the boundary tensors on. Wanted tensors no node
        produces (graph inputs or weights listed as outputs) are handed over too."""
        available: dict[str, np.ndarray] = dict(feeds)
        _consume_unproduced(self._model, self._segments, feeds, self._wanted, consume)
        for index, (segment, runner) in enumerate(zip(self._segments, self.runners)):
            outputs = runner.infer({name: available[name] for name in segment.inputs})
            compared = set(segment.compared)
            for name in segment.outputs:
                array = outputs.pop(name)
                if self._last_use.get(name, -1) > index:
                    available[name] = array
                if name in compared:
                    consume(name, array)
            for name in [n for n in available if self._last_use.get(n, -1) <= index and n not in feeds]:
                del available[name]
            between()


def _consume_unproduced(model: onnx.ModelProto, segments: Sequence[Segment], feeds: Mapping[str, np.ndarray],
                        wanted: Sequence[str], consume: Callable[[str, np.ndarray], None]) -> None:
    produced = {name for segment in segments for name in segment.compared}
    weights = {init.name: init for init in model.graph.initializer}
    for name in wanted:
        if name in produced:
            continue
        if name in feeds:
            consume(name, np.asarray(feeds[name]))
        elif name in weights:
            consume(name, numpy_helper.to_array(weights[name]))
