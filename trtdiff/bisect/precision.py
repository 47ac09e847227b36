"""Precision bisect: the smallest set of nodes to keep in FP32 so the outputs pass.

Each evaluation applies the plan with a candidate FP32 set (`PrecisionPlan.with_fp32_nodes`),
runs the target and compares the outputs with the FP32 reference. The search itself
(`trtdiff.bisect.search`) is seeded by the local-error ranking from attribution.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from trtdiff.bisect.evaluate import Apply, Feeds, Infer, default_apply, feeds_digest, onnxruntime_infer, run_plan
from trtdiff.bisect.ranking import Ranking, local_facts, resolve_ranking
from trtdiff.bisect.search import (STATUS_ALL_FP32_FAILS, STATUS_ALL_LOWER_PASSES, STATUS_BUDGET, SearchResult,
                                   minimal_fp32_set)
from trtdiff.bisect.state import Memo, Outcome, ProgressHook, SearchState, fingerprint, model_hash
from trtdiff.model import topological_nodes
from trtdiff.result import Tolerances

log = logging.getLogger(__name__)


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a search: the state was saved to `path`, from where it resumes."""

    def __init__(self, path: Path, evaluations: int) -> None:
        super().__init__(str(path))
        self.path = path
        self.evaluations = evaluations


@dataclass(frozen=True)
class PrecisionBisect:
    """Everything a bisect found; `to_dict` is the `--json` / `Comparison.bisect` layout."""

    search: SearchResult
    plan: Any  # the fixed PrecisionPlan
    candidates: tuple[str, ...]
    ranking_source: str
    fp32_nodes: tuple[dict[str, Any], ...]
    outputs_before: dict[str, float]
    outputs_after: dict[str, float]
    message: str
    exports: dict[str, str] = field(default_factory=dict)
    state_path: str | None = None

    @property
    def passed(self) -> bool:
        return self.search.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.search.passed,
            "status": self.search.status,
            "minimal": self.search.minimal,
            "message": self.message,
            "fp32_nodes": list(self.fp32_nodes),
            "evaluations": self.search.evaluations,
            "evaluations_this_run": self.search.new_evaluations,
            "evaluations_by_phase": dict(self.search.phases),
            "candidates": len(self.candidates),
            "ranking": self.ranking_source,
            "outputs_before": _json_floats(self.outputs_before),
            "outputs_after": _json_floats(self.outputs_after),
            "plan": self.plan.to_dict() if hasattr(self.plan, "to_dict") else None,
            "exports": dict(self.exports),
            "state_file": self.state_path,
        }


