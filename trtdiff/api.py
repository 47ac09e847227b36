"""The public Python API: `trtdiff.compare(...)`, the same comparison `trtdiff run` makes (the
command calls it too).

    import trtdiff
    result = trtdiff.compare("model.onnx", target="fp16", inputs="val/", mark_all=True, check="topk:1")
    result.passed, result.first_divergence, result.samples
    frame = result.to_dataframe()      # one row per tensor
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trtdiff.measure.tolerance import ToleranceSpec, tolerance_spec_from_options
from trtdiff.dataset.script import is_script
from trtdiff.errors import UsageError
from trtdiff.inputs import InputSettings
from trtdiff.pipeline import RunRequest, TargetSpec, TensorSelection, run_comparison
from trtdiff.result import Comparison

Samples = Sequence[Mapping[str, np.ndarray]]
_PRECISIONS = ("fp16", "bf16", "int8", "fp8")


def compare(model: str | os.PathLike[str], target: str | os.PathLike[str] | TargetSpec = "fp16", *,
            inputs: str | os.PathLike[str] | Samples | Mapping[str, np.ndarray] | InputSettings | None = None,
            mark_all: bool = False, outputs: Sequence[str] = (),
            atol: float | Mapping[str, float] = 1e-3, rtol: float | Mapping[str, float] = 1e-3,
            check: str | Sequence[str] = "elementwise", min_agreement: float = 1.0, topk_axis: int = -1,
            tolerances: ToleranceSpec | None = None, iterations: int = 1, seed: int = 1,
            max_samples: int | None = None, input_shapes: Mapping[str, Sequence[int]] | None = None,
            load_outputs: str | os.PathLike[str] | None = None,
            calibration_data: str | os.PathLike[str] | None = None,
            attribute: bool | None = None, attribute_sample: int | None = None, progress: bool = False,
            **advanced: Any) -> Comparison:
    """Compare `model` (FP32 reference, ONNX Runtime CPU) with `target` over a data set.

    target: "fp16", "bf16", "int8", "fp8" (the model converted; on a CPU-only ONNX Runtime FP16/BF16
        run emulated), "emulate:fp16" (or bf16, fp8, int8), a path to another .onnx model, a
        precision-plan .json, or a TargetSpec.
    inputs: a path (any format --load-inputs reads, or FILE.py[:FUNC] as --data-loader-script),
        a list of dicts input name -> array, one such dict, an InputSettings, or None for
        `iterations` samples generated from `seed`.
    atol, rtol: a number, or {tensor: value} with "" for the default.
    check: one check or a list (see `trtdiff.measure.checks`); `tolerances` replaces atol, rtol,
        check, min_agreement and topk_axis when given.
    attribute: None (with mark_all: when the verdict fails), True or False.
    advanced: the other RunRequest fields (fail_on, save_inputs, save_outputs, memory_budget,
        reference_providers, reference_runner, reference_description, command, include_shape_tensors,
        divergence_snr_db, allow_nonfinite_reference).
    """
    shape_tensors = bool(advanced.pop("include_shape_tensors", False))
    settings, samples = _inputs(inputs, iterations, seed, max_samples, input_shapes)
    request = RunRequest(
        model_path=os.fspath(model),
        target=target if isinstance(target, TargetSpec) else target_spec(target),
        selection=TensorSelection(mark_all, tuple(outputs), shape_tensors),
        inputs=settings,
        tolerances=tolerances or _tolerances(atol, rtol, check, min_agreement, topk_axis),
        attribution=_attribution(attribute, mark_all),
        attribute_sample=attribute_sample,
        load_outputs=os.fspath(load_outputs) if load_outputs is not None else None,
        calibration_data=os.fspath(calibration_data) if calibration_data is not None else None,
        samples=samples,
        progress=progress,
        **advanced,
    )
    return run_comparison(request)


def target_spec(target: str | os.PathLike[str], providers: str = "cpu") -> TargetSpec:
    """A target named as `compare` takes it (see there), run on ONNX Runtime."""
    from trtdiff.options.targets import target_from_options

    text = os.fspath(target)
    options: dict[str, Any] = {"target_providers": providers}
    if text in _PRECISIONS:
        options[text] = True
    elif text.startswith("emulate:") and text.split(":", 1)[1] in _PRECISIONS:
        options["emulate"] = text.split(":", 1)[1]
    elif text.endswith(".onnx"):
        options["target_model"] = text
    elif text.endswith(".json"):
        from pathlib import Path

        options["precision_plan"] = Path(text)
    else:
        raise UsageError(f"unknown target '{text}'", "compare takes a precision, emulate:TYPE, an .onnx model "
                         "or a precision-plan .json", "for example target='fp16' or target='emulate:int8'")
    return target_from_options(options)


def _inputs(inputs: Any, iterations: int, seed: int, max_samples: int | None,
            shapes: Mapping[str, Sequence[int]] | None) -> tuple[InputSettings, tuple[Mapping[str, np.ndarray], ...] | None]:
    if isinstance(inputs, InputSettings):
        return inputs, None
    given = {name: tuple(int(d) for d in dims) for name, dims in (shapes or {}).items()}
    if inputs is None or isinstance(inputs, (str, os.PathLike)):
        path = os.fspath(inputs) if inputs is not None else None
        script = path if path is not None and is_script(path) else None
        return InputSettings(given, {}, seed, None if script else path, iterations, max_samples,
                             loader_script=script), None
    samples = (inputs,) if isinstance(inputs, Mapping) else tuple(inputs)
    return InputSettings(given, {}, seed, max_samples=max_samples), samples


def _tolerances(atol: float | Mapping[str, float], rtol: float | Mapping[str, float], check: str | Sequence[str],
                min_agreement: float, topk_axis: int) -> ToleranceSpec:
    def texts(value: float | Mapping[str, float]) -> tuple[str, ...]:
        if isinstance(value, Mapping):
            return tuple(f"{name}:{number}" if name else str(number) for name, number in value.items())
        return (str(value),)

    return tolerance_spec_from_options(texts(atol), texts(rtol), check, min_agreement=min_agreement,
                                       topk_axis=topk_axis)


def _attribution(attribute: bool | None, mark_all: bool) -> str:
    if attribute is None:
        return "on-failure" if mark_all else "off"
    return "on" if attribute else "off"
