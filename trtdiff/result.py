"""The result of a comparison: frozen dataclasses that every output (terminal, JSON, HTML report,
baseline) is built from. Nothing here computes numbers; `trtdiff.measure` and
`trtdiff.attribution` fill these in.

JSON: `comparison_to_json` / `comparison_from_json` are a matching pair. Non-finite floats are
written as the strings "inf", "-inf" and "nan" so that the file stays standard JSON.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from trtdiff.errors import UsageError
from trtdiff.typed import Document, decode_dataclass

SCHEMA_VERSION = 1
RESULT_FIX = "Pass the file written by `trtdiff run MODEL --json RESULT.json`"
# A tensor whose SNR falls below this (relative RMS error 1 %) diverges in a way that means
# something, whatever the tolerances say (see trtdiff.measure.divergence).
DEFAULT_DIVERGENCE_SNR_DB = 40.0

# Absolute-error histogram bins: [0] exactly zero, then decades (0, 1e-10], (1e-10, 1e-9], ...,
# (1e4, 1e5], then (1e5, inf) and a last bin for non-finite errors (NaN/Inf on one side only).
HISTOGRAM_DECADES = tuple(range(-10, 6))  # upper edges 1e-10 ... 1e5
HISTOGRAM_LABELS = (
    ("0",)
    + tuple(f"<=1e{d}" for d in HISTOGRAM_DECADES)
    + (">1e5", "non-finite")
)

TensorStatus = Literal["compared", "reference_only", "target_only", "shape_mismatch"]


@dataclass(frozen=True)
class ErrorMetrics:
    """Error of one tensor against the reference, computed in float64.

    Relative error of an element is |t - r| / max(|r|, rel_floor) (see README, "Metrics").
    """

    size: int
    max_abs: float
    mean_abs: float
    median_abs: float
    p99_abs: float
    max_rel: float
    mean_rel: float
    cosine: float
    snr_db: float
    mismatches: int
    nan_ref: int
    nan_target: int
    inf_ref: int
    inf_target: int
    ref_max_abs: float
    histogram: tuple[int, ...] = ()


@dataclass(frozen=True)
class CauseHint:
    """Why a node introduces error: kind is overflow, underflow, nan_origin, cancellation,
    quantization, or, for a node that only shows what its inputs' representation did, domain
    (it turns those values into NaN/Inf) or inherited; figures are the numbers behind the hint."""

    kind: str
    node: str
    message: str
    figures: dict[str, float] = field(default_factory=dict)
    summary: str = ""  # a few words for a cause chain: "underflows fp16: 100% flush to zero"


@dataclass(frozen=True)
class CheckSummary:
    """One check of a tensor over every sample: `value` is the task metric (topk: the share of
    positions whose top K agree; cosine, snr: the worst sample's; max/mean/median/p99: the worst
    sample's statistic; elementwise: the most mismatches in one sample); `failed`: samples it failed."""

    check: str
    value: float
    failed: int


@dataclass(frozen=True)
class SampleVerdicts:
    """How the samples of one tensor fared: a sample passes when every check holds on it, the
    tensor when at least `min_agreement` of its samples pass."""

    count: int
    failed: int
    failing: tuple[int, ...] = ()  # the first failing sample indices (at most 20)
    checks: tuple[CheckSummary, ...] = ()
    min_agreement: float = 1.0
    max_abs_histogram: tuple[int, ...] = ()  # samples per HISTOGRAM_LABELS bin of their own max_abs

    @property
    def agreement(self) -> float:
        return (self.count - self.failed) / self.count if self.count else math.nan


@dataclass(frozen=True)
class TensorResult:
    name: str
    node: str  # producing node name ("" for graph inputs)
    op_type: str
    index: int  # topological index of the producing node (-1 for graph inputs)
    shape: tuple[int, ...] | None
    dtype: str  # reference dtype
    status: TensorStatus = "compared"
    target_dtype: str | None = None
    is_output: bool = False
    passed: bool | None = None  # None when the tensor was not compared
    atol: float = 0.0
    rtol: float = 0.0
    metrics: ErrorMetrics | None = None
    local: ErrorMetrics | None = None  # error this node introduces (attribution)
    amplification: float | None = None  # cumulative / incoming error ratio (attribution)
    hints: tuple[CauseHint, ...] = ()
    note: str = ""
    worst_sample: int | None = None  # the sample with the largest error (failing samples first)
    sample_verdicts: SampleVerdicts | None = None  # per-sample verdicts (graph outputs and --outputs)


@dataclass(frozen=True)
class UnmarkedTensors:
    """Tensors that exist but could not be compared, with the reason (e.g. inside a Loop body)."""

    node: str
    op_type: str
    count: int
    reason: str


@dataclass(frozen=True)
class GraphNode:
    """A main-graph node, for showing an offender's neighbourhood (producers and consumers)."""

    name: str
    op_type: str
    index: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class Offender:
    """A node ranked by the error it introduces itself (local error)."""

    rank: int
    node: str
    tensor: str
    op_type: str
    index: int
    score: float
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class CauseStep:
    """One link of a cause chain: what happens at `node` (its hint, in a few words)."""

    node: str
    tensor: str
    kind: str  # a hint kind (underflow, overflow, domain, nan_origin, ...), or "output"
    summary: str  # e.g. "log(0) = -inf" or "100% flush to zero"


@dataclass(frozen=True)
class CauseChain:
    """From a root cause (the first step) through the first NaN/Inf to the failing outputs."""

    steps: tuple[CauseStep, ...]
    outputs: tuple[str, ...]  # the failing graph outputs it reaches

    def describe(self) -> str:
        """'shrink underflows: 100% flush to zero -> logit: log(0) = -inf -> cancel: NaN -> y'."""
        links = [f"{s.node}: {s.summary}" if s.summary else s.node for s in self.steps]
        return " -> ".join(links + [", ".join(self.outputs)] if self.outputs else links)


@dataclass(frozen=True)
class NextStep:
    """A command to try next, with what it does (computed once: trtdiff.next_step)."""

    command: str
    why: str


@dataclass(frozen=True)
class Tolerances:
    atol: float
    rtol: float
    check: str  # "elementwise" or a statistic: "max", "mean", "median", "p99"
    rel_floor: float
    per_tensor_atol: dict[str, float] = field(default_factory=dict)
    per_tensor_rtol: dict[str, float] = field(default_factory=dict)
    checks: tuple[str, ...] = ()  # every --check as given ("topk:1", "logits:cosine:0.999"); () = (check,)
    min_agreement: float = 1.0  # share of samples that must pass
    topk_axis: int = -1


@dataclass(frozen=True)
class SamplesInfo:
    """The data set a comparison ran over."""

    count: int
    source: str  # "generated", "npz", "npz-directory", "polygraphy-json", "onnx-test-sets", "script", ...
    location: str = ""  # the path read ("" for generated data)
    seed: int | None = None  # generated data only
    fingerprint: str = ""  # hash of every sample's names, dtypes, shapes and bytes
    description: str = ""  # e.g. "500 samples from val/ (npz-directory)"
    reference: str = "run"  # "run", or where the golden outputs came from
    calibration: str = ""  # what calibrated INT8/FP8 scales ("" when nothing was calibrated)
    attribution_sample: int | None = None  # the sample attribution ran on


@dataclass(frozen=True)
class RunSettings:
    reference: str  # e.g. "onnxruntime fp32 [CPUExecutionProvider]"
    target: str  # e.g. "onnxruntime fp16 (converted) [CPUExecutionProvider]"
    tolerances: Tolerances
    precision_plan: dict[str, Any] | None = None
    inputs: dict[str, str] = field(default_factory=dict)  # name -> "float32[1,3,32,32] seed=1 range=[0,1]"
    seed: int | None = None
    command: str = ""
    attribution: str = ""  # "on", "off", or "skipped: <why>" (--mark-all runs it only when the verdict fails)
    divergence_snr_db: float = DEFAULT_DIVERGENCE_SNR_DB  # threshold of `significant_divergence`


@dataclass(frozen=True)
class Comparison:
    model: str
    passed: bool
    settings: RunSettings
    tensors: tuple[TensorResult, ...]
    outputs: tuple[str, ...]
    first_divergence: str | None = None  # first tensor (topological order) outside tolerance
    # first tensor whose SNR is below settings.divergence_snr_db, or that holds NaN/Inf where the
    # reference is finite: the error is large relative to the values, not only to an absolute atol
    significant_divergence: str | None = None
    offenders: tuple[Offender, ...] = ()
    unmarked: tuple[UnmarkedTensors, ...] = ()
    warnings: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    engine_layers: tuple[dict[str, Any], ...] = ()  # TensorRT per-layer facts, when a TRT runner ran
    bisect: dict[str, Any] | None = None  # bisect results, when a bisect ran
    gate: dict[str, Any] | None = None  # the regression gate against a baseline, when `trtdiff check` ran
    graph: tuple[GraphNode, ...] = ()  # main-graph nodes in topological order
    causes: tuple[CauseChain, ...] = ()  # root cause -> first NaN/Inf -> failing outputs (attribution)
    nonfinite_reference: tuple[str, ...] = ()  # gated outputs whose FP32 reference holds NaN/Inf
    next_steps: tuple[NextStep, ...] = ()  # what to run next (a failing run)
    samples: SamplesInfo | None = None  # the data set (None in results from before data sets)
    schema_version: int = SCHEMA_VERSION

    def tensor(self, name: str) -> TensorResult:
        for tensor in self.tensors:
            if tensor.name == name:
                return tensor
        raise KeyError(name)

    @property
    def compared(self) -> tuple[TensorResult, ...]:
        return tuple(t for t in self.tensors if t.status == "compared")

    def to_dataframe(self) -> Any:
        """A pandas DataFrame, one row per tensor in topological order: identity, status, verdict,
        tolerances, every metric (float64, NaN/inf as such; counts as nullable integers) and, when
        attribution ran, the local max_abs and amplification."""
        from trtdiff.frames import comparison_frame

        return comparison_frame(self)


# ---------------------------------------------------------------------------------------------
# JSON


_METRIC_FIELDS = tuple(f.name for f in dataclasses.fields(ErrorMetrics))


def _encode_tensor(tensor: TensorResult) -> dict[str, Any]:
    """A tensor's cumulative metrics are written flat on the tensor (the documented `--json`
    layout: `tensors[i].max_abs`); local metrics stay nested under `local`."""
    data = {f.name: _encode(getattr(tensor, f.name)) for f in dataclasses.fields(tensor)}
    metrics = data.pop("metrics")
    for name in _METRIC_FIELDS:
        data[name] = metrics[name] if metrics is not None else None
    return data


def tensor_from_dict(row: Any, doc: Document, where: str) -> TensorResult:
    """A tensor row, its flat cumulative metrics gathered back into `metrics` (when it has any)."""
    if not isinstance(row, dict):
        doc.fail(where, "should be an object", row)
    metrics = decode_dataclass(ErrorMetrics, row, doc, where) if row.get("max_abs") is not None else None
    tensor: TensorResult = decode_dataclass(TensorResult, row, doc, where, given={"metrics": metrics})
    return tensor


def _encode(value: Any) -> Any:
    if isinstance(value, TensorResult):
        return _encode_tensor(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def comparison_to_dict(comparison: Comparison) -> dict[str, Any]:
    data: dict[str, Any] = _encode(comparison)
    data["histogram_labels"] = list(HISTOGRAM_LABELS)
    return data


def comparison_from_dict(data: Any, doc: Document | None = None) -> Comparison:
    """The Comparison in parsed `--json` data, every field checked against its type; a UsageError
    naming the field (and `doc`'s file) when one is wrong. Keys this version does not know are
    ignored; fields added after the file was written take their defaults."""
    doc = doc or Document("the result JSON", "trtdiff result", RESULT_FIX)
    if not isinstance(data, dict):
        doc.fail("", "should be a JSON object", data)
    rows = data.get("tensors", ...)
    if rows is ...:
        doc.fail("tensors", "is missing")
    if not isinstance(rows, list):
        doc.fail("tensors", "should be a list", rows)
    tensors = tuple(tensor_from_dict(row, doc, f"tensors[{i}]") for i, row in enumerate(rows))
    comparison: Comparison = decode_dataclass(Comparison, {**data, "tensors": []}, doc)
    return dataclasses.replace(comparison, tensors=tensors)


def comparison_to_json(comparison: Comparison) -> str:
    return json.dumps(comparison_to_dict(comparison), indent=1, allow_nan=False)


def comparison_from_json(text: str) -> Comparison:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError("the result is not valid JSON", f"{err.msg} at line {err.lineno}, column {err.colno}",
                         RESULT_FIX) from err
    return comparison_from_dict(data)
