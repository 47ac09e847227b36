"""`trtdiff build` of a dynamic model with INT8 calibration data and no input option: the profile
shapes come from the calibration samples (the README's `build model.onnx --int8
--calibration-data calib/` refused with "needs a concrete shape to generate data" on the
PP-OCRv4 detector, whose input is [?,3,?,?])."""

from __future__ import annotations

import numpy as np
import pytest
from model_builders import conv_relu_model

from trtdiff.engine_build import target_model
from trtdiff.errors import UsageError
from trtdiff.inputs import InputSettings
from trtdiff.precision.plan import PrecisionPlan


def _calibration(tmp_path) -> str:
    folder = tmp_path / "calib"
    folder.mkdir()
    for i in range(3):
        np.savez(folder / f"s{i}.npz", x=np.random.default_rng(i).uniform(0, 1, (2, 3, 8, 8)).astype(np.float32))
    return str(folder)


def test_calibration_samples_give_the_shapes_of_a_dynamic_model(tmp_path) -> None:
    model, shapes, _ = target_model(conv_relu_model(batch="N"), PrecisionPlan("int8"), InputSettings({}, {}),
                                    _calibration(tmp_path))
    assert shapes == {"x": (2, 3, 8, 8)}
    assert any(n.op_type == "QuantizeLinear" for n in model.graph.node)


def test_input_shapes_still_decide_when_given(tmp_path) -> None:
    _, shapes, _ = target_model(conv_relu_model(batch="N"), PrecisionPlan("int8"),
                                InputSettings({"x": (4, 3, 8, 8)}, {}), _calibration(tmp_path))
    assert shapes == {"x": (4, 3, 8, 8)}


def test_without_calibration_a_dynamic_model_still_needs_shapes() -> None:
    with pytest.raises(UsageError, match="dynamic dimensions"):
        target_model(conv_relu_model(batch="N"), PrecisionPlan("fp16"), InputSettings({}, {}))
