"""Whether an engine can run here, and the one line when not (`trtdiff.trt.runnable`), decided from
the driver's report and TensorRT-RTX's engine-validity answer. The driver reports and validity
answers here are written in the test: no GPU TensorRT-RTX refuses (9.0) is reachable with a driver
from CI; test_trt_build_command.py shows the no-driver stop for real."""

from __future__ import annotations

from pathlib import Path

from trtdiff.runners.trt_runner import TensorRTRunner
from trtdiff.trt.features import Features
from trtdiff.trt.gpu import DriverStatus, driver_status, runs_on
from trtdiff.trt.options import TrtOptions
from trtdiff.trt.runnable import describe_targets, not_runnable_error, why_not_runnable

RTX = Features("rtx", "1.7.1.116", True, True, True, False, ("7.5", "8.0", "8.6", "8.9", "12.0", "12.1"), True)
TRT = Features("tensorrt", "10.13.0.35", True, True, True, True, (), False)
H100 = DriverStatus("13.0", ("9.0",), None)
NO_DRIVER = DriverStatus(None, (), "no NVIDIA driver (libcuda.so.1 cannot be loaded)")


def test_reasons_in_order_driver_then_validity():
    assert why_not_runnable(RTX, NO_DRIVER, None, [], ()) == NO_DRIVER.problem
    reason = why_not_runnable(RTX, H100, "INVALID", ["UNSUPPORTED_CC"], ())
    assert reason.startswith("this GPU's compute capability (9.0) is not one TensorRT-RTX 1.7.1.116 runs")
    assert "8.0, 8.6, 8.9, 12.0, 12.1 or newer" in reason
    assert "compute capability 8.6)" in why_not_runnable(RTX, H100, "INVALID", ["UNSUPPORTED_CC"], ("8.6",))
    assert why_not_runnable(RTX, H100, "VALID", [], ()) is None
    assert why_not_runnable(RTX, H100, "INVALID", ["OLD_CUDA_DRIVER"], ()) == "the NVIDIA driver is too old for it"
    assert why_not_runnable(TRT, H100, None, [], ()) is None  # no validity API: deserialization decides


def test_the_line_says_where_the_engine_is_and_what_to_run():
    path = Path("/tmp/x/target.engine")
    built = not_runnable_error(RTX, NO_DRIVER.problem, path, loaded=False, compute_capabilities=()).one_line()
    assert built.startswith("TensorRT-RTX 1.7.1.116 built the engine but cannot run it here: no NVIDIA driver")
    assert f"Engine saved at {path} (with its .trtdiff.json sidecar)" in built
    assert f"--load-engine {path}` and the same precision options" in built
    assert "drop --load-engine" not in built and "\n" not in built
    loaded = not_runnable_error(RTX, "x", path, loaded=True, compute_capabilities=("8.6",)).one_line()
    assert f"loaded the engine {path} but cannot run it here" in loaded
    assert "GPUs of compute capability 8.6" in loaded and "Engine saved" not in loaded
    assert describe_targets(TRT, ()) == "the kind of GPU it was built on"


def test_which_gpus_an_rtx_engine_runs_on():
    assert runs_on("8.6", RTX.build_targets, newer_too=True)
    assert not runs_on("9.0", RTX.build_targets, newer_too=True)
    assert runs_on("13.0", RTX.build_targets, newer_too=True)
    assert not runs_on("13.0", ("8.6",), newer_too=False)


def test_driver_status_here_is_a_report_not_an_error():
    status = driver_status()
    assert status.ok == (status.problem is None)
    assert status.ok or status.compute_capabilities == ()
    missing = driver_status("libcuda-that-does-not-exist.so.1")
    assert not missing.ok and "cannot be loaded" in missing.problem


def test_load_failure_advice_depends_on_whether_an_engine_was_loaded(model):
    """The wrong advice ("rebuild it ... drop --load-engine") only where an engine was loaded."""
    built = TensorRTRunner(model, TrtOptions())._load_failure().one_line()
    assert "could not load the engine it has just built" in built and "--load-engine" not in built
    loaded = TensorRTRunner(model, TrtOptions(load_engine=Path("m.engine")))._load_failure().one_line()
    assert "could not load the engine m.engine" in loaded and "drop --load-engine" in loaded
