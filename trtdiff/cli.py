"""The `trtdiff` command group and its one error boundary.

Each command lives in `trtdiff/commands/<name>.py` (parse options, call the library, print) and is
registered here explicitly. `TrtDiffGroup.invoke` turns every TrtDiffError into one line on stderr
and its exit code; nothing else in the program catches errors to print them. A command ends with
`ctx.exit(code)` to report pass (0) or accuracy mismatch (1).
"""

from __future__ import annotations

import logging
from typing import Any

import click

from trtdiff import __version__
from trtdiff.commands.verbosity import add_verbosity_options
from trtdiff.errors import TrtDiffError

EXIT_INTERRUPTED = 130


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

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, with -v/-q added so that they work after the subcommand too."""
        command = super().get_command(ctx, cmd_name)
        return add_verbosity_options(command) if command is not None else None


@click.group(cls=TrtDiffGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="trtdiff")
def cli() -> None:
    """Find where a model loses accuracy at reduced precision, which layer introduces the error,
    and which layers to keep in FP32."""


add_verbosity_options(cli)


def _register() -> None:
    from trtdiff.commands import bisect, diff, doctor, plan, report, run, split

    cli.add_command(run.run_command)
    cli.add_command(bisect.bisect_group)
    cli.add_command(split.split_command)
    cli.add_command(plan.plan_group)
    cli.add_command(report.report_command)
    cli.add_command(doctor.doctor_command)
    cli.add_command(diff.diff_command)


_register()


def main() -> None:
    """Console entry point (`trtdiff`, `python -m trtdiff`)."""
    cli(prog_name="trtdiff")
