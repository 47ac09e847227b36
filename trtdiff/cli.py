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
from trtdiff.errors import ExitCode, TrtDiffError

EXIT_INTERRUPTED = 130


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
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug with tracebacks).")
def cli(verbose: int) -> None:
    """Find where a model loses accuracy at reduced precision, which layer introduces the error,
    and which layers to keep in FP32."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("trtdiff").setLevel(level)


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
