"""Split the wanted local outputs over shadow models so each feeds and produces at most about a
memory budget of tensors (decision 6: memory is a budget)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import onnx

from trtdiff.attribution.index import TargetIndex, Unresolvable
from trtdiff.attribution.shadow import ShadowBuilder, ShadowModel


def chunk_tensors(index: TargetIndex, wanted: list[tuple[str, str]], sizes: Mapping[str, int],
                  budget: int, reference_nodes: Mapping[str, onnx.NodeProto] | None = None) -> Iterator[ShadowModel]:
    """Shadow models holding the cones of `wanted` (reference tensor, node) pairs in order, each
    feeding and producing at most about `budget` bytes (one cone alone may go beyond it). With
    `reference_nodes` (by name), each cone also computes its node in FP32 on the same inputs."""
    builder = ShadowBuilder(index)
    used = 0
    for tensor, node in wanted:
        try:
            cost = _cost(builder, tensor, node, sizes) * (2 if reference_nodes is not None else 1)
            if builder.outputs and used + cost > budget:
                yield builder.finish()
                builder, used = ShadowBuilder(index), 0
                cost = _cost(builder, tensor, node, sizes) * (2 if reference_nodes is not None else 1)
        except Unresolvable:
            continue
        added = (builder.add(tensor, node) if reference_nodes is None
                 else builder.add_representation(tensor, node, reference_nodes[node]))
        if added is not None:
            used += cost
    if builder.outputs:
        yield builder.finish()


def _cost(builder: ShadowBuilder, tensor: str, node: str, sizes: Mapping[str, int]) -> int:
    """Bytes a cone adds: its output and the reference tensors it feeds that are not fed yet."""
    return sizes.get(tensor, 0) + sum(sizes.get(x, 0) for x in builder.new_feeds(tensor, node))
