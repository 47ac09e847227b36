"""Typed reads of JSON that trtdiff wrote earlier (a baseline, a `--json` result): each field is
checked as it is read, and a wrong one is one UsageError line naming the file and the field
("field 'profile[3].max_abs' should be a number, found string 'lots'") and saying what to do."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtdiff.errors import UsageError

NUMBER_STRINGS = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


@dataclass(frozen=True)
class Source:
    """The file being read, what it should be ('a usable baseline') and how to get a good one."""

    file: Path
    kind: str
    fix: str

    def fail(self, where: str, expected: str, found: str) -> None:
        raise UsageError(f"{self.file} is not {self.kind}", f"field '{where}' {expected}, found {found}", self.fix)

    def read_json(self) -> Any:
        try:
            return json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"cannot read {self.file}", str(err), self.fix) from err
        except json.JSONDecodeError as err:
            raise UsageError(f"{self.file} is not valid JSON", f"{err.msg} at line {err.lineno}, column {err.colno}",
                             self.fix) from err


class Fields:
    """One JSON object of `source`, at path `where` ('' for the top level)."""

    def __init__(self, data: Any, where: str, source: Source) -> None:
        if not isinstance(data, dict):
            source.fail(where or "(top level)", "should be an object", type(data).__name__)
        self.data, self.where, self.source = data, where, source

    def at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, kinds: tuple[type, ...], default: Any = ..., optional: bool = False) -> Any:
        """The value of `key`, which must be one of `kinds` (bool is not an int here); `default`
        when absent (absent without a default fails); None accepted when `optional`."""
        if key not in self.data:
            if default is ...:
                self.source.fail(self.at(key), "is missing", "nothing")
            return default
        value = self.data[key]
        if value is None and optional:
            return None
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            self.source.fail(self.at(key), f"should be {' or '.join(k.__name__ for k in kinds)}",
                             f"{type(value).__name__} {str(value)[:40]!r}")
        return value

    def number(self, key: str, default: Any = ..., optional: bool = False) -> float | None:
        """A float, written as a JSON number or as "inf", "-inf", "nan"."""
        value = self.get(key, (int, float, str), default, optional)
        if isinstance(value, str):
            if value not in NUMBER_STRINGS:
                self.source.fail(self.at(key), "should be a number", f"string {value!r}")
            return NUMBER_STRINGS[value]
        return None if value is None else float(value)

    def strings(self, key: str, default: Any = ...) -> list[str]:
        values = self.get(key, (list,), default)
        for i, value in enumerate(values):
            if not isinstance(value, str):
                self.source.fail(f"{self.at(key)}[{i}]", "should be a string", type(value).__name__)
        return list(values)

    def mapping(self, key: str, default: Any = ...) -> dict[str, Any]:
        return dict(self.get(key, (dict,), default))

    def sub(self, key: str) -> Fields:
        return Fields(self.get(key, (dict,)), self.at(key), self.source)

    def items(self, key: str) -> list[Fields]:
        """A list of objects, each as Fields."""
        return [Fields(row, f"{self.at(key)}[{i}]", self.source) for i, row in enumerate(self.get(key, (list,)))]
