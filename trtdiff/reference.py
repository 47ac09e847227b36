"""The reference side: every selected tensor as the FP32 reference computes it, or as golden
outputs from an earlier run give it."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import numpy as np
import onnx

from trtdiff.dataset import GoldenOutputs
from trtdiff.inputs import Feeds
from trtdiff.model import with_outputs
from trtdiff.request import RunnerFactory
from trtdiff.runners.base import Runner
from trtdiff.runners.onnxrt import OnnxRuntimeRunner


def reference_runner(model: onnx.ModelProto, names: Sequence[str], providers: Sequence[str],
                     make_runner: RunnerFactory | None = None,
                     infos: dict[str, onnx.ValueInfoProto] | None = None) -> Runner:
    """The runner of the FP32 model with `names` marked: ONNX Runtime with graph optimisations off,
    unless another reference runner (e.g. TensorRT FP32) was asked for."""
    marked = with_outputs(model, names, infos)
    return make_runner(marked) if make_runner else OnnxRuntimeRunner(marked, providers, optimize=False,
                                                                     name="reference")


def run_reference(model: onnx.ModelProto, names: Sequence[str], feeds: Feeds,
                  providers: Sequence[str], make_runner: RunnerFactory | None = None,
                  infos: dict[str, onnx.ValueInfoProto] | None = None) -> dict[str, np.ndarray]:
    """Every selected tensor of the FP32 model for one sample."""
    with reference_runner(model, names, providers, make_runner, infos) as runner:
        return runner.infer(feeds)


class ReferenceRun:
    """The reference over many samples: one session, opened on entering, for the tensors the run
    needs from the model; the golden outputs, when given, for the tensors they hold (then the model
    runs only for the rest, and not at all when nothing is left)."""

    def __init__(self, model: onnx.ModelProto, names: Sequence[str], providers: Sequence[str],
                 make_runner: RunnerFactory | None = None, infos: dict[str, onnx.ValueInfoProto] | None = None,
                 golden: GoldenOutputs | None = None) -> None:
        self._golden = golden
        self._from_golden = [n for n in names if golden is not None and n in golden.names]
        self._run_names = [n for n in names if n not in self._from_golden]
        self._model, self._providers, self._make_runner, self._infos = model, providers, make_runner, infos
        self._runner: Runner | None = None

    @property
    def runs_model(self) -> bool:
        return bool(self._run_names)

    def __enter__(self) -> ReferenceRun:
        if self._run_names:
            runner = reference_runner(self._model, self._run_names, self._providers, self._make_runner, self._infos)
            self._runner = runner.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            runner.__exit__(exc_type, exc, tb)

    def outputs(self, index: int, feeds: Feeds) -> dict[str, np.ndarray]:
        """Sample `index`'s reference tensors."""
        tensors = self._runner.infer(feeds) if self._runner is not None else {}
        if self._golden is not None and self._from_golden:
            held = self._golden.sample(index, feeds)
            tensors.update({name: held[name] for name in self._from_golden})
        return tensors
