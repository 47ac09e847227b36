"""The runner protocol every backend satisfies (ONNX Runtime now, TensorRT in runners/trt.py).

A runner is a context manager: it builds its session or engine in `__enter__` (for TensorRT that
includes the engine build, optimization profiles and the choice of how intermediate tensors are
exposed) and frees it in `__exit__`. Between the two, `infer` may be called any number of times.

`infer` returns every tensor the runner exposes, keyed by ONNX tensor name. A runner that can hand
tensors over one at a time (TensorRT's debug listener) may also implement `infer_each`, which calls
`consume(name, array)` as soon as each tensor is ready so the caller can compare and drop it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class TensorSpec:
    """Name, dtype and shape of a runner input or output; a dimension is an int, a symbolic
    name (str) or None when unknown."""

    name: str
    dtype: np.dtype
    shape: tuple[int | str | None, ...] | None

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) and d >= 0 for d in self.shape)


TensorConsumer = Callable[[str, np.ndarray], None]


@runtime_checkable
class Runner(Protocol):
    """What the comparison pipeline needs from a backend."""

    name: str

    def __enter__(self) -> Runner: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def input_specs(self) -> list[TensorSpec]:
        """The inputs the caller must feed, in model order."""
        ...

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once and return every exposed tensor by ONNX tensor name."""
        ...

    def describe(self) -> dict[str, Any]:
        """Facts for the report: backend, version, providers or engine details."""
        ...


def infer_each(runner: Runner, feeds: Mapping[str, np.ndarray], consume: TensorConsumer) -> None:
    """Hand each output tensor to `consume`, streaming where the runner supports it.

    Tensors are removed from the result dict as they are consumed, so memory falls as the caller
    drops them."""
    streaming = getattr(runner, "infer_each", None)
    if callable(streaming):
        streaming(feeds, consume)
        return
    outputs = runner.infer(feeds)
    for name in list(outputs):
        consume(name, outputs.pop(name))
