"""The Comparison of a run: tensor results in topological order, the verdict, the settings and the
data set it ran over."""

from __future__ import annotations

import onnx

from trtdiff import environment
from trtdiff.measure.align import align_results
from trtdiff.measure.divergence import first_significant_divergence
from trtdiff.inputs import describe_inputs
from trtdiff.model import topological_nodes
from trtdiff.request import Prepared, RunRequest
from trtdiff.result import Comparison, GraphNode, RunSettings, SamplesInfo
from trtdiff.sample_loop import SamplesCompared
from trtdiff.verdict_checks import nonfinite_reference, verdict_passes, verdict_warnings


def assemble(request: RunRequest, prepared: Prepared, compared: SamplesCompared, calibration: str,
             timings: dict[str, float]) -> Comparison:
    """`calibration`: what calibrated the target's INT8/FP8 scales ("" when nothing was calibrated)."""
    aligned = compared.aligned
    graph_outputs = tuple(o.name for o in prepared.model.graph.output)
    results = align_results(prepared.tensors, graph_outputs, aligned)
    failing = [t for t in results if t.passed is False]
    first = min(failing, key=lambda t: t.index).name if failing else None
    # a gated tensor must have been compared and passed; with --fail-on all, every compared one too
    gated = [t for t in results if t.name in prepared.gated and t.status != "target_only"]
    extra = [t for t in results if request.fail_on == "all" and t.status == "compared" and t.name not in prepared.gated]
    nonfinite = nonfinite_reference(gated)
    passed = verdict_passes(gated, extra, nonfinite, request.allow_nonfinite_reference)
    samples = _samples_info(prepared, compared, calibration)
    origin = "" if samples.source == "generated" else samples.description
    settings = RunSettings(
        reference=request.reference_description or f"onnxruntime fp32 {list(request.reference_providers)}",
        target=request.target.description,
        tolerances=request.tolerances.as_result(),
        precision_plan=request.target.plan,
        inputs=describe_inputs(compared.first_sample, request.inputs, origin),
        seed=samples.seed,
        command=request.command,
        divergence_snr_db=request.divergence_snr_db,
    )
    return Comparison(
        model=request.model_path,
        passed=passed,
        settings=settings,
        tensors=tuple(results),
        outputs=graph_outputs,
        first_divergence=first,
        significant_divergence=first_significant_divergence(results, request.divergence_snr_db),
        unmarked=tuple(prepared.unmarked),
        warnings=tuple(prepared.warnings + compared.warnings + aligned.warnings
                       + verdict_warnings(gated, nonfinite, request.allow_nonfinite_reference)),
        nonfinite_reference=nonfinite,
        environment=environment.collect(aligned.target_description),
        timings=timings,
        graph=graph_nodes(prepared.model),
        engine_layers=aligned.engine_layers,
        samples=samples,
    )


def _samples_info(prepared: Prepared, compared: SamplesCompared, calibration: str) -> SamplesInfo:
    dataset = prepared.dataset
    golden = prepared.golden
    reference = f"golden outputs from {golden.location} ({golden.kind})" if golden is not None else "run"
    return SamplesInfo(
        count=compared.count,
        source=dataset.source.kind,
        location=dataset.source.location,
        seed=dataset.seed,
        fingerprint=compared.fingerprint,
        description=dataset.describe(compared.count),
        reference=reference,
        calibration=calibration,
    )


def graph_nodes(model: onnx.ModelProto) -> tuple[GraphNode, ...]:
    return tuple(GraphNode(n.name, n.op_type, i, tuple(n.input), tuple(n.output))
                 for i, n in enumerate(topological_nodes(model.graph)))
