"""Samples from files and directories, read lazily.

    FILE.npz                 one sample (arrays named after the inputs); with --batched-npz, arrays
                             with a leading sample axis (sample i = every array's row i); trtdiff's
                             own --save-inputs of several samples (keys `I:NAME`)
    FILE.npy                 one sample of one input (named after the file)
    FILE.json                Polygraphy --save-inputs: a list of samples (every iteration)
    DIR of *.npz             one sample per file, sorted by name (numbers compared as numbers)
    DIR of test_data_set_*   ONNX test sets: one sample per folder of input_N.pb TensorProtos
    DIR of input_N.pb        one ONNX test set: one sample
    DIR of NAME.npy          one sample, one file per input
"""

from __future__ import annotations

import base64
import fnmatch
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from trtdiff.dataset.npz import member_array, member_keys, read_sample
from trtdiff.dataset.sources import Source, out_of_range
from trtdiff.errors import UsageError
from trtdiff.inputs import Feeds

_READ_ERRORS = (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile, DecodeError, TypeError)
_INDEXED_KEY = re.compile(r"^(\d+):(.+)$")
NPZ_FILES, PB_FILES, NPY_FILES = "*.npz", "input_*.pb", "*.npy"  # what a folder of samples is read from
FORMATS = ("an .npz, a .npy, a Polygraphy --save-inputs .json, or a directory of .npz files, of ONNX "
           "test_data_set_* folders, of input_N.pb files or of NAME.npy files")


def file_source(path: str, batched: bool = False) -> Source:
    """The source for a path in any of the formats above (a UsageError for anything else)."""
    location = Path(path)
    if not location.exists():
        raise UsageError(f"input file not found: {location}", "the path does not exist", f"pass {FORMATS}")
    if batched and not (location.is_file() and location.suffix == ".npz"):
        raise UsageError(f"--batched-npz needs an .npz file, not {location}",
                         "it reads arrays with a leading sample axis", "drop --batched-npz or pass an .npz")
    return _reading(location, lambda: _open(location, batched))


def _open(location: Path, batched: bool) -> Source:
    if location.is_dir():
        return _directory_source(location)
    if location.suffix == ".npz":
        return NpzSource(location, batched)
    if location.suffix == ".json":
        return PolygraphyInputs(location)
    if location.suffix == ".npy":
        return _OneSample(location, lambda: {location.stem: np.load(location, allow_pickle=False)}, "npy")
    raise UsageError(f"unsupported input file {location}", f"'{location.suffix}' is not a known format",
                     f"use {FORMATS}")


def _reading(location: Path, read: Callable[[], Any]) -> Any:
    """Run `read`, turning a damaged or foreign file into one UsageError naming it."""
    try:
        return read()
    except _READ_ERRORS as err:
        raise UsageError(f"cannot read inputs from {location}", str(err) or type(err).__name__,
                         "check the file is complete and in one of the supported formats") from err


