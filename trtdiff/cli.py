"""The `trtdiff` command group and its one error boundary.

Each command lives in `trtdiff/commands/<name>.py` (parse options, call the library, print) and is
listed here explicitly in COMMANDS, with the summary `trtdiff --help` shows: a command module (and
numpy, onnx, ONNX Runtime behind it) is imported only when that command runs, so `--help` and
`--version` start in a fraction of a second. `TrtDiffGroup.invoke` turns every TrtDiffError into one line on stderr
and its exit code; nothing else in the program catches errors to print them. A command ends with
`ctx.exit(code)` to report pass (0) or accuracy mismatch (1).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import click

from trtdiff import __version__
from trtdiff.errors import TrtDiffError

EXIT_INTERRUPTED = 130

# name: (module, attribute, summary); the summary is the command's own first sentence (a test
# checks they agree), so listing the commands imports none of them
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("trtdiff.commands.run", "run_command",
            "Run MODEL in FP32 (reference) and in the target precision, and compare every tensor."),
    "bisect": ("trtdiff.commands.bisect", "bisect_group",
               "Find the smallest set of nodes to keep in FP32 (`trtdiff bisect MODEL --fp16 ...`), or the "
               "smallest subgraph that still fails (`trtdiff bisect reduce MODEL --fp16 ...`)."),
    "split": ("trtdiff.commands.split", "split_command",
              "Partition MODEL into maximal subgraphs the target supports and those it does not, saved as "
              "ONNX files named by node range (`00_supported_nodes_0000-0041.onnx`), plus summary.json."),
    "plan": ("trtdiff.commands.plan", "plan_group",
             "Precision plans: which nodes run in FP32, exported for other tools."),
    "report": ("trtdiff.commands.report", "report_command",
               "Write the HTML precision report for RESULT, the JSON written by `trtdiff run --json`."),
    "doctor": ("trtdiff.commands.doctor", "doctor_command",
               "Show what this machine can run: TensorRT, CUDA, GPU, ONNX Runtime and its providers."),
}


class TrtDiffGroup(click.Group):
    """A click group whose invoke is the program's single error boundary, and whose commands
    load when used (COMMANDS)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands or name not in COMMANDS:
            return super().get_command(ctx, name)
        module, attribute, _ = COMMANDS[name]
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `--help`, from the summaries: no command module is imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, self._summary(ctx, name).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _summary(self, ctx: click.Context, name: str) -> click.Command:
        if name in COMMANDS and name not in self.commands:
            return click.Command(name, help=COMMANDS[name][2])
        command = self.get_command(ctx, name)
        assert command is not None
        return command

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


@click.group(cls=TrtDiffGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="trtdiff")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug with tracebacks).")
def cli(verbose: int) -> None:
    """Find where a model loses accuracy at reduced precision, which layer introduces the error,
    and which layers to keep in FP32."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("trtdiff").setLevel(level)


def main() -> None:
    """Console entry point (`trtdiff`, `python -m trtdiff`)."""
    cli(prog_name="trtdiff")
