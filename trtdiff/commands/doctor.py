"""`trtdiff doctor`: what this machine can run. Each TensorRT flavour (TensorRT 10/11 as
`tensorrt`, TensorRT for RTX as `tensorrt_rtx`: version, or why it is missing and what to install;
for RTX the compute capabilities it builds for), which one `--target trt` uses, whether engines
can run here (driver, and the GPU's compute capability against what the flavour runs), the CUDA
driver and runtime, the GPU (through nvidia-smi when present), ONNX Runtime and its execution
providers, and the versions of onnx, Polygraphy and NumPy.

It only reports: the exit code is 0 whatever is missing, unless `--require trt` (a TensorRT that
builds), `trt-run` (one that can also run engines here) or `gpu` asks for a failure (exit 3) when
that piece is absent, which suits CI jobs that need a GPU runner.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
from dataclasses import asdict, dataclass

import click

from trtdiff.options.paths import CheckedCommand

from trtdiff.version import __version__
from trtdiff.environment import package_version
from trtdiff.errors import ToolError, TrtDiffError
from trtdiff.trt import gpu
from trtdiff.trt.features import FLAVORS, LABELS, MODULES, RTX_DEFAULT_DESCRIPTION, Features


REQUIREMENTS = {"trt": "trt-target", "trt-run": "trt-execution", "gpu": "gpu"}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _package_version(name: str) -> Check:
    version = package_version(name)
    return Check(name, version is not None, version or "not installed")


def check_flavor(flavor: str) -> tuple[Check, Features | None]:
    """One TensorRT flavour: its version and, for RTX, the compute capabilities it builds for."""
    from trtdiff.runners.trt import tensorrt_features

    name = "tensorrt" if flavor == "tensorrt" else "tensorrt-rtx"
    try:
        features = tensorrt_features(flavor)
    except TrtDiffError as err:
        return Check(name, False, f"{err.why}; {err.fix}"), None
    detail = f"{features.version} (module {MODULES[flavor]})"
    if features.build_targets:
        detail += (f"; builds for compute capabilities {', '.join(features.build_targets)} "
                   f"(default: {RTX_DEFAULT_DESCRIPTION}); runs an engine on a GPU of one it was "
                   f"built for, or newer than {features.build_targets[-1]}")
    return Check(name, True, detail), features


def check_execution(features: Features | None, driver: gpu.DriverStatus) -> Check:
    """Whether the TensorRT `--target trt` uses can run engines here, and if not why."""
    if features is None:
        return Check("trt-execution", False, "no TensorRT to run engines with")
    if not driver.ok:
        return Check("trt-execution", False, f"{driver.problem}: {features.label} can build engines "
                     "here (trtdiff build), not run them")
    if features.build_targets:
        unusable = [cc for cc in driver.compute_capabilities
                    if not gpu.runs_on(cc, features.build_targets, newer_too=True)]
        if unusable:
            return Check("trt-execution", False, f"this GPU has compute capability {', '.join(unusable)}; "
                         f"{features.label} runs engines on {', '.join(features.build_targets)} or newer")
    return Check("trt-execution", True, f"{features.label} on GPU compute capability "
                 f"{', '.join(driver.compute_capabilities)}")


def check_tensorrt(driver: gpu.DriverStatus) -> list[Check]:
    """Both flavours, which one `--target trt` uses by default, and whether it can run here."""
    checks, chosen = [], None
    for flavor in FLAVORS:
        check, features = check_flavor(flavor)
        checks.append(check)
        chosen = chosen or features
    target = (Check("trt-target", True, f"{chosen.label} (--trt-flavor chooses)") if chosen else
              Check("trt-target", False, f"neither {' nor '.join(LABELS.values())} is installed"))
    return [*checks, target, check_execution(chosen, driver)]


def check_cuda(driver: gpu.DriverStatus) -> list[Check]:
    runtime = None
    for name in ("libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"):
        runtime = gpu.library_version(name, "cudaRuntimeGetVersion")
        if runtime:
            break
    return [
        Check("cuda driver", driver.driver_cuda is not None,
              f"supports CUDA {driver.driver_cuda}" if driver.driver_cuda else driver.problem or "unknown"),
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
        import onnxruntime as ort
    except ImportError as err:
        return Check("onnxruntime", False, f"not importable: {err}")
    providers = ", ".join(ort.get_available_providers())
    return Check("onnxruntime", True, f"{ort.__version__} (providers: {providers})")


def collect() -> list[Check]:
    """Every check, in the order they are printed."""
    driver = gpu.driver_status()
    checks = [Check("trtdiff", True, __version__),
              Check("python", True, f"{platform.python_version()} on {platform.platform()}"),
              *check_tensorrt(driver), *check_cuda(driver), check_gpu(), check_onnxruntime()]
    checks += [_package_version(name) for name in ("onnx", "polygraphy", "numpy")]
    return checks


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    return "\n".join(f"{c.name:<{width}}  {'ok     ' if c.ok else 'missing'}  {c.detail}"
                     for c in checks)


@click.command("doctor", cls=CheckedCommand)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.option("--require", type=click.Choice(list(REQUIREMENTS)), multiple=True,
              help="Fail (exit 3) when this is missing: trt (a TensorRT that builds), trt-run (one "
                   "that also runs engines here), gpu. Repeat for several.")
def doctor_command(as_json: bool, require: tuple[str, ...]) -> None:
    """Show what this machine can run: TensorRT, CUDA, GPU, ONNX Runtime and its providers."""
    checks = collect()
    if as_json:
        click.echo(json.dumps([asdict(c) for c in checks], indent=1))
    else:
        click.echo(render(checks))
    by_name = {c.name: c for c in checks}
    for need in require:
        check = by_name[REQUIREMENTS[need]]
        if not check.ok:
            raise ToolError(f"{check.name} is required but missing", check.detail.split(";")[0],
                            check.detail.split(";", 1)[1] if ";" in check.detail else
                            "see `trtdiff doctor` for what is installed")
