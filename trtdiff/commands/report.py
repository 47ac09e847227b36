"""`trtdiff report RESULT.json -o out.html`: turn a saved comparison into the HTML report."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from trtdiff.options.paths import CheckedCommand, InputPath, OutputPath
from trtdiff.errors import UsageError
from trtdiff.fileio import is_stdout

from trtdiff.report.html import write_report
from trtdiff.report.load import comparison_from_file


@click.command("report", cls=CheckedCommand)
@click.argument("result", type=InputPath(path_type=Path))
@click.option("-o", "--output", type=OutputPath(path_type=Path), default=None,
              help="Where to write the HTML report [default: RESULT with the suffix .html].")
def report_command(result: Path, output: Path | None) -> None:
    """Write the HTML precision report for RESULT, the JSON written by `trtdiff run --json`.

    The report is one self-contained file: open it offline, attach it to a bug or publish it
    from CI. Exit 0 when it is written (whatever the verdict), 2 when RESULT is not a result.
    """
    target = output if output is not None else result.with_suffix(".html")
    if output is None and target.exists() and target.resolve() == result.resolve():
        raise UsageError(f"the report would be written over {result}", "without -o it goes to RESULT with the "
                         "suffix .html, and RESULT is that file", "Pass -o REPORT.html")
    comparison = comparison_from_file(result)
    command = shlex.join(["trtdiff", "report", str(result), "-o", str(target)])
    write_report(comparison, target, command=command)
    click.echo(f"report written to {'stdout' if is_stdout(target) else target}", err=is_stdout(target))
