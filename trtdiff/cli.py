"""The `trtdiff` command group and its one error boundary.

Each command lives in `trtdiff/commands/<name>.py` (parse options, call the library, print) and is
registered here explicitly. `main` turns every TrtDiffError into one line on stderr and its exit
code; nothing else in the program catches errors to print them.
"""

from __future__ import annotations

import logging
import sys

import click

from trtdiff import __version__
from trtdiff.errors import ExitCode, TrtDiffError

log = logging.getLogger("trtdiff")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="trtdiff")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Find where a model loses accuracy at reduced precision, which layer introduces the error,
    and which layers to keep in FP32."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _register() -> None:
    from trtdiff.commands import run

    cli.add_command(run.run_command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console entry point: the one place errors become messages and exit codes."""
    try:
        code = cli.main(args=argv, prog_name="trtdiff", standalone_mode=False)
    except TrtDiffError as err:
        click.echo(f"trtdiff: error: {err.one_line()}", err=True)
        sys.exit(int(err.exit_code))
    except click.exceptions.Abort:
        click.echo("trtdiff: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(int(ExitCode.USAGE))
    except KeyboardInterrupt:
        click.echo("trtdiff: interrupted", err=True)
        sys.exit(130)
    sys.exit(int(code or 0))
