"""Read the engine inspector's JSON (`IEngineInspector.get_engine_information(JSON)`) in both
layouts, into plain dataclasses.

TensorRT 10.x: `{"Layers": [...], "Bindings": ["in", "out"]}`; a layer tensor carries one
`"Format/Datatype"` string ("Row major linear FP16 format"). TensorRT 11.x: `Bindings` became
`"I/O Tensors"` (objects with Name, IOMode, DataType, Dimensions, Location, ...) and the tensor
field is split into `Format` and `DataType`. Keys are read case-insensitively (the documents
spell both `Datatype` and `DataType`). With profiling verbosity below DETAILED, `Layers` is a
list of plain layer names; that is accepted too, with no tensor facts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trtdiff.errors import ToolError

# Precision words as TensorRT prints them, most specific first, mapped to our short names.
_DTYPE_WORDS = (
    ("bfloat16", "bf16"), ("bf16", "bf16"), ("fp8", "fp8"), ("e4m3", "fp8"), ("fp4", "fp4"),
    ("int4", "int4"), ("fp16", "fp16"), ("half", "fp16"), ("fp32", "fp32"), ("float", "fp32"),
    ("int64", "int64"), ("int32", "int32"), ("uint8", "uint8"), ("int8", "int8"), ("bool", "bool"),
)


@dataclass(frozen=True)
class EngineTensor:
    """A tensor as the inspector shows it: its engine name, shape, precision and layout."""

    name: str
    dims: tuple[int, ...] | None = None
    dtype: str | None = None  # short name: fp32, fp16, bf16, int8, fp8, int32, int64, bool, ...
    format: str | None = None  # e.g. "Row major linear FP16 format", or None
    location: str | None = None  # "Device" / "Host"
    io_mode: str | None = None  # "Input" / "Output" for engine I/O tensors


@dataclass(frozen=True)
class EngineLayer:
    name: str
    layer_type: str | None = None
    inputs: tuple[EngineTensor, ...] = ()
    outputs: tuple[EngineTensor, ...] = ()
    tactic: str | None = None
    metadata: str | None = None
    origin: str | None = None

    @property
    def precision(self) -> str | None:
        """The precision the layer writes (its first typed output), else reads."""
        for tensor in self.outputs + self.inputs:
            if tensor.dtype:
                return tensor.dtype
        return None


@dataclass(frozen=True)
class EngineInfo:
    layers: tuple[EngineLayer, ...]
    io_tensors: tuple[EngineTensor, ...]
    layout: str  # "10.x" (Bindings), "11.x" (I/O Tensors) or "names-only"

    def tensor_names(self) -> set[str]:
        """Every tensor name the engine shows: layer inputs and outputs and engine I/O."""
        names = {t.name for t in self.io_tensors}
        for layer in self.layers:
            names.update(t.name for t in layer.inputs)
            names.update(t.name for t in layer.outputs)
        return names

    @property
    def detailed(self) -> bool:
        return any(layer.inputs or layer.outputs for layer in self.layers)


def dtype_from_text(text: str | None) -> str | None:
    """`"Row major linear FP16 format"` -> "fp16"; `"Half"` -> "fp16"; unknown -> None."""
    if not text:
        return None
    lowered = text.lower()
    for word, short in _DTYPE_WORDS:
        if re.search(rf"(?<![a-z0-9]){word}(?![a-z0-9])", lowered):
            return short
    return None


def _get(mapping: Mapping[str, Any], *keys: str) -> Any:
    """Value of the first of `keys` present, compared case-insensitively and ignoring spaces."""
    wanted = {k.lower().replace(" ", "") for k in keys}
    for key, value in mapping.items():
        if key.lower().replace(" ", "") in wanted:
            return value
    return None


def _dims(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, list) and all(isinstance(d, (int, float)) for d in value):
        return tuple(int(d) for d in value)
    return None


def _tensor(data: Any) -> EngineTensor:
    if isinstance(data, str):
        return EngineTensor(name=data)
    combined = _get(data, "Format/Datatype")
    fmt = _get(data, "Format")
    dtype_text = _get(data, "Datatype", "DataType", "Data Type")
    if combined is not None:
        fmt, dtype_text = combined, combined
    if fmt is None:  # 11.x I/O tensors keep their format per profile
        profiles = _get(data, "ProfileInfo")
        if isinstance(profiles, list) and profiles and isinstance(profiles[0], Mapping):
            fmt = _get(profiles[0], "Format")
    return EngineTensor(
        name=str(_get(data, "Name") or ""),
        dims=_dims(_get(data, "Dimensions")),
        dtype=dtype_from_text(str(dtype_text)) if dtype_text else dtype_from_text(fmt),
        format=str(fmt) if fmt is not None else None,
        location=_get(data, "Location"),
        io_mode=_get(data, "IOMode", "IO Mode"),
    )


def _layer(data: Any) -> EngineLayer:
    if isinstance(data, str):
        return EngineLayer(name=data)
    tactic = _get(data, "TacticName")
    if tactic in (None, ""):
        tactic = _get(data, "TacticValue")
    return EngineLayer(
        name=str(_get(data, "Name") or ""),
        layer_type=_get(data, "LayerType"),
        inputs=tuple(_tensor(t) for t in (_get(data, "Inputs") or [])),
        outputs=tuple(_tensor(t) for t in (_get(data, "Outputs") or [])),
        tactic=str(tactic) if tactic not in (None, "") else None,
        metadata=_get(data, "Metadata"),
        origin=_get(data, "Origin"),
    )


def parse_engine_info(document: str | Mapping[str, Any] | list[Any]) -> EngineInfo:
    """Parse `get_engine_information(JSON)` output (or a trtexec `--exportLayerInfo` file)."""
    data: Any = document
    if isinstance(document, str):
        try:
            data = json.loads(document)
        except json.JSONDecodeError as err:
            raise ToolError("cannot read the TensorRT engine inspector output",
                            f"it is not JSON ({err.msg} at position {err.pos})",
                            "rebuild the engine with this TensorRT version") from err
    if isinstance(data, list):  # a bare list of layers
        data = {"Layers": data}
    if not isinstance(data, Mapping):
        raise ToolError("cannot read the TensorRT engine inspector output",
                        f"expected a JSON object with 'Layers', got {type(data).__name__}",
                        "rebuild the engine with this TensorRT version")
    layers = tuple(_layer(item) for item in (_get(data, "Layers") or []))
    io_raw = _get(data, "I/O Tensors", "IOTensors")
    if io_raw is not None:
        layout = "11.x"
    else:
        io_raw = _get(data, "Bindings") or []
        layout = "10.x"
    io_tensors = tuple(_tensor(item) for item in io_raw)
    if not any(layer.inputs or layer.outputs or layer.metadata for layer in layers):
        layout = "names-only" if layers else layout
    return EngineInfo(layers=layers, io_tensors=io_tensors, layout=layout)
