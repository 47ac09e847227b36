"""Cause chains: from a root cause to the first NaN/Inf and to the failing outputs.

    shrink: underflows fp16: 100% flush to zero -> logit: log of zeros gives -inf
        -> cancel: NaN first appears (256 values) -> y

A root is an offender that introduces error itself (score > 0, with a cause hint) and reaches a
failing output; the steps after it are the nodes on a path from it to those outputs that show
what happens to its damage: a `domain` or `inherited` hint whose error is charged to the root or
to an earlier step (a node that passes on another producer's rounding belongs to that producer's
story, not this one), or where NaN first appears.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from trtdiff.result import CauseChain, CauseStep, GraphNode, Offender, TensorResult

ROOT_KINDS = ("overflow", "underflow", "cancellation", "quantization", "nan_origin", "domain")
EFFECT_KINDS = ("domain", "inherited", "nan_origin")
MAX_ROOTS = 3
MAX_STEPS = 8


def cause_chains(tensors: Sequence[TensorResult], offenders: Sequence[Offender], graph: Sequence[GraphNode],
                 charged: Mapping[str, Sequence[str]] | None = None) -> tuple[CauseChain, ...]:
    """Up to MAX_ROOTS chains, worst root first; a root inside an earlier chain starts none.
    `charged`: tensor -> the input tensors its local error was charged to (representation.py);
    None links every effect hint on the path."""
    by_name = {t.name: t for t in tensors}
    failing = [t.name for t in tensors if t.is_output and t.passed is False]
    readers: dict[str, list[GraphNode]] = {}
    for node in graph:
        for name in node.inputs:
            readers.setdefault(name, []).append(node)
    producers = {out: node for node in graph for out in node.outputs}
    chains: list[CauseChain] = []
    covered: set[str] = set()
    for offender in offenders:
        root = by_name.get(offender.tensor)
        hint = next((h for h in root.hints if h.kind in ROOT_KINDS), None) if root is not None else None
        if offender.score <= 0 or hint is None or offender.node in covered:
            continue
        downstream = _reach(offender.node, producers, readers)
        outputs = tuple(name for name in failing if name in downstream["tensors"])
        if not outputs:
            continue
        upstream = _reach_back(outputs, producers)
        steps = [CauseStep(offender.node, offender.tensor, hint.kind, hint.summary)]
        steps += _effects(tensors, downstream["nodes"] & upstream, offender.node, producers, charged)
        chains.append(CauseChain(tuple(steps[:MAX_STEPS]), outputs))
        covered |= downstream["nodes"] | {offender.node}
        if len(chains) == MAX_ROOTS:
            break
    return tuple(chains)


def _effects(tensors: Sequence[TensorResult], on_path: set[str], root: str, producers: Mapping[str, GraphNode],
             charged: Mapping[str, Sequence[str]] | None) -> list[CauseStep]:
    steps: list[CauseStep] = []
    seen = {root}
    for t in tensors:  # topological order
        hint = next((h for h in t.hints if h.kind in EFFECT_KINDS), None)
        if hint is None or t.node not in on_path or t.node in seen:
            continue
        sources = charged.get(t.name, ()) if charged is not None and hint.kind != "nan_origin" else None
        if sources is not None and not any(producers[s].name in seen for s in sources if s in producers):
            continue  # its error is charged to a producer outside this chain
        seen.add(t.node)
        steps.append(CauseStep(t.node, t.name, hint.kind, hint.summary))
    return steps


def _reach(node: str, producers: Mapping[str, GraphNode], readers: Mapping[str, list[GraphNode]]) -> dict[str, set[str]]:
    """Nodes and tensors downstream of `node` (its outputs included)."""
    start = next((g for g in producers.values() if g.name == node), None)
    tensors: set[str] = set(start.outputs) if start is not None else set()
    nodes: set[str] = set()
    stack = list(tensors)
    while stack:
        for reader in readers.get(stack.pop(), ()):
            if reader.name in nodes:
                continue
            nodes.add(reader.name)
            fresh = [o for o in reader.outputs if o not in tensors]
            tensors.update(fresh)
            stack.extend(fresh)
    return {"nodes": nodes, "tensors": tensors}


def _reach_back(outputs: Iterable[str], producers: Mapping[str, GraphNode]) -> set[str]:
    """Nodes upstream of `outputs` (their producers included)."""
    nodes: set[str] = set()
    stack = list(outputs)
    while stack:
        node = producers.get(stack.pop())
        if node is None or node.name in nodes:
            continue
        nodes.add(node.name)
        stack.extend(node.inputs)
    return nodes
