"""Arrays of many samples kept for reuse (bisect's reference outputs): in memory up to a budget,
then in a temporary folder, read back memory-mapped. Memory stays bounded however many samples
there are; the folder is removed when the store is closed."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import numpy as np

DEFAULT_BUDGET = 1 << 30  # bytes held in memory before spilling to disk


class SampleStore:
    """`append(arrays)` adds the next sample's arrays; `store[i]` gives sample i's back."""

    def __init__(self, budget: int = DEFAULT_BUDGET) -> None:
        self._budget = budget
        self._held_bytes = 0
        self._samples: list[dict[str, np.ndarray] | list[tuple[str, Path]]] = []
        self._folder: Path | None = None

    def append(self, arrays: Mapping[str, np.ndarray]) -> None:
        size = sum(int(getattr(a, "nbytes", 0)) for a in arrays.values())
        if self._held_bytes + size <= self._budget:
            self._samples.append(dict(arrays))
            self._held_bytes += size
            return
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="trtdiff-samples-"))
        index = len(self._samples)
        paths = []
        for position, (name, array) in enumerate(arrays.items()):
            path = self._folder / f"{index}_{position}.npy"
            np.save(path, np.asarray(array), allow_pickle=False)
            paths.append((name, path))
        self._samples.append(paths)

    def __len__(self) -> int:
        return len(self._samples)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        sample = self._samples[index]
        if isinstance(sample, dict):
            return sample
        return {name: np.load(path, mmap_mode="r", allow_pickle=False) for name, path in sample}

    @property
    def spilled(self) -> bool:
        return self._folder is not None

    def close(self) -> None:
        self._samples.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> SampleStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
