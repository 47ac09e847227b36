"""Where a TensorRT runner's engine comes from: built from the ONNX model or loaded from
`--load-engine` (checked against its sidecar), saved where `--save-engine` says, and checked for
whether it can run on this machine. Everything here happens before deserialization, so it all
runs on a CPU with TensorRT-RTX, and `build_engine` (`trtdiff build`) is just this part.

EXERCISED in CI with TensorRT-RTX 1.7 on a CPU: import, options against the module's features,
parse, build, save with the sidecar, load and check a saved plan, and the stop when the engine
cannot run here (no driver). The compute-capability refusal on a GPU was not seen by trtdiff
itself (it needs a 9.0 GPU with a driver, which CI lacks).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import onnx

from trtdiff.errors import UsageError
from trtdiff.runners import trt_build
from trtdiff.runners.trt import import_tensorrt
from trtdiff.trt import gpu
from trtdiff.trt import plan as planfile
from trtdiff.trt.features import Features
from trtdiff.trt.options import TrtOptions
from trtdiff.trt.runnable import describe_targets, not_runnable_error, why_not_runnable

log = logging.getLogger(__name__)


class PlanSource:
    """Builds or loads one serialized engine; `prepare()` does it, after which `trt`,
    `features`, `logger`, `plan`, `mode`, `marked`, `missing`, `targets` and `facts` are set."""

    def __init__(self, model: onnx.ModelProto | None, options: TrtOptions, name: str,
                 tensors: Sequence[str] | None = None) -> None:
        if model is None and options.load_engine is None:
            raise UsageError("the TensorRT runner needs an ONNX model or --load-engine",
                             "there is nothing to build or load", "pass the model file")
        self.model = model
        self.options = options
        self.name = name
        self.tensors = list(tensors) if tensors is not None else None
        self.trt: Any = None
        self.features: Features | None = None
        self.logger: Any = None
        self.plan = b""
        self.mode: str | None = None
        self.marked: list[str] = []
        self.missing: list[str] = []  # tensors asked for that the network lacks
        self.targets: tuple[str, ...] = ()  # compute capabilities it targets (RTX); (): default
        self.warnings: list[str] = []
        self.facts: dict[str, Any] = {"backend": "tensorrt"}

    @property
    def loaded(self) -> bool:
        return self.options.load_engine is not None

    def prepare(self) -> None:
        """Import TensorRT, check the options against its features, build or load the plan and
        save it where --save-engine says."""
        self.trt, self.features = import_tensorrt(self.options.flavor)
        self.features.check_options(self.options)
        self._check_current_gpu()
        self.facts.update(flavor=self.features.flavor)
        self.logger = trt_build.make_logger(self.trt)
        trt_build.load_plugins(self.trt, self.logger, self.options)
        if self.loaded:
            self._load(self.features)
        else:
            self._build(self.trt, self.features)
        if self.options.save_engine is not None:
            planfile.save_plan(self.plan, self.options.save_engine, self.plan_facts())
        if self.targets:
            self.facts.update(compute_capabilities=list(self.targets))
        for warning in self.warnings:
            log.warning("%s", warning)

    def _check_current_gpu(self) -> None:
        """`--trt-compute-capability current` builds for this machine's GPU: say so when none."""
        if "current" not in self.options.compute_capabilities or self.loaded:
            return
        driver = gpu.driver_status()
        if not driver.ok:
            raise UsageError("--trt-compute-capability current needs a GPU on this machine",
                             str(driver.problem), "name the compute capabilities to build for "
                             "(e.g. 8.6 8.9), or leave the option out for TensorRT-RTX's default set")

    def _load(self, features: Features) -> None:
        assert self.options.load_engine is not None
        digest = planfile.model_digest(self.model) if self.model is not None else None
        self.plan, facts = planfile.read_plan(self.options.load_engine)
        self.warnings += planfile.check_plan(facts, features.flavor, features.version, digest,
                                             self.options.load_engine)
        self.mode = facts.mode if facts else (self.options.mode or features.default_mode())
        self.marked = list(facts.marked) if facts else []
        self.targets = facts.compute_capabilities if facts else ()
        self.facts.update(engine=f"loaded from {self.options.load_engine}",
                          version_compatible=bool(facts and facts.version_compatible))

    def _build(self, trt: ModuleType, features: Features) -> None:
        assert self.model is not None  # __init__ refuses no model and no engine
        self.mode = features.resolve_mode(self.options)
        onnx_tensors = {o for n in self.model.graph.node for o in n.output if o}
        started = time.perf_counter()
        built = trt_build.build_plan(trt, self.logger, self.model, self.options, self.mode,
                                     self.tensors, onnx_tensors)
        self.plan, self.marked, self.missing = built.plan, list(built.marked), list(built.missing)
        self.targets = built.compute_capabilities
        self.facts.update(engine="built", build_seconds=round(time.perf_counter() - started, 2))

    def plan_facts(self) -> planfile.PlanFacts:
        """What the sidecar records about this plan."""
        assert self.features is not None and self.mode is not None
        digest = planfile.model_digest(self.model) if self.model is not None else None
        return planfile.PlanFacts(
            tensorrt_version=self.features.version, mode=self.mode, model_digest=digest,
            options=self.options.describe(), marked=tuple(self.marked),
            version_compatible=self.options.version_compatible, flavor=self.features.flavor,
            compute_capabilities=self.targets)

    def check_runnable(self) -> None:
        """Stop with EngineNotRunnable (saying where the engine is) when this machine cannot run
        it: no NVIDIA driver, or a GPU the engine was not built for (TensorRT-RTX)."""
        assert self.features is not None
        driver = gpu.driver_status()
        validity, diagnostics = None, []
        if driver.ok and self.features.engine_validity:
            state, bits = self.trt.Runtime(self.logger).get_engine_validity(self.plan)
            validity = state.name
            members = self.trt.EngineInvalidityDiagnostics.__members__
            diagnostics = [name for name, member in members.items() if int(bits) & int(member)]
        reason = why_not_runnable(self.features, driver, validity, diagnostics, self.targets)
        if reason is None:
            return
        path = self.options.load_engine or self.options.save_engine or self._save_aside()
        raise not_runnable_error(self.features, reason, Path(path), self.loaded, self.targets)

    def _save_aside(self) -> Path:
        """Keep a built engine that cannot run here in a fresh temporary folder (nothing the
        user owns is replaced); --save-engine chooses the place instead."""
        path = Path(tempfile.mkdtemp(prefix="trtdiff-engine-")) / f"{self.name}.engine"
        planfile.save_plan(self.plan, path, self.plan_facts())
        return path


@dataclass(frozen=True)
class BuiltEngine:
    """An engine built and saved without running it (`trtdiff build`)."""

    path: Path
    facts: planfile.PlanFacts
    build_seconds: float
    label: str  # which TensorRT built it, e.g. "TensorRT-RTX 1.7.1.116"
    targets: str  # the GPUs it runs on, in words ("8.6, 8.9"; RTX's default set; "the GPU it was built on")


def build_engine(model: onnx.ModelProto, options: TrtOptions, path: str | Path) -> BuiltEngine:
    """Parse and build `model` (its precision is in the model) and save the engine and its
    sidecar at `path`; nothing is deserialized or run, so this works wherever the builder does
    (TensorRT-RTX on a CPU). With `--trt-mode debug/outputs` every node output is marked."""
    source = PlanSource(model, replace(options, save_engine=Path(path), load_engine=None), "engine")
    started = time.perf_counter()
    source.prepare()
    assert source.features is not None
    return BuiltEngine(Path(path), source.plan_facts(), round(time.perf_counter() - started, 2),
                       source.features.label, describe_targets(source.features, source.targets))
