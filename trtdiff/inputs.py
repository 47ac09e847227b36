"""Model inputs: specs from the model, shape overrides, seeded generation, and loading/saving.

Formats read: .npz, a directory of .npy files (one per input, named after it), an ONNX test-set
directory of TensorProto .pb files (`input_0.pb`, ...), and Polygraphy `--save-inputs` JSON.
Only .npz is written.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import zipfile
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import helper, numpy_helper

from trtdiff.errors import UsageError, close_names
from trtdiff.fileio import atomic_output
from trtdiff.model import user_input_names, value_shape
from trtdiff.runners.base import TensorSpec

Feeds = dict[str, np.ndarray]
DEFAULT_RANGE = (0.0, 1.0)


@dataclass(frozen=True)
class InputSettings:
    """What the user said about inputs: shape overrides, value ranges, seed, file to load."""

    shapes: Mapping[str, tuple[int, ...]]
    ranges: Mapping[str, tuple[float, float]]  # "" is the default for every input
    seed: int = 1
    load_path: str | None = None


def input_specs(model: onnx.ModelProto) -> list[TensorSpec]:
    """The inputs a user feeds (graph inputs without an initializer), in model order."""
    by_name = {vi.name: vi for vi in model.graph.input}
    specs = []
    for name in user_input_names(model):
        vi = by_name[name]
        elem = vi.type.tensor_type.elem_type
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem)) if elem else np.dtype("float32")
        shape = value_shape(vi)  # None: rank unknown (not a scalar)
        dims = None if shape is None else tuple(None if d == "" else d for d in shape)
        specs.append(TensorSpec(name, dtype, dims))
    return specs


# ---------------------------------------------------------------------------------------------
# parsing CLI values

_SHAPE_RE = re.compile(r"^(?P<name>.+):(?P<dims>\[[^\]]*\]|[0-9]+(?:[xX][0-9]+)*|\(\))$")


def parse_shape_arg(text: str, option: str = "--input-shapes") -> tuple[str, tuple[int, ...]]:
    """`name:[1,3,224,224]` or trtexec's `name:1x3x224x224`. The name may itself contain ':'
    (split at the last one) and may be quoted."""
    example = f"for example {option} images:[1,3,224,224] or images:1x3x224x224"
    match = _SHAPE_RE.match(text.strip())
    name = match["name"].strip().strip("'\"") if match else ""
    if not match or not name:
        raise UsageError(f"cannot read {option} '{text}'", "expected NAME:[d0,d1,...] or NAME:d0xd1x...", example)
    dims_text = match["dims"].strip("[]()")
    separator = "," if match["dims"].startswith("[") else "x"
    try:
        dims = tuple(int(d) for d in dims_text.lower().split(separator) if d.strip())
    except ValueError as err:
        raise UsageError(f"cannot read {option} '{text}'", "dimensions must be whole numbers", example) from err
    if any(d < 0 for d in dims):
        raise UsageError(f"negative dimension in {option} '{text}'", "shapes must be concrete", "use sizes >= 0")
    return name, dims


def parse_range_arg(text: str) -> tuple[str, tuple[float, float]]:
    """`[0,1]` (every input) or `name:[lo,hi]`."""
    name, _, rng = text.strip().rpartition(":") if text.strip().endswith("]") and ":" in text else ("", "", text.strip())
    values = rng.strip().strip("[]()").split(",")
    try:
        lo, hi = (float(v) for v in values)
    except ValueError as err:
        raise UsageError(f"cannot read value range '{text}'", "expected [LOW,HIGH] or NAME:[LOW,HIGH]",
                         "for example --val-range [0,1] --val-range mask:[0,2]") from err
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise UsageError(f"value range '{text}' is not finite", "generated values need finite bounds",
                         "give two finite numbers, for example [0,1]")
    if lo > hi:
        raise UsageError(f"value range '{text}' is empty", "LOW is above HIGH", "swap the two values")
    return name, (lo, hi)


# ---------------------------------------------------------------------------------------------
# resolving specs and generating data


def resolve_shapes(specs: Sequence[TensorSpec], shapes: Mapping[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Concrete shape per input: overrides first, then the model's static dims."""
    names = [s.name for s in specs]
    for name in shapes:
        if name not in names:
            raise UsageError(f"--input-shapes names unknown input '{name}'", "the model has no such input",
                             f"model inputs: {close_names(name, names)}")
    resolved = {}
    for spec in specs:
        if spec.name in shapes:
            shape = shapes[spec.name]
            if spec.shape is not None and len(shape) != len(spec.shape):
                raise UsageError(f"--input-shapes gives {spec.name} rank {len(shape)}",
                                 f"the model declares rank {len(spec.shape)} {_fmt(spec.shape)}",
                                 f"give {len(spec.shape)} dimensions")
            resolved[spec.name] = shape
        elif spec.is_static:
            resolved[spec.name] = tuple(int(d) for d in spec.shape or ())  # type: ignore[arg-type]
        else:
            if spec.shape is None:
                raise UsageError(f"input '{spec.name}' has no shape in the model", "its rank is unknown",
                                 f"pass --input-shapes {spec.name}:[d0,d1,...] or --load-inputs")
            example = ",".join(str(d) if isinstance(d, int) else "1" for d in spec.shape or ())
            raise UsageError(f"input '{spec.name}' has dynamic dimensions {_fmt(spec.shape)}",
                             "trtdiff needs a concrete shape to generate data",
                             f"pass --input-shapes {spec.name}:[{example}]")
    return resolved


