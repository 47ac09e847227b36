"""Read a comparison back from the JSON that `trtdiff run --json` writes, turning every way the
file can be wrong into one UsageError line (exit 2) that says what to pass instead."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from trtdiff.compare.divergence import first_significant_divergence
from trtdiff.errors import UsageError
from trtdiff.result import SCHEMA_VERSION, Comparison, comparison_from_dict

FIX = "Pass the file written by `trtdiff run MODEL --json RESULT.json`"
# What comparison_from_dict raises on JSON of the wrong shape (a missing field, a list where an
# object belongs, a string where a number belongs).
SHAPE_ERRORS = (TypeError, KeyError, AttributeError, ValueError, IndexError)


def _read_text(path: Path) -> str:
    if not path.exists():
        raise UsageError(f"cannot read {path}", "no such file", FIX)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read {path}", str(err), FIX) from err


def comparison_from_file(path: str | Path) -> Comparison:
    """The Comparison stored in a `--json` result file; UsageError when it is not one."""
    path = Path(path)
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"{path} is not valid JSON",
                         f"{err.msg} at line {err.lineno}, column {err.colno}", FIX) from err
    if not isinstance(data, dict) or "tensors" not in data or "settings" not in data:
        raise UsageError(f"{path} is not a trtdiff result", "it has no 'tensors' and 'settings'", FIX)
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise UsageError(f"{path} was written by a newer trtdiff",
                         f"result schema {version!r}; this trtdiff reads up to {SCHEMA_VERSION}",
                         "Upgrade trtdiff to read it")
    try:
        comparison = comparison_from_dict(data)
    except SHAPE_ERRORS as err:
        raise UsageError(f"{path} is not a trtdiff result",
                         f"{type(err).__name__}: {err}", FIX) from err
    if "significant_divergence" not in data:  # written before trtdiff named it: name it now
        found = first_significant_divergence(comparison.tensors, comparison.settings.divergence_snr_db)
        comparison = replace(comparison, significant_divergence=found)
    return comparison
