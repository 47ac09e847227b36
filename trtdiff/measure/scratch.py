"""Reusable work arrays for comparisons that run on several threads.

Comparing a tensor keeps its element errors in a float32 array as large as the tensor. Allocated
fresh for every tensor, an array that size is paged in from the kernel each time (a large share of
a mark-all run's system time); borrowed from here, the few arrays a run needs are reused.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


class Scratch:
    """A pool of float32 arrays: `borrow(size)` lends one of at least `size` elements (grown when
    needed) and takes it back afterwards; each thread using the pool at once holds its own."""

    def __init__(self) -> None:
        self._free: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()

    @contextmanager
    def borrow(self, size: int) -> Iterator[np.ndarray]:
        try:
            array = self._free.get_nowait()
        except queue.Empty:
            array = np.empty(0, np.float32)
        if array.size < size:
            array = np.empty(size, np.float32)
        try:
            yield array[:size]
        finally:
            self._free.put(array)
