"""File options that say what they are: read (`InputPath`), written (`OutputPath`, `OutputFolder`)
or both (`InOutPath`, e.g. a timing cache or a bisect state). `CheckedCommand` checks them all
before the command runs (`trtdiff.fileio.check_paths`): an output that is one of the inputs, two
outputs on one path, an output that cannot be written, or one that a --load-inputs or
--calibration-data folder would read as a sample next time is refused before any work.

    @click.command("run", cls=CheckedCommand)
    @click.argument("model", type=InputPath(dir_okay=False))
    @click.option("--json", "json_path", type=OutputPath(), default=None)

Every command registers with `cls=CheckedCommand` (groups: `command_class`), and every path
option uses one of these types: tests/robustness/test_output_paths.py checks both.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from trtdiff.errors import UsageError
from trtdiff.fileio import check_paths, is_stdout


class InputPath(click.Path):
    """A file or folder the command reads."""

    role = "input"


class OutputPath(click.Path):
    """A file the command writes; '-' is stdout."""

    role = "output"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("dir_okay", False)
        kwargs.setdefault("allow_dash", True)
        super().__init__(**kwargs)


class OutputFolder(click.Path):
    """A folder the command writes several files into (made when missing)."""

    role = "folder"


class InOutPath(click.Path):
    """A file read when present and written back (a timing cache, a bisect state)."""

    role = "inout"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("dir_okay", False)
        super().__init__(**kwargs)


class OutputFileOrFolder(click.Path):
    """A file, or a folder when it is one already (`plan export --format all -o DIR`)."""

    role = "output-or-folder"


class CheckedCommand(click.Command):
    """A command whose file options are checked (see the module doc) before its callback runs."""

    def invoke(self, ctx: click.Context) -> Any:
        check_command_paths(ctx)
        return super().invoke(ctx)


class CheckedGroup(click.Group):
    """A group whose commands are `CheckedCommand`s."""

    command_class = CheckedCommand


def check_command_paths(ctx: click.Context) -> None:
    """`fileio.check_paths` over the command's typed path parameters, as parsed in `ctx`."""
    inputs: list[tuple[str, Any]] = []
    outputs: list[tuple[str, Any]] = []
    folders: list[tuple[str, Any]] = []
    for param in ctx.command.params:
        role = getattr(param.type, "role", None)
        if role is None:
            continue
        label = _label(param)
        for value in _values(ctx.params.get(param.name or "")):
            if role in ("input", "inout"):
                inputs.append((label if role == "inout" else _input_label(param), value))
            if role in ("output", "inout"):
                outputs.append((label, value))
            if role == "folder" or role == "output-or-folder" and Path(value).is_dir():
                folders.append((label, value))
            elif role == "output-or-folder":
                outputs.append((label, value))
    check_paths(outputs, inputs, folders)
    refuse_outputs_read_as_samples(outputs, inputs)


DATA_SET_OPTIONS = ("--load-inputs", "--calibration-data")  # folders read file by file, as samples


def refuse_outputs_read_as_samples(outputs: list[tuple[str, Any]], inputs: list[tuple[str, Any]]) -> None:
    """Refuse an output file that a data-set folder among the inputs (what, path: "the
    --load-inputs file", DIR) would read as a sample in the next run on it."""
    folders = [(what, os.fspath(path)) for what, path in inputs
               if any(option in what for option in DATA_SET_OPTIONS) and Path(path).is_dir()]
    if not folders:
        return
    from trtdiff.dataset.files import read_as_a_sample

    for option, text in ((o, os.fspath(p)) for o, p in outputs):
        for what, source in folders:
            if not is_stdout(text) and read_as_a_sample(source, text):
                folder = os.path.realpath(source)
                raise UsageError(f"{option} {text} is inside {what.replace(' file', ' folder')} {folder}",
                                 "trtdiff reads each file of that kind there as a sample, so the next run on "
                                 "that folder would read this one too", f"Write {option} outside {folder}")


def _values(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _label(param: click.Parameter) -> str:
    """'--json' for an option, 'MODEL' for an argument: how errors name it."""
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return param.human_readable_name


def _input_label(param: click.Parameter) -> str:
    """'the --load-inputs file', 'the MODEL': an input as errors name it."""
    return f"the {_label(param)} file" if isinstance(param, click.Option) else f"the {_label(param)}"
