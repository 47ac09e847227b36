"""Amplification: how much a node magnified the error it received.

    amplification = E(output) / max over float inputs of E(input)

where E is the cumulative relative RMS error of a tensor in the target run, RMS(target -
reference) / RMS(reference) = 10^(-SNR/20). Being relative, a node that only scales (x * 32768)
has amplification ~1; a node that cancels (x - mean) or divides by a small value has > 1; a node
that averages noise away has < 1. Guards: None when no input carries error (graph inputs, exact
inputs: all of the output's error is introduced locally), when no input was compared, or when an
input's error is already infinite (NaN/Inf arrived; nothing left to magnify); inf when finite
incoming error turns into NaN/Inf.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from trtdiff.attribution.rank import local_score
from trtdiff.result import TensorResult


def amplification(tensor: TensorResult, inputs: Sequence[str], by_name: Mapping[str, TensorResult],
                  graph_inputs: set[str]) -> float | None:
    if tensor.metrics is None:
        return None
    incoming = []
    for name in inputs:
        if name in graph_inputs:
            incoming.append(0.0)
        elif name in by_name and by_name[name].metrics is not None and by_name[name].dtype.startswith("float"):
            incoming.append(local_score(by_name[name].metrics))  # type: ignore[arg-type]
    if not incoming:
        return None
    received = max(incoming)
    if received == 0.0 or math.isinf(received):
        return None
    return local_score(tensor.metrics) / received
