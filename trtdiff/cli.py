"""The `trtdiff` command group and its one error boundary.

Each command lives in `trtdiff/commands/<name>.py` (parse options, call the library, print) and is
named here explicitly (`COMMANDS`), its module imported when the command is asked for. `TrtDiffGroup.invoke` turns every TrtDiffError into one line on stderr
and its exit code; nothing else in the program catches errors to print them. A command ends with
`ctx.exit(code)` to report pass (0) or accuracy mismatch (1).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import click

from trtdiff import __version__
from trtdiff.commands.verbosity import add_verbosity_options
from trtdiff.errors import ExitCode, TrtDiffError

EXIT_INTERRUPTED = 130
# Each command and where it lives, imported when it is asked for.
COMMANDS = {
    "run": "trtdiff.commands.run:run_command",
    "bisect": "trtdiff.commands.bisect:bisect_group",
    "split": "trtdiff.commands.split:split_command",
    "build": "trtdiff.commands.build:build_command",
    "plan": "trtdiff.commands.plan:plan_group",
    "report": "trtdiff.commands.report:report_command",
    "doctor": "trtdiff.commands.doctor:doctor_command",
    "diff": "trtdiff.commands.diff:diff_command",
    "baseline": "trtdiff.commands.baseline:baseline_group",
    "check": "trtdiff.commands.check:check_command",
}


class TrtDiffGroup(click.Group):
    """A click group whose invoke is the program's single error boundary: a TrtDiffError, a bad
    option (click's usage errors) and a bug alike end as one line on stderr and an exit code."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as err:  # an unknown option of the group itself
            _echo_error(_usage_line(err))
            raise click.exceptions.Exit(int(ExitCode.USAGE)) from err

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrtDiffError as err:
            _echo_error(err.one_line())
            ctx.exit(int(err.exit_code))
        except click.UsageError as err:  # a bad option or value, found by click while parsing
            _echo_error(_usage_line(err, ctx))
            ctx.exit(int(ExitCode.USAGE))
        except click.ClickException as err:  # e.g. click.FileError: a file click itself opens
            _echo_error(" ".join(err.format_message().split()))
            ctx.exit(int(ExitCode.USAGE))
        except KeyboardInterrupt:
            click.echo("trtdiff: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as err:  # a bug: one line, never exit 1 (the code of an accuracy mismatch)
            _echo_error(f"internal error: {type(err).__name__}: {_first_line(err)}. This is a bug in "
                        "trtdiff: rerun with -vv for the traceback and report it with the command.")
            ctx.exit(int(ExitCode.TOOL))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command (its module imported only now, so that `trtdiff diff` does not pay for
        ONNX Runtime), with -v/-q added so that they work after the subcommand too."""
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, attribute = COMMANDS[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        command = super().get_command(ctx, cmd_name)
        return add_verbosity_options(command) if command is not None else None


def _echo_error(line: str) -> None:
    click.echo(f"trtdiff: error: {line}", err=True)
    logging.getLogger("trtdiff").debug("details", exc_info=True)  # the traceback, with -vv


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:300] if lines else "no message"


def _usage_line(err: click.UsageError, group: click.Context | None = None) -> str:
    """click's error in trtdiff's one-line form, with where to read about the options."""
    message = " ".join(err.format_message().split())
    message = message if message.endswith(("?", ".")) else message + "."
    command = err.ctx.command_path if err.ctx is not None else "trtdiff"
    if group is not None and group.invoked_subcommand and (err.ctx is None or err.ctx is group):
        command = f"{group.command_path} {group.invoked_subcommand}"
    return f"bad command line: {message[:1].lower()}{message[1:]} See `{command} --help` for the options."


@click.group(cls=TrtDiffGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="trtdiff")
def cli() -> None:
    """Find where a model loses accuracy at reduced precision, which layer introduces the error,
    and which layers to keep in FP32."""


add_verbosity_options(cli)


def main() -> None:
    """Console entry point (`trtdiff`, `python -m trtdiff`)."""
    cli(prog_name="trtdiff")
