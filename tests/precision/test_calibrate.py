"""Min-max calibration built in one pass gives exactly ONNX Runtime's MinMaxCalibrater ranges."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from precision_helpers import build, feeds_for

from trtdiff.precision import calibrate


@pytest.mark.parametrize("name", ["convnet", "transformer", "shape_plumbing", "control_flow", "overflow",
                                  "initializers_as_inputs", "chain"])
def test_one_pass_minmax_equals_onnxruntimes_calibrator(name: str) -> None:
    model: onnx.ModelProto = getattr(build, name)()
    samples = [feeds_for(model, seed=i) for i in range(3)]
    ours = calibrate._minmax_ranges(model, samples)
    theirs = calibrate._onnxruntime_calibrator(model, samples, "minmax", 99.999)
    assert ours.keys() == theirs.keys() and ours
    for tensor, (low, high) in theirs.items():
        np.testing.assert_array_equal(ours[tensor], (low, high), err_msg=tensor)


def test_a_tensor_nan_on_one_sample_takes_its_range_from_the_others() -> None:
    model = build.overflow()
    samples = [feeds_for(model, seed=i) for i in range(2)]
    first = next(iter(samples[0]))
    samples[0][first] = np.full_like(samples[0][first], np.nan)
    ours = calibrate._minmax_ranges(model, samples)
    theirs = calibrate._onnxruntime_calibrator(model, samples, "minmax", 99.999)
    np.testing.assert_array_equal(ours[first], theirs[first])
    assert np.isfinite(ours[first]).all()
