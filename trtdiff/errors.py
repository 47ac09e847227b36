"""Errors and exit codes: the one place that decides how a failure ends the program.

Every error says what went wrong, why, and how to fix it, in one line. The CLI's single error
boundary (`trtdiff.cli.main`) turns a `TrtDiffError` into that line and its exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    PASSED = 0
    MISMATCH = 1  # the comparison ran and the target is outside tolerance
    USAGE = 2  # the user asked for something invalid (bad flag, bad input file, unknown name)
    TOOL = 3  # the model or a tool failed (corrupt model, unsupported op, missing TensorRT)


class TrtDiffError(Exception):
    """Base error: `what` happened, `why`, and `fix` (how to get past it)."""

    exit_code: ExitCode = ExitCode.TOOL

    def __init__(self, what: str, why: str = "", fix: str = "") -> None:
        self.what = what
        self.why = why
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        parts = [self.what.rstrip(".")]
        if self.why:
            parts.append(self.why.rstrip("."))
        text = ": ".join(parts) + "."
        if self.fix:
            text += " " + self.fix.rstrip(".") + "."
        return " ".join(text.split())


class UsageError(TrtDiffError):
    """The request itself is invalid: a flag, a name, an input file."""

    exit_code = ExitCode.USAGE


class ModelError(TrtDiffError):
    """The model cannot be loaded, converted or run."""

    exit_code = ExitCode.TOOL


class ToolError(TrtDiffError):
    """A backend (ONNX Runtime, TensorRT) is missing or failed."""

    exit_code = ExitCode.TOOL


class ToolUnavailable(ToolError):
    """The backend cannot run here at all (not installed; no driver; a GPU it does not run on):
    no model or precision plan changes that, so searches (bisect, reduce) stop on it instead of
    counting it as a failing candidate."""


def close_names(name: str, candidates: list[str] | tuple[str, ...], limit: int = 5) -> str:
    """A short 'did you mean' list for error messages."""
    import difflib

    matches = difflib.get_close_matches(name, list(candidates), n=limit, cutoff=0.4)
    if not matches:
        matches = list(candidates)[:limit]
    return ", ".join(matches)


def check_choice(what: str, value: object, choices: tuple[str, ...], why: str = "") -> None:
    """UsageError unless `value` is one of `choices` (e.g. a mode or policy named in an option)."""
    if value not in choices:
        raise UsageError(f"unknown {what} '{value}'", why or f"valid: {', '.join(choices)}",
                         f"choose one of {', '.join(choices)}")
