"""Precision bisect: the smallest set of nodes to keep in FP32 so the outputs pass.

Each evaluation applies the plan with a candidate FP32 set (`PrecisionPlan.with_fp32_nodes`),
runs the target and compares the outputs with the FP32 reference. The search itself
(`trtdiff.bisect.search`) is seeded by the local-error ranking from attribution.
"""

from __future__ import annotations

import dataclasses
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
    """Everything a bisect found; `to_dict` is the `--json` / `Comparison.bisect` layout.

    `plan` is what to deploy: native, with the whole FP32 set (`fp32_nodes`: the search's nodes
    and every node a rule keeps, each with its `source` and reason); `evaluated` says how the
    search ran it (e.g. emulated on ONNX Runtime's CPU provider)."""

    search: SearchResult
    plan: Any  # the fixed PrecisionPlan, to deploy
    candidates: tuple[str, ...]
    ranking_source: str
    fp32_nodes: tuple[dict[str, Any], ...]
    outputs_before: dict[str, float]
    outputs_after: dict[str, float]
    message: str
    exports: dict[str, str] = field(default_factory=dict)
    state_path: str | None = None
    evaluated: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # from applying the fixed plan (opset conversions, clamped constants)
    next_steps: tuple[Any, ...] = ()  # trtdiff.result.NextStep: the command that applies the plan

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
            "evaluated": dict(self.evaluated),
            "exports": dict(self.exports),
            "warnings": list(self.warnings),
            "next_steps": [dataclasses.asdict(step) for step in self.next_steps],
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
    facts = _node_facts(model, plan, feeds, result.fp32, source, promoted)
    final = final_plan(model, plan, result.fp32, apply, feeds, target)
    return _report(result, memo, model, plan, ordered, source, op_types, state_path, facts, final)


def _node_facts(model: onnx.ModelProto, plan: Any, feeds: Feeds, fp32: Sequence[str], source: str,
                promoted: Sequence[str]) -> dict[str, str]:
    """Node -> its local error and hints (for the reasons), and why a promoted node was tried early."""
    facts = local_facts(model, plan, feeds, fp32) if source.startswith("local error") else {}
    facts.update({n: f"{facts[n]}; " if n in facts else "" for n in promoted if n in fp32})
    for node in promoted:
        if node in fp32:
            facts[node] += "reads a tensor past the type's range (tried right after its producer)"
    return facts


def _report(result: SearchResult, memo: Memo, model: onnx.ModelProto, plan: Any, ordered: list[str],
            source: str, op_types: dict[str, str], state_path: Any, facts: dict[str, str],
            final: FinalPlan) -> PrecisionBisect:
    rank = {n: i + 1 for i, n in enumerate(ordered)}
    searched = tuple({"node": n, "op_type": op_types.get(n, ""), "source": "search", "rank": rank.get(n),
                      "local": facts.get(n, ""),
                      "reason": _reason(n, rank.get(n), source.split(";")[0], result.necessary.get(n), facts.get(n))}
                     for n in result.fp32)
    before = memo.known(())
    after = memo.known(result.fp32) if result.passed else None
    return PrecisionBisect(
        result, final.plan, tuple(ordered), source, searched + final.kept_by_rules,
        dict(before.info.get("outputs", {})) if before else {},
        dict(after.info.get("outputs", {})) if after else {},
        _message(result, len(ordered), len(final.kept_by_rules)), final.exports,
        str(state_path) if state_path is not None else None, final.evaluated, final.warnings)


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


def _message(result: SearchResult, candidates: int, by_rules: int) -> str:
    also = (f"; {by_rules} more node{'s stay' if by_rules != 1 else ' stays'} in FP32 by trtdiff's own rules "
            "or the plan's (listed with their reasons, and in every export)") if by_rules else ""
    if result.status == STATUS_ALL_LOWER_PASSES:
        return "the model already passes with every candidate node in the lower precision: nothing needs FP32" + also
    if result.status == STATUS_ALL_FP32_FAILS:
        return (f"even with all {candidates} candidate nodes in FP32 the outputs fail: the target differs "
                "for another reason (tolerances too tight, or a backend difference FP32 cannot fix)")
    if result.status == STATUS_BUDGET:
        found = f"the best passing set found has {len(result.fp32)} nodes" if result.passed else "no passing set found"
        return f"stopped after {result.evaluations} evaluations (--max-evals): {found}; it may not be minimal" + also
    return (f"keeping {len(result.fp32)} of {candidates} nodes in FP32 passes, and dropping any one of them "
            f"fails ({result.evaluations} evaluations)" + also)


@dataclass(frozen=True)
class FinalPlan:
    """The fixed plan as applied: what to deploy, the nodes trtdiff's rules keep, its exports."""

    plan: Any
    kept_by_rules: tuple[dict[str, Any], ...] = ()
    exports: dict[str, str] = field(default_factory=dict)
    evaluated: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def final_plan(model: onnx.ModelProto, plan: Any, fp32: Sequence[str], apply: Apply, feeds: Feeds,
               target: str) -> FinalPlan:
    """Apply the fixed plan once more: the whole FP32 set (the search's nodes, the user's, and
    every node a rule keeps), the plan to deploy (native, naming the whole set) and its exports.
    Plan-like objects other than a PrecisionPlan (tests' stand-ins) pass through as they are."""
    from trtdiff.precision.export import export_texts
    from trtdiff.precision.fp32set import fp32_set
    from trtdiff.precision.plan import PrecisionPlan

    fixed = keep_plan(plan, fp32)
    if not isinstance(plan, PrecisionPlan):
        return FinalPlan(fixed)
    applied = apply(model, fixed, feeds)
    whole = fp32_set(model, applied, searched=fp32)
    rows = tuple({"node": n.node, "op_type": n.op_type, "source": n.source, "rank": None, "local": "",
                  "reason": n.reason} for n in whole.nodes if n.node not in fp32)
    evaluated = {"mode": plan.mode, "target": target,
                 "deploy": "native" if plan.lowers else "fp32",
                 "note": _evaluation_note(plan)}
    deploy = dataclasses.replace(whole.plan(fixed), mode="native")
    return FinalPlan(deploy, rows, export_texts(fixed, model, fp32=whole, evaluated=evaluated), evaluated,
                     tuple(getattr(applied, "warnings", ())))


def _evaluation_note(plan: Any) -> str:
    if plan.mode != "emulated":
        return "evaluated as deployed: the native model"
    return (f"evaluated emulated (FP32 compute, every lowered tensor rounded to {plan.default}); the model to "
            f"deploy is the native {plan.default} model, which computes in {plan.default} where the emulation rounded")
