"""Offenders: nodes ranked by the error they introduce themselves (local error).

Score of a local output (`local_score`): infinite when it holds NaN or Inf where the reference is
finite (or the other way round); otherwise its relative RMS error, RMS(local - reference) /
RMS(reference) = 10^(-SNR/20). It is scale-free, so a node with large values and one with small
values compare fairly, and plain rounding scores about the type's unit roundoff (~3e-4 for FP16)
while an overflowing, flushing or cancelling node scores orders of magnitude more. A node's score
is its worst output's. Ties (e.g. two nodes that both make infs) go to the node first in
topological order. A node whose input, as the target stores it, is already NaN/Inf (its
producer overflowed) is scored on its finite elements: what it receives is not its doing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from trtdiff.attribution.hints import relative_rms
from trtdiff.result import ErrorMetrics, Offender, TensorResult


def local_score(m: ErrorMetrics) -> float:
    if m.histogram and m.histogram[-1] > 0:
        return math.inf
    return relative_rms(m)


def rank_offenders(tensors: Sequence[TensorResult],
                   scores: Mapping[str, float] | None = None) -> tuple[Offender, ...]:
    """Every node with a local error, worst first. `scores` (by tensor) overrides `local_score`:
    attribution scores NaN/Inf that a node receives on its inputs by its finite elements only."""
    best: dict[str, tuple[float, TensorResult]] = {}
    for t in tensors:
        if t.local is None or not t.node:
            continue
        score = scores[t.name] if scores is not None and t.name in scores else local_score(t.local)
        if t.node not in best or score > best[t.node][0]:
            best[t.node] = (score, t)
    kinds: dict[str, list[str]] = {}
    for t in tensors:
        for hint in t.hints:
            if hint.kind not in kinds.setdefault(t.node, []):
                kinds[t.node].append(hint.kind)
    ordered = sorted(best.items(), key=lambda item: (-item[1][0], item[1][1].index, item[0]))
    return tuple(Offender(rank, node, t.name, t.op_type, t.index, score, tuple(kinds.get(node, ())))
                 for rank, (node, (score, t)) in enumerate(ordered, start=1))