def natural_key(path: Path) -> list[Any]:
    """Sort key comparing the digit runs of a name as numbers: sample_2 before sample_10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


class _OneSample:
    """A source of one sample, read when asked."""

    def __init__(self, location: Path, read: Callable[[], Feeds], kind: str) -> None:
        self.location, self.kind, self._read = str(location), kind, read

    def count(self) -> int:
        return 1

    def __iter__(self) -> Iterator[Feeds]:
        yield self.sample(0)

    def sample(self, index: int) -> Feeds:
        if index != 0:
            raise out_of_range(self, index, 1)
        return _reading(Path(self.location), self._read)  # type: ignore[no-any-return]


class _PerFile:
    """One sample per file (or folder), read by `read`."""

    def __init__(self, location: Path, files: Sequence[Path], read: Callable[[Path], Feeds], kind: str) -> None:
        self.location, self.kind, self._files, self._read = str(location), kind, list(files), read

    def count(self) -> int:
        return len(self._files)

    def __iter__(self) -> Iterator[Feeds]:
        return (self.sample(index) for index in range(len(self._files)))

    def sample(self, index: int) -> Feeds:
        if not 0 <= index < len(self._files):
            raise out_of_range(self, index, len(self._files))
        path = self._files[index]
        return _reading(path, lambda: self._read(path))  # type: ignore[no-any-return]


def read_as_a_sample(folder: str | Path, path: str | Path) -> bool:
    """Whether reading `folder` as a data set (--load-inputs DIR, --calibration-data DIR) would
    take the file `path` for a sample or part of one: a file of a kind it reads, directly in it."""
    location = Path(path)
    return (location.parent.resolve() == Path(folder).resolve()
            and any(fnmatch.fnmatch(location.name, pattern) for pattern in (NPZ_FILES, PB_FILES, NPY_FILES)))


def _directory_source(directory: Path) -> Source:
    npz = sorted(directory.glob(NPZ_FILES), key=natural_key)
    if npz:
        return _PerFile(directory, npz, _read_npz_file, "npz-directory")
    test_sets = sorted((p for p in directory.glob("test_data_set_*") if p.is_dir()), key=natural_key)
    if test_sets:
        return _PerFile(directory, test_sets, _read_test_set, "onnx-test-sets")
    if list(directory.glob(PB_FILES)):
        return _OneSample(directory, lambda: _read_test_set(directory), "onnx-test-set")
    npy = sorted(directory.glob(NPY_FILES))
    if npy:
        return _OneSample(directory, lambda: {p.stem: np.load(p, allow_pickle=False) for p in npy}, "npy-directory")
    raise UsageError(f"no inputs found in {directory}", "expected .npz files, test_data_set_* folders, "
                     "input_N.pb TensorProtos or NAME.npy files", "save each sample as an .npz named after it")


def _read_npz_file(path: Path) -> Feeds:
    return read_sample(path, {key: key for key in member_keys(path)}, f"the sample in {path}")


def _read_test_set(directory: Path) -> Feeds:
    files = sorted(directory.glob("input_*.pb"), key=natural_key)
    if not files:
        raise ValueError(f"{directory} holds no input_N.pb files")
    feeds = {}
    for path in files:
        tensor = _tensor_proto(path)
        feeds[tensor.name or path.stem] = numpy_helper.to_array(tensor)
    return feeds


def _tensor_proto(path: Path) -> onnx.TensorProto:
    """The TensorProto in `path`; a clear error for the other ONNX value protos test sets hold
    (a sequence or optional input), which parse as a nonsense TensorProto."""
    data = path.read_bytes()
    tensor = onnx.TensorProto()
    try:
        tensor.ParseFromString(data)
    except DecodeError as err:
        raise UsageError(f"{path} is not a TensorProto", str(err) or "it does not parse",
                         "save each input with onnx.numpy_helper.from_array(...).SerializeToString()") from err
    if tensor.data_type and not tensor.HasField("segment"):
        return tensor
    sequence = onnx.SequenceProto()
    sequence.ParseFromString(data)
    kind = "an ONNX SequenceProto (a sequence input)" if sequence.elem_type else "not a TensorProto"
    raise UsageError(f"{path} is {kind}", "trtdiff feeds tensor inputs only",
                     "save each input as a TensorProto (onnx.numpy_helper.from_array) or in an .npz")


class NpzSource:
    """One .npz: a single sample; trtdiff's multi-sample layout (keys `I:NAME`); or, batched,
    arrays whose first axis runs over samples. Arrays are memory-mapped where stored uncompressed."""

    kind = "npz"

    def __init__(self, path: Path, batched: bool) -> None:
        self.location = str(path)
        self._path = path
        with np.load(path, allow_pickle=False) as data:
            keys = list(data.files)
        indexed = [_INDEXED_KEY.match(key) for key in keys]
        self._layout = "batched" if batched else ("indexed" if keys and all(indexed) else "single")
        self._by_sample: dict[int, list[tuple[str, str]]] = {}
        if self._layout == "indexed":
            for match in indexed:
                assert match is not None
                self._by_sample.setdefault(int(match[1]), []).append((match[2], match[0]))
            if sorted(self._by_sample) != list(range(len(self._by_sample))):
                raise ValueError("its I:NAME keys do not number the samples 0, 1, 2, ... without gaps")
        self._keys = keys
        self._held: dict[str, np.ndarray] = {}
        self._count = self._batch_count() if batched else (len(self._by_sample) if self._by_sample else 1)

    def _batch(self, key: str) -> np.ndarray:
        """A batched array: memory-mapped afresh each time (only the rows read stay resident), or,
        when compressed, read once and held."""
        if key in self._held:
            return self._held[key]
        array = member_array(self._path, key)
        if not isinstance(array, np.memmap):
            self._held[key] = array
        return array

    def _batch_count(self) -> int:
        lengths = {key: (self._batch(key).shape or (None,))[0] for key in self._keys}
        if any(length is None for length in lengths.values()):
            raise ValueError("--batched-npz needs arrays with a leading sample axis; a scalar has none")
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{key}: {length}" for key, length in lengths.items())
            raise ValueError(f"its arrays have different sample counts ({shown})")
        return next(iter(lengths.values()), 0)  # type: ignore[return-value]

    def count(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Feeds]:
        return (self.sample(index) for index in range(self._count))

    def sample(self, index: int) -> Feeds:
        if not 0 <= index < self._count:
            raise out_of_range(self, index, self._count)
        return _reading(self._path, lambda: self._read(index))  # type: ignore[no-any-return]

    def _read(self, index: int) -> Feeds:
        if self._layout == "batched":
            return {key: np.array(self._batch(key)[index]) for key in self._keys}
        keys = dict(self._by_sample[index]) if self._layout == "indexed" else {key: key for key in self._keys}
        return read_sample(self._path, keys, f"sample {index} of {self._path}",
                           "Save smaller samples, one per file (or pass --batched-npz if the arrays hold the "
                           "samples along their first axis)" if self._layout == "single" else
                           "Save smaller samples, one per file")


class PolygraphyInputs:
    """Polygraphy `--save-inputs`: a JSON list of {input name: {"array": base64 of np.save bytes}},
    one entry per iteration. The text is parsed once; each sample's arrays are decoded when asked."""

    kind = "polygraphy-json"

    def __init__(self, path: Path) -> None:
        self.location = str(path)
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "lst" in data:
            raise ValueError("this is a Polygraphy outputs file (RunResults), not --save-inputs")
        self._samples: list[Any] = data if isinstance(data, list) else [data]
        for index, item in enumerate(self._samples):
            if not isinstance(item, dict):
                raise ValueError(f"iteration {index} is not an object {{input name: array}}")

    def count(self) -> int:
        return len(self._samples)

    def __iter__(self) -> Iterator[Feeds]:
        return (self.sample(index) for index in range(len(self._samples)))

    def sample(self, index: int) -> Feeds:
        if not 0 <= index < len(self._samples):
            raise out_of_range(self, index, len(self._samples))
        item = self._samples[index]
        return _reading(Path(self.location), lambda: {name: decode_polygraphy_array(value) for name, value
                                                      in item.items() if name != "polygraphy_class"})


def decode_polygraphy_array(value: object) -> np.ndarray:
    """An array as Polygraphy's JSON holds it: {"array": base64(np.save bytes)}, possibly inside a
    LazyArray {"values": ...}. Never unpickles."""
    if isinstance(value, dict) and value.get("polygraphy_class") == "LazyArray" and "values" in value:
        value = value["values"]
    if not isinstance(value, dict) or not isinstance(value.get("array"), str):
        raise ValueError("expected objects of the form {\"array\": <base64>} for each array")
    raw = base64.b64decode(value["array"].encode())
    return np.load(io.BytesIO(raw), allow_pickle=False)