def _fmt(shape: Sequence[object] | None) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape or ()) + "]"


def generate_inputs(specs: Sequence[TensorSpec], settings: InputSettings) -> Feeds:
    """Seeded random data per input: uniform floats, integers in range, bools."""
    shapes = resolve_shapes(specs, settings.shapes)
    rng = np.random.default_rng(settings.seed)
    feeds: Feeds = {}
    for spec in specs:
        lo, hi = settings.ranges.get(spec.name, settings.ranges.get("", DEFAULT_RANGE))
        shape = shapes[spec.name]
        if spec.dtype == np.bool_:
            feeds[spec.name] = rng.random(shape) < 0.5
        elif np.issubdtype(spec.dtype, np.integer):
            low, high = int(np.ceil(lo)), int(np.floor(hi))
            if low > high:
                raise UsageError(f"--val-range for integer input '{spec.name}' holds no integer",
                                 f"[{lo}, {hi}]", "widen the range to include a whole number")
            feeds[spec.name] = rng.integers(low, high + 1, size=shape).astype(spec.dtype)
        else:
            feeds[spec.name] = rng.uniform(lo, hi, size=shape).astype(spec.dtype)
    return feeds


def describe_inputs(feeds: Mapping[str, np.ndarray], settings: InputSettings) -> dict[str, str]:
    """One line per input for the report: dtype, shape and where the values came from."""
    lines = {}
    for name, array in feeds.items():
        origin = (f"loaded from {settings.load_path}" if settings.load_path
                  else f"seed={settings.seed} range={list(settings.ranges.get(name, settings.ranges.get('', DEFAULT_RANGE)))}")
        lines[name] = f"{array.dtype}{list(array.shape)} {origin}"
    return lines


# ---------------------------------------------------------------------------------------------
# loading and saving


def load_inputs(path: str | os.PathLike[str]) -> list[Feeds]:
    """Read input sets from a file or directory; returns one or more feed dicts."""
    source = Path(path)
    if not source.exists():
        raise UsageError(f"input file not found: {source}", "the path does not exist",
                         "pass a .npz, a .json from polygraphy --save-inputs, or a directory of .npy/.pb")
    try:
        if source.is_dir():
            return [_load_directory(source)]
        if source.suffix == ".npz":
            with np.load(source, allow_pickle=False) as data:
                return [{k: data[k] for k in data.files}]
        if source.suffix == ".json":
            return _load_polygraphy_json(source)
        if source.suffix == ".npy":
            return [{source.stem: np.load(source, allow_pickle=False)}]
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile, DecodeError) as err:
        raise UsageError(f"cannot read inputs from {source}", str(err) or type(err).__name__,
                         "check the file is complete and in one of the supported formats") from err
    raise UsageError(f"unsupported input file {source}", f"'{source.suffix}' is not a known format",
                     "use .npz, .npy, a Polygraphy .json, or a directory of .npy or .pb files")


