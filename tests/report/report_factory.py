"""Synthetic `Comparison` objects for the report tests and the report benchmark.

`synthetic_comparison(n)` builds a plausible FP16 run of an n-node network: a chain with residual
Adds, small rounding error everywhere, one planted culprit (an Exp near 40 % depth that overflows
past 65504) whose error is passed on and amplified, a tensor of large values six nodes earlier
that fails only the absolute atol (SNR 62 dB: the first tolerance failure, not the significant
divergence), a failing output, tensors present on one side only, cause hints, offenders, a graph
for neighbourhoods, TensorRT engine layers and bisect results.
Hostile names are planted on purpose: a node called `<script>alert(1)</script>`, a tensor named
`<img src=x onerror=alert(2)>` and a name with `$` signs (matplotlib mathtext).

`minimal_comparison()` has every optional field empty or None.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from trtdiff.measure.divergence import first_significant_divergence
from trtdiff.result import (
    DEFAULT_DIVERGENCE_SNR_DB,
    HISTOGRAM_LABELS,
    CauseHint,
    Comparison,
    ErrorMetrics,
    GraphNode,
    Offender,
    RunSettings,
    TensorResult,
    Tolerances,
    UnmarkedTensors,
)

SCRIPT_NODE = "<script>alert(1)</script>"
IMG_TENSOR = "<img src=x onerror=alert(2)>"
DOLLAR_NODE = "/blocks.3/attn/Mul_$x$_1"
OPS = ("Conv", "Relu", "Conv", "Add", "MatMul", "LayerNormalization", "Softmax", "Gelu")
ATOL = 1e-3


def _histogram(max_abs: float, size: int, rng: np.random.RandomState) -> tuple[int, ...]:
    """Counts per HISTOGRAM_LABELS bin, piled up a decade or two below `max_abs`."""
    counts = [0] * len(HISTOGRAM_LABELS)
    if not math.isfinite(max_abs):
        counts[-1] = max(1, size // 1000)
        max_abs = 1e5
    if max_abs == 0.0:
        counts[0] = size
        return tuple(counts)
    top = min(max(math.ceil(math.log10(max_abs)), -10), 6)
    weights = np.array([0.5, 2.0, 5.0, 2.5, 0.7])
    bins = [min(max(top - 4 + k, -10), 5) for k in range(5)]
    parts = rng.multinomial(size - sum(counts), weights / weights.sum())
    for decade, part in zip(bins, parts):
        counts[1 + decade + 10] += int(part)
    return tuple(counts)


def metrics_for(max_abs: float, size: int = 4096, *, seed: int = 0) -> ErrorMetrics:
    """ErrorMetrics consistent with one maximum absolute error."""
    rng = np.random.RandomState(seed)
    ref = 4.0
    finite = math.isfinite(max_abs)
    scale = max_abs if finite else 1e5
    return ErrorMetrics(
        size=size,
        max_abs=max_abs,
        mean_abs=scale / 7,
        median_abs=scale / 11,
        p99_abs=scale / 2,
        max_rel=scale / 0.05 if finite else math.inf,
        mean_rel=scale / ref,
        cosine=max(-1.0, 1.0 - (scale / ref) ** 2 / 10) if finite else math.nan,
        snr_db=20 * math.log10(ref / scale) if scale > 0 else math.inf,
        mismatches=int(size * min(1.0, scale / ATOL / 50)) if scale > ATOL else 0,
        nan_ref=0,
        nan_target=0,
        inf_ref=0,
        inf_target=0 if finite else 3,
        ref_max_abs=ref,
        histogram=_histogram(max_abs, size, rng),
    )


def _node_name(i: int, op: str, culprit: int, n: int) -> str:
    if i == n // 5:
        return SCRIPT_NODE
    if i == n // 3:
        return DOLLAR_NODE
    if i == culprit:
        return "/blocks.7/attn/Exp"
    return f"/blocks.{i // len(OPS)}/{op}_{i}"


def _graph(n: int, culprit: int) -> tuple[GraphNode, ...]:
    """A chain with a residual Add every few nodes; Conv and MatMul read a weight."""
    nodes = []
    prev = "input"
    for i in range(n):
        op = "Exp" if i == culprit else OPS[i % len(OPS)]
        inputs = [prev]
        if op == "Add" and i >= 3:
            inputs.append(nodes[i - 3].outputs[0])
        if op in ("Conv", "MatMul"):
            inputs.append(f"w{i}")
        name = _node_name(i, op, culprit, n)
        output = IMG_TENSOR if i == n // 5 + 1 else f"{name}_output_0"
        nodes.append(GraphNode(name, op, i, tuple(inputs), (output,)))
        prev = output
    return tuple(nodes)


def _errors(n: int, culprit: int, rng: np.random.RandomState) -> tuple[list[float], list[float]]:
    """Cumulative and local max_abs per node: rounding noise, then the culprit's error grows."""
    local = list(np.exp(rng.normal(math.log(2e-5), 0.8, size=n)))
    local[culprit] = 0.4
    local[culprit + 4] = 0.05  # two lesser offenders downstream, above the offender floor
    local[culprit + 9] = 0.01
    cumulative, carried, growth = [], 0.0, 10 ** (2.0 / n)
    for i in range(n):
        carried = carried * (growth if i > culprit else 0.6) + local[i]
        cumulative.append(float(carried))
    for i in range(1, n, 17):  # a few Relu-like tensors where nothing differs at all
        if i < culprit:
            cumulative[i] = local[i] = 0.0
    cumulative[culprit + 2] = math.inf  # an overflow that shows as non-finite
    return cumulative, [float(v) for v in local]


