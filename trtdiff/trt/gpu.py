"""The NVIDIA driver and the GPUs it sees, asked through the CUDA driver API (`libcuda.so.1`) with
ctypes: no TensorRT, no CUDA toolkit, no nvidia-smi needed. `trtdiff doctor` reports it, and the
TensorRT runner asks it before deserializing an engine, so that "no driver here" or "this GPU's
compute capability is not one the engine was built for" is said plainly instead of a CUDA error.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

DRIVER_LIBRARY = "libcuda.so.1"
_CC_MAJOR, _CC_MINOR = 75, 76  # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR


@dataclass(frozen=True)
class DriverStatus:
    """Whether CUDA work can run here: the driver's CUDA version and each GPU's compute capability
    ("9.0"), or why not (`problem`, a phrase that completes "cannot run it here: ...")."""

    driver_cuda: str | None
    compute_capabilities: tuple[str, ...]
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _as_version(value: int) -> str:
    """`12040` (as cuDriverGetVersion/cudaRuntimeGetVersion give it) -> "12.4"."""
    return f"{value // 1000}.{value % 1000 // 10}"


def library_version(library: str, function: str) -> str | None:
    """The CUDA version a driver or runtime library reports ("12.4"); None if it cannot be loaded."""
    try:
        handle = ctypes.CDLL(library)
    except OSError:
        return None
    value = ctypes.c_int(0)
    if getattr(handle, function)(ctypes.byref(value)) != 0:
        return None
    return _as_version(value.value)


def driver_status(library: str = DRIVER_LIBRARY) -> DriverStatus:
    """Load the driver, initialise it, and read each GPU's compute capability."""
    try:
        cuda = ctypes.CDLL(library)
    except OSError:
        return DriverStatus(None, (), f"no NVIDIA driver ({library} cannot be loaded)")
    version = ctypes.c_int(0)
    driver = _as_version(version.value) if cuda.cuDriverGetVersion(ctypes.byref(version)) == 0 else None
    status = cuda.cuInit(0)
    if status != 0:
        return DriverStatus(driver, (), f"the NVIDIA driver did not initialise (CUDA error {status})")
    count = ctypes.c_int(0)
    if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return DriverStatus(driver, (), "the NVIDIA driver sees no GPU")
    capabilities = []
    for index in range(count.value):
        device, major, minor = ctypes.c_int(0), ctypes.c_int(0), ctypes.c_int(0)
        cuda.cuDeviceGet(ctypes.byref(device), index)
        cuda.cuDeviceGetAttribute(ctypes.byref(major), _CC_MAJOR, device)
        cuda.cuDeviceGetAttribute(ctypes.byref(minor), _CC_MINOR, device)
        capabilities.append(f"{major.value}.{minor.value}")
    return DriverStatus(driver, tuple(capabilities), None)


def runs_on(gpu: str, targets: tuple[str, ...], newer_too: bool) -> bool:
    """Whether an engine built for `targets` (compute capabilities) can run on a `gpu` of that
    compute capability; `newer_too`: also on GPUs newer than the highest target (RTX's default)."""
    if gpu in targets:
        return True
    as_tuple = [tuple(int(p) for p in cc.split(".")) for cc in targets]
    return newer_too and bool(as_tuple) and tuple(int(p) for p in gpu.split(".")) > max(as_tuple)
