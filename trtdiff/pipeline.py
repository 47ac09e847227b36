"""The comparison path: data set -> reference and target, sample after sample -> per-tensor metrics
merged over the samples -> Comparison -> attribution on the worst sample.

Memory: one sample's tensors at a time (`trtdiff.sample_loop`); the reference's tensors of a sample
are dropped as the target's counterparts are compared.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import onnx

from trtdiff.assemble import assemble, graph_nodes
from trtdiff.measure.accumulate import warm_up
from trtdiff.measure import small
from trtdiff.dataset import DataSet, open_dataset, open_golden, open_path
from trtdiff.errors import UsageError
from trtdiff.inputs import Feeds, InputSettings, input_specs
from trtdiff.model import check_names_exist, comparable_tensors, inferred_value_info, load_model, \
    tensor_info, topological_nodes
from trtdiff.next_step import after_run
from trtdiff.progress import Phases, phases
from trtdiff.reference import run_reference
from trtdiff.request import BuiltTarget, Prepared, RunRequest, TargetSpec, TensorSelection
from trtdiff.result import Comparison
from trtdiff.sample_loop import ReferenceHook, compare_samples

if TYPE_CHECKING:  # trtdiff.attribution is imported where a run attributes, not by every run
    from trtdiff.attribution import Attribution

log = logging.getLogger(__name__)

__all__ = ["BuiltTarget", "Prepared", "RunRequest", "TargetSpec", "TensorSelection", "graph_nodes", "prepare",
           "resolve_feeds", "run_comparison", "run_reference"]


def prepare(request: RunRequest, model: onnx.ModelProto | None = None) -> Prepared:
    model = model if model is not None else load_model(request.model_path)
    infos = inferred_value_info(model)  # shape inference once for the whole run
    tensors, unmarked = comparable_tensors(model, request.selection.include_shape_tensors, infos)
    graph_outputs = [o.name for o in model.graph.output]
    if request.selection.outputs:
        check_names_exist(model, request.selection.outputs)
        listed = {t.name for t in tensors}
        order = topological_nodes(model.graph)
        tensors += [tensor_info(model, n, infos, order) for n in request.selection.outputs if n not in listed]
    if request.selection.mark_all:
        selected = [t.name for t in tensors]
    else:
        selected = list(request.selection.outputs)
    selected = list(dict.fromkeys(selected + graph_outputs))
    known = {t.name for t in tensors} | set(graph_outputs)
    request.tolerances.check_names(known)
    dataset = open_dataset(request.inputs, input_specs(model), request.samples)
    _check_attribute_sample(request, dataset)
    golden = open_golden(request.load_outputs) if request.load_outputs else None
    if golden is not None:
        golden.check_against(graph_outputs, dataset.count)
    warnings = [f"{u.count} tensors inside {u.op_type} node '{u.node}' were not compared: {u.reason}"
                for u in unmarked]
    warnings += [golden.note] if golden is not None and golden.note else []
    gated = frozenset(graph_outputs) | frozenset(request.selection.outputs)
    _check_some_tensor_gated(model, request.selection.outputs)
    return Prepared(model, tensors, unmarked, selected, dataset, infos, warnings, golden, gated)


def _check_some_tensor_gated(model: onnx.ModelProto, outputs: tuple[str, ...]) -> None:
    """A verdict needs a tensor to judge: refuse a model whose outputs are all sequences, maps or
    optionals when --outputs names no tensor either (it would fail with '0 of 0 outputs')."""
    kinds = {o.name: o.type.WhichOneof("value") for o in model.graph.output}
    if outputs or any(kind in (None, "tensor_type") for kind in kinds.values()):
        return
    raise UsageError("no graph output is a tensor, so there is nothing to compare",
                     f"the outputs {', '.join(kinds)} are sequences, maps or optionals",
                     "name tensors to judge with --outputs TENSOR (e.g. the one the sequence is made from)")


def _check_attribute_sample(request: RunRequest, dataset: DataSet) -> None:
    """--attribute-sample K needs attribution and, where the count is known, a sample K."""
    if request.attribute_sample is None:
        return
    if request.attribution == "off":
        raise UsageError("--attribute-sample needs attribution", "attribution is off for this run",
                         "add --mark-all (attribution when the verdict fails) or --attribute")
    if dataset.count is not None and request.attribute_sample >= dataset.count:
        raise UsageError(f"--attribute-sample {request.attribute_sample}: no sample {request.attribute_sample}",
                         f"the data set holds {dataset.count} samples (indices start at 0)",
                         f"choose an index below {dataset.count}")


def resolve_feeds(model: onnx.ModelProto, settings: InputSettings) -> Feeds:
    """The first sample of the data set the settings name (for commands that run one sample)."""
    return open_dataset(settings, input_specs(model)).sample(0)


def run_comparison(request: RunRequest) -> Comparison:
    """The comparison `request` asks for; with `request.progress`, a progress display on stderr
    (on a terminal) shows each phase as it runs."""
    with phases(request.progress) as bar:
        return _compare(request, bar)


def _compare(request: RunRequest, bar: Phases) -> Comparison:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    bar.start("reading the model and the data set")
    prepared = prepare(request)
    timings["prepare_s"] = time.perf_counter() - started

    # load the compiled comparison kernel while the target is built and the reference runs (numba's
    # import takes most of a second): started here, so that it does not hold the GIL during `prepare`;
    # not at all when every tensor compared is small enough for numpy (trtdiff.measure.small)
    if _needs_kernel(prepared):
        threading.Thread(target=warm_up, name="trtdiff-kernel-warm-up", daemon=True).start()
    mark = time.perf_counter()
    bar.start("building the target")
    built, calibration = _build_target(request, prepared)
    prepared.warnings.extend(request.target.notes + built.warnings)
    timings["target_build_s"] = time.perf_counter() - mark

    in_pass = request.attribution == "on" and prepared.dataset.count == 1 and request.attribute_sample in (None, 0)
    attributed: list[Attribution] = []
    names, hook = _in_pass(request, prepared, built.model, attributed, timings, bar) if in_pass else (None, None)
    compared = compare_samples(request, prepared, built.model, timings, names, hook, bar)
    comparison = assemble(request, prepared, compared, calibration.describe() if built.calibrated else "", timings)
    del compared  # its work arrays, before any attribution run
    sample = 0 if in_pass else _attribution_sample(request, comparison)
    if sample is not None and not in_pass:
        # the reference tensors were dropped as they were compared, which keeps a passing run as
        # lean as one without attribution; attribution runs the reference again on one sample
        mark = time.perf_counter()
        bar.start(f"reference run of sample {sample} (for attribution)")
        feeds = prepared.dataset.sample(sample)
        reference = _reference_with_attribution_inputs(request, prepared, feeds)
        timings["reference_again_s"] = time.perf_counter() - mark
        attributed.append(_attribute(request, prepared, built.model, reference, feeds, timings, bar))
        reference.clear()
    timings["total_s"] = time.perf_counter() - started
    said = "on" if attributed else _skipped(request)
    samples = replace(comparison.samples, attribution_sample=sample if attributed else None) \
        if comparison.samples is not None else None
    comparison = replace(comparison, settings=replace(comparison.settings, attribution=said), timings=dict(timings),
                         samples=samples)
    if attributed:
        from trtdiff.attribution import annotate

        comparison = annotate(comparison, attributed[0])
    return replace(comparison, next_steps=after_run(comparison, request))


def _needs_kernel(prepared: Prepared) -> bool:
    """Whether a tensor the run compares may hold more than `small.SMALL` elements (or an unknown number)."""
    shapes = {t.name: t.shape for t in prepared.tensors}
    for name in prepared.selected:
        shape = shapes.get(name)
        sizes = [d for d in shape if isinstance(d, int)] if shape is not None else []
        if shape is None or len(sizes) < len(shape) or math.prod(sizes) > small.SMALL:
            return True
    return False


def _in_pass(request: RunRequest, prepared: Prepared, target_model: onnx.ModelProto, attributed: list[Attribution],
             timings: dict[str, float], bar: Phases) -> tuple[list[str], ReferenceHook]:
    """With one sample, attribution in the same pass: the reference run also keeps the tensors
    attribution reads (no second run), and attribution runs before the target is compared."""
    from trtdiff.attribution import reference_inputs_needed

    names = prepared.selected + reference_inputs_needed(prepared.model, prepared.selected)

    def hook(index: int, feeds: Feeds, reference: dict[str, np.ndarray]) -> None:
        attributed.append(_attribute(request, prepared, target_model, reference, feeds, timings, bar))

    return names, hook


def _build_target(request: RunRequest, prepared: Prepared) -> tuple[BuiltTarget, DataSet]:
    """The target model; INT8/FP8 scales calibrated on --calibration-data, else on the samples
    being judged (which flatters the target: the result's warnings say so)."""
    if request.calibration_data:
        calibration = DataSet(open_path(request.calibration_data, request.inputs.batched_npz),
                              prepared.dataset.specs)
    else:
        calibration = prepared.dataset
    built = request.target.build_model(prepared.model, calibration)
    if built.calibrated and not request.calibration_data:
        prepared.warnings.append(
            f"INT8/FP8 scales were calibrated on the samples being judged ({prepared.dataset.describe()}), "
            "which flatters the target; pass --calibration-data with other samples for an honest verdict")
    return built, calibration


def _attribution_sample(request: RunRequest, comparison: Comparison) -> int | None:
    """The sample attribution runs on: --attribute-sample, else the worst sample of the failing
    outputs (of all outputs with --attribute); None when attribution does not run."""
    wanted = request.attribution == "on" or (request.attribution == "on-failure" and not comparison.passed)
    if not wanted:
        return None
    if request.attribute_sample is not None:
        return request.attribute_sample
    outputs = [t for t in comparison.tensors if t.sample_verdicts is not None and t.worst_sample is not None]
    failing = [t for t in outputs if t.passed is False] or outputs
    if not failing:
        return 0
    worst = max(failing, key=lambda t: (t.sample_verdicts.failed if t.sample_verdicts else 0, -t.index))
    return worst.worst_sample


def _reference_with_attribution_inputs(request: RunRequest, prepared: Prepared, feeds: Feeds) -> dict[str, np.ndarray]:
    """The reference run of one sample: the selected tensors, and those the attribution's nodes read."""
    from trtdiff.attribution import reference_inputs_needed

    extra = reference_inputs_needed(prepared.model, prepared.selected)
    return run_reference(prepared.model, prepared.selected + extra, feeds, request.reference_providers,
                         request.reference_runner, prepared.infos)


def _skipped(request: RunRequest) -> str:
    """Why attribution did not run, for the result's settings."""
    if request.attribution == "on-failure":
        return "skipped: the verdict passed (--attribute runs it anyway)"
    return "off"


def _attribute(request: RunRequest, prepared: Prepared, target_model: onnx.ModelProto,
               reference: dict[str, np.ndarray], feeds: Feeds, timings: dict[str, float], bar: Phases) -> Attribution:
    """Local errors while the reference tensors are held; then drop those held only for it."""
    from trtdiff.attribution import attribute, drop_unselected

    mark = time.perf_counter()
    bar.start("attribution: shadow models")
    result = attribute(prepared.model, target_model, prepared.selected, reference, feeds,
                       request.target.make_runner, request.tolerances, request.memory_budget, bar.advance)
    drop_unselected(reference, prepared.selected)
    timings["attribution_s"] = time.perf_counter() - mark
    return result
