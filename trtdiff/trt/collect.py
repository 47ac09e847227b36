"""What the TensorRT debug listener does with each tensor once it is on the host: map its engine
name to an ONNX tensor name, keep only the tensors asked for, and hand it on.

Kept apart from the listener (which must subclass `trt.IDebugListener`) because TensorRT's Python
binding swallows any exception raised inside `process_debug_tensor`: it prints "[ERROR]
Exception caught in processDebugTensor()" and carries on. So the first error is recorded here
and re-raised by the runner once `execute_async_v3` returns; later tensors of that run are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

import numpy as np

log = logging.getLogger(__name__)

Consumer = Callable[[str, np.ndarray], None]


class TensorRouter:
    """Routes (engine name, host array) pairs to `consume(onnx_name, array)` for one run."""

    def __init__(self, aliases: Mapping[str, str] | Iterable[str] | None,
                 wanted: Iterable[str] | None = None) -> None:
        """`aliases`: engine tensor name -> ONNX tensor name (`trt.mapping.tensor_aliases`; a
        plain collection of names maps each to itself; None: no model, every engine name is
        taken as it is); `wanted`: the ONNX tensors to hand on (None: all of them)."""
        if aliases is None or isinstance(aliases, Mapping):
            self.aliases = dict(aliases) if aliases is not None else None
        else:
            self.aliases = {name: name for name in aliases}
        self.wanted = set(wanted) if wanted is not None else None
        self.consume: Consumer | None = None
        self.error: BaseException | None = None
        self._delivered: dict[str, None] = {}  # insertion-ordered sets
        self._internal: dict[str, None] = {}  # engine tensors with no ONNX counterpart

    @property
    def delivered(self) -> list[str]:
        """ONNX tensors handed on in this run, in order."""
        return list(self._delivered)

    @property
    def internal(self) -> list[str]:
        """Engine tensors with no ONNX counterpart seen in this run, in order."""
        return list(self._internal)

    def start(self, consume: Consumer) -> None:
        """Begin a run: forget what the previous run delivered."""
        self.consume = consume
        self.error = None
        self._delivered = {}
        self._internal = {}

    def onnx_name(self, engine_name: str) -> str | None:
        """The ONNX tensor this engine tensor is, if it is one the caller wants."""
        name = engine_name if self.aliases is None else self.aliases.get(engine_name)
        if name is None or (self.wanted is not None and name not in self.wanted):
            return None
        return name

    def accepts(self, engine_name: str) -> bool:
        """Whether a tensor is worth copying to the host at all (checked before the copy)."""
        if self.error is not None or self.consume is None:
            return False
        if self.aliases is not None and engine_name not in self.aliases:
            self._internal[engine_name] = None
            return False
        name = self.onnx_name(engine_name)
        return name is not None and name not in self._delivered

    def deliver(self, engine_name: str, array: np.ndarray) -> None:
        """Hand one tensor on; never raises (the error is kept for `raise_pending`)."""
        name = self.onnx_name(engine_name)
        if name is None or name in self._delivered or self.consume is None or self.error is not None:
            return
        try:
            self.consume(name, array)
        except BaseException as err:  # noqa: BLE001 - kept and re-raised by raise_pending()
            log.debug("consumer failed on %s: %s", name, err)
            self.error = err
            return
        self._delivered[name] = None

    def fail(self, err: BaseException) -> None:
        """Record an error raised while copying a tensor out (inside the listener)."""
        if self.error is None:
            self.error = err

    def raise_pending(self) -> None:
        """Re-raise, outside TensorRT's callback, the first error a run recorded."""
        if self.error is not None:
            err, self.error = self.error, None
            raise err
