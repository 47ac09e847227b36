"""The one graph walk behind every precision transform.

Nodes are visited in order; each tensor is tracked in the states it exists in (FULL: original,
LOW: lowered) under the names that hold them. When a node needs an input in a state it does not
exist in yet, the strategy (native Casts, emulating Cast pairs, Q/DQ) makes it once, right before
the first node that needs it, so every later consumer shares it (the minimum of conversions).
Original nodes and their output tensor names are kept; whatever is inserted gets a derived name.
Bodies of If/Loop/Scan are walked the same way, keeping their input and output types.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import onnx
from onnx import TensorProto, helper

from trtdiff.model import INSERTED, data_tensors, outer_names, subgraphs
from trtdiff.precision.analysis import constant_value
from trtdiff.precision.decide import (
    ACCEPT,
    CONTROL,
    FULL,
    KEPT,
    LOW,
    LOWERED,
    Decision,
    Rules,
    View,
    decide,
)


@dataclass
class Entry:
    """A tensor's states: `primary` is the state its producer gives it; `names` maps each state
    it exists in to the tensor name holding it."""

    primary: str
    names: dict[str, str]


class Strategy(Protocol):
    """How LOW is represented: float16 tensors, rounded float32 tensors, or Q/DQ pairs."""

    def lower_output(self, walk: GraphWalk, node: onnx.NodeProto, index: int) -> None: ...

    def to_low(self, walk: GraphWalk, tensor: str, source: str) -> str: ...

    def to_full(self, walk: GraphWalk, tensor: str, source: str) -> str: ...

    def constant_low(self, walk: GraphWalk, tensor: str, value: TensorProto, axis: int | None,
                     clamp: bool, in_place: bool) -> str: ...

    def low_input(self, walk: GraphWalk, value_info: onnx.ValueInfoProto) -> Entry | None: ...


@dataclass
class WalkMemo:
    """What walking a model's main graph works out the same way for every plan of one precision
    and mode, whichever nodes the plan keeps (`trtdiff.precision.apply.PlanApplier` keeps it across
    plans): each node's decision, kept or not, the data tensors, and the converted constants."""

    decisions: dict[tuple[int, bool], Decision] = field(default_factory=dict)  # (position, kept) ->
    converted: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # (constant, axis, clamp) -> values
    data: set[str] | None = None


@dataclass
class Context:
    """State shared by the walks of the main graph and of every body."""

    rules: Rules
    strategy: Strategy
    names: set[str]  # tensor names in use
    node_names: set[str]
    ir_version: int
    lowered: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # kept node -> why, in words
    kept_by: dict[str, str] = field(default_factory=dict)  # kept node -> the rule that kept it (KEPT_*)
    warnings: list[str] = field(default_factory=list)
    retyped: dict[str, int] = field(default_factory=dict)
    memo: WalkMemo | None = None  # reused across plans for the main graph (None: work everything out)


