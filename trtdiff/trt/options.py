"""TensorRT build and run options, and the parsers for the forms users know from trtexec and
Polygraphy.

Shapes: `name:[1,3,224,224]` (Polygraphy) and `name:1x3x224x224` (trtexec), several per value
separated by commas or spaces (`a:1x3,b:[2,4]`). The name is everything before the LAST colon, so
TensorFlow-style names such as `input:0:1x3x224x224` work; a name may be quoted ('input:0').

Memory pools: `workspace:2G`, `tactic_shared_memory:48K`; a bare number is MiB, as in trtexec's
`--memPoolSize`. Units B, K/KB/KiB, M/MB/MiB, G/GB/GiB are powers of 1024.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from trtdiff.inputs import parse_shape_arg
from trtdiff.errors import UsageError, check_choice

INTERMEDIATE_MODES = ("unfused", "debug", "outputs")
HARDWARE_COMPATIBILITY = ("none", "ampere_plus", "same_compute_capability")
WEAK_TYPES = ("fp16", "bf16", "int8", "fp8")  # TensorRT < 10.12 builder flags, behind an option
LAYER_PRECISIONS = ("fp32", "fp16", "bf16", "int8", "fp8")
FLAVOR_CHOICES = ("tensorrt", "rtx")  # module `tensorrt` (10.x/11.x) or `tensorrt_rtx` (RTX 1.x)

# Pool names accepted on the command line -> trt.MemoryPoolType member names.
POOL_NAMES = {
    "workspace": "WORKSPACE",
    "dla_managed_sram": "DLA_MANAGED_SRAM",
    "dlasram": "DLA_MANAGED_SRAM",
    "dla_local_dram": "DLA_LOCAL_DRAM",
    "dlalocaldram": "DLA_LOCAL_DRAM",
    "dla_global_dram": "DLA_GLOBAL_DRAM",
    "dlaglobaldram": "DLA_GLOBAL_DRAM",
    "tactic_dram": "TACTIC_DRAM",
    "tacticdram": "TACTIC_DRAM",
    "tactic_shared_memory": "TACTIC_SHARED_MEMORY",
    "tacticsharedmem": "TACTIC_SHARED_MEMORY",
}
_UNITS = {"": 2**20, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20,
          "mib": 2**20, "g": 2**30, "gb": 2**30, "gib": 2**30}

Shapes = dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class TrtOptions:
    """Everything the TensorRT runner needs besides the model. Defaults build a strongly typed
    engine with TensorRT's own defaults, except TF32, which is off so that FP32 layers really
    compute in FP32 (an accuracy tool should not add TF32 error to the target)."""

    mode: str | None = None  # None: "unfused" on TensorRT 10.12+, else "debug"
    min_shapes: Shapes = field(default_factory=dict)
    opt_shapes: Shapes = field(default_factory=dict)
    max_shapes: Shapes = field(default_factory=dict)
    pool_limits: dict[str, int] = field(default_factory=dict)  # MemoryPoolType name -> bytes
    tf32: bool = False
    optimization_level: int | None = None  # builder optimisation level 0..5
    timing_cache: Path | None = None
    plugins: tuple[Path, ...] = ()
    version_compatible: bool = False
    exclude_lean_runtime: bool = False
    hardware_compatibility: str | None = None
    load_engine: Path | None = None
    save_engine: Path | None = None
    weak_typing: tuple[str, ...] = ()  # TensorRT < 10.12 only: BuilderFlag names, lower case
    layer_precisions: dict[str, str] = field(default_factory=dict)  # < 10.12 only, needs weak_typing
    flavor: str | None = None  # None: `tensorrt` when it imports, else `tensorrt_rtx`
    compute_capabilities: tuple[str, ...] = ()  # TensorRT-RTX build targets ("8.6", "current"); (): its default

    def __post_init__(self) -> None:
        validate_options(self)

    def describe(self) -> dict[str, object]:
        """The options as plain JSON-ready values, for reports and engine sidecar files."""
        return {
            "mode": self.mode,
            "min_shapes": {k: list(v) for k, v in self.min_shapes.items()},
            "opt_shapes": {k: list(v) for k, v in self.opt_shapes.items()},
            "max_shapes": {k: list(v) for k, v in self.max_shapes.items()},
            "pool_limits": dict(self.pool_limits),
            "tf32": self.tf32,
            "optimization_level": self.optimization_level,
            "timing_cache": str(self.timing_cache) if self.timing_cache else None,
            "plugins": [str(p) for p in self.plugins],
            "version_compatible": self.version_compatible,
            "exclude_lean_runtime": self.exclude_lean_runtime,
            "hardware_compatibility": self.hardware_compatibility,
            "weak_typing": list(self.weak_typing),
            "layer_precisions": dict(self.layer_precisions),
            "flavor": self.flavor,
            "compute_capabilities": list(self.compute_capabilities),
        }


def validate_options(options: TrtOptions) -> None:
    """Raise UsageError for combinations that cannot work, before any engine is built."""
    if options.mode is not None:
        check_choice("intermediate-tensor mode", options.mode, INTERMEDIATE_MODES,
                     "TensorRT exposes intermediate tensors in three ways")
    if options.optimization_level is not None and not 0 <= options.optimization_level <= 5:
        raise UsageError(f"builder optimisation level {options.optimization_level} is out of range",
                         "TensorRT accepts levels 0 to 5 (default 3)", "pass a level from 0 to 5")
    if options.hardware_compatibility is not None:
        check_choice("hardware compatibility level", options.hardware_compatibility, HARDWARE_COMPATIBILITY,
                     "TensorRT knows a fixed set of levels")
    if options.exclude_lean_runtime and not options.version_compatible:
        raise UsageError("--trt-exclude-lean-runtime needs --trt-version-compatible",
                         "only a version-compatible engine embeds a lean runtime to exclude",
                         "add --trt-version-compatible or drop --trt-exclude-lean-runtime")
    if options.flavor is not None:
        check_choice("TensorRT flavour", options.flavor, FLAVOR_CHOICES,
                     "tensorrt is TensorRT 10.x/11.x, rtx is TensorRT for RTX")
    if "current" in options.compute_capabilities and len(options.compute_capabilities) > 1:
        raise UsageError("--trt-compute-capability current cannot be combined with others",
                         "current means the one GPU this machine has",
                         "pass current alone, or list compute capabilities such as 8.6 8.9")
    for precision in options.weak_typing:
        check_choice("weak-typing precision", precision, WEAK_TYPES,
                     "these are TensorRT < 10.12 builder precision flags")
    if options.layer_precisions and not options.weak_typing:
        raise UsageError("per-layer precisions need --trt-weak-typing",
                         "layer precisions only act on a weakly typed network (TensorRT < 10.12)",
                         "add e.g. --trt-weak-typing fp16, or keep layers in FP32 through the "
                         "precision plan instead, which works on every TensorRT version")
    _check_profile_shapes(options)


def _check_profile_shapes(options: TrtOptions) -> None:
    """min/opt/max must name the same inputs with the same rank, and min <= opt <= max."""
    given = [s for s in (options.min_shapes, options.opt_shapes, options.max_shapes) if s]
    if not given:
        return
    if len(given) != 3 and not (len(given) == 1 and options.opt_shapes):
        raise UsageError("an optimization profile needs all of --trt-min-shapes, --trt-opt-shapes "
                         "and --trt-max-shapes (or --trt-opt-shapes alone for a fixed shape)",
                         "TensorRT needs a range for every dynamic input",
                         "pass all three, as in trtexec's --minShapes/--optShapes/--maxShapes")
    if len(given) == 1:
        return
    names = set(options.opt_shapes)
    if set(options.min_shapes) != names or set(options.max_shapes) != names:
        raise UsageError("min, opt and max shapes name different inputs",
                         f"min: {sorted(options.min_shapes)}, opt: {sorted(names)}, "
                         f"max: {sorted(options.max_shapes)}", "give every input in all three")
    for name in sorted(names):
        low, opt, high = options.min_shapes[name], options.opt_shapes[name], options.max_shapes[name]
        if not len(low) == len(opt) == len(high):
            raise UsageError(f"shapes for input '{name}' have different ranks",
                             f"min {list(low)}, opt {list(opt)}, max {list(high)}",
                             "give the same number of dimensions in all three")
        if any(not a <= b <= c for a, b, c in zip(low, opt, high)):
            raise UsageError(f"shapes for input '{name}' are not ordered min <= opt <= max",
                             f"min {list(low)}, opt {list(opt)}, max {list(high)}",
                             "fix the dimensions so that each one grows from min to max")


def parse_shapes(values: str | list[str] | tuple[str, ...], option: str = "--trt-opt-shapes") -> Shapes:
    """Parse `name:[1,3,224,224]` and `name:1x3x224x224` entries (several per value allowed)."""
    shapes: Shapes = {}
    for text, entry in _entries(values):
        name, dims = parse_shape_arg(entry, option)
        if name in shapes:
            raise UsageError(f"{option} gives input '{name}' twice", f"in '{text}'", "give each input once")
        shapes[name] = dims
    return shapes


def _entries(values: str | list[str] | tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(option value, entry) for every entry of one or several option values."""
    for text in [values] if isinstance(values, str) else values:
        for entry in _split_entries(text):
            yield text, entry


