"""The target side of a comparison: run the target on each sample (in topological segments when its
runner is cheap to start and intermediate tensors are compared) and hand each tensor, with its
reference counterpart, to the comparison. The runner (or one per segment) is opened on the first
sample and reused for every later one."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from types import TracebackType

import numpy as np
import onnx

from trtdiff.measure.align import AlignedResults
from trtdiff.errors import UsageError
from trtdiff.model import comparable_tensors, inferred_value_info, with_outputs
from trtdiff.progress import Phases
from trtdiff.request import Prepared, RunRequest
from trtdiff.runners.base import Runner, infer_each
from trtdiff.segmented import SegmentedRun, plan_segments

Consume = Callable[[str, np.ndarray], None]


def target_tensors(request: RunRequest, prepared: Prepared, target_model: onnx.ModelProto,
                   infos: dict[str, onnx.ValueInfoProto]) -> list[str]:
    """The tensors the target is asked for: the selected ones it has, and with --mark-all on a
    user's own model, its tensors the reference lacks."""
    target_names = {o for node in target_model.graph.node for o in node.output} | {
        o.name for o in target_model.graph.output}
    wanted = [n for n in prepared.selected if n in target_names]
    if request.selection.mark_all and request.target.own_tensors:
        reference_names = {t.name for t in prepared.tensors}
        own, _ = comparable_tensors(target_model, request.selection.include_shape_tensors, infos)
        wanted += [t.name for t in own if t.name not in reference_names and t.name not in wanted]
    if not wanted:
        raise UsageError("the target model shares no tensor names with the reference",
                         "tensors are aligned by name only",
                         "convert the model with a tool that keeps tensor names, or compare outputs "
                         "that have the same names")
    return wanted


class TargetRun:
    """`run(feeds, reference, consume)` per sample; each tensor goes to `consume` as it arrives."""

    def __init__(self, request: RunRequest, prepared: Prepared, target_model: onnx.ModelProto,
                 aligned: AlignedResults) -> None:
        self._infos: dict[str, onnx.ValueInfoProto] | None
        self._request, self._model, self._aligned = request, target_model, aligned
        # shape inference once for the target (the reference's when the target is the same model), and
        # none when only graph outputs are compared: nothing is marked, no segment is cut
        marks = request.selection.mark_all or bool(request.selection.outputs)
        self._infos = prepared.infos if target_model is prepared.model else (
            inferred_value_info(target_model) if marks else None)
        self.wanted = target_tensors(request, prepared, target_model, self._infos or {})
        self._stack = ExitStack()
        self._runner: Runner | None = None
        self._segments: SegmentedRun | None = None

    def __enter__(self) -> TargetRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stack.close()

    def run(self, feeds: dict[str, np.ndarray], reference: dict[str, np.ndarray], consume: Consume,
            bar: Phases | None = None) -> None:
        """`bar`, when given, shows the target run (segment by segment when it runs in segments)."""
        bar = bar or Phases()
        bar.start("target run")
        if self._runner is None and self._segments is None:
            self._open(reference)
        if self._segments is not None:
            bar.start("target segments", len(self._segments.runners))

            def between() -> None:
                self._aligned.checkpoint()
                bar.advance()

            self._segments.run(feeds, consume, between)
            return
        assert self._runner is not None
        infer_each(self._runner, feeds, consume)
        if not self._aligned.target_description:  # what the runner knows once it has run
            self._aligned.target_description = self._runner.describe()
            self._aligned.engine_layers = tuple(getattr(self._runner, "engine_layers", tuple)())
            self._aligned.fused_away = set(getattr(self._runner, "fused_away", list)())

    def _open(self, reference: dict[str, np.ndarray]) -> None:
        """The runner(s), sized on the first sample's reference tensors."""
        request = self._request
        if request.target.segmentable and (request.selection.mark_all or request.selection.outputs):
            sizes = {name: int(getattr(array, "nbytes", 0)) for name, array in reference.items()}
            segments = plan_segments(self._model, self.wanted, sizes)
            if len(segments) > 1:
                self._segments = self._stack.enter_context(
                    SegmentedRun(self._model, segments, self.wanted, request.target.make_runner, self._infos))
                self._aligned.target_description = self._segments.runners[0].describe()
                return
        runner = request.target.make_runner(with_outputs(self._model, self.wanted, self._infos))
        self._runner = self._stack.enter_context(runner)
