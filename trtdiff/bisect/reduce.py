"""Reduce: the smallest subgraph that still shows the failure, as a standalone model with its
inputs captured from the reference run.

Like Polygraphy's `debug reduce`, outputs first, then inputs:
1. outputs: the earliest tensor (in topological order) at which the target already fails, found
   by bisecting over "the model marked up to tensor i fails" (more marked tensors can only add
   failures, so the question is monotone); the model is then cut to that one output;
2. inputs: the latest point from which the failure still shows when everything before it is fed
   from the reference run instead of being computed by the target (bisecting over a cut in the
   topological order of the remaining nodes).

A failure is an accuracy mismatch beyond tolerance or a target that errors out (`fail_on`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper

from trtdiff.bisect.evaluate import Infer
from trtdiff.bisect.graph import external_inputs, extract, needed_nodes
from trtdiff.bisect.state import Outcome
from trtdiff.errors import UsageError
from trtdiff.dataset.npz import save_npz
from trtdiff.fileio import swap_into_place
from trtdiff.runners.base import Runner
from trtdiff.model import (comparable_tensors, inferred_value_info, save_model, topological_nodes, user_input_names,
                           with_outputs)

log = logging.getLogger(__name__)

FAIL_ON = ("any", "mismatch", "error")
Check = Callable[[onnx.ModelProto, Mapping[str, np.ndarray]], Outcome]  # passed=False: failure shows


@dataclass(frozen=True)
class ReduceResult:
    """The reduced model, the inputs that reproduce its failure, and how it was found."""

    model: onnx.ModelProto
    inputs: dict[str, np.ndarray]
    outputs: tuple[str, ...]
    nodes: tuple[str, ...]
    original_nodes: int
    evaluations: int
    outcome: Outcome
    phases: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": list(self.nodes), "node_count": len(self.nodes), "original_node_count": self.original_nodes,
            "inputs": {k: f"{v.dtype}{list(v.shape)}" for k, v in self.inputs.items()},
            "outputs": list(self.outputs), "evaluations": self.evaluations,
            "evaluations_by_phase": dict(self.phases), "failure": self.outcome.info,
        }


def capture_reference(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray],
                      infer: Infer) -> dict[str, np.ndarray]:
    """Every node output of the reference run (plus the feeds), by tensor name."""
    names = [o for node in model.graph.node if node.op_type != "Constant" for o in node.output if o]
    tensors = dict(feeds)
    tensors.update(infer(with_outputs(model, names), feeds))
    return tensors


class _Probe:
    """Cuts, checks and counts; each (inputs, outputs) cut is evaluated once."""

    def __init__(self, model: onnx.ModelProto, reference: Mapping[str, np.ndarray], check: Check, fail_on: str,
                 progress: Callable[[int, int], None] | None) -> None:
        self.model, self.reference, self.check, self.fail_on = model, reference, check, fail_on
        self.infos = inferred_value_info(model)
        self.nodes = topological_nodes(model.graph)
        self.progress = progress
        self.seen: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[bool, Outcome]] = {}

    def cut(self, inputs: Sequence[str], outputs: Sequence[str],
            pool: Sequence[onnx.NodeProto] | None = None) -> onnx.ModelProto:
        part = extract(self.model, inputs, outputs, infos=self.infos, nodes=pool)
        for vi in part.graph.input:
            if not vi.type.tensor_type.elem_type and vi.name in self.reference:
                array = self.reference[vi.name]
                elem = helper.np_dtype_to_tensor_dtype(array.dtype)
                vi.CopyFrom(helper.make_tensor_value_info(vi.name, elem, array.shape))
        return part

    def fails(self, inputs: Sequence[str], outputs: Sequence[str],
              pool: Sequence[onnx.NodeProto] | None = None) -> bool:
        key = (tuple(inputs), tuple(outputs))
        if key not in self.seen:
            part = self.cut(inputs, outputs, pool)
            outcome = self.check(part, {name: self.reference[name] for name in inputs})
            errored = "error" in outcome.info
            failed = not outcome.passed and (self.fail_on == "any" or (self.fail_on == "error") == errored)
            self.seen[key] = (failed, outcome)
            log.info("reduce evaluation %d: %d outputs, %d inputs -> %s", len(self.seen), len(outputs),
                     len(inputs), "fails" if failed else "passes")
            if self.progress is not None:
                self.progress(len(self.seen), len(part.graph.node))
        return self.seen[key][0]


def reduce_failure(model: onnx.ModelProto, reference: Mapping[str, np.ndarray], check: Check, *,
                   fail_on: str = "any", progress: Callable[[int, int], None] | None = None) -> ReduceResult:
    """Find the smallest failing subgraph (see module doc); `reference` holds the feeds and every
    reference tensor (`capture_reference`)."""
    if fail_on not in FAIL_ON:
        raise UsageError(f"unknown --fail-on '{fail_on}'", f"choose from {', '.join(FAIL_ON)}")
    probe = _Probe(model, reference, check, fail_on, progress)
    sources = user_input_names(model)
    tensors = [t.name for t in comparable_tensors(model, infos=probe.infos)[0] if t.name in reference]
    graph_outputs = [o.name for o in model.graph.output]
    if not probe.fails(sources, list(dict.fromkeys(tensors + graph_outputs))):
        raise UsageError("nothing to reduce: the target matches the reference on every tensor",
                         f"no tensor fails with these tolerances (fail on: {fail_on})",
                         "tighten --atol/--rtol, or check the precision options")
    first = _first_failing(probe, sources, tensors) if tensors else None
    outputs = [tensors[first]] if first is not None else graph_outputs
    output_evals = len(probe.seen)
    chain = needed_nodes(probe.nodes, sources, outputs)
    start = _latest_cut(probe, chain, outputs)
    pool = chain[start:]
    inputs = _cut_inputs(pool, model)
    if not probe.fails(inputs, outputs, pool):
        log.warning("the reduced subgraph no longer fails on its own; keeping it as the best cut found")
    part = probe.cut(inputs, outputs, pool)
    _, outcome = probe.seen[(tuple(inputs), tuple(outputs))]
    return ReduceResult(part, {n: np.asarray(reference[n]) for n in inputs}, tuple(outputs),
                        tuple(n.name for n in part.graph.node), len(model.graph.node), len(probe.seen), outcome,
                        {"outputs": output_evals, "inputs": len(probe.seen) - output_evals})


def _first_failing(probe: _Probe, sources: list[str], tensors: list[str]) -> int | None:
    """Smallest i such that marking tensors[:i+1] fails, if that one tensor alone fails too."""
    low, high = -1, len(tensors) - 1
    if not probe.fails(sources, tensors):
        return None  # only a graph output that is not a comparable tensor fails
    while high - low > 1:
        mid = (low + high) // 2
        if probe.fails(sources, tensors[: mid + 1]):
            high = mid
        else:
            low = mid
    return high if probe.fails(sources, [tensors[high]]) else None


def _cut_inputs(pool: Sequence[onnx.NodeProto], model: onnx.ModelProto) -> list[str]:
    return external_inputs(pool, {init.name for init in model.graph.initializer})


def _latest_cut(probe: _Probe, chain: list[onnx.NodeProto], outputs: list[str]) -> int:
    """Largest j such that the nodes chain[j:], fed from the reference, still fail (j = 0, the
    whole chain, is known to fail from the output phase)."""
    low, high = 0, len(chain)
    while high - low > 1:
        mid = (low + high) // 2
        if probe.fails(_cut_inputs(chain[mid:], probe.model), outputs, chain[mid:]):
            low = mid
        else:
            high = mid
    return low


def save_reduced(result: ReduceResult, directory: str | os.PathLike[str], stem: str = "reduced",
                 calibration: Iterable[Mapping[str, np.ndarray]] | None = None) -> dict[str, Path]:
    """Write `<stem>.onnx` and `<stem>_inputs.npz` (so `trtdiff run` reproduces the failure) and,
    given the reduced model's inputs over the calibration samples (`calibration`, as
    `calibration_inputs` makes them), the folder `<stem>_calibration/` of one .npz per sample
    (for `trtdiff run --calibration-data`), written first: should making it fail, the files of an
    earlier reduction stay together."""
    out = Path(directory)
    paths = {"model": out / f"{stem}.onnx", "inputs": out / f"{stem}_inputs.npz"}
    if calibration is not None:
        paths["calibration"] = _save_samples(calibration, out / f"{stem}_calibration")
    save_model(result.model, paths["model"])
    save_npz(result.inputs, paths["inputs"])
    return paths


def calibration_inputs(model: onnx.ModelProto, names: Sequence[str], samples: Iterable[Mapping[str, np.ndarray]],
                       open_runner: Callable[[onnx.ModelProto], Runner]) -> Iterator[dict[str, np.ndarray]]:
    """The tensors `names` (a reduced model's inputs) of the FP32 `model` on each calibration sample,
    from one session of the model with them marked (`open_runner`): calibrating the reduced model on
    them measures the ranges that calibrating the whole model on the samples measured, so a reduced
    INT8/FP8 model quantizes as it did inside the whole one."""
    computed = [n for n in names if n not in user_input_names(model)]
    with contextlib.ExitStack() as stack:
        runner = stack.enter_context(open_runner(with_outputs(model, computed))) if computed else None
        for feeds in samples:
            tensors = runner.infer(dict(feeds)) if runner is not None else {}
            yield {name: np.asarray(feeds[name] if name in feeds else tensors[name]) for name in names}


def _save_samples(samples: Iterable[Mapping[str, np.ndarray]], folder: Path) -> Path:
    """One .npz per sample in `folder`, built beside it and swapped in whole (a folder left by an
    earlier run never mixes its samples with these)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.tmp-"))
    try:
        for index, sample in enumerate(samples):
            save_npz(dict(sample), building / f"sample_{index:05d}.npz")
        os.chmod(building, 0o755)
        swap_into_place(building, folder)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return folder
