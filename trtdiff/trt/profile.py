"""The optimization profile: min/opt/max shapes for each network input, from the network's own
input shapes (-1 marks a dynamic dimension) and the user's --trt-min/opt/max-shapes."""

from __future__ import annotations

from collections.abc import Mapping

from trtdiff.errors import UsageError, close_names
from trtdiff.trt.options import TrtOptions

Range = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def resolve_profile(inputs: Mapping[str, tuple[int, ...]], options: TrtOptions) -> dict[str, Range]:
    """(min, opt, max) for every input that is dynamic or named in the options; {} when the
    network is static and no shapes were given (then no profile is needed)."""
    given = set(options.opt_shapes) | set(options.min_shapes) | set(options.max_shapes)
    unknown = sorted(given - set(inputs))
    if unknown:
        raise UsageError(f"--trt-*-shapes names '{unknown[0]}', which is not a network input",
                         "profile shapes are given per input tensor",
                         f"network inputs: {close_names(unknown[0], sorted(inputs))}")
    profile: dict[str, Range] = {}
    for name, dims in inputs.items():
        dynamic = any(d < 0 for d in dims)
        if name not in given:
            if dynamic:
                raise UsageError(
                    f"input '{name}' has dynamic shape {_show(dims)} and no profile shapes",
                    "TensorRT needs the range of shapes it will be run with",
                    f"pass --trt-opt-shapes {name}:{_example(dims)} (fixed shape), or all of "
                    "--trt-min-shapes/--trt-opt-shapes/--trt-max-shapes")
            continue
        opt = options.opt_shapes[name]
        low = options.min_shapes.get(name, opt)
        high = options.max_shapes.get(name, opt)
        for shape in (low, opt, high):
            _check_fits(name, dims, shape)
        profile[name] = (low, opt, high)
    return profile


def _check_fits(name: str, dims: tuple[int, ...], shape: tuple[int, ...]) -> None:
    """A profile shape must have the input's rank and agree with its static dimensions."""
    if len(shape) != len(dims) or any(d >= 0 and d != s for d, s in zip(dims, shape)):
        raise UsageError(f"profile shape {list(shape)} does not fit input '{name}' {_show(dims)}",
                         "rank and static dimensions must match the model",
                         f"use e.g. {name}:{_example(dims)}")


def _show(dims: tuple[int, ...]) -> str:
    return "[" + ",".join("?" if d < 0 else str(d) for d in dims) + "]"


def _example(dims: tuple[int, ...]) -> str:
    return "x".join("1" if d < 0 else str(d) for d in dims) if dims else "[]"
