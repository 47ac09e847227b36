""".npz files read one array at a time and written one array at a time.

An uncompressed member of an .npz (what `np.savez` writes) is memory-mapped where it lies inside
the zip file, so a batched file's sample i costs only sample i's bytes; a compressed member
(`np.savez_compressed`) has to be read whole. Writing streams each array into the zip as it
comes, so saving the inputs or outputs of many samples never holds them all.
"""

from __future__ import annotations

import math
import os
import struct
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

import numpy as np

from trtdiff.fileio import atomic_output
from trtdiff.resources import check_fits_in_memory

_LOCAL_HEADER = 30  # bytes of a zip local file header before its name and extra field


def member_array(path: str | os.PathLike[str], key: str) -> np.ndarray:
    """The array `key` of the .npz at `path`: memory-mapped when stored uncompressed, else read."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{key}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            with archive.open(info) as handle:  # its header first: a few compressed bytes can declare terabytes
                shape, _, dtype = _read_header(handle)
            check_fits_in_memory(f"array '{key}' of {path} (compressed, read whole)",
                                 math.prod(shape) * dtype.itemsize,
                                 "Save it uncompressed (np.savez: trtdiff then reads one sample at a time) or in "
                                 "smaller files")
            with archive.open(info) as handle:
                return np.lib.format.read_array(handle, allow_pickle=False)
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        header = handle.read(_LOCAL_HEADER)
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        handle.seek(info.header_offset + _LOCAL_HEADER + name_length + extra_length)
        shape, fortran, dtype = _read_header(handle)
        offset = handle.tell()
    if dtype.hasobject:
        raise ValueError(f"array '{key}' holds Python objects, which trtdiff does not load")
    if 0 in shape:
        return np.zeros(shape, dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


def read_sample(path: str | os.PathLike[str], keys: Mapping[str, str], what: str,
                fix: str = "Save smaller samples, one per file") -> dict[str, np.ndarray]:
    """The members `keys` (name -> member key) of the .npz at `path`, in memory: their sizes are
    read from the file first (uncompressed members are memory-mapped until copied), and a sample
    larger than the memory available is refused as `what` with `fix`."""
    arrays = {name: member_array(path, key) for name, key in keys.items()}
    check_fits_in_memory(what, sum(array.nbytes for array in arrays.values()), fix)
    return {name: np.array(array) if isinstance(array, np.memmap) else array for name, array in arrays.items()}


def member_keys(path: str | os.PathLike[str]) -> list[str]:
    """The array keys of the .npz at `path` (its members' names without ".npy"), in file order."""
    with zipfile.ZipFile(path) as archive:
        return [name.removesuffix(".npy") for name in archive.namelist() if name.endswith(".npy")]


def _read_header(handle: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(handle)  # type: ignore[no-any-return]
    return np.lib.format.read_array_header_2_0(handle)  # type: ignore[no-any-return]


class NpzWriter:
    """Adds arrays to an open .npz one by one (`add(key, array)`); see `npz_writer`."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self._archive = archive
        self.keys: list[str] = []

    def add(self, key: str, array: np.ndarray) -> None:
        with self._archive.open(f"{key}.npy", "w", force_zip64=True) as handle:
            np.lib.format.write_array(handle, np.asanyarray(array), allow_pickle=False)
        self.keys.append(key)


@contextmanager
def npz_writer(path: str | os.PathLike[str]) -> Iterator[NpzWriter]:
    """Write an .npz (uncompressed, readable by `np.load`) array by array; the file appears at
    `path` only when the block ends without an error (no half-written file)."""
    with atomic_output(path) as temporary, zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED,
                                                           allowZip64=True) as archive:
        yield NpzWriter(archive)


def save_npz(arrays: Mapping[str, np.ndarray], path: str | os.PathLike[str]) -> None:
    """Write arrays to .npz atomically (no partial file on failure)."""
    with atomic_output(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **dict(arrays))
