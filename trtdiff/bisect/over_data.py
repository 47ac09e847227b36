"""A precision plan judged over a data set, for bisect.

The reference outputs of every sample are computed once (`reference_outputs`, kept in a
`SampleStore`: in memory up to a budget, then on disk) and reused by every evaluation. An
evaluation opens one target session, streams the samples through it without keeping its outputs,
and decides each sample as `trtdiff run` does (`evaluate.judge_output`). A plan passes when
each output passes on at least `min_agreement` of the samples (run's verdict: output by output, so
two outputs failing on different samples each use their own allowance); the evaluation stops as
soon as that can no longer happen. Samples that failed lately are tried first, so a failing plan is usually found out on its
first sample.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import onnx

from trtdiff.bisect.evaluate import judge_output
from trtdiff.bisect.state import Outcome
from trtdiff.measure.tolerance import ToleranceSpec
from trtdiff.dataset import DataSet, GoldenOutputs, SampleStore
from trtdiff.errors import ToolUnavailable, TrtDiffError
from trtdiff.model import drop_unread_constants
from trtdiff.runners.base import Runner

log = logging.getLogger(__name__)

LISTED = 20  # failing sample indices kept in an outcome


def reference_outputs(dataset: DataSet, names: Sequence[str], runner: Runner | None,
                      golden: GoldenOutputs | None = None, store: SampleStore | None = None) -> SampleStore:
    """The reference value of `names` for every sample: from `golden` where it holds them, else
    from `runner` (the FP32 model, opened by the caller)."""
    store = store if store is not None else SampleStore()
    for index, feeds in enumerate(dataset):
        values = dict(golden.sample(index, feeds)) if golden is not None else {}
        if runner is not None:
            values.update({k: v for k, v in runner.infer(feeds).items() if k not in values})
        store.append({name: values[name] for name in names})
    return store


class DataJudge:
    """`judge(plan)` -> Outcome over the data set (see the module docstring). Outcomes are kept by
    plan, so asking twice costs once."""

    def __init__(self, model: onnx.ModelProto, dataset: DataSet, reference: SampleStore, tolerances: ToleranceSpec,
                 make_runner: Callable[[onnx.ModelProto], Runner], apply: Callable[..., Any],
                 names: Sequence[str]) -> None:
        self.model, self.dataset, self.reference, self.tolerances = model, dataset, reference, tolerances
        self.make_runner, self.apply, self.names = make_runner, apply, list(names)
        self.order = list(range(len(reference)))
        self._known: dict[str, Outcome] = {}

    @property
    def allowed_failures(self) -> int:
        count = len(self.order)
        return count - math.ceil(self.tolerances.min_agreement * count - 1e-9)

    def __call__(self, plan: Any, exhaustive: bool = False) -> Outcome:
        """`exhaustive`: every sample, even once the plan has failed (to find the worst sample)."""
        key = json.dumps(plan.to_dict(), sort_keys=True, default=str) if hasattr(plan, "to_dict") else repr(plan)
        known = self._known.get(key)
        if known is not None and (not exhaustive or known.info.get("samples", {}).get("complete")):
            return known
        try:
            outcome = self._judge(drop_unread_constants(self.apply(self.model, plan, None).model), exhaustive)
        except ToolUnavailable:
            raise  # not the plan's doing: the search stops with it
        except TrtDiffError as err:
            log.info("target failed: %s", err.one_line())
            outcome = Outcome(False, {"error": err.one_line(), "outputs": {}, "failing": {}})
        self._known[key] = outcome
        return outcome

    def _judge(self, target: onnx.ModelProto, exhaustive: bool) -> Outcome:
        errors: dict[str, float] = {}
        failing: dict[str, str] = {}
        failed: list[int] = []  # samples on which some output fails
        failures = dict.fromkeys(self.names, 0)  # samples each output fails on
        worst: tuple[tuple[bool, bool, float], int] | None = None
        evaluated = 0
        with self.make_runner(target) as runner:
            for index in self.order:
                outputs = runner.infer(self.dataset.sample(index))
                reference = self.reference[index]
                sample_failed = False
                for name in self.names:
                    result, why = judge_output(name, reference, outputs, self.tolerances)
                    if result is not None:
                        errors[name] = _larger(errors.get(name), result.metrics.max_abs)
                        candidate = (result.severity(), -index)  # ties go to the earlier sample
                        worst = candidate if worst is None or candidate > worst else worst
                    if why:
                        sample_failed = True
                        failures[name] += 1
                        failing.setdefault(name, f"{why} (sample {index})")
                evaluated += 1
                failed += [index] if sample_failed else []
                if max(failures.values(), default=0) > self.allowed_failures and not exhaustive:
                    break
        self._failures_first(failed)
        over = {name for name, count in failures.items() if count > self.allowed_failures}
        samples = {"evaluated": evaluated, "failed": len(failed), "failing": sorted(failed)[:LISTED],
                   "complete": evaluated == len(self.order), "worst": -worst[1] if worst else None}
        return Outcome(not over, {"outputs": errors, "failing": {n: failing[n] for n in over}, "samples": samples})

    def _failures_first(self, failed: list[int]) -> None:
        """Try the samples that just failed first next time (a failing plan fails fast)."""
        if failed:
            first = set(failed)
            self.order = failed + [i for i in self.order if i not in first]


def _larger(current: float | None, value: float) -> float:
    if current is None or math.isnan(current):
        return value
    return current if math.isnan(value) else max(current, value)


def worst_sample(outcome: Outcome) -> int:
    """The worst sample an exhaustive outcome saw (0 when none)."""
    return int(outcome.info.get("samples", {}).get("worst") or 0)



def plan_applier(model: onnx.ModelProto, plan: Any, calibration: Any) -> Callable[..., Any]:
    """`apply(model, plan, feeds)` for every evaluation: INT8/FP8 ranges are measured once, on the
    full FP32 model over `calibration` (samples), and reused for every plan and every piece cut from
    the model (ranges are keyed by tensor name); `feeds` is ignored. Plans applied to `model` itself
    share one `PlanApplier`: what does not depend on the FP32 set is worked out once."""
    from trtdiff.precision.apply import TARGETS, PlanApplier, apply_plan
    from trtdiff.precision.calibrate import calibrate_ranges

    target = TARGETS.get((getattr(plan, "default", ""), getattr(plan, "mode", "")))
    if target is None or not target[0].qdq or not plan.lowers:
        # a plan of another mode (bisect's native INT8/FP8 model of an emulated FP8 search) calibrates on `feeds`
        uncalibrated = PlanApplier(model)

        def apply(part: onnx.ModelProto, chosen: Any, feeds: Any = None) -> Any:
            chosen_target = TARGETS.get((getattr(chosen, "default", ""), getattr(chosen, "mode", "")))
            if part is model and (chosen_target is None or not chosen_target[0].qdq):
                return uncalibrated.apply(chosen)  # no ranges: the feeds would not be read
            return apply_plan(part, chosen, [feeds] if feeds is not None else None)

        return apply
    ranges = calibrate_ranges(model, calibration, plan.calibration, plan.percentile)
    calibrated = PlanApplier(model, ranges=ranges)
    return lambda part, chosen, feeds=None: (calibrated.apply(chosen) if part is model
                                             else apply_plan(part, chosen, ranges=ranges))
