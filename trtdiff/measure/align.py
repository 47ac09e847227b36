"""Pairing reference and target tensors by name (never by position) and turning the per-tensor
metrics into TensorResults in topological order. One-sided tensors are listed as such."""

from __future__ import annotations

from collections.abc import Sequence
import math
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trtdiff.measure.aggregate import SampleResult, TensorAggregate
from trtdiff.measure.checks import STATISTICS, Check, CheckOutcome, task_outcome
from trtdiff.measure.metrics import Measured, measure, statistic_passes, statistic_value
from trtdiff.measure.scratch import Scratch
from trtdiff.measure.tolerance import ToleranceSpec
from trtdiff.model import TensorInfo
from trtdiff.result import ErrorMetrics, TensorResult

_REL_QUANTILE = {"median": 0.5, "p99": 0.99}


def compare_pair(name: str, ref: np.ndarray, target: np.ndarray, tolerances: ToleranceSpec,
                 scratch: Scratch | None = None, gated: bool = True,
                 fine: bool = False, own_quantiles: bool = True) -> tuple[SampleResult, str | None]:
    """One sample of one same-shape pair, decided by the tensor's checks (safe to run in a worker
    thread), and a warning when the tensors are not numeric. `scratch`: work arrays shared by the
    run's comparisons; `gated`: an output or --outputs tensor; `fine`: count errors for quantiles
    over several samples; `own_quantiles`: with `fine`, also this sample's exact median and p99
    (always computed when a median or p99 check decides the sample)."""
    atol, rtol = tolerances.for_tensor(name)
    checks = tolerances.checks_for(name, gated)
    facts = (tuple(ref.shape), str(ref.dtype), str(target.dtype))
    if not _is_real(ref) or not _is_real(target):
        different = int(np.count_nonzero(ref != target))
        warning = f"{name}: {ref.dtype} tensor compared for equality ({different} of {ref.size} elements differ)"
        nan = math.nan
        metrics = ErrorMetrics(size=ref.size, max_abs=nan, mean_abs=nan, median_abs=nan, p99_abs=nan, max_rel=nan,
                               mean_rel=nan, cosine=nan, snr_db=nan, mismatches=different, nan_ref=0,
                               nan_target=0, inf_ref=0, inf_target=0, ref_max_abs=nan)
        outcome = CheckOutcome(different == 0, float(different))
        return SampleResult(metrics, different == 0, (outcome,) * len(checks), None, *facts), warning
    if ref.dtype == np.bool_ or target.dtype == np.bool_:
        ref, target = ref.astype(np.float64), target.astype(np.float64)
    wanted = tuple(sorted({_REL_QUANTILE[c.kind] for c in checks if c.kind in _REL_QUANTILE}))
    exact = own_quantiles or any(c.kind in _REL_QUANTILE for c in checks)
    measured = measure(ref, target, atol, rtol, tolerances.rel_floor, wanted, scratch, fine, exact)
    outcomes = tuple(_decide(c, measured, ref, target, atol, rtol, tolerances.topk_axis) for c in checks)
    passed = all(o.passed for o in outcomes)
    return SampleResult(measured.metrics, passed, outcomes, measured, *facts), None


def _decide(check: Check, measured: Measured, ref: np.ndarray, target: np.ndarray, atol: float, rtol: float,
            axis: int) -> CheckOutcome:
    metrics = measured.metrics
    disagrees = bool(metrics.histogram and metrics.histogram[-1])  # a NaN/Inf disagreement fails every check
    if check.kind == "elementwise" or check.kind in STATISTICS:
        return CheckOutcome(statistic_passes(measured, atol, rtol, check.kind), statistic_value(metrics, check.kind))
    outcome = task_outcome(check, metrics.cosine, metrics.snr_db, ref, target, axis)
    return CheckOutcome(False, outcome.value, outcome.agree, outcome.positions) if disagrees else outcome