def _split_entries(text: str) -> list[str]:
    """Split on commas and whitespace that are outside square brackets and quotes."""
    entries: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif depth == 0 and (char == "," or char.isspace()):
            entries.append("".join(current))
            current = []
            continue
        current.append(char)
    entries.append("".join(current))
    return [e for e in (e.strip() for e in entries) if e]


def parse_pool_limits(values: str | list[str] | tuple[str, ...]) -> dict[str, int]:
    """Parse `workspace:2G` entries into {MemoryPoolType member name: bytes}."""
    limits: dict[str, int] = {}
    for _, entry in _entries(values):
        pool, sep, size = entry.partition(":")
        key = pool.strip().lower()
        if not sep or key not in POOL_NAMES:
            known = ", ".join(sorted({k for k in POOL_NAMES if "_" in k or k == "workspace"}))
            raise UsageError(f"cannot read memory-pool limit '{entry}'", "expected POOL:SIZE with a known pool",
                             f"write e.g. workspace:2G; pools: {known}")
        limits[POOL_NAMES[key]] = parse_size(size, entry)
    return limits


def parse_size(text: str, entry: str = "") -> int:
    """`2G` -> 2 GiB in bytes; a bare number is MiB (trtexec's convention)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise UsageError(f"cannot read size '{text}' in '{entry or text}'",
                         "expected a number with an optional unit", "write e.g. 512M, 2G or 1024 (MiB)")
    return int(float(match.group(1)) * _UNITS[unit])


def parse_layer_precisions(values: str | list[str] | tuple[str, ...]) -> dict[str, str]:
    """Parse `layer:fp32` entries (trtexec's --layerPrecisions form; TensorRT < 10.12 only)."""
    result: dict[str, str] = {}
    for _, entry in _entries(values):
        name, sep, precision = entry.rpartition(":")
        precision = precision.strip().lower()
        if not sep or not name or precision not in LAYER_PRECISIONS:
            raise UsageError(f"cannot read layer precision '{entry}'", "expected LAYER:PRECISION",
                             f"write e.g. Conv_3:fp32; precisions: {', '.join(LAYER_PRECISIONS)}")
        result[name.strip().strip("'\"")] = precision
    return result


def parse_compute_capabilities(values: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """`8.6`, `86`, `sm86`, `SM_86` -> "8.6"; `current` stays; several per value allowed. Which
    ones the installed TensorRT-RTX can build for is checked against the module itself."""
    found: list[str] = []
    for _, entry in _entries(values):
        text = entry.strip().lower().replace("_", "")
        if text == "current":
            found.append("current")
            continue
        match = re.fullmatch(r"(?:sm)?(\d+)\.?(\d)", text)
        if not match:
            raise UsageError(f"cannot read compute capability '{entry}'",
                             "expected MAJOR.MINOR (8.6), SM86 or current",
                             "write e.g. --trt-compute-capability 8.6 --trt-compute-capability 8.9")
        found.append(f"{int(match.group(1))}.{match.group(2)}")
    return tuple(dict.fromkeys(found))
