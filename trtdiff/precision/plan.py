"""A precision plan: the precision a model should run in, and which nodes stay in FP32.

A plan is small and serialisable (JSON): a default precision, a mode (native: the model really
computes in the type; emulated: FP32 compute with tensors rounded to the type) and FP32 overrides
by node name and by op type. `apply_plan` (trtdiff.precision.apply) turns it into a model.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from trtdiff.fileio import write_text_atomic
from trtdiff.errors import UsageError, check_choice, close_names
from trtdiff.model import subgraphs
from trtdiff.typed import Document, check_version, decode, decode_dataclass, read_json, unknown_keys

PRECISIONS = ("fp32", "fp16", "bf16", "fp8", "int8")
LOWER_PRECISIONS = PRECISIONS[1:]
MODES = ("native", "emulated")
CALIBRATIONS = ("minmax", "percentile", "entropy")
OUT_OF_RANGE = ("keep", "clamp")
PLAN_FORMAT = "trtdiff-precision-plan"
PLAN_VERSION = 1
PLAN_FIX = "Write it with `trtdiff plan export --format trtdiff`, or pass the plan.json bisect writes"
_CHOICES = {"default": PRECISIONS, "mode": MODES, "calibration": CALIBRATIONS, "out_of_range": OUT_OF_RANGE}
NOTE_KEYS = ("format", "version", "fp32_nodes", "evaluated")  # read back as notes, not settings


@dataclass(frozen=True)
class PrecisionPlan:
    """What to lower and what to keep. Node and op lists are kept sorted and unique, so two plans
    that mean the same thing compare equal (bisect uses plans as keys)."""

    default: str = "fp32"  # one of PRECISIONS
    mode: str = "native"  # "native" | "emulated"
    keep_fp32_nodes: tuple[str, ...] = ()  # node names kept in FP32 (int8/fp8: not quantized)
    keep_fp32_ops: tuple[str, ...] = ()  # op types kept in FP32
    calibration: str = "minmax"  # int8/fp8 scales: minmax | percentile | entropy
    percentile: float = 99.999  # for calibration="percentile"
    per_channel: bool = True  # int8/fp8 weights: one scale per output channel
    out_of_range: str = "keep"  # constants beyond the type's range: keep the node in FP32, or clamp
    keep_io_types: bool = True  # graph inputs/outputs keep their types (native fp16/bf16)

    def __post_init__(self) -> None:
        check_choice("precision", self.default, PRECISIONS)
        check_choice("mode", self.mode, MODES)
        check_choice("calibration method", self.calibration, CALIBRATIONS)
        check_choice("out-of-range policy", self.out_of_range, OUT_OF_RANGE)
        if not 0.0 < float(self.percentile) <= 100.0:
            raise UsageError(f"calibration percentile {self.percentile} is out of range",
                             "it must be in (0, 100]", "use e.g. 99.99")
        object.__setattr__(self, "keep_fp32_nodes", _names(self.keep_fp32_nodes, "--keep-fp32"))
        object.__setattr__(self, "keep_fp32_ops", _names(self.keep_fp32_ops, "--keep-fp32-op"))

    @property
    def lowers(self) -> bool:
        """False when the plan changes nothing (default fp32)."""
        return self.default != "fp32"

    def keeps(self, node: onnx.NodeProto) -> bool:
        """Whether the plan itself keeps this node in FP32."""
        return node.name in self.keep_fp32_nodes or node.op_type in self.keep_fp32_ops

    def with_fp32_nodes(self, nodes: Iterable[str]) -> PrecisionPlan:
        """This plan with `nodes` added to the FP32 set (cheap: bisect calls it often)."""
        return dataclasses.replace(self, keep_fp32_nodes=self.keep_fp32_nodes + tuple(nodes))

    @property
    def hidden_by_onnxruntime_cpu(self) -> bool:
        """ONNX Runtime's CPU provider computes FP16/BF16 nodes in FP32 and drops Cast pairs, so a
        natively converted FP16/BF16 model run there hides overflow and rounding."""
        return self.mode == "native" and self.default in ("fp16", "bf16")

    def for_onnxruntime_cpu(self) -> PrecisionPlan:
        """The plan to run on ONNX Runtime's CPU provider: emulated where native would hide errors."""
        return dataclasses.replace(self, mode="emulated") if self.hidden_by_onnxruntime_cpu else self

    def describe(self) -> str:
        """One line for terminals and reports, e.g. 'fp16 native, 3 nodes + 1 op type in FP32'."""
        if not self.lowers:
            return "fp32"
        text = f"{self.default} {self.mode}"
        kept = []
        if self.keep_fp32_nodes:
            kept.append(f"{len(self.keep_fp32_nodes)} node{'s' * (len(self.keep_fp32_nodes) != 1)}")
        if self.keep_fp32_ops:
            kept.append("op types " + ", ".join(self.keep_fp32_ops))
        return text + (", FP32: " + "; ".join(kept) if kept else "")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": PLAN_FORMAT, "version": PLAN_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            data[f.name] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_dict(cls, data: Any, doc: Document | None = None) -> PrecisionPlan:
        """The plan in parsed JSON, checked field by field (`doc` names the file in errors). A plan
        of a newer version is refused: its fields may mean what this trtdiff cannot know."""
        doc = doc or Document("the precision plan", "precision plan", PLAN_FIX)
        check_version(data, "version", PLAN_VERSION, doc, default=PLAN_VERSION)
        extra = unknown_keys(cls, data, NOTE_KEYS)
        if extra:
            raise UsageError(f"unknown key{'s' * (len(extra) > 1)} in {doc.name}: {', '.join(extra)}",
                             f"valid keys: {', '.join(f.name for f in dataclasses.fields(cls))}",
                             "remove or rename them")
        if data.get("format", PLAN_FORMAT) != PLAN_FORMAT:
            doc.fail("format", f"should be \"{PLAN_FORMAT}\"", data["format"])
        for key, choices in _CHOICES.items():
            if key in data and data[key] not in choices:
                doc.fail(key, f"should be one of {', '.join(choices)}", data[key])
        if "percentile" in data and not 0.0 < decode(float, data["percentile"], doc, "percentile") <= 100.0:
            doc.fail("percentile", "should be a number in (0, 100]", data["percentile"])
        plan: PrecisionPlan = decode_dataclass(cls, data, doc)
        return plan

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PrecisionPlan:
        doc = Document(str(path), "precision plan", PLAN_FIX)
        return cls.from_dict(read_json(path, doc), doc)

    def save(self, path: str | os.PathLike[str]) -> Path:
        file = Path(path)
        write_text_atomic(file, self.to_json())
        return file

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


