"""The comparison over a data set: sample after sample, the reference then the target, each tensor
compared as it arrives and merged into its tensor's aggregate, then dropped.

One reference session and one target session (or one per segment) serve every sample. Memory holds
one sample's inputs and tensors at a time, plus each tensor's merged counts: it does not grow with
the number of samples. Inputs and outputs asked to be saved are streamed into their .npz files.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import onnx

from trtdiff.measure.align import AlignedResults
from trtdiff.dataset import Digest, NonFiniteTally, npz_writer, sample_digest
from trtdiff.dataset.npz import NpzWriter
from trtdiff.inputs import Feeds
from trtdiff.progress import Phases
from trtdiff.reference import ReferenceRun
from trtdiff.request import Prepared, RunRequest
from trtdiff.target_run import TargetRun

COMPARE_WORKERS = min(4, os.cpu_count() or 1)  # per-tensor comparisons run in parallel (the kernel releases the GIL)
# called with (index, feeds, reference tensors) after the reference run of a sample, before its target run
ReferenceHook = Callable[[int, Feeds, dict[str, np.ndarray]], None]
Saver = Callable[[str, np.ndarray], None]


@dataclass
class SamplesCompared:
    aligned: AlignedResults
    count: int
    fingerprint: str
    first_sample: dict[str, np.ndarray]  # sample 0's inputs, for their description (dtype and shape)
    warnings: list[str] = field(default_factory=list)


def compare_samples(request: RunRequest, prepared: Prepared, target_model: onnx.ModelProto,
                    timings: dict[str, float], reference_names: list[str] | None = None,
                    hook: ReferenceHook | None = None, bar: Phases | None = None) -> SamplesCompared:
    """Every sample of `prepared.dataset` through the reference (`reference_names`, default the
    selected tensors) and the target; `timings` gains the reference and target seconds. `bar`
    shows the samples, or for a single sample its phases (reference run, target segments)."""
    dataset = prepared.dataset
    bar = bar or Phases()
    single = dataset.count == 1
    digest, tally = Digest(), NonFiniteTally()
    first: dict[str, np.ndarray] = {}
    timings["reference_s"] = timings["target_and_compare_s"] = 0.0
    names = reference_names if reference_names is not None else prepared.selected
    reference_run = ReferenceRun(prepared.model, names, request.reference_providers, request.reference_runner,
                                 prepared.infos, prepared.golden)
    with ThreadPoolExecutor(max_workers=COMPARE_WORKERS) as pool, contextlib.ExitStack() as stack:
        aligned = AlignedResults(request.tolerances, pool=pool, gated=prepared.gated, fine=dataset.count != 1)
        stack.enter_context(reference_run)
        target = stack.enter_context(TargetRun(request, prepared, target_model, aligned))
        save_input = stack.enter_context(_input_saver(request.save_inputs, dataset.count == 1))
        save_output = stack.enter_context(_output_saver(request.save_outputs, _kept(request, prepared)))
        if not single:
            bar.start("comparing samples", dataset.count)
        for index, feeds in enumerate(dataset):
            first = first or {name: np.asarray(array) for name, array in feeds.items()}
            digest.update(feeds)
            tally.update(index, feeds)
            save_input(index, feeds)
            save_output.inputs(index, feeds)
            mark = time.perf_counter()
            if single:
                bar.start("reference run")
            reference = reference_run.outputs(index, feeds)
            timings["reference_s"] += time.perf_counter() - mark
            if hook is not None:
                hook(index, feeds, reference)
            mark = time.perf_counter()
            _run_target(index, feeds, reference, target, aligned, save_output, bar if single else None)
            timings["target_and_compare_s"] += time.perf_counter() - mark
            if not single:
                bar.advance()
    return SamplesCompared(aligned, digest.count, digest.hexdigest(), first, tally.warnings(digest.count))


def _run_target(index: int, feeds: Feeds, reference: dict[str, np.ndarray], target: TargetRun,
                aligned: AlignedResults, save: _OutputSaver, bar: Phases | None) -> None:
    """One sample through the target; reference tensors are dropped as they are used."""
    aligned.sample = index

    def consume(name: str, array: np.ndarray) -> None:
        ref = reference.pop(name, None)
        save.tensor(index, "target", name, array)
        if ref is not None:
            save.tensor(index, "reference", name, ref)
        aligned.add(name, ref, array)

    target.run(feeds, reference, consume, bar)
    aligned.wait()
    aligned.reference_only.update({name: None for name in reference})  # never produced by the target
    reference.clear()


def _kept(request: RunRequest, prepared: Prepared) -> set[str]:
    return {o.name for o in prepared.model.graph.output} | set(request.selection.outputs)


@contextlib.contextmanager
def _input_saver(path: str | None, single: bool) -> Iterator[Callable[[int, Feeds], None]]:
    """--save-inputs: one sample as NAME keys (what other tools read), several as I:NAME keys
    (what --load-inputs reads back as samples)."""
    if path is None:
        yield lambda index, feeds: None
        return
    with npz_writer(path) as writer:
        def save(index: int, feeds: Feeds) -> None:
            for name, array in feeds.items():
                writer.add(name if single else f"{index}:{name}", array)

        yield save


class _OutputSaver:
    """--save-outputs: `reference:I:NAME` and `target:I:NAME` for the graph outputs and --outputs,
    and `inputs:I`, the hash of sample I's inputs, by which --load-outputs knows the outputs are of
    the inputs it is given. Without a file (`writer` None) it saves nothing."""

    def __init__(self, writer: NpzWriter | None, kept: set[str]) -> None:
        self._writer, self._kept = writer, kept

    def inputs(self, index: int, feeds: Feeds) -> None:
        if self._writer is not None:
            self._writer.add(f"inputs:{index}", np.array(sample_digest(feeds)))

    def tensor(self, index: int, side: str, name: str, array: np.ndarray) -> None:
        if self._writer is not None and name in self._kept:
            self._writer.add(f"{side}:{index}:{name}", array)


@contextlib.contextmanager
def _output_saver(path: str | None, kept: set[str]) -> Iterator[_OutputSaver]:
    if path is None:
        yield _OutputSaver(None, kept)
        return
    with npz_writer(path) as writer:
        yield _OutputSaver(writer, kept)