def _json_floats(values: dict[str, float]) -> dict[str, float | str]:
    """Non-finite errors as "nan"/"inf"/"-inf" strings, as trtdiff.result writes them."""
    import math

    return {k: (v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")))
            for k, v in values.items()}


def model_digest(model: onnx.ModelProto) -> str:
    return model_hash(model.SerializeToString(deterministic=True))


def keep_plan(plan: Any, fp32: Sequence[str]) -> Any:
    """The plan with `fp32` kept in FP32 on top of what the user already keeps."""
    base = tuple(getattr(plan, "keep_fp32_nodes", ()) or ())
    return plan.with_fp32_nodes(tuple(dict.fromkeys([*base, *sorted(fp32)])))


def candidate_nodes(model: onnx.ModelProto, plan: Any, apply: Apply, feeds: Feeds) -> list[str]:
    """Nodes the plan lowers (those worth keeping in FP32), in topological order."""
    applied = apply(model, plan, feeds)
    lowered = getattr(applied, "lowered_nodes", None)
    kept = set(getattr(plan, "keep_fp32_nodes", ()) or ())
    order = [n.name for n in topological_nodes(model.graph)]
    if lowered is None:
        return [n for n in order if n not in kept]
    lowered_set = set(lowered)
    return [n for n in order if n in lowered_set and n not in kept]


def open_state(path: str | os.PathLike[str] | None, model: onnx.ModelProto, settings: str) -> SearchState:
    """A fresh state, or the one in `path` when it exists (refused if from another model)."""
    digest = model_digest(model)
    if path is not None and Path(path).exists():
        state = SearchState.load(path, digest, settings)
        log.info("resuming from %s with %d evaluations", path, len(state.records))
        return state
    return SearchState(digest, settings)


def bisect_precision(
    model: onnx.ModelProto, plan: Any, feeds: Feeds, reference: Feeds, tolerances: Tolerances, *,
    infer: Infer, apply: Apply = default_apply, ranking: Ranking = None, by_op_type: bool = False,
    max_evals: int | None = None, state_path: str | os.PathLike[str] | None = None,
    interrupt_path: str | os.PathLike[str] | None = None, progress: ProgressHook | None = None,
    target: str = "", reference_infer: Infer | None = None,
    judge: Callable[[Any], Outcome] | None = None, data_digest: str | None = None,
) -> PrecisionBisect:
    """Find a 1-minimal FP32 set for `plan` on `model` (see module doc).

    `reference` holds the FP32 reference outputs for `feeds`. `judge` (plan -> Outcome), when
    given, decides each plan instead (e.g. over a data set, `trtdiff.bisect.over_data`; `feeds`
    then is the sample the ranking runs on), and `data_digest` stands for its samples in the
    state file's settings. On Ctrl-C the state is written to `state_path` (or `interrupt_path`)
    and SearchInterrupted is raised."""
    outputs = [o.name for o in model.graph.output]
    settings = fingerprint(plan.to_dict() if hasattr(plan, "to_dict") else repr(plan),
                           tolerances, data_digest or feeds_digest(feeds), target)
    state = open_state(state_path, model, settings)

    def evaluate(fp32: frozenset[str]) -> Outcome:
        if judge is not None:
            return judge(keep_plan(plan, sorted(fp32)))
        return run_plan(model, keep_plan(plan, sorted(fp32)), feeds, reference, tolerances, infer, apply, outputs)

    memo = Memo(evaluate, state, max_evals=max_evals, state_path=state_path, progress=progress)
    candidates = candidate_nodes(model, plan, apply, feeds)
    ordered, source, promoted = resolve_ranking(ranking, model, plan, feeds, candidates,
                                                reference_infer or onnxruntime_infer())
    op_types = {n.name: n.op_type for n in model.graph.node}
    try:
        result = minimal_fp32_set(ordered, memo, groups=op_types if by_op_type else None,
                                  gallop=not source.startswith("graph order"))
    except KeyboardInterrupt:
        path = Path(state_path or interrupt_path or "trtdiff-bisect-state.json")
        state.save(path)
        raise SearchInterrupted(path, memo.evaluations) from None
    facts = local_facts(model, plan, feeds, result.fp32) if source.startswith("local error") else {}
    facts.update({n: f"{facts[n]}; " if n in facts else "" for n in promoted if n in result.fp32})
    for node in promoted:
        if node in result.fp32:
            facts[node] += "reads a tensor past the type's range (tried right after its producer)"
    return _report(result, memo, model, plan, ordered, source, op_types, state_path, facts)


def _report(result: SearchResult, memo: Memo, model: onnx.ModelProto, plan: Any, ordered: list[str],
            source: str, op_types: dict[str, str], state_path: Any, facts: dict[str, str]) -> PrecisionBisect:
    fixed = keep_plan(plan, result.fp32)
    rank = {n: i + 1 for i, n in enumerate(ordered)}
    nodes = tuple({"node": n, "op_type": op_types.get(n, ""), "rank": rank.get(n), "local": facts.get(n, ""),
                   "reason": _reason(n, rank.get(n), source.split(";")[0], result.necessary.get(n), facts.get(n))}
                  for n in result.fp32)
    before = memo.known(())
    after = memo.known(result.fp32) if result.passed else None
    return PrecisionBisect(
        result, fixed, tuple(ordered), source, nodes,
        dict(before.info.get("outputs", {})) if before else {},
        dict(after.info.get("outputs", {})) if after else {},
        _message(result, len(ordered)), _exports(fixed, model),
        str(state_path) if state_path is not None else None)


def _reason(node: str, rank: int | None, source: str, without: Outcome | None, local: str | None) -> str:
    if not rank:
        parts = ["not ranked"]
    elif source.startswith("graph order"):
        parts = [f"node {rank} in graph order (no local-error ranking)"]
    else:
        parts = [f"ranked {rank} by {source}"]
    if local:
        parts.append(local)
    if without is not None:
        failing = without.info.get("failing") or {}
        lead = "without it" if "inferred_from" not in without.info else "without it (a larger set lacking it)"
        if failing:
            name, why = next(iter(failing.items()))
            parts.append(f"{lead} output '{name}' fails: {why}")
        elif without.info.get("error"):
            parts.append(f"{lead} the target fails: {without.info['error']}")
    return "; ".join(parts)


def _message(result: SearchResult, candidates: int) -> str:
    if result.status == STATUS_ALL_LOWER_PASSES:
        return "the model already passes with every node in the lower precision: nothing needs FP32"
    if result.status == STATUS_ALL_FP32_FAILS:
        return (f"even with all {candidates} candidate nodes in FP32 the outputs fail: the target differs "
                "for another reason (tolerances too tight, or a backend difference FP32 cannot fix)")
    if result.status == STATUS_BUDGET:
        found = f"the best passing set found has {len(result.fp32)} nodes" if result.passed else "no passing set found"
        return f"stopped after {result.evaluations} evaluations (--max-evals): {found}; it may not be minimal"
    return (f"keeping {len(result.fp32)} of {candidates} nodes in FP32 passes, and dropping any one of them "
            f"fails ({result.evaluations} evaluations)")


def _exports(plan: Any, model: onnx.ModelProto) -> dict[str, str]:
    """Every text export of a PrecisionPlan (other plan-like objects, e.g. in tests, have none)."""
    from trtdiff.precision.export import export_texts
    from trtdiff.precision.plan import PrecisionPlan

    return dict(export_texts(plan, model)) if isinstance(plan, PrecisionPlan) else {}