def _names(values: Iterable[str], flag: str) -> tuple[str, ...]:
    names = tuple(values)
    for name in names:
        if not isinstance(name, str) or not name:
            raise UsageError(f"{flag} takes non-empty names", f"got {name!r}", "pass node or op names")
    return tuple(sorted(set(names)))


def all_node_names(graph: onnx.GraphProto) -> list[str]:
    """Names of every node, main graph first, then nodes inside If/Loop/Scan bodies."""
    names = [n.name for n in graph.node if n.name]
    for node in graph.node:
        for sub in subgraphs(node):
            names.extend(all_node_names(sub))
    return names


def all_op_types(graph: onnx.GraphProto) -> set[str]:
    ops = {n.op_type for n in graph.node}
    for node in graph.node:
        for sub in subgraphs(node):
            ops |= all_op_types(sub)
    return ops


@functools.lru_cache(maxsize=1)
def _onnx_op_types() -> frozenset[str]:
    return frozenset(s.name for s in onnx.defs.get_all_schemas())


def validate_plan(plan: PrecisionPlan, model: onnx.ModelProto) -> None:
    """Raise a UsageError for a node name the model does not have (listing close names), or an op
    type that is neither in the model nor an ONNX operator (a typo such as 'LayerNorm')."""
    names = all_node_names(model.graph)
    known = set(names)
    missing = [n for n in plan.keep_fp32_nodes if n not in known]
    if missing:
        first = missing[0]
        more = f" (and {len(missing) - 1} more: {', '.join(missing[1:4])})" if len(missing) > 1 else ""
        raise UsageError(f"the precision plan names node '{first}', which is not in the model{more}",
                         f"close names: {close_names(first, names)}",
                         "use node names (not tensor names) as shown by `trtdiff run`")
    model_ops = all_op_types(model.graph)
    for op in plan.keep_fp32_ops:
        if op not in model_ops and op not in _onnx_op_types():
            raise UsageError(f"the precision plan names op type '{op}', which is not an ONNX operator",
                             f"close names: {close_names(op, sorted(model_ops | _onnx_op_types()))}",
                             "op types are case-sensitive, e.g. LayerNormalization")