def _tensor(node: GraphNode, cum: float, loc: float, is_output: bool) -> TensorResult:
    passed = math.isfinite(cum) and cum <= ATOL
    hints: tuple[CauseHint, ...] = ()
    if loc > ATOL:
        hints = (
            CauseHint("overflow", node.name, f"{node.op_type} output reaches 7.1e4 > 65504 (FP16 max)",
                      {"ref_max_abs": 71234.0}),
            CauseHint("precision", node.name, "rounding of large values"),
        )
    return TensorResult(
        name=node.outputs[0], node=node.name, op_type=node.op_type, index=node.index,
        shape=(1, 64, 28, 28), dtype="float32", target_dtype="float16", is_output=is_output,
        passed=passed, atol=ATOL, rtol=0.0, metrics=metrics_for(cum, seed=node.index),
        local=metrics_for(loc, seed=node.index + 1),
        amplification=(cum / loc if loc > 0 and math.isfinite(cum) else None), hints=hints,
    )


def _odd_tensors(n: int) -> tuple[TensorResult, ...]:
    """A graph input and tensors that could not be paired."""
    return (
        TensorResult("input", "", "", -1, (1, 3, 224, 224), "float32", passed=None),
        TensorResult(f"/blocks.{n}/ref_only", "/x/Shape", "Shape", n, (4,), "int64",
                     status="reference_only", note="not exposed by the target"),
        TensorResult("/fused/trt_only", "", "", n, None, "float16", status="target_only"),
        TensorResult("/head/Reshape_output_0", "/head/Reshape", "Reshape", n, (1, 10), "float32",
                     status="shape_mismatch", passed=False, note="shape (1, 10) vs (10,)"),
    )


def _offenders(tensors: list[TensorResult]) -> tuple[Offender, ...]:
    ranked = sorted((t for t in tensors if t.local is not None),
                    key=lambda t: -t.local.max_abs)[:10]  # type: ignore[union-attr]
    return tuple(
        Offender(rank + 1, t.node, t.name, t.op_type, t.index, t.local.max_abs,  # type: ignore[union-attr]
                 tuple(h.kind for h in t.hints))
        for rank, t in enumerate(ranked)
    )


