"""Model inputs: specs from the model, shape overrides, seeded generation, validation of a sample
against the model. Reading and writing files of samples is `trtdiff.dataset`'s business.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from trtdiff.errors import UsageError, close_names
from trtdiff.resources import check_fits_in_memory
from trtdiff.model import user_input_names, value_shape
from trtdiff.runners.base import TensorSpec

Feeds = dict[str, np.ndarray]
DEFAULT_RANGE = (0.0, 1.0)


@dataclass(frozen=True)
class InputSettings:
    """What the user said about inputs: shape overrides, value ranges, seed, where samples come
    from (a file or directory, a loader script, or `iterations` generated samples) and how many
    to take at most."""

    shapes: Mapping[str, tuple[int, ...]]
    ranges: Mapping[str, tuple[float, float]]  # "" is the default for every input
    seed: int = 1
    load_path: str | None = None
    iterations: int = 1  # generated samples
    max_samples: int | None = None  # cap on any source
    batched_npz: bool = False  # an .npz whose arrays carry a leading sample axis
    loader_script: str | None = None  # FILE.py[:FUNC] returning an iterable of samples

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise UsageError(f"--iterations {self.iterations} is not usable", "at least one sample is needed",
                             "give a whole number >= 1")
        if self.max_samples is not None and self.max_samples < 1:
            raise UsageError(f"--max-samples {self.max_samples} is not usable", "at least one sample is needed",
                             "give a whole number >= 1")
        if self.load_path and self.loader_script:
            raise UsageError("--load-inputs and --data-loader-script were both given",
                             "a run reads its samples from one source", "pass one of them")


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
            resolved[spec.name] = _override(spec, shapes[spec.name])
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
    _check_sample_memory(specs, resolved)
    return resolved


def _override(spec: TensorSpec, shape: tuple[int, ...]) -> tuple[int, ...]:
    """An --input-shapes value checked against what the model declares: the same rank, and the
    model's fixed dimensions kept (only its dynamic ones can be chosen)."""
    if spec.shape is None:
        return shape
    if len(shape) != len(spec.shape):
        raise UsageError(f"--input-shapes gives {spec.name} rank {len(shape)}",
                         f"the model declares rank {len(spec.shape)} {_fmt(spec.shape)}",
                         f"give {len(spec.shape)} dimensions")
    fixed = [i for i, (want, got) in enumerate(zip(spec.shape, shape)) if isinstance(want, int) and want > 0
             and want != got]
    if fixed:
        example = "[" + ",".join(str(d if isinstance(d, int) else s) for d, s in zip(spec.shape, shape)) + "]"
        raise UsageError(f"--input-shapes gives {spec.name} {_fmt(shape)}",
                         f"the model declares {_fmt(spec.shape)}, and dimension {fixed[0]} is fixed at "
                         f"{spec.shape[fixed[0]]}",
                         f"Drop --input-shapes for {spec.name}: its shape is fixed" if spec.is_static
                         else f"Choose only the dynamic dimensions, e.g. {spec.name}:{example}")
    return shape


def _check_sample_memory(specs: Sequence[TensorSpec], shapes: Mapping[str, tuple[int, ...]]) -> None:
    """Refuse, before allocating, one sample of inputs larger than the memory available."""
    sizes = {spec.name: math.prod(shapes[spec.name]) * spec.dtype.itemsize for spec in specs}
    check_fits_in_memory(f"one sample of inputs ({', '.join(f'{n}{_fmt(shapes[n])}' for n in sizes)})",
                         sum(sizes.values()), "Give smaller --input-shapes")


def _fmt(shape: Sequence[object] | None) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape or ()) + "]"


def generate_inputs(specs: Sequence[TensorSpec], settings: InputSettings) -> Feeds:
    """One sample of seeded random data (the seed alone): uniform floats, integers in range, bools."""
    return generate_sample(specs, resolve_shapes(specs, settings.shapes), settings,
                           np.random.default_rng(settings.seed))


def generate_sample(specs: Sequence[TensorSpec], shapes: Mapping[str, tuple[int, ...]], settings: InputSettings,
                    rng: np.random.Generator) -> Feeds:
    """Random data per input from `rng`: uniform floats in the input's range, integers in the
    same range, bools as fair coin flips."""
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


def describe_inputs(feeds: Mapping[str, np.ndarray], settings: InputSettings, origin: str = "") -> dict[str, str]:
    """One line per input for the report: dtype, shape and where the values came from (`origin`,
    e.g. the data set's description; by default the seed and range of generated data)."""
    lines = {}
    for name, array in feeds.items():
        said = origin or f"seed={settings.seed} range={list(settings.ranges.get(name, settings.ranges.get('', DEFAULT_RANGE)))}"
        lines[name] = f"{array.dtype}{list(array.shape)} {said}"
    return lines


# ---------------------------------------------------------------------------------------------
# validation


def validate_feeds(feeds: Mapping[str, np.ndarray], specs: Sequence[TensorSpec], where: str = "") -> Feeds:
    """Check loaded inputs against the model: names, rank, dtype and static dims. `where` (e.g.
    "sample 3 of val/") starts every error message, so a bad sample names itself."""
    lead = f"{where}: " if where else ""
    by_name = {s.name: s for s in specs}
    for name in feeds:
        if name not in by_name:
            raise UsageError(f"{lead}loaded inputs name unknown input '{name}'", "the model has no such input",
                             f"model inputs: {close_names(name, list(by_name))}")
    missing = [s.name for s in specs if s.name not in feeds]
    if missing:
        raise UsageError(f"{lead}loaded inputs lack {', '.join(missing)}", "every model input needs a value",
                         "add them to the input file")
    checked: Feeds = {}
    for spec in specs:
        array = np.asarray(feeds[spec.name])
        if spec.dtype == object and array.dtype.kind in "US":  # strings: .npz keeps them as str_/bytes_
            array = array.astype(object)
        _check_one(spec, array, lead)
        checked[spec.name] = array
    return checked


def _check_one(spec: TensorSpec, array: np.ndarray, lead: str) -> None:
    if array.dtype != spec.dtype:
        raise UsageError(f"{lead}input '{spec.name}' is {array.dtype}", f"the model expects {spec.dtype}",
                         "save it as a string array (array.astype(str))" if spec.dtype == object
                         else f"save it as {spec.dtype} (array.astype(np.{spec.dtype}))")
    if spec.shape is None:
        return
    if array.ndim != len(spec.shape):
        raise UsageError(f"{lead}input '{spec.name}' has rank {array.ndim} {list(array.shape)}",
                         f"the model expects rank {len(spec.shape)} {_fmt(spec.shape)}",
                         "reshape the saved array" + ("; an .npz whose first axis counts the samples is read with "
                                                      "--batched-npz" if array.ndim == len(spec.shape) + 1 else ""))
    for got, want in zip(array.shape, spec.shape):
        if isinstance(want, int) and want >= 0 and got != want:
            raise UsageError(f"{lead}input '{spec.name}' has shape {list(array.shape)}",
                             f"the model expects {_fmt(spec.shape)}", "save an array of that shape")
