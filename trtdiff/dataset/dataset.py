"""A data set: a source of samples checked against the model, capped by --max-samples.

Iterating yields validated samples one at a time (a bad one raises a UsageError naming its
index); `sample(K)` gives sample K alone (regenerated, reread, or reached by iterating a script).
`Digest` hashes the samples as they stream past: the fingerprint a baseline stores to tell
whether a later run judged the same data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trtdiff.dataset.files import file_source
from trtdiff.dataset.script import ScriptSource, is_script
from trtdiff.dataset.sources import GeneratedSource, ListSource, Source, out_of_range
from trtdiff.errors import UsageError
from trtdiff.inputs import Feeds, InputSettings, validate_feeds
from trtdiff.runners.base import TensorSpec


@dataclass
class DataSet:
    source: Source
    specs: Sequence[TensorSpec]
    max_samples: int | None = None
    seed: int | None = None  # generated data only

    @property
    def count(self) -> int | None:
        """How many samples a pass yields; None until a script has been iterated."""
        known = self.source.count()
        if known is None:
            return None
        return known if self.max_samples is None else min(known, self.max_samples)

    def __len__(self) -> int:
        """The sample count (a loader script is iterated once to count its samples)."""
        count = self.count
        return count if count is not None else sum(1 for _ in self)

    def __iter__(self) -> Iterator[Feeds]:
        index = -1
        for index, raw in enumerate(self.source):
            if self.max_samples is not None and index >= self.max_samples:
                return
            yield self._checked(index, raw)
        if index < 0:
            raise self.empty()

    def empty(self) -> UsageError:
        """The error for a data set without samples."""
        where = self.source.location or f"the {self.source.kind} source"
        return UsageError(f"the data set {where} holds no samples", "there is nothing to compare",
                          "give at least one sample")

    def sample(self, index: int) -> Feeds:
        if self.max_samples is not None and index >= self.max_samples:
            raise out_of_range(self.source, index, self.max_samples)
        return self._checked(index, self.source.sample(index))

    def _checked(self, index: int, raw: Mapping[str, np.ndarray]) -> Feeds:
        where = f"sample {index} of {self.source.location}" if self.source.location else f"sample {index}"
        return validate_feeds(raw, self.specs, where)

    def describe(self, count: int | None = None) -> str:
        """e.g. "500 samples from val/ (npz-directory)" or "10 generated samples, seed 1"."""
        count = self.count if count is None else count
        many = "?" if count is None else str(count)
        noun = "sample" if count == 1 else "samples"
        if self.source.kind == "generated":
            return f"{many} generated {noun}, seed {self.seed}"
        where = f" from {self.source.location}" if self.source.location else ""
        return f"{many} {noun}{where} ({self.source.kind})"


def open_dataset(settings: InputSettings, specs: Sequence[TensorSpec],
                 samples: Sequence[Mapping[str, np.ndarray]] | None = None) -> DataSet:
    """The data set the settings name: a loader script, a file or directory, samples given in
    memory (`samples`, from the Python API), or `settings.iterations` generated samples. A source
    known to be empty is refused at once."""
    dataset = DataSet(source_for(settings, specs, samples), specs, settings.max_samples,
                      None if settings.load_path or settings.loader_script or samples is not None else settings.seed)
    if dataset.count == 0:
        raise dataset.empty()
    return dataset


def source_for(settings: InputSettings, specs: Sequence[TensorSpec],
               samples: Sequence[Mapping[str, np.ndarray]] | None = None) -> Source:
    if samples is not None:
        return ListSource(samples)
    if settings.loader_script:
        return ScriptSource(settings.loader_script)
    if settings.load_path:
        return open_path(settings.load_path, settings.batched_npz)
    return GeneratedSource(specs, settings, settings.iterations)


def open_path(path: str, batched: bool = False) -> Source:
    """A file, a directory, or a loader script (`FILE.py[:FUNC]`), as --calibration-data takes."""
    return ScriptSource(path) if is_script(path) else file_source(path, batched)


class Digest:
    """A running hash of the samples (names, dtypes, shapes, bytes), in order."""

    def __init__(self) -> None:
        self._hash = hashlib.blake2b(digest_size=16)
        self.count = 0

    def update(self, feeds: Mapping[str, np.ndarray]) -> None:
        self._hash.update(f"sample {self.count}".encode())
        for name in sorted(feeds):
            array = np.ascontiguousarray(feeds[name])
            self._hash.update(f"{name}:{array.dtype}:{array.shape}".encode())
            if array.dtype.kind == "O":  # Python objects (strings): their content, not their addresses
                for item in array.ravel():
                    data = item if isinstance(item, bytes) else str(item).encode("utf-8", "surrogatepass")
                    self._hash.update(len(data).to_bytes(8, "little") + data)
            elif array.size:
                self._hash.update(memoryview(array).cast("B"))
        self.count += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def sample_digest(feeds: Mapping[str, np.ndarray]) -> str:
    """One sample's hash (names, dtypes, shapes, bytes): what `--save-outputs` records beside each
    sample's outputs, so that `--load-outputs` can tell they came from these very inputs."""
    digest = Digest()
    digest.update(feeds)
    return digest.hexdigest()


class NonFiniteTally:
    """Which samples' inputs hold NaN or Inf, for one warning per input instead of one per sample."""

    def __init__(self) -> None:
        self._seen: dict[str, list[tuple[int, int, int]]] = {}  # input -> [(sample, nan, inf)] (first few)
        self._samples: dict[str, int] = {}

    def update(self, index: int, feeds: Mapping[str, np.ndarray]) -> None:
        for name, array in feeds.items():
            if not np.issubdtype(array.dtype, np.floating) or np.isfinite(array).all():
                continue
            self._samples[name] = self._samples.get(name, 0) + 1
            if len(self._seen.setdefault(name, [])) < 5:
                self._seen[name].append((index, int(np.isnan(array).sum()), int(np.isinf(array).sum())))

    def warnings(self, count: int) -> list[str]:
        said = []
        for name, found in self._seen.items():
            if count == 1:
                _, nan, inf = found[0]
                said.append(f"input '{name}' holds {nan} NaN and {inf} Inf values; errors downstream of them are expected")
                continue
            first = ", ".join(f"sample {i}: {nan} NaN, {inf} Inf" for i, nan, inf in found)
            said.append(f"input '{name}' holds NaN or Inf in {self._samples[name]} of {count} samples ({first}); "
                        "errors downstream of them are expected")
        return said