@dataclass
class AlignedResults:
    """Collects per-tensor outcomes as target tensors arrive, sample after sample, merging each
    tensor's samples (`TensorAggregate`). With a thread pool, pairs are compared in parallel (the
    kernel releases the GIL) and `wait` collects them, in the order they were added."""

    tolerances: ToleranceSpec
    compared: dict[str, TensorAggregate] = field(default_factory=dict)
    mismatched_shapes: dict[str, str] = field(default_factory=dict)
    target_only: dict[str, tuple[tuple[int, ...], str]] = field(default_factory=dict)
    reference_only: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    target_description: dict[str, Any] = field(default_factory=dict)
    engine_layers: tuple[dict[str, Any], ...] = ()  # TensorRT per-layer facts
    fused_away: set[str] = field(default_factory=set)  # reference tensors the engine fused away
    pool: Executor | None = None
    scratch: Scratch = field(default_factory=Scratch)  # error arrays, reused from tensor to tensor
    gated: frozenset[str] = frozenset()  # graph outputs and --outputs tensors (task checks, sample verdicts)
    fine: bool = False  # more than one sample may come: count errors for merged quantiles
    sample: int = 0  # the index of the sample being compared
    _pending: list[tuple[str, int, Future[tuple[SampleResult, str | None]]]] = field(default_factory=list)
    _checkpoint: int = 0
    _warned: set[str] = field(default_factory=set)

    def add(self, name: str, ref: np.ndarray | None, target: np.ndarray) -> None:
        if not isinstance(target, np.ndarray) or (ref is not None and not isinstance(ref, np.ndarray)):
            self._warn(name, f"{name}: not a tensor (a sequence, map or optional value); not compared")
            return
        if ref is None:
            self.target_only.setdefault(name, (tuple(target.shape), str(target.dtype)))
            return
        if ref.shape != target.shape:
            self.mismatched_shapes.setdefault(name, f"reference {ref.dtype}{list(ref.shape)} vs target "
                                                    f"{target.dtype}{list(target.shape)} (sample {self.sample})")
            return
        # the first sample's own quantiles: exact metrics should it be the only one
        args = (name, ref, target, self.tolerances, self.scratch, name in self.gated, self.fine, self.sample == 0)
        if self.pool is None:
            self._store(name, self.sample, compare_pair(*args))
        else:
            self._pending.append((name, self.sample, self.pool.submit(compare_pair, *args)))

    def wait(self) -> None:
        """Collect the comparisons still running in the pool."""
        for name, index, future in self._pending:
            self._store(name, index, future.result())
        self._pending.clear()
        self._checkpoint = 0

    def checkpoint(self) -> None:
        """Collect the comparisons submitted before the previous checkpoint, leaving the newest
        batch running: the next batch of tensors is produced while this one is compared, and at
        most two batches are held at once."""
        for name, index, future in self._pending[: self._checkpoint]:
            self._store(name, index, future.result())
        del self._pending[: self._checkpoint]
        self._checkpoint = len(self._pending)

    def _store(self, name: str, index: int, outcome: tuple[SampleResult, str | None]) -> None:
        result, warning = outcome
        if name not in self.compared:
            self.compared[name] = TensorAggregate(self.tolerances.checks_for(name, name in self.gated), result)
        self.compared[name].add(index, result)
        if warning:
            self._warn(name, warning)

    def _warn(self, name: str, warning: str) -> None:
        """Each tensor's warning once, not once per sample."""
        if name not in self._warned:
            self._warned.add(name)
            self.warnings.append(warning)


def _is_real(array: np.ndarray) -> bool:
    """Real numbers and bools get error metrics; strings and complex numbers are compared for equality."""
    return array.dtype == np.bool_ or bool(np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating))


def align_results(tensors: Sequence[TensorInfo], graph_outputs: Sequence[str],
                  aligned: AlignedResults) -> list[TensorResult]:
    """TensorResults in topological order; graph outputs that no node produces (passthrough)
    and target-only tensors come last."""
    outputs = set(graph_outputs)
    results = []
    seen = set()
    for info in tensors:
        if info.name in seen:
            continue
        seen.add(info.name)
        result = _result_for(info, aligned, info.name in outputs)
        if result is not None:
            results.append(result)
    last = max((t.index for t in tensors), default=-1) + 1
    for name in graph_outputs:
        if name not in seen:
            info = TensorInfo(name, "", "", last, 0, None)
            result = _result_for(info, aligned, True)
            if result is not None:
                results.append(result)
    for name, (shape, dtype) in aligned.target_only.items():
        results.append(TensorResult(name, "", "", last, shape, dtype, status="target_only",
                                    target_dtype=dtype, note="only the target produced this tensor"))
    return results


def _result_for(info: TensorInfo, aligned: AlignedResults, is_output: bool) -> TensorResult | None:
    base = dict(name=info.name, node=info.node, op_type=info.op_type, index=info.index, is_output=is_output)
    shape = tuple(d if isinstance(d, int) else -1 for d in info.shape) if info.shape else None
    if info.name in aligned.mismatched_shapes:  # in any sample: a failure, whatever the others did
        return TensorResult(**base, shape=shape, dtype=info.dtype_name, status="shape_mismatch",
                            passed=False, note=aligned.mismatched_shapes[info.name])
    if info.name in aligned.compared:
        return _compared_result(base, aligned.compared[info.name], aligned)
    if info.name in aligned.reference_only:
        note = ("fused away by TensorRT (no counterpart in the engine)" if info.name in aligned.fused_away
                else "the target did not produce this tensor (fused away or renamed)")
        return TensorResult(**base, shape=shape, dtype=info.dtype_name, status="reference_only", note=note)
    return None


def _compared_result(base: dict[str, Any], aggregate: TensorAggregate, aligned: AlignedResults) -> TensorResult:
    first = aggregate.first
    atol, rtol = aligned.tolerances.for_tensor(str(base["name"]))
    agreement = aligned.tolerances.min_agreement
    verdicts = aggregate.verdicts(agreement) if base["name"] in aligned.gated else None
    return TensorResult(**base, shape=first.shape, dtype=first.dtype, target_dtype=first.target_dtype,
                        passed=aggregate.passed(agreement), atol=atol, rtol=rtol, metrics=aggregate.metrics(),
                        worst_sample=aggregate.worst_sample, sample_verdicts=verdicts)
