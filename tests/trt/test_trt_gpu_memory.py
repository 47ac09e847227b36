"""The CUDA half of the TensorRT runner, on a REAL NVIDIA GPU but without TensorRT: the device
and host copies the debug listener and the output reader make (`trt_io.copy_to_host`) through
Polygraphy's `polygraphy.cuda`. Marked `gpu`; skips with the reason where no GPU is present."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from trtdiff.commands.doctor import check_gpu
from trtdiff.runners import trt_io
from trtdiff.trt.gpu import driver_status

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cuda():
    if not driver_status().ok or not check_gpu().ok:
        pytest.skip("no NVIDIA GPU and driver here (trtdiff doctor says why)")
    return trt_io.cuda_module()


@pytest.mark.parametrize("trt_type, dtype", [
    ("FLOAT", np.float32), ("HALF", np.float16), ("BF16", ml_dtypes.bfloat16),
    ("FP8", ml_dtypes.float8_e4m3fn), ("INT8", np.int8), ("INT64", np.int64), ("BOOL", np.bool_),
])
def test_device_tensor_reaches_the_host_intact(cuda, trt_type, dtype):
    values = (np.random.default_rng(3).uniform(-4, 4, (2, 3, 5)) * 10).astype(np.float32)
    host = values.astype(dtype)
    with cuda.Stream() as stream, cuda.DeviceArray.raw((host.nbytes,)) as device:
        cuda.wrapper().memcpy(dst=device.ptr, src=host.ctypes.data, nbytes=host.nbytes,
                              kind=cuda.MemcpyKind.HostToDevice, stream_ptr=stream.ptr)
        out = trt_io.copy_to_host(device.ptr, trt_type, host.shape, stream.ptr, on_host=False)
    expected = host.astype(np.float32) if trt_type in ("BF16", "FP8") else host
    assert out.dtype == expected.dtype and out.shape == host.shape
    np.testing.assert_array_equal(out, expected)


def test_host_located_tensor_is_copied_not_shared(cuda):
    host = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = trt_io.copy_to_host(host.ctypes.data, "FLOAT", (3, 4), 0, on_host=True)
    host[0, 0] = 99
    assert out[0, 0] == 0 and np.array_equal(out.ravel()[1:], np.arange(1, 12))


def test_scalar_and_empty_tensors(cuda):
    scalar = np.array(2.5, dtype=np.float32)
    with cuda.Stream() as stream, cuda.DeviceArray.raw((4,)) as device:
        cuda.wrapper().memcpy(dst=device.ptr, src=scalar.ctypes.data, nbytes=4,
                              kind=cuda.MemcpyKind.HostToDevice, stream_ptr=stream.ptr)
        assert trt_io.copy_to_host(device.ptr, "FLOAT", (), stream.ptr, on_host=False).item() == 2.5
        assert trt_io.copy_to_host(device.ptr, "FLOAT", (0, 3), stream.ptr, on_host=False).shape == (0, 3)
