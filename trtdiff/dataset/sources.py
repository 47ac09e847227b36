"""Where samples come from: the protocol every source follows, and the simplest sources.

A source yields samples (dicts input name -> array) lazily, one at a time, so a data set of any
length is read with one sample's arrays in memory. It also gives sample K alone (`sample`), so that
attribution can rerun the worst sample without holding the others. Sources do not validate:
`trtdiff.dataset.dataset.DataSet` checks every sample against the model.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

import numpy as np

from trtdiff.errors import UsageError
from trtdiff.inputs import Feeds, InputSettings, generate_sample, resolve_shapes
from trtdiff.runners.base import TensorSpec


class Source(Protocol):
    """Samples in order; `count` is None when only iterating tells (a loader script)."""

    kind: str  # "generated", "npz", "npz-directory", "polygraphy-json", "onnx-test-sets", "script", ...
    location: str  # the path it reads, "" when none

    def count(self) -> int | None: ...

    def __iter__(self) -> Iterator[Feeds]: ...

    def sample(self, index: int) -> Feeds: ...


def out_of_range(source: Source, index: int, count: int | None) -> UsageError:
    """The error for asking a source for a sample it does not have."""
    held = f"holds {count} samples" if count is not None else "has fewer samples"
    where = source.location or f"the {source.kind} data set"
    return UsageError(f"no sample {index} in {where}", f"it {held} (indices start at 0)",
                      "choose an index below the sample count")


class GeneratedSource:
    """Seeded random samples: sample i is drawn from (seed, i) alone, so any one of them can be
    drawn again without the others. Sample 0 uses the seed by itself, which keeps a one-sample
    run exactly what it was before data sets existed."""

    kind = "generated"
    location = ""

    def __init__(self, specs: Sequence[TensorSpec], settings: InputSettings, iterations: int) -> None:
        self._specs = list(specs)
        self._settings = settings
        self._iterations = iterations
        self._shapes = resolve_shapes(self._specs, settings.shapes)  # fails early on a dynamic input

    def count(self) -> int:
        return self._iterations

    def __iter__(self) -> Iterator[Feeds]:
        return (self.sample(index) for index in range(self._iterations))

    def sample(self, index: int) -> Feeds:
        if not 0 <= index < self._iterations:
            raise out_of_range(self, index, self._iterations)
        return generate_sample(self._specs, self._shapes, self._settings, sample_rng(self._settings.seed, index))


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of sample `index`: the seed alone for sample 0, numpy's independent child
    stream `SeedSequence(seed, spawn_key=(index,))` for the others."""
    if index == 0:
        return np.random.default_rng(seed)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


class ListSource:
    """Samples already in memory (a Python caller's list of dicts)."""

    location = ""

    def __init__(self, samples: Sequence[Mapping[str, np.ndarray]], kind: str = "given") -> None:
        self._samples = list(samples)
        self.kind = kind

    def count(self) -> int:
        return len(self._samples)

    def __iter__(self) -> Iterator[Feeds]:
        return (dict(sample) for sample in self._samples)

    def sample(self, index: int) -> Feeds:
        if not 0 <= index < len(self._samples):
            raise out_of_range(self, index, len(self._samples))
        return dict(self._samples[index])