def _load_directory(directory: Path) -> Feeds:
    npy = sorted(directory.glob("*.npy"))
    pbs = sorted(directory.glob("input_*.pb"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    if npy:
        return {p.stem: np.load(p, allow_pickle=False) for p in npy}
    if pbs:
        feeds = {}
        for p in pbs:
            tensor = onnx.TensorProto()
            tensor.ParseFromString(p.read_bytes())
            feeds[tensor.name or p.stem] = numpy_helper.to_array(tensor)
        return feeds
    raise UsageError(f"no inputs found in {directory}", "expected NAME.npy files or input_N.pb TensorProtos",
                     "save each input as <input name>.npy")


def _load_polygraphy_json(path: Path) -> list[Feeds]:
    """Polygraphy `--save-inputs`: a list of {name: {"array": base64(np.save bytes)}}."""
    data = json.loads(path.read_text())
    if isinstance(data, dict) and "lst" in data:  # a RunResults file: not inputs
        raise ValueError("this is a Polygraphy outputs file (RunResults), not --save-inputs")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise ValueError("expected a non-empty list of {input name: array} objects")
    feeds_list = []
    for item in data:
        if not isinstance(item, dict):
            raise ValueError("each input set must be an object {input name: array}")
        feeds_list.append({name: _decode_polygraphy_array(value) for name, value in item.items()
                           if name != "polygraphy_class"})
    return feeds_list


def _decode_polygraphy_array(value: object) -> np.ndarray:
    if not isinstance(value, dict) or "array" not in value:
        raise ValueError("expected objects of the form {\"array\": <base64>} for each input")
    raw = base64.b64decode(value["array"].encode())
    return np.load(io.BytesIO(raw), allow_pickle=False)


def save_npz(arrays: Mapping[str, np.ndarray], path: str | os.PathLike[str]) -> None:
    """Write arrays to .npz atomically (no partial file on failure)."""
    with atomic_output(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **dict(arrays))


def validate_feeds(feeds: Mapping[str, np.ndarray], specs: Sequence[TensorSpec]) -> Feeds:
    """Check loaded inputs against the model: names, rank, dtype and static dims."""
    by_name = {s.name: s for s in specs}
    for name in feeds:
        if name not in by_name:
            raise UsageError(f"loaded inputs name unknown input '{name}'", "the model has no such input",
                             f"model inputs: {close_names(name, list(by_name))}")
    missing = [s.name for s in specs if s.name not in feeds]
    if missing:
        raise UsageError(f"loaded inputs lack {', '.join(missing)}", "every model input needs a value",
                         "add them to the input file")
    checked: Feeds = {}
    for spec in specs:
        array = np.asarray(feeds[spec.name])
        _check_one(spec, array)
        checked[spec.name] = array
    return checked


def _check_one(spec: TensorSpec, array: np.ndarray) -> None:
    if array.dtype != spec.dtype:
        raise UsageError(f"input '{spec.name}' is {array.dtype}", f"the model expects {spec.dtype}",
                         f"save it as {spec.dtype} (array.astype(np.{spec.dtype}))")
    if spec.shape is None:
        return
    if array.ndim != len(spec.shape):
        raise UsageError(f"input '{spec.name}' has rank {array.ndim} {list(array.shape)}",
                         f"the model expects rank {len(spec.shape)} {_fmt(spec.shape)}",
                         "reshape the saved array")
    for got, want in zip(array.shape, spec.shape):
        if isinstance(want, int) and want >= 0 and got != want:
            raise UsageError(f"input '{spec.name}' has shape {list(array.shape)}",
                             f"the model expects {_fmt(spec.shape)}", "save an array of that shape")


def nan_report(feeds: Mapping[str, np.ndarray]) -> list[str]:
    """Warnings for inputs that hold NaN or Inf (reported, never a crash)."""
    warnings = []
    for name, array in feeds.items():
        if np.issubdtype(array.dtype, np.floating):
            nan = int(np.isnan(array).sum())
            inf = int(np.isinf(array).sum())
            if nan or inf:
                warnings.append(f"input '{name}' holds {nan} NaN and {inf} Inf values; "
                                "errors downstream of them are expected")
    return warnings
