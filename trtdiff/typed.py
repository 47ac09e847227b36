"""Typed reading of the JSON files trtdiff loads back: precision plans, results, bisect states,
baselines. Every field is checked against its declared type (the dataclass's own hints), every
way a file can be wrong is one UsageError naming the file and the field:

    doc = Document("p.json", "precision plan", "write it with `trtdiff plan export --format trtdiff`")
    data = read_json(doc)                        # missing, unreadable, not JSON -> UsageError
    check_version(data, "version", 1, doc)       # newer -> refused, not rewritten
    plan = decode(PrecisionPlan, data, doc)      # 'per_channel': "no" -> "field 'per_channel' should be true or false"

Numbers may be written as the strings "inf", "-inf" and "nan" (results keep JSON standard that way).
Keys a dataclass does not declare are left to the caller (`unknown_keys`): results ignore them,
plans refuse them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn, Union

from trtdiff.errors import UsageError

NUMBER_STRINGS = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}
_SCALARS = (bool, int, float, str)
MAX_JSON_BYTES = 1 << 30  # a result of a model with every tensor marked stays far below this


@dataclass(frozen=True)
class Document:
    """Where data came from and how to get a good one, for error messages."""

    name: str  # the file (or "result JSON" for data that came from no file)
    kind: str  # what it should be: "precision plan", "bisect state file", ...
    fix: str

    def fail(self, where: str, expected: str, value: Any = ..., found: str | None = None) -> NoReturn:
        shown = found if found is not None else ("nothing" if value is ... else describe(value))
        raise UsageError(f"{self.name} is not a usable {self.kind}",
                         f"field '{where}' {expected}, found {shown}" if where else f"it {expected}, found {shown}",
                         self.fix)


def describe(value: Any) -> str:
    """A short account of a JSON value for an error: `string "no"`, `null`, `list of 3`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"string {json.dumps(value[:40])}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def read_json(path: str | Path, doc: Document) -> Any:
    """The JSON in `path`; a UsageError naming the file when it is missing, a folder, too large,
    not UTF-8 or not JSON."""
    file = Path(path)
    if not file.exists():
        raise UsageError(f"cannot read {file}", "no such file", doc.fix)
    if file.is_dir():
        raise UsageError(f"cannot read {file}", "it is a folder", doc.fix)
    try:
        if file.is_file() and file.stat().st_size > MAX_JSON_BYTES:
            raise UsageError(f"cannot read {file}", f"it is over {MAX_JSON_BYTES >> 20} MiB",
                             doc.fix)
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read {file}", str(err), doc.fix) from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"{file} is not valid JSON", f"{err.msg} at line {err.lineno}, column {err.colno}",
                         doc.fix) from err
    except RecursionError as err:
        raise UsageError(f"{file} is not a usable {doc.kind}", "it is nested too deeply", doc.fix) from err


def check_version(data: Any, key: str, newest: int, doc: Document, *, default: int | None = None) -> int:
    """The format version in `data[key]`: a whole number from 1 to `newest`. A newer one is refused
    (this trtdiff cannot know what it means), never read as if it were the current one."""
    if not isinstance(data, dict):
        doc.fail("", "should be a JSON object", data)
    if key not in data and default is not None:
        return default
    version = data.get(key, ...)
    if isinstance(version, bool) or not isinstance(version, int):
        doc.fail(key, "should be a whole number", version)
    if version > newest:
        raise UsageError(f"{doc.name} was written by a newer trtdiff",
                         f"its {key} is {version}; this trtdiff reads up to {newest}",
                         "Upgrade trtdiff (pip install -U trtdiff) to read it")
    if version < 1:
        doc.fail(key, f"should be 1 to {newest}", version)
    return version


def unknown_keys(cls: Any, data: dict[str, Any], extra: tuple[str, ...] = ()) -> list[str]:
    """Keys of `data` that dataclass `cls` does not declare (besides `extra`), sorted."""
    known = {f.name for f in dataclasses.fields(cls)} | set(extra)
    return sorted(k for k in data if k not in known)


Decoder = Callable[[Any, Document, str], Any]


def decode(hint: Any, value: Any, doc: Document, where: str = "") -> Any:
    """`value` (parsed JSON) as type `hint`: dataclasses field by field, tuple[X, ...] from lists,
    dict[str, X], X | None, Literal[...], bool, int, float (numbers or "inf"/"nan"), str, Any."""
    return _decoder(hint)(value, doc, where)


