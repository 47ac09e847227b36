"""The whole FP32 set of a plan: every node the applied plan runs in FP32, with what kept it.

A plan names the nodes its author chose; applying it keeps more (a constant beyond the type's
range, an op with no lower-precision form, an activation with no calibration range). An export
that named only the chosen nodes would let another tool lower the rest: onnxconverter-common
given bisect's one node would convert a Div by 5e5 to FP16 too. So every export carries the
whole set, each node with its `source`: "search" (bisect found it), "plan" (the user kept it),
or the rule that kept it (`trtdiff.precision.decide.KEPT_*`), and the reason in words.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx

from trtdiff.model import subgraphs
from trtdiff.precision.analysis import FLOAT, model_facts
from trtdiff.precision.apply import AppliedPlan, apply_plan
from trtdiff.precision.decide import KEPT_BY_PLAN, KEPT_IN_KEPT_BODY
from trtdiff.precision.plan import PrecisionPlan

SEARCH = "search"
IMPLIED = (SEARCH, KEPT_BY_PLAN, KEPT_IN_KEPT_BODY)  # sources a plan already expresses


@dataclass(frozen=True)
class Fp32Node:
    node: str
    op_type: str
    source: str  # "search", "plan", or a decide.KEPT_* rule
    reason: str


@dataclass(frozen=True)
class Fp32Set:
    nodes: tuple[Fp32Node, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.node for n in self.nodes)

    def reasons(self) -> dict[str, str]:
        """Node -> "source: reason", for the exports' JSON."""
        return {n.node: f"{n.source}: {n.reason}" if n.reason and n.reason != n.source else n.source
                for n in self.nodes}

    def plan(self, plan: PrecisionPlan) -> PrecisionPlan:
        """`plan` with the nodes its rules keep added by name, so that every export of it carries
        the whole set (nodes the plan keeps itself, by name or op type, are already in it)."""
        return plan.with_fp32_nodes(n.node for n in self.nodes if n.source not in IMPLIED)


def fp32_set(model: onnx.ModelProto, applied: AppliedPlan, searched: Collection[str] = ()) -> Fp32Set:
    """The nodes `applied` keeps in FP32 (named ones: an unnamed node cannot be named in an
    export), in model order; those in `searched` get source "search"."""
    op_types = dict(_named_nodes(model.graph))
    kept = set(applied.kept_nodes)
    nodes = []
    for name, op_type in op_types.items():
        if name not in kept:
            continue
        rule = applied.kept_rules.get(name, KEPT_BY_PLAN)
        source = SEARCH if name in searched and rule == KEPT_BY_PLAN else rule
        reason = applied.kept_reasons.get(name, "") if source != SEARCH else "bisect needs it in FP32"
        nodes.append(Fp32Node(name, op_type, source, reason))
    return Fp32Set(tuple(nodes))


def plan_fp32_set(model: onnx.ModelProto, plan: PrecisionPlan,
                  calibration_feeds: Sequence[Mapping[str, np.ndarray]] | None = None, *,
                  ranges: Mapping[str, tuple[float, float]] | None = None) -> Fp32Set:
    """The whole FP32 set of `plan` on `model`. INT8/FP8 without calibration data or ranges:
    every float tensor is taken as calibrated, so only the rules that do not depend on the data
    apply (an activation the calibrator gives no range can be known only with the data)."""
    if plan.lowers and plan.default in ("int8", "fp8") and ranges is None and not calibration_feeds:
        ranges = {name: (0.0, 0.0) for name, elem in model_facts(model).types.items() if elem == FLOAT}
    return fp32_set(model, apply_plan(model, plan, calibration_feeds, ranges=ranges))


def _named_nodes(graph: onnx.GraphProto) -> Iterator[tuple[str, str]]:
    for node in graph.node:
        if node.name:
            yield node.name, node.op_type
        for sub in subgraphs(node):
            yield from _named_nodes(sub)
