"""Pairing reference and target tensors by name (never by position) and turning the per-tensor
metrics into TensorResults in topological order. One-sided tensors are listed as such."""

from __future__ import annotations

from collections.abc import Sequence
import math
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trtdiff.compare.metrics import compute_metrics
from trtdiff.compare.scratch import Scratch
from trtdiff.compare.tolerance import ToleranceSpec
from trtdiff.model import TensorInfo
from trtdiff.result import ErrorMetrics, TensorResult


@dataclass(frozen=True)
class _Compared:
    metrics: ErrorMetrics
    passed: bool
    atol: float
    rtol: float
    shape: tuple[int, ...]
    dtype: str
    target_dtype: str


def compare_pair(name: str, ref: np.ndarray, target: np.ndarray, tolerances: ToleranceSpec,
                 scratch: Scratch | None = None) -> tuple[_Compared, str | None]:
    """Metrics of one same-shape pair (safe to run in a worker thread), and a warning when the
    tensors are not numeric. `scratch`: work arrays shared by the run's comparisons."""
    atol, rtol = tolerances.for_tensor(name)
    if not _is_real(ref) or not _is_real(target):
        different = int(np.count_nonzero(ref != target))
        warning = f"{name}: {ref.dtype} tensor compared for equality ({different} of {ref.size} elements differ)"
        nan = math.nan
        metrics = ErrorMetrics(size=ref.size, max_abs=nan, mean_abs=nan, median_abs=nan, p99_abs=nan, max_rel=nan,
                               mean_rel=nan, cosine=nan, snr_db=nan, mismatches=different, nan_ref=0,
                               nan_target=0, inf_ref=0, inf_target=0, ref_max_abs=nan)
        return _Compared(metrics, different == 0, atol, rtol, tuple(ref.shape), str(ref.dtype),
                         str(target.dtype)), warning
    if ref.dtype == np.bool_ or target.dtype == np.bool_:
        ref, target = ref.astype(np.float64), target.astype(np.float64)
    metrics, passed = compute_metrics(ref, target, atol, rtol, tolerances.check, tolerances.rel_floor, scratch)
    compared = _Compared(metrics, passed, atol, rtol, tuple(ref.shape), str(ref.dtype), str(target.dtype))
    return compared, None


@dataclass
class AlignedResults:
    """Collects per-tensor outcomes as target tensors arrive. With a thread pool, pairs are
    compared in parallel (numpy releases the GIL) and `wait` collects them."""

    tolerances: ToleranceSpec
    compared: dict[str, _Compared] = field(default_factory=dict)
    mismatched_shapes: dict[str, str] = field(default_factory=dict)
    target_only: dict[str, tuple[tuple[int, ...], str]] = field(default_factory=dict)
    reference_only: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    target_description: dict[str, Any] = field(default_factory=dict)
    engine_layers: tuple[dict[str, Any], ...] = ()  # TensorRT per-layer facts
    fused_away: set[str] = field(default_factory=set)  # reference tensors the engine fused away
    pool: Executor | None = None
    scratch: Scratch = field(default_factory=Scratch)  # error arrays, reused from tensor to tensor
    _pending: list[tuple[str, Future[tuple[_Compared, str | None]]]] = field(default_factory=list)
    _checkpoint: int = 0

    def add(self, name: str, ref: np.ndarray | None, target: np.ndarray) -> None:
        if not isinstance(target, np.ndarray) or (ref is not None and not isinstance(ref, np.ndarray)):
            self.warnings.append(f"{name}: not a tensor (a sequence, map or optional value); not compared")
            return
        if ref is None:
            self.target_only[name] = (tuple(target.shape), str(target.dtype))
            return
        if ref.shape != target.shape:
            self.mismatched_shapes[name] = (f"reference {ref.dtype}{list(ref.shape)} vs "
                                            f"target {target.dtype}{list(target.shape)}")
            return
        if self.pool is None:
            self._store(name, compare_pair(name, ref, target, self.tolerances, self.scratch))
        else:
            self._pending.append((name, self.pool.submit(compare_pair, name, ref, target, self.tolerances,
                                                         self.scratch)))

    def wait(self) -> None:
        """Collect the comparisons still running in the pool."""
        for name, future in self._pending:
            self._store(name, future.result())
        self._pending.clear()
        self._checkpoint = 0

    def checkpoint(self) -> None:
        """Collect the comparisons submitted before the previous checkpoint, leaving the newest
        batch running: the next batch of tensors is produced while this one is compared, and at
        most two batches are held at once."""
        for name, future in self._pending[: self._checkpoint]:
            self._store(name, future.result())
        del self._pending[: self._checkpoint]
        self._checkpoint = len(self._pending)

    def _store(self, name: str, outcome: tuple[_Compared, str | None]) -> None:
        compared, warning = outcome
        self.compared[name] = compared
        if warning:
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
    if info.name in aligned.compared:
        c = aligned.compared[info.name]
        return TensorResult(**base, shape=c.shape, dtype=c.dtype, target_dtype=c.target_dtype,
                            passed=c.passed, atol=c.atol, rtol=c.rtol, metrics=c.metrics)
    shape = tuple(d if isinstance(d, int) else -1 for d in info.shape) if info.shape else None
    if info.name in aligned.mismatched_shapes:
        return TensorResult(**base, shape=shape, dtype=info.dtype_name, status="shape_mismatch",
                            passed=False, note=aligned.mismatched_shapes[info.name])
    if info.name in aligned.reference_only:
        note = ("fused away by TensorRT (no counterpart in the engine)" if info.name in aligned.fused_away
                else "the target did not produce this tensor (fused away or renamed)")
        return TensorResult(**base, shape=shape, dtype=info.dtype_name, status="reference_only", note=note)
    return None