def _bisect(culprit_name: str) -> dict:
    return {
        "passed": True,
        "fp32_nodes": [
            {"node": culprit_name, "op_type": "Exp", "reason": "overflow past 65504"},
            {"node": SCRIPT_NODE, "op_type": "Softmax", "reason": "needed with the Exp"},
        ],
        "evaluations": 14,
        "outputs_before": {"logits": 0.73, "aux": 2.1e-3},
        "outputs_after": {"logits": 4.2e-4, "aux": 1.0e-4},
        "exports": {
            "modelopt_autocast": f'nodes_to_exclude = ["{culprit_name}"]',
            "onnxruntime_node_block_list": f'node_block_list = ["{culprit_name}", "{SCRIPT_NODE}"]',
            "json": '{"default": "fp16", "overrides": {"/blocks.7/attn/Exp": "fp32"}}',
        },
    }


def _engine_layers(graph: tuple[GraphNode, ...]) -> tuple[dict, ...]:
    layers = []
    for node in graph[: min(len(graph), 300)]:
        layers.append({"name": f"{node.name} + fused", "type": node.op_type,
                       "precision": "FP32" if node.op_type == "Exp" else "FP16",
                       "tactic": f"sm90_xmma_{node.index:04d}", "onnx_nodes": [node.name]})
    return tuple(layers)


def synthetic_comparison(n: int = 200, *, seed: int = 0, extras: bool = True) -> Comparison:
    """A failing FP16 comparison of an n-node network (see the module docstring)."""
    rng = np.random.RandomState(seed)
    culprit = int(n * 0.4)
    graph = _graph(n, culprit)
    cumulative, local = _errors(n, culprit, rng)
    output_index = {n - 1, n // 2}
    tensors = [_tensor(node, cumulative[i], local[i], i in output_index)
               for i, node in enumerate(graph)]
    scaled = culprit - 6  # a tensor of large values that fails only the absolute atol: SNR 62 dB
    tensors[scaled] = dataclasses.replace(tensors[scaled], passed=False, metrics=dataclasses.replace(
        metrics_for(0.02, seed=scaled), snr_db=62.0, ref_max_abs=400.0))
    first = next(t.name for t in tensors if not t.passed)
    settings = RunSettings(
        reference="onnxruntime fp32 [CPUExecutionProvider]",
        target="tensorrt fp16 (converted) [NVIDIA H100 80GB HBM3]",
        tolerances=Tolerances(ATOL, 0.0, "max", 1e-6, {"logits": 2e-3}),
        precision_plan={"default": "fp16", "overrides": {}},
        inputs={"input": "float32[1,3,224,224] seed=1 range=[0,1]"},
        seed=1, command="trtdiff run model.onnx --fp16 --mark-all --report out.html",
    )
    return Comparison(
        model="models/resnet_like.onnx", passed=False, settings=settings,
        tensors=tuple(tensors) + _odd_tensors(n), outputs=tuple(graph[i].outputs[0] for i in sorted(output_index)),
        first_divergence=first, offenders=_offenders(tensors),
        significant_divergence=first_significant_divergence(tensors, DEFAULT_DIVERGENCE_SNR_DB),
        unmarked=(UnmarkedTensors("/loop/Loop", "Loop", 12, "inside a Loop body"),) if extras else (),
        warnings=("3 tensors were fused away by TensorRT and could not be compared",) if extras else (),
        environment={"trtdiff": "0.1.0", "onnx": "1.17.0", "onnxruntime": "1.20.1",
                     "tensorrt": "10.7.0", "providers": "CPUExecutionProvider",
                     "cpu": "AMD EPYC 9654", "gpu": "NVIDIA H100 80GB HBM3", "python": "3.11.2"},
        timings={"reference": 1.23, "target": 0.87, "compare": 0.42},
        engine_layers=_engine_layers(graph) if extras else (),
        bisect=_bisect(graph[culprit].name) if extras else None,
        graph=graph,
    )


def minimal_comparison() -> Comparison:
    """Everything optional empty or None: no metrics, no graph, no environment."""
    settings = RunSettings(reference="", target="", tolerances=Tolerances(0.0, 0.0, "elementwise", 0.0))
    return Comparison(model="", passed=True, settings=settings, tensors=(), outputs=())
