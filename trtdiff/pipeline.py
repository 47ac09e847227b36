"""The comparison path: inputs -> reference run -> target run -> per-tensor metrics -> Comparison.

Memory: the reference's tensors are held; the target's are compared as they arrive and dropped
together with their reference counterpart, so peak memory is about one side's tensors plus the
one being compared.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import onnx

from trtdiff import environment
from trtdiff.attribution import Attribution, annotate, attribute, drop_unselected, reference_inputs_needed
from trtdiff.compare.accumulate import warm_up
from trtdiff.compare.align import AlignedResults, align_results
from trtdiff.inputs import Feeds, InputSettings, describe_inputs, generate_inputs, input_specs, \
    load_inputs, nan_report, save_npz, validate_feeds
from trtdiff.model import check_names_exist, comparable_tensors, inferred_value_info, load_model, \
    tensor_info, topological_nodes
from trtdiff.next_step import after_run
from trtdiff.reference import run_reference
from trtdiff.request import BuiltTarget, Prepared, RunRequest, TargetSpec, TensorSelection
from trtdiff.result import Comparison, GraphNode, RunSettings
from trtdiff.target_run import compare_target
from trtdiff.verdict_checks import nonfinite_reference, verdict_warnings

log = logging.getLogger(__name__)

__all__ = ["BuiltTarget", "Prepared", "RunRequest", "TargetSpec", "TensorSelection", "prepare",
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
    feeds = resolve_feeds(model, request.inputs)
    warnings = nan_report(feeds)
    warnings += [f"{u.count} tensors inside {u.op_type} node '{u.node}' were not compared: {u.reason}"
                 for u in unmarked]
    return Prepared(model, tensors, unmarked, selected, feeds, infos, warnings)


def resolve_feeds(model: onnx.ModelProto, settings: InputSettings) -> Feeds:
    specs = input_specs(model)
    if settings.load_path:
        loaded = load_inputs(settings.load_path)
        if len(loaded) > 1:
            log.warning("%s holds %d input sets; using the first", settings.load_path, len(loaded))
        return validate_feeds(loaded[0], specs)
    return generate_inputs(specs, settings)


def run_comparison(request: RunRequest) -> Comparison:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    prepared = prepare(request)
    _save_inputs(request, prepared.feeds)
    timings["prepare_s"] = time.perf_counter() - started

    mark = time.perf_counter()
    # load the compiled comparison kernel while the reference runs (numba's import takes most of a
    # second): started here rather than earlier, so that it does not hold the GIL while `prepare` runs
    threading.Thread(target=warm_up, name="trtdiff-kernel-warm-up", daemon=True).start()
    reference = _reference_tensors(request, prepared, with_attribution_inputs=request.attribution == "on")
    timings["reference_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    built = request.target.build_model(prepared.model, prepared.feeds)
    prepared.warnings.extend(request.target.notes + built.warnings)
    timings["target_build_s"] = time.perf_counter() - mark
    attributed = None
    if request.attribution == "on":
        attributed = _attribute(request, prepared, built.model, reference, timings)

    mark = time.perf_counter()
    aligned = compare_target(request, prepared, built.model, reference)
    timings["target_and_compare_s"] = time.perf_counter() - mark
    comparison = assemble(request, prepared, aligned, timings)
    del aligned  # its work arrays, before any attribution run
    if request.attribution == "on-failure" and not comparison.passed:
        # the reference tensors were dropped as they were compared, which keeps a passing run as
        # lean as one without attribution (their memory is reused); a failing run computes them again
        mark = time.perf_counter()
        reference = _reference_tensors(request, prepared, with_attribution_inputs=True)
        timings["reference_again_s"] = time.perf_counter() - mark
        attributed = _attribute(request, prepared, built.model, reference, timings)
        reference.clear()
    timings["total_s"] = time.perf_counter() - started
    said = "on" if attributed is not None else _skipped(request)
    comparison = replace(comparison, settings=replace(comparison.settings, attribution=said), timings=dict(timings))
    comparison = annotate(comparison, attributed) if attributed is not None else comparison
    return replace(comparison, next_steps=after_run(comparison, request.model_path, request.target.cli_words,
                                                    request.inputs, request.tolerances, request.selection.mark_all))


def _reference_tensors(request: RunRequest, prepared: Prepared, with_attribution_inputs: bool) -> dict[str, np.ndarray]:
    """The reference run: the selected tensors, and those the attribution's nodes read."""
    extra = reference_inputs_needed(prepared.model, prepared.selected) if with_attribution_inputs else []
    return run_reference(prepared.model, prepared.selected + extra, prepared.feeds, request.reference_providers,
                         request.reference_runner, prepared.infos)


