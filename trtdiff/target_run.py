"""The target side of a comparison: run the target (in topological segments when its runner is
cheap to start) and hand each tensor, with its reference counterpart, to the comparison."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
import numpy as np
import onnx

from trtdiff.compare.align import AlignedResults
from trtdiff.errors import UsageError
from trtdiff.inputs import save_npz
from trtdiff.model import comparable_tensors, inferred_value_info, with_outputs
from trtdiff.request import Prepared, RunRequest
from trtdiff.runners.base import infer_each
from trtdiff.segmented import plan_segments, run_segments

COMPARE_WORKERS = min(4, os.cpu_count() or 1)  # per-tensor comparisons run in parallel (the kernel releases the GIL)


def compare_target(request: RunRequest, prepared: Prepared, target_model: onnx.ModelProto,
                   reference: dict[str, np.ndarray]) -> AlignedResults:
    """Run the target and compare each tensor as it arrives; reference tensors are dropped as
    they are used."""
    target_names = {o for node in target_model.graph.node for o in node.output} | {
        o.name for o in target_model.graph.output}
    wanted = [n for n in prepared.selected if n in target_names]
    # shape inference once for the target (the reference's when the target is the same model)
    infos = prepared.infos if target_model is prepared.model else inferred_value_info(target_model)
    if request.selection.mark_all and request.target.own_tensors:
        reference_names = {t.name for t in prepared.tensors}
        own, _ = comparable_tensors(target_model, request.selection.include_shape_tensors, infos)
        wanted += [t.name for t in own if t.name not in reference_names and t.name not in wanted]
    if not wanted:
        raise UsageError("the target model shares no tensor names with the reference",
                         "tensors are aligned by name only",
                         "convert the model with a tool that keeps tensor names, or compare outputs "
                         "that have the same names")
    kept = _outputs_to_keep(request, prepared)
    saved: dict[str, np.ndarray] = {}
    with ThreadPoolExecutor(max_workers=COMPARE_WORKERS) as pool:
        aligned = AlignedResults(request.tolerances, pool=pool)
        _run_target(request, prepared, target_model, infos, wanted, reference, aligned, kept, saved)
        aligned.wait()
    aligned.reference_only.update({name: None for name in reference})  # never produced by the target
    reference.clear()
    if request.save_outputs:
        save_npz(saved, request.save_outputs)
    return aligned


def _run_target(request: RunRequest, prepared: Prepared, target_model: onnx.ModelProto,
                infos: dict[str, onnx.ValueInfoProto], wanted: list[str],
                reference: dict[str, np.ndarray], aligned: AlignedResults, kept: set[str],
                saved: dict[str, np.ndarray]) -> None:
    """Run the target, handing each tensor to `aligned` with its reference counterpart."""

    def consume(name: str, array: np.ndarray) -> None:
        ref = reference.pop(name, None)
        if name in kept:
            saved[f"target:{name}"] = array
            if ref is not None:
                saved[f"reference:{name}"] = ref
        aligned.add(name, ref, array)

    if request.target.segmentable and (request.selection.mark_all or request.selection.outputs):
        sizes = {name: int(getattr(array, "nbytes", 0)) for name, array in reference.items()}
        segments = plan_segments(target_model, wanted, sizes)
        if len(segments) > 1:
            def run(part: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
                with request.target.make_runner(part) as runner:
                    aligned.target_description = runner.describe()
                    return runner.infer(feeds)

            run_segments(target_model, segments, prepared.feeds, run, consume, aligned.checkpoint, wanted, infos)
            return
    with request.target.make_runner(with_outputs(target_model, wanted, infos)) as runner:
        infer_each(runner, prepared.feeds, consume)
        aligned.target_description = runner.describe()
        aligned.engine_layers = tuple(getattr(runner, "engine_layers", tuple)())
        aligned.fused_away = set(getattr(runner, "fused_away", list)())


def _outputs_to_keep(request: RunRequest, prepared: Prepared) -> set[str]:
    if not request.save_outputs:
        return set()
    return {o.name for o in prepared.model.graph.output} | set(request.selection.outputs)
