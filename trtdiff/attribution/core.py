"""Local error, amplification and hints for a run's nodes; the package's face re-exports these."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import onnx

from trtdiff.attribution.amplify import amplification
from trtdiff.attribution.chains import cause_chains
from trtdiff.attribution.chunks import chunk_tensors
from trtdiff.attribution.hints import nan_origin_cumulative
from trtdiff.attribution.index import TargetIndex
from trtdiff.attribution.local import LocalResult, run_shadows
from trtdiff.attribution.rank import introduced_scores, rank_offenders
from trtdiff.attribution.representation import check_representation
from trtdiff.attribution.shadow import ShadowModel
from trtdiff.measure.tolerance import ToleranceSpec
from trtdiff.model import topological_nodes
from trtdiff.result import Comparison, TensorResult
from trtdiff.runners.base import Runner

# tensors one shadow model may feed and produce: 256 MiB keeps a failing --mark-all run within twice
# one side's marked bytes (the PP-OCRv4 detector: 1,257 MiB where 4 GiB gave 1,700) at the same speed
DEFAULT_BUDGET = 256 << 20


@dataclass(frozen=True)
class Attribution:
    local: Mapping[str, LocalResult]  # by reference tensor name
    scores: Mapping[str, float]  # error each local output introduces (rank.introduced_scores)
    warnings: tuple[str, ...] = ()
    shadow_runs: int = 0


def reference_inputs_needed(model: onnx.ModelProto, selected: Sequence[str]) -> list[str]:
    """Node outputs (not graph inputs or initializers) read by the nodes that make `selected`:
    the reference run must hold them too, so each node can be fed the reference's inputs."""
    wanted = set(selected)
    outside = {i.name for i in model.graph.input} | {i.name for i in model.graph.initializer} | {""}
    made = {o for n in model.graph.node for o in n.output}
    needed = [x for n in model.graph.node if wanted.intersection(n.output) for x in n.input
              if x not in outside and x in made]
    return [x for x in dict.fromkeys(needed) if x not in wanted]


def attribute(model: onnx.ModelProto, target_model: onnx.ModelProto, selected: Sequence[str],
              reference: Mapping[str, np.ndarray], feeds: Mapping[str, np.ndarray],
              make_runner: Callable[[onnx.ModelProto], Runner], tolerances: ToleranceSpec,
              memory_budget: int | None = None, progress: Callable[[], None] | None = None) -> Attribution:
    """Local error of every node that makes a selected tensor: the target's copy of the node fed
    the reference's tensors (see shadow.py), in as few shadow models as `memory_budget` bytes
    (of fed and produced tensors per model) allow. `progress` is called after each shadow model."""
    # sequences, maps and optionals have no local error of their own: only tensors take part
    tensors = {k: v for k, v in reference.items() if isinstance(v, np.ndarray)}
    lookup = collections.ChainMap(tensors, dict(feeds))
    wanted = [(tensor, node) for tensor, node in _selected_producers(model, selected) if tensor in tensors]
    index = TargetIndex.build(model, target_model, {k: (v.dtype, v.shape) for k, v in lookup.items()})
    sizes = {k: int(v.nbytes) for k, v in lookup.items()}
    shadows: Iterator[ShadowModel] = chunk_tensors(index, wanted, sizes, memory_budget or DEFAULT_BUDGET)
    if progress is not None:
        shadows = _reporting(shadows, progress)
    nodes = {n.name: n for n in model.graph.node}
    results, warnings, runs = run_shadows(shadows, lookup, make_runner, tolerances, nodes)
    results, more, checks = check_representation(results, index, nodes, lookup, make_runner, tolerances,
                                                  memory_budget or DEFAULT_BUDGET)
    warnings += more
    runs += checks
    missing = [t for t, _ in wanted if t not in results]
    if missing:
        warnings.append(f"{len(missing)} tensors have no local error (e.g. '{missing[0]}'): the target has "
                        "no node of the same name making them from tensors the reference has")
    scores = introduced_scores(results, {name: list(n.input) for name, n in nodes.items()})
    return Attribution(results, scores, tuple(warnings), runs)


def _reporting(shadows: Iterator[ShadowModel], progress: Callable[[], None]) -> Iterator[ShadowModel]:
    """The shadow models, calling `progress` once each has been run (when the next is asked for)."""
    for shadow in shadows:
        yield shadow
        progress()


def _selected_producers(model: onnx.ModelProto, selected: Sequence[str]) -> list[tuple[str, str]]:
    wanted = set(selected)
    return [(o, n.name) for n in topological_nodes(model.graph) if n.op_type != "Constant"
            for o in n.output if o in wanted]


def drop_unselected(reference: dict[str, np.ndarray], selected: Sequence[str]) -> None:
    """Release the tensors held only for attribution."""
    for name in set(reference) - set(selected):
        del reference[name]


def annotate(comparison: Comparison, attribution: Attribution) -> Comparison:
    """The comparison with local error, amplification and hints on each tensor, and offenders."""
    by_name = {t.name: t for t in comparison.tensors}
    inputs = {g.name: g.inputs for g in comparison.graph}
    graph_inputs = set(comparison.settings.inputs)
    tensors = [_annotated(t, attribution.local.get(t.name), inputs.get(t.node, ()), by_name, graph_inputs)
               for t in comparison.tensors]
    offenders = rank_offenders(tensors, attribution.scores)
    return replace(comparison, tensors=tuple(tensors), offenders=offenders,
                   causes=cause_chains(tensors, offenders, comparison.graph,
                                       {name: r.charged_to for name, r in attribution.local.items()}),
                   warnings=comparison.warnings + attribution.warnings)


def _annotated(t: TensorResult, local: LocalResult | None, inputs: Sequence[str],
               by_name: Mapping[str, TensorResult], graph_inputs: set[str]) -> TensorResult:
    hints = list(local.hints) if local is not None else []
    m = t.metrics
    if m is not None and m.nan_target > m.nan_ref and not any(h.kind == "nan_origin" for h in hints):
        upstream = [by_name[i].metrics for i in inputs if i in by_name]
        if all(u is None or u.nan_target <= u.nan_ref for u in upstream):
            hints.append(nan_origin_cumulative(t.node, t.name, m))
    return replace(t, local=local.metrics if local is not None else None,
                   amplification=amplification(t, inputs, by_name, graph_inputs), hints=tuple(hints))
