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
from trtdiff.errors import TrtDiffError

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
    """A click group whose invoke is the program's single error boundary."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrtDiffError as err:
            click.echo(f"trtdiff: error: {err.one_line()}", err=True)
            logging.getLogger("trtdiff").debug("details", exc_info=True)
            ctx.exit(int(err.exit_code))
        except KeyboardInterrupt:
            click.echo("trtdiff: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)

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


@click.group(cls=TrtDiffGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="trtdiff")
def cli() -> None:
    """Find where a model loses accuracy at reduced precision, which layer introduces the error,
    and which layers to keep in FP32."""


add_verbosity_options(cli)


def main() -> None:
    """Console entry point (`trtdiff`, `python -m trtdiff`)."""
    cli(prog_name="trtdiff")
