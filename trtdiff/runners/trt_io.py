"""Host and device memory for the TensorRT runner: the debug listener, the output allocator
and copies to the host. Functions take the `tensorrt` module as an argument; this module never
imports it (only `trtdiff.runners.trt` does).

CUDA memory and streams come from Polygraphy's `polygraphy.cuda` (ctypes over libcudart), not
`cuda-python`: Polygraphy is already a dependency, is released with TensorRT by NVIDIA, finds the
CUDA runtime that TensorRT's wheels install, and needs nothing matched to the CUDA major version,
whereas cuda-python would be one more dependency whose module layout differs between releases.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from trtdiff.errors import ToolError
from trtdiff.trt import dtypes
from trtdiff.trt.collect import TensorRouter

log = logging.getLogger(__name__)


def cuda_module() -> Any:
    """Polygraphy's CUDA wrapper module (see the module docstring for why this one)."""
    from polygraphy import cuda

    return cuda


@contextlib.contextmanager
def cuda_errors(action: str) -> Iterator[None]:
    """Polygraphy's CUDA wrapper raises PolygraphyException (via G_LOGGER.critical): turn it into
    a ToolError with a fix, so the CLI prints one line instead of a traceback."""
    from polygraphy.exception import PolygraphyException

    try:
        yield
    except PolygraphyException as err:
        text = " ".join(str(err).split())
        raise ToolError(f"a CUDA call failed while {action}", text[:300],
                        "check the GPU, driver and CUDA runtime with `trtdiff doctor`") from err


def make_listener(trt: ModuleType, router: TensorRouter) -> Any:
    class _DebugListener(trt.IDebugListener):  # type: ignore[misc,name-defined]
        """Copies each debug tensor to the host inside the callback (its buffer is valid only
        there) and hands it to the router, which maps, filters and passes it on."""

        def __init__(self) -> None:
            trt.IDebugListener.__init__(self)

        def process_debug_tensor(self, addr: int, location: Any, type: Any, shape: Any,
                                 name: str, stream: int) -> None:
            if not router.accepts(name):
                return
            if type.name in dtypes.PACKED:
                log.warning("skipping debug tensor %s: packed %s has no per-element form", name, type.name)
                return
            try:
                on_host = location == trt.TensorLocation.HOST
                array = copy_to_host(addr, type.name, tuple(shape), stream, on_host)
            except Exception as err:  # noqa: BLE001 - TensorRT would swallow it; re-raised after the run
                router.fail(err)
                return
            router.deliver(name, array)

    return _DebugListener()


def make_allocator(trt: ModuleType) -> Any:
    cuda = cuda_module()

    class _OutputAllocator(trt.IOutputAllocator):  # type: ignore[misc,name-defined]
        """Device memory for network outputs, grown on demand (handles data-dependent shapes)."""

        def __init__(self) -> None:
            trt.IOutputAllocator.__init__(self)
            self.buffers: dict[str, Any] = {}
            self.shapes: dict[str, tuple[int, ...]] = {}

        def reallocate_output(self, tensor_name: str, memory: int, size: int, alignment: int) -> int:
            buffer = self.buffers.get(tensor_name)
            if buffer is None:
                buffer = self.buffers[tensor_name] = cuda.DeviceArray.raw((max(size, 1),))
            else:
                buffer.resize((max(size, 1),))
            return int(buffer.ptr)

        def reallocate_output_async(self, tensor_name: str, memory: int, size: int,
                                    alignment: int, stream: int) -> int:
            return self.reallocate_output(tensor_name, memory, size, alignment)

        def notify_shape(self, tensor_name: str, shape: Any) -> None:
            self.shapes[tensor_name] = tuple(int(d) for d in shape)

        def free(self) -> None:
            for buffer in self.buffers.values():
                buffer.free()
            self.buffers.clear()

    return _OutputAllocator()


def copy_to_host(addr: int, trt_type: str, shape: tuple[int, ...], stream: int,
                  on_host: bool) -> np.ndarray:
    """An owned host array holding the tensor at `addr` (device or host memory)."""
    dtype = dtypes.numpy_dtype(trt_type)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize if shape else dtype.itemsize
    raw = bytearray(nbytes)
    if nbytes:
        target = (ctypes.c_char * nbytes).from_buffer(raw)
        if on_host:
            ctypes.memmove(target, addr, nbytes)
        else:
            cuda = cuda_module()
            wrapper = cuda.wrapper()
            wrapper.stream_synchronize(stream)
            wrapper.memcpy(dst=ctypes.addressof(target), src=addr, nbytes=nbytes,
                           kind=cuda.MemcpyKind.DeviceToHost, stream_ptr=stream)
            wrapper.stream_synchronize(stream)
        del target
    return dtypes.host_array(raw, trt_type, shape, copy=False)
