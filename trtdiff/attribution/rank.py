"""Offenders: nodes ranked by the error they introduce themselves.

Each node's local output was computed from its inputs as the target stores them (see shadow.py),
so it carries the error of those inputs' storage too: a Relu reading a flushed-to-zero tensor
outputs zeros. The score a node is ranked by is what it adds beyond what it received:

    score = max(0, E(local output) - max over inputs of E(input's own local output))

where E is the relative RMS error RMS(local - reference) / RMS(reference) = 10^(-SNR/20) over the
elements finite on both sides (scale-free: large and small tensors compare fairly; plain FP16
rounding is ~3e-4). A node that passes on what it got scores ~0; one that overflows, flushes to
zero, cancels (x - mean magnifies its inputs' rounding thousands of times) scores high. The score
is infinite when the local output holds NaN/Inf where the reference is finite and no input, as its
producer stores it in the target, was already NaN/Inf (a node whose own FP16 input conversion
overflows, e.g. after a producer kept in FP32, is the culprit itself). A node's score is its
worst output's; ties (two nodes that both make infs) go to the node first in topological order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from trtdiff.attribution.hints import nonfinite_disagreement, relative_rms
from trtdiff.attribution.local import NOTABLE, LocalResult
from trtdiff.result import ErrorMetrics, Offender, TensorResult


def local_score(m: ErrorMetrics) -> float:
    """Relative RMS error, infinite when NaN/Inf disagree (one side only)."""
    if nonfinite_disagreement(m):
        return math.inf
    return relative_rms(m)


def introduced_scores(results: Mapping[str, LocalResult],
                      node_inputs: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """The score above for each local output, by tensor name (`results` in topological order).

    Where representation.py found a node's local error to be representation only, the node keeps
    only its own error (the local output against the FP32 node on the same inputs) and its local
    error, with whatever its readers charged it, goes to the producers of its lossy inputs: the
    root cause of a chain of NaN/Inf scores at least as high as the damage downstream."""
    scores = {tensor: _own_score(r, results, node_inputs) for tensor, r in results.items()}
    charges: dict[str, float] = {}
    for tensor in reversed(list(results)):
        r = results[tensor]
        received = charges.get(tensor, 0.0)
        if r.charged_to:
            passed_on = max(local_score(r.metrics), received)
            for source in r.charged_to:
                charges[source] = max(charges.get(source, 0.0), passed_on)
        else:
            scores[tensor] = max(scores[tensor], received)
    return scores


def _own_score(r: LocalResult, results: Mapping[str, LocalResult], node_inputs: Mapping[str, Sequence[str]]) -> float:
    if r.own is not None and (r.charged_to or not _representation_only(r)):
        return local_score(r.own)
    if nonfinite_disagreement(r.metrics) and not r.inherited:
        return math.inf
    received = max((relative_rms(results[i].metrics) for i in node_inputs.get(r.node, ()) if i in results),
                   default=0.0)
    return max(0.0, relative_rms(r.metrics) - received)


def _representation_only(r: LocalResult) -> bool:
    return r.own is not None and not nonfinite_disagreement(r.own) and relative_rms(r.own) <= NOTABLE


def rank_offenders(tensors: Sequence[TensorResult],
                   scores: Mapping[str, float] | None = None) -> tuple[Offender, ...]:
    """Every node with a local error, worst first, by `scores` (from `introduced_scores`, by
    tensor; `local_score` of the local metrics where missing)."""
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
