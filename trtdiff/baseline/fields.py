"""Typed reads of JSON that trtdiff wrote earlier (a baseline, a `--json` result), one field at a
time, through `trtdiff.typed` (the reader plans, results and bisect states go through): a wrong
field is one UsageError line naming the file and the field ("field 'profile[3].max_abs' should be
a number, found string "lots"") and saying what to do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from trtdiff.typed import Document, decode, read_json


@dataclass(frozen=True)
class Source:
    """The file being read, what it should be ('baseline') and how to get a good one."""

    file: Path
    kind: str
    fix: str

    @property
    def document(self) -> Document:
        return Document(str(self.file), self.kind, self.fix)

    def fail(self, where: str, expected: str, found: str) -> None:
        self.document.fail(where, expected, found=found)

    def read_json(self) -> Any:
        return read_json(self.file, self.document)


class Fields:
    """One JSON object of `source`, at path `where` ('' for the top level)."""

    def __init__(self, data: Any, where: str, source: Source) -> None:
        if not isinstance(data, dict):
            source.document.fail(where, "should be an object", data)
        self.data, self.where, self.source = data, where, source

    def at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, kinds: tuple[type, ...], default: Any = ..., optional: bool = False) -> Any:
        """The value of `key`, of type `kinds[0]` (bool is not an int here); `default` when absent
        (absent without a default fails); None accepted when `optional`."""
        return self._decode(key, Optional[kinds[0]] if optional else kinds[0], default)

    def number(self, key: str, default: Any = ..., optional: bool = False) -> float | None:
        """A float, written as a JSON number or as "inf", "-inf", "nan"."""
        return self._decode(key, Optional[float] if optional else float, default)  # type: ignore[no-any-return]

    def strings(self, key: str, default: Any = ...) -> list[str]:
        return self._decode(key, list[str], default)  # type: ignore[no-any-return]

    def mapping(self, key: str, default: Any = ...) -> dict[str, Any]:
        return dict(self.get(key, (dict,), default))

    def sub(self, key: str) -> Fields:
        return Fields(self.get(key, (dict,)), self.at(key), self.source)

    def items(self, key: str) -> list[Fields]:
        """A list of objects, each as Fields."""
        return [Fields(row, f"{self.at(key)}[{i}]", self.source) for i, row in enumerate(self.get(key, (list,)))]

    def _decode(self, key: str, hint: Any, default: Any) -> Any:
        if key not in self.data:
            if default is ...:
                self.source.document.fail(self.at(key), "is missing")
            return default
        return decode(hint, self.data[key], self.source.document, self.at(key))