def decode_dataclass(cls: Any, data: Any, doc: Document, where: str = "",
                     given: dict[str, Any] | None = None) -> Any:
    """An instance of dataclass `cls` from a JSON object: every declared field that is present is
    decoded by its type; a field without a default must be present; other keys are ignored.
    `given` holds fields the caller has decoded itself."""
    if not isinstance(data, dict):
        doc.fail(where, "should be an object", data)
    kwargs = dict(given or {})
    for name, decoder, required, exact in _fields(cls):
        if name in kwargs:
            continue
        if name in data:
            value = data[name]
            if type(value) is exact:  # already of its type: the common case, checked inline for speed
                kwargs[name] = value
            else:
                kwargs[name] = decoder(value, doc, f"{where}.{name}" if where else name)
        elif required:
            doc.fail(f"{where}.{name}" if where else name, "is missing")
    return cls(**kwargs)


@functools.lru_cache(maxsize=None)
def _fields(cls: Any) -> tuple[tuple[str, Decoder, bool, type | None], ...]:
    """(name, decoder, required, exact scalar type or None) of each field of dataclass `cls`:
    worked out once per class."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _decoder(hints[f.name]),
                  f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, _exact(hints[f.name]))
                 for f in dataclasses.fields(cls))


def _exact(hint: Any) -> type | None:
    """The scalar type a value of `hint` (or `hint | None`) has when it needs no conversion."""
    arms = [a for a in typing.get_args(hint) if a is not type(None)] if typing.get_origin(hint) in (
        Union, types.UnionType) else [hint]
    return arms[0] if len(arms) == 1 and arms[0] in _SCALARS else None


@functools.lru_cache(maxsize=None)
def _decoder(hint: Any) -> Decoder:
    """The function that decodes values of type `hint`, worked out once per type: reading a result
    of thousands of tensors asks the same few types again and again."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return lambda value, doc, where: value
    if hint in _SCALARS or hint is type(None):
        return functools.partial(_decode_scalar, hint)
    if origin in (Union, types.UnionType):
        return functools.partial(_decode_union, tuple(a for a in args if a is not type(None)), type(None) in args)
    if origin is Literal:
        return functools.partial(_decode_literal, args)
    if dataclasses.is_dataclass(hint):
        return functools.partial(decode_dataclass, hint)
    if origin in (tuple, list) or hint in (tuple, list):
        return functools.partial(_decode_sequence, origin or hint, args)
    if origin is dict or hint is dict:
        return functools.partial(_decode_mapping, _decoder(args[1] if len(args) == 2 else Any))
    return lambda value, doc, where: value


def _decode_literal(choices: tuple[Any, ...], value: Any, doc: Document, where: str) -> Any:
    if value not in choices:
        doc.fail(where, f"should be one of {', '.join(map(str, choices))}", value)
    return value


def _decode_union(arms: tuple[Any, ...], nullable: bool, value: Any, doc: Document, where: str) -> Any:
    if value is None:
        if nullable:
            return None
        doc.fail(where, f"should be {_name(arms[-1])}", value)
    for arm in arms[:-1]:
        try:
            return _decoder(arm)(value, doc, where)
        except UsageError:
            continue
    return _decoder(arms[-1])(value, doc, where)


def _decode_sequence(kind: type, args: tuple[Any, ...], value: Any, doc: Document, where: str) -> Any:
    if not isinstance(value, (list, tuple)):
        doc.fail(where, "should be a list", value)
    if kind is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            doc.fail(where, f"should be a list of {len(args)}", value)
        return tuple(_decoder(a)(v, doc, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    item = args[0] if args else Any
    if item in (int, str, bool) and all(type(v) is item for v in value):  # the common case, fast
        return tuple(value) if kind is tuple else list(value)
    decoder = _decoder(item)
    items = [decoder(v, doc, f"{where}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if kind is tuple else items


def _decode_mapping(item: Decoder, value: Any, doc: Document, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        doc.fail(where, "should be an object", value)
    return {str(k): item(v, doc, f"{where}.{k}" if where else str(k)) for k, v in value.items()}


def _decode_scalar(hint: Any, value: Any, doc: Document, where: str) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            doc.fail(where, "should be true or false", value)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            doc.fail(where, "should be a whole number", value)
        return value
    if hint is float:
        if isinstance(value, str) and value in NUMBER_STRINGS:
            return NUMBER_STRINGS[value]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            doc.fail(where, "should be a number", value)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            doc.fail(where, "should be a string", value)
        return value
    if hint is type(None):
        if value is not None:
            doc.fail(where, "should be null", value)
        return None
    return value


def _name(hint: Any) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    return names.get(hint, "a list" if typing.get_origin(hint) in (tuple, list) else "an object")
