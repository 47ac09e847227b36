"""The FP32 reference run: every selected tensor of the model as the reference computes it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx

from trtdiff.inputs import Feeds
from trtdiff.model import with_outputs
from trtdiff.request import RunnerFactory
from trtdiff.runners.onnxrt import OnnxRuntimeRunner


def run_reference(model: onnx.ModelProto, names: Sequence[str], feeds: Feeds,
                  providers: Sequence[str], make_runner: RunnerFactory | None = None,
                  infos: dict[str, onnx.ValueInfoProto] | None = None) -> dict[str, np.ndarray]:
    """Every selected tensor of the FP32 model: ONNX Runtime with graph optimisations off, unless
    another reference runner (e.g. TensorRT FP32) was asked for."""
    marked = with_outputs(model, names, infos)
    runner = make_runner(marked) if make_runner else OnnxRuntimeRunner(marked, providers, optimize=False,
                                                                       name="reference")
    with runner:
        return runner.infer(feeds)