def _skipped(request: RunRequest) -> str:
    """Why attribution did not run, for the result's settings."""
    if request.attribution == "on-failure":
        return "skipped: the verdict passed (--attribute runs it anyway)"
    return "off"


def _attribute(request: RunRequest, prepared: Prepared, target_model: onnx.ModelProto,
               reference: dict[str, np.ndarray], timings: dict[str, float]) -> Attribution:
    """Local errors while the reference tensors are held; then drop those held only for it."""
    mark = time.perf_counter()
    result = attribute(prepared.model, target_model, prepared.selected, reference, prepared.feeds,
                       request.target.make_runner, request.tolerances, request.memory_budget)
    drop_unselected(reference, prepared.selected)
    timings["attribution_s"] = time.perf_counter() - mark
    return result


def _save_inputs(request: RunRequest, feeds: Mapping[str, np.ndarray]) -> None:
    if request.save_inputs:
        save_npz(feeds, request.save_inputs)


def assemble(request: RunRequest, prepared: Prepared, aligned: AlignedResults,
             timings: dict[str, float]) -> Comparison:
    graph_outputs = tuple(o.name for o in prepared.model.graph.output)
    gate = set(graph_outputs) | set(request.selection.outputs)
    results = align_results(prepared.tensors, graph_outputs, aligned)
    failing = [t for t in results if t.passed is False]
    first = min(failing, key=lambda t: t.index).name if failing else None
    # a gated tensor must have been compared and passed; with --fail-on all, every compared one too
    gated = [t for t in results if t.name in gate and t.status != "target_only"]
    extra = [t for t in results if request.fail_on == "all" and t.status == "compared" and t.name not in gate]
    nonfinite = nonfinite_reference(gated)
    passed = bool(gated) and all(t.passed is True for t in gated + extra) and (
        not nonfinite or request.allow_nonfinite_reference)
    settings = RunSettings(
        reference=request.reference_description or f"onnxruntime fp32 {list(request.reference_providers)}",
        target=request.target.description,
        tolerances=request.tolerances.as_result(),
        precision_plan=request.target.plan,
        inputs=describe_inputs(prepared.feeds, request.inputs),
        seed=None if request.inputs.load_path else request.inputs.seed,
        command=request.command,
    )
    return Comparison(
        model=request.model_path,
        passed=passed,
        settings=settings,
        tensors=tuple(results),
        outputs=graph_outputs,
        first_divergence=first,
        unmarked=tuple(prepared.unmarked),
        warnings=tuple(prepared.warnings + aligned.warnings
                       + verdict_warnings(gated, nonfinite, request.allow_nonfinite_reference)),
        nonfinite_reference=nonfinite,
        environment=environment.collect(aligned.target_description),
        timings=timings,
        graph=graph_nodes(prepared.model),
        engine_layers=aligned.engine_layers,
    )


def graph_nodes(model: onnx.ModelProto) -> tuple[GraphNode, ...]:
    return tuple(GraphNode(n.name, n.op_type, i, tuple(n.input), tuple(n.output))
                 for i, n in enumerate(topological_nodes(model.graph)))
