"""`trtdiff doctor`: what this machine can run. TensorRT (version, or why it is missing and what to
install), the CUDA driver and runtime, the GPU (through nvidia-smi when present), ONNX Runtime and
its execution providers, and the versions of onnx, Polygraphy and NumPy.

It only reports: the exit code is 0 whatever is missing, unless `--require trt` (or `gpu`) asks
for a failure (exit 3) when that piece is absent, which suits CI jobs that need a GPU runner.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import platform
import shutil
import subprocess
from dataclasses import asdict, dataclass

import click

from trtdiff.commands.paths import CheckedCommand

from trtdiff import __version__
from trtdiff.environment import package_version
from trtdiff.errors import ToolError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _package_version(name: str) -> Check:
    version = package_version(name)
    return Check(name, version is not None, version or "not installed")


def check_tensorrt() -> Check:
    from trtdiff.runners.trt import tensorrt_available

    ok, detail = tensorrt_available()
    return Check("tensorrt", ok, detail)


def _cuda_version(library: str, function: str) -> str | None:
    """`12040` from cudaRuntimeGetVersion/cuDriverGetVersion -> "12.4"; None if not loadable."""
    try:
        handle = ctypes.CDLL(library)
    except OSError:
        return None
    value = ctypes.c_int(0)
    if getattr(handle, function)(ctypes.byref(value)) != 0:
        return None
    return f"{value.value // 1000}.{value.value % 1000 // 10}"


def check_cuda() -> list[Check]:
    driver = _cuda_version("libcuda.so.1", "cuDriverGetVersion")
    runtime = None
    for name in ("libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"):
        runtime = _cuda_version(name, "cudaRuntimeGetVersion")
        if runtime:
            break
    return [
        Check("cuda driver", driver is not None,
              f"supports CUDA {driver}" if driver else "libcuda.so.1 not found (no NVIDIA driver)"),
        Check("cuda runtime", runtime is not None,
              f"libcudart {runtime}" if runtime else "libcudart not on the loader path "
              "(TensorRT's wheels install it; or pip install nvidia-cuda-runtime-cu12)"),
    ]


def check_gpu() -> Check:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return Check("gpu", False, "nvidia-smi not found")
    query = "--query-gpu=name,memory.total,driver_version,compute_cap"
    try:
        done = subprocess.run([smi, query, "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return Check("gpu", False, f"nvidia-smi failed: {err}")
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        return Check("gpu", False, (done.stderr or done.stdout).strip() or "nvidia-smi found no GPU")
    return Check("gpu", True, "; ".join(lines))


def check_onnxruntime() -> Check:
    try:
        ort = importlib.import_module("onnxruntime")
    except ImportError as err:
        return Check("onnxruntime", False, f"not importable: {err}")
    providers = ", ".join(ort.get_available_providers())
    return Check("onnxruntime", True, f"{ort.__version__} (providers: {providers})")


def collect() -> list[Check]:
    """Every check, in the order they are printed."""
    checks = [Check("trtdiff", True, __version__),
              Check("python", True, f"{platform.python_version()} on {platform.platform()}"),
              check_tensorrt(), *check_cuda(), check_gpu(), check_onnxruntime()]
    checks += [_package_version(name) for name in ("onnx", "polygraphy", "numpy")]
    return checks


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    return "\n".join(f"{c.name:<{width}}  {'ok     ' if c.ok else 'missing'}  {c.detail}"
                     for c in checks)


@click.command("doctor", cls=CheckedCommand)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.option("--require", type=click.Choice(["trt", "gpu"]), multiple=True,
              help="Fail (exit 3) when this is missing; repeat for several.")
def doctor_command(as_json: bool, require: tuple[str, ...]) -> None:
    """Show what this machine can run: TensorRT, CUDA, GPU, ONNX Runtime and its providers."""
    checks = collect()
    if as_json:
        click.echo(json.dumps([asdict(c) for c in checks], indent=1))
    else:
        click.echo(render(checks))
    by_name = {c.name: c for c in checks}
    for need in require:
        check = by_name["tensorrt" if need == "trt" else "gpu"]
        if not check.ok:
            raise ToolError(f"{check.name} is required but missing", check.detail.split(";")[0],
                            check.detail.split(";", 1)[1] if ";" in check.detail else
                            "see `trtdiff doctor` for what is installed")
