"""What a comparison is asked to do (`RunRequest`), how its target is obtained (`TargetSpec`),
and what is known before any inference (`Prepared`). Plain data: the pipeline, the target run and
the commands all read these, so they live apart from the code that runs them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
import onnx

from trtdiff.measure.tolerance import ToleranceSpec
from trtdiff.dataset import DataSet, GoldenOutputs
from trtdiff.inputs import InputSettings
from trtdiff.model import TensorInfo
from trtdiff.result import DEFAULT_DIVERGENCE_SNR_DB, UnmarkedTensors
from trtdiff.runners.base import Runner

ATTRIBUTION_MODES = ("on", "off", "on-failure")


@dataclass(frozen=True)
class BuiltTarget:
    model: onnx.ModelProto
    warnings: tuple[str, ...]
    calibrated: bool = False  # INT8/FP8 scales were measured on the calibration samples


# (reference model, calibration samples: one sample's feeds or an iterable of samples) -> target
Calibration = Union[Mapping[str, np.ndarray], Iterable[Mapping[str, np.ndarray]]]
ModelBuilder = Callable[[onnx.ModelProto, Calibration], BuiltTarget]
RunnerFactory = Callable[[onnx.ModelProto], Runner]


@dataclass(frozen=True)
class TensorSelection:
    mark_all: bool = False
    outputs: tuple[str, ...] = ()
    include_shape_tensors: bool = False


@dataclass(frozen=True)
class TargetSpec:
    """How to get the target: a model built from the reference model (conversion, plan, or a
    user's own file) and a runner for it."""

    description: str
    build_model: ModelBuilder
    make_runner: RunnerFactory
    plan: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()  # said in the result's warnings (e.g. why a plan runs emulated)
    own_tensors: bool = False  # a user's model: with --mark-all, also list its tensors the reference lacks
    segmentable: bool = False  # the runner is cheap to start (ONNX Runtime): run the target in segments
    cli_words: Any = None  # trtdiff.next_step.TargetWords: the options that ask for this target again


@dataclass(frozen=True)
class RunRequest:
    model_path: str
    target: TargetSpec
    selection: TensorSelection = TensorSelection()
    inputs: InputSettings = InputSettings({}, {})
    tolerances: ToleranceSpec = ToleranceSpec()
    reference_providers: tuple[str, ...] = ("CPUExecutionProvider",)
    reference_runner: RunnerFactory | None = None  # default: ONNX Runtime FP32 on reference_providers
    reference_description: str = ""
    fail_on: str = "outputs"  # "outputs": the verdict is on graph outputs (+ --outputs); "all": every tensor
    command: str = ""
    save_inputs: str | None = None
    save_outputs: str | None = None
    # local error per node, amplification, cause hints, offenders: "on", "off", or "on-failure"
    # (only when the verdict fails, with a second reference run: a passing run does not pay for it)
    attribution: str = "off"
    memory_budget: int | None = None  # bytes of tensors a shadow model may feed and produce
    allow_nonfinite_reference: bool = False  # a gated reference output holding NaN/Inf may still pass
    divergence_snr_db: float = DEFAULT_DIVERGENCE_SNR_DB  # see trtdiff.measure.divergence
    attribute_sample: int | None = None  # the sample attribution runs on (default: the worst)
    load_outputs: str | None = None  # golden reference outputs (trtdiff .npz or Polygraphy RunResults JSON)
    calibration_data: str | None = None  # samples that calibrate INT8/FP8 (default: the evaluated ones)
    samples: tuple[Mapping[str, np.ndarray], ...] | None = None  # samples given in memory (Python API)
    progress: bool = False  # a progress bar over samples (on a terminal)

    def __post_init__(self) -> None:
        if self.attribution not in ATTRIBUTION_MODES:
            raise ValueError(f"attribution must be one of {ATTRIBUTION_MODES}, not {self.attribution!r}")


@dataclass
class Prepared:
    """Everything known before any inference."""

    model: onnx.ModelProto
    tensors: list[TensorInfo]
    unmarked: list[UnmarkedTensors]
    selected: list[str]
    dataset: DataSet
    infos: dict[str, onnx.ValueInfoProto]  # the reference model's inferred value info
    warnings: list[str] = field(default_factory=list)
    golden: GoldenOutputs | None = None
    gated: frozenset[str] = frozenset()  # graph outputs and --outputs tensors: they decide the verdict
