"""Read a baseline directory back, checking `baseline.json` field by field: every way it can be
wrong (missing, not JSON, a field of the wrong type, a newer format) is one UsageError line that
names the file and the field and says what to do. A baseline written by another trtdiff version
with the same format loads; fields it does not know are ignored, fields added later take defaults.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from trtdiff.baseline.profile import REQUIRED_METRIC_FIELDS, Profile
from trtdiff.baseline.store import BASELINE_FILE, BASELINE_FORMAT, Baseline
from trtdiff.errors import UsageError
from trtdiff.result import ErrorMetrics, TensorResult, Tolerances

FIX = "Save it again with `trtdiff baseline save MODEL ... -o DIR`"
_NUMBER_STRINGS = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}
_STATUSES = ("compared", "reference_only", "target_only", "shape_mismatch")


class _Fields:
    """Typed reads of one JSON object, each failure a UsageError naming `where`."""

    def __init__(self, data: Any, where: str, file: Path) -> None:
        if not isinstance(data, dict):
            self._fail(file, where, "should be an object", type(data).__name__)
        self.data, self.where, self.file = data, where, file

    @staticmethod
    def _fail(file: Path, where: str, expected: str, found: str) -> None:
        raise UsageError(f"{file} is not a usable baseline", f"field '{where}' {expected}, found {found}", FIX)

    def get(self, key: str, kinds: tuple[type, ...], default: Any = ..., optional: bool = False) -> Any:
        if key not in self.data:
            if default is ...:
                self._fail(self.file, self._at(key), "is missing", "nothing")
            return default
        value = self.data[key]
        if value is None and optional:
            return None
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            self._fail(self.file, self._at(key), f"should be {' or '.join(k.__name__ for k in kinds)}",
                       f"{type(value).__name__} {str(value)[:40]!r}")
        return value

    def number(self, key: str, default: Any = ..., optional: bool = False) -> float | None:
        value = self.get(key, (int, float, str), default, optional)
        if isinstance(value, str):
            if value not in _NUMBER_STRINGS:
                self._fail(self.file, self._at(key), "should be a number", f"string {value!r}")
            return _NUMBER_STRINGS[value]
        return None if value is None else float(value)

    def mapping(self, key: str, default: Any = ...) -> dict[str, Any]:
        return dict(self.get(key, (dict,), default))

    def sub(self, key: str) -> _Fields:
        return _Fields(self.get(key, (dict,)), self._at(key), self.file)

    def _at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key


def load_baseline(path: str | Path) -> Baseline:
    """The baseline in directory `path` (or its baseline.json); UsageError when it is not one."""
    directory = Path(path)
    file = directory if directory.name == BASELINE_FILE and directory.is_file() else directory / BASELINE_FILE
    if not file.is_file():
        why = "no such directory" if not file.parent.exists() else f"it has no {BASELINE_FILE}"
        raise UsageError(f"cannot read the baseline {directory}", why, FIX)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read {file}", str(err), FIX) from err
    except json.JSONDecodeError as err:
        raise UsageError(f"{file} is not valid JSON", f"{err.msg} at line {err.lineno}, column {err.colno}",
                         FIX) from err
    return baseline_from_dict(data, file)


def baseline_from_dict(data: Any, file: Path) -> Baseline:
    top = _Fields(data, "", file)
    version = top.get("format", (int,))
    if version > BASELINE_FORMAT:
        raise UsageError(f"{file} was written by a newer trtdiff",
                         f"baseline format {version}; this trtdiff {_own_version()} reads up to {BASELINE_FORMAT}",
                         "Upgrade trtdiff (pip install -U trtdiff) or save the baseline again with this one")
    if version < 1:
        top._fail(file, "format", f"should be 1 to {BASELINE_FORMAT}", str(version))
    model, target = top.sub("model"), top.sub("target")
    outputs = top.get("outputs", (list,))
    tensors = tuple(_tensor(row, i, file) for i, row in enumerate(top.get("profile", (list,))))
    profile = Profile(tensors, tuple(_strings(outputs, "outputs", file)), _tolerances(top.sub("tolerances")),
                      str(file.parent))
    return Baseline(
        trtdiff_version=top.get("trtdiff", (str,)),
        created=top.get("created", (str,), ""),
        model_path=model.get("path", (str,)),
        model_digest=model.get("digest", (str,)),
        target=target.get("description", (str,)),
        plan=target.get("plan", (dict,), None, optional=True),
        data=top.mapping("data"),
        environment={str(k): str(v) for k, v in top.mapping("environment", {}).items()},
        profile=profile,
        options=top.mapping("options", {}),
        directory=str(file.parent),
        format=version,
    )


def _own_version() -> str:
    from trtdiff import __version__

    return __version__


def _strings(values: list[Any], where: str, file: Path) -> list[str]:
    for i, value in enumerate(values):
        if not isinstance(value, str):
            _Fields._fail(file, f"{where}[{i}]", "should be a string", type(value).__name__)
    return values


def _tolerances(fields: _Fields) -> Tolerances:
    per_atol, per_rtol = fields.mapping("per_tensor_atol", {}), fields.mapping("per_tensor_rtol", {})
    for key, table in (("per_tensor_atol", per_atol), ("per_tensor_rtol", per_rtol)):
        sub = _Fields(table, f"{fields.where}.{key}", fields.file)
        for name in table:
            table[name] = sub.number(name)
    return Tolerances(atol=fields.number("atol"), rtol=fields.number("rtol"), check=fields.get("check", (str,)),
                      rel_floor=fields.number("rel_floor"), per_tensor_atol=per_atol, per_tensor_rtol=per_rtol)


def _tensor(row: Any, position: int, file: Path) -> TensorResult:
    fields = _Fields(row, f"profile[{position}]", file)
    status = fields.get("status", (str,))
    if status not in _STATUSES:
        fields._fail(file, f"profile[{position}].status", f"should be one of {', '.join(_STATUSES)}", repr(status))
    shape = fields.get("shape", (list,), None, optional=True)
    compared = fields.data.get("max_abs") is not None
    return TensorResult(
        name=fields.get("name", (str,)), node=fields.get("node", (str,)), op_type=fields.get("op_type", (str,)),
        index=fields.get("index", (int,)), shape=tuple(shape) if shape is not None else None,
        dtype=fields.get("dtype", (str,), ""), status=status,
        target_dtype=fields.get("target_dtype", (str,), None, optional=True),
        is_output=fields.get("is_output", (bool,)), passed=fields.get("passed", (bool,), None, optional=True),
        atol=fields.number("atol"), rtol=fields.number("rtol"),
        metrics=_metrics(fields) if compared else None,
    )


def _metrics(fields: _Fields) -> ErrorMetrics:
    """Every ErrorMetrics field by its declared type; one added after the baseline was written
    takes its default."""
    values: dict[str, Any] = {}
    for metric in dataclasses.fields(ErrorMetrics):
        name, kind = metric.name, str(metric.type)
        if name not in REQUIRED_METRIC_FIELDS and name not in fields.data:
            continue
        optional = "None" in kind
        if kind.startswith("tuple"):  # the histogram: counts per bin
            counts = fields.get(name, (list,))
            if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
                fields._fail(fields.file, f"{fields.where}.{name}", "should be a list of counts", repr(counts)[:40])
            values[name] = tuple(counts)
        elif kind.startswith("float"):
            values[name] = fields.number(name, optional=optional)
        else:
            values[name] = fields.get(name, (int,), optional=optional)
    return ErrorMetrics(**values)