class GraphWalk:
    def __init__(self, ctx: Context, graph: onnx.GraphProto, parent: GraphWalk | None,
                 force_keep: bool) -> None:
        self.ctx = ctx
        self.graph = graph
        self.parent = parent
        self.is_main = parent is None
        self.force_keep = force_keep
        self.scope: dict[str, Entry] = {}
        self.out: list[onnx.NodeProto] = []
        self.new_inits: list[TensorProto] = []
        self.replaced: set[str] = set()
        self.const_cache: dict[tuple[str, int | None, bool], str] = {}
        inputs = {i.name for i in graph.input}
        self.inits = {i.name: i for i in graph.initializer}
        self.flexible: dict[str, TensorProto] = {
            name: init for name, init in self.inits.items() if name not in inputs}
        for node in graph.node:
            if node.op_type == "Constant" and not node.domain and node.output:
                value = constant_value(node)
                if value is not None:
                    self.flexible[node.output[0]] = value
        # constants a decision may look at: also initializers listed as graph inputs (weights,
        # though a feed may override them, so they are converted by Casts, not rewritten)
        self.constants: dict[str, TensorProto] = dict(parent.constants) if parent else {}
        self.constants.update(self.inits)
        self.constants.update(self.flexible)
        self.memo = ctx.memo if self.is_main else None  # a body's names may repeat in another body
        if self.memo is not None and self.memo.data is not None:
            self.data: set[str] = self.memo.data
        else:
            self.data = data_tensors(graph, parent.data if parent else set(), self.is_main)
            if self.memo is not None:
                self.memo.data = self.data
        self.outputs = {o.name for o in graph.output}

    # -- naming and emitting -----------------------------------------------------------------
    def fresh(self, base: str) -> str:
        name, n = base, 1
        while name in self.ctx.names:
            name, n = f"{base}_{n}", n + 1
        self.ctx.names.add(name)
        return name

    def emit(self, node: onnx.NodeProto) -> None:
        """Append an inserted node, named after the tensor it makes (made unique)."""
        base = node.name or node.output[0]
        name, n = base, 1
        while name in self.ctx.node_names:
            name, n = f"{base}__{node.op_type}" if n == 1 else f"{base}__{node.op_type}_{n}", n + 1
        self.ctx.node_names.add(name)
        node.name = name
        node.doc_string = INSERTED
        self.out.append(node)

    def add_initializer(self, tensor: TensorProto) -> None:
        self.new_inits.append(tensor)

    def converted(self, key: tuple[Any, ...], convert: Callable[[], Any]) -> Any:
        """`convert()`: the values of a converted constant, computed once per model when walking the
        main graph with a memo (`key`: the constant, its axis, whether clamped)."""
        if self.memo is None:
            return convert()
        if key not in self.memo.converted:
            self.memo.converted[key] = convert()
        return self.memo.converted[key]

    # -- tensor states -----------------------------------------------------------------------
    def entry(self, tensor: str) -> Entry:
        walk: GraphWalk | None = self
        while walk is not None:
            if tensor in walk.scope:
                return walk.scope[tensor]
            walk = walk.parent
        return Entry(FULL, {FULL: tensor})

    def provide(self, tensor: str, want: str, axis: int | None = None, clamp: bool = False) -> str:
        """The name of `tensor` in state `want`, making it on first request."""
        owner = self._constant_owner(tensor) if want == LOW else None
        if owner is not None and owner is not self:
            return owner.provide(tensor, want, axis, clamp)  # converted once, in its own graph
        if owner is self:
            key = (tensor, axis, clamp)
            if key not in self.const_cache:
                self.const_cache[key] = self.ctx.strategy.constant_low(
                    self, tensor, self.flexible[tensor], axis, clamp, tensor in self.in_place)
            return self.const_cache[key]
        entry = self.entry(tensor)
        if want in entry.names:
            return entry.names[want]
        strategy = self.ctx.strategy
        if want == LOW:
            name = strategy.to_low(self, tensor, entry.names[FULL])
        else:
            name = strategy.to_full(self, tensor, entry.names[LOW])
        self.scope[tensor] = Entry(entry.primary, {**entry.names, want: name})
        return name

    def _constant_owner(self, tensor: str) -> GraphWalk | None:
        """The walk of the graph that holds `tensor` as a convertible constant, if any."""
        walk: GraphWalk | None = self
        while walk is not None:
            if tensor in walk.flexible:
                return walk
            if tensor in walk.inits or tensor in walk.scope:
                return None
            walk = walk.parent
        return None

    # -- the walk ----------------------------------------------------------------------------
    def run(self) -> None:
        view = View(self.data, self.constants)
        rules = dataclasses.replace(self.ctx.rules, force_keep=self.force_keep,
                                    in_body=not self.is_main)
        nodes = list(self.graph.node)
        decisions = [self._decide(index, node, view, rules) for index, node in enumerate(nodes)]
        self.in_place = self._in_place(nodes, decisions)
        self._start_inputs()
        for node, decision in zip(nodes, decisions):
            self._visit(node, decision)
        if not self.is_main:
            for out in self.graph.output:
                out.name = self.provide(out.name, FULL)
        self._finish()

    def _decide(self, index: int, node: onnx.NodeProto, view: View, rules: Rules) -> Decision:
        """The node's decision; with a memo, computed once per position and kept-or-not (nothing
        else in a decision depends on the plan's FP32 set)."""
        if self.memo is None:
            return decide(node, view, rules)
        key = (index, rules.plan.keeps(node))
        if key not in self.memo.decisions:
            self.memo.decisions[key] = decide(node, view, rules)
        return self.memo.decisions[key]

    def _start_inputs(self) -> None:
        if not self.is_main:
            return
        for vi in self.graph.input:
            if vi.name in self.inits or vi.name not in self.data:
                continue
            entry = self.ctx.strategy.low_input(self, vi)
            if entry is not None:
                self.scope[vi.name] = entry

    def _visit(self, node: onnx.NodeProto, decision: Decision) -> None:
        ctx = self.ctx
        if decision.kind in (CONTROL, KEPT):
            for sub in subgraphs(node):
                GraphWalk(ctx, sub, self, self.force_keep or decision.kind == KEPT).run()
        wants = list(decision.inputs)
        for slots, low_ok in decision.groups:
            states = {self.entry(node.input[i]).primary for i in slots}
            same = len(states) == 1 and (low_ok or states == {FULL})
            for i in slots:
                wants[i] = None if same else (LOW if low_ok else FULL)
        for i, want in enumerate(wants):
            if want in (FULL, LOW) and node.input[i]:
                node.input[i] = self.provide(node.input[i], want, decision.axes.get(i), decision.clamp)
        self.out.append(node)
        for j, name in enumerate(node.output):
            if not name:
                continue
            if decision.outputs[j] == LOW:
                ctx.strategy.lower_output(self, node, j)
            else:
                self.scope[name] = Entry(FULL, {FULL: name})
        label = node.name or f"{node.op_type}({node.output[0] if node.output else ''})"
        if decision.kind == LOWERED:
            ctx.lowered.append(label)
        elif decision.kind == KEPT:
            ctx.kept.append(label)
            ctx.reasons[label] = decision.reason
            ctx.kept_by[label] = decision.rule
        ctx.warnings.extend(decision.notes)

    def _in_place(self, nodes: list[onnx.NodeProto], decisions: list[Decision]) -> set[str]:
        """Initializers every reader wants LOW the same way: converted in place, name kept."""
        uses: dict[str, set[tuple[str | None, int | None, bool]]] = {}
        blocked = set(self.outputs)
        for node, decision in zip(nodes, decisions):
            for sub in subgraphs(node):
                blocked |= outer_names(sub)
            for i, name in enumerate(node.input):
                if name in self.inits:
                    want = decision.inputs[i]
                    want = FULL if want == ACCEPT else want
                    uses.setdefault(name, set()).add((want, decision.axes.get(i), decision.clamp))
        return {name for name, u in uses.items() if name in self.flexible and name not in blocked
                and len(u) == 1 and next(iter(u))[0] == LOW}

    def _finish(self) -> None:
        graph = self.graph
        unused = self._unused_replaced()
        graph.ClearField("node")
        graph.node.extend(self.out)
        graph.initializer.extend(self.new_inits)
        if self.ctx.ir_version < 4:  # before IR 4 every initializer must also be a graph input
            graph.input.extend(helper.make_tensor_value_info(i.name, i.data_type, i.dims)
                               for i in self.new_inits)
        for index in reversed(range(len(graph.initializer))):
            if graph.initializer[index].name in unused:
                del graph.initializer[index]

    def _unused_replaced(self) -> set[str]:
        """Initializers replaced by a converted copy that nothing reads any more. (A Constant node
        stays, read or not: its value remains a tensor of the model, e.g. for `--outputs`.)"""
        if not self.replaced:
            return set()
        used = {n for node in self.out for n in node.input} | self.outputs
        for node in self.out:
            for sub in subgraphs(node):
                used |= outer_names(sub)
        return self.replaced - used
