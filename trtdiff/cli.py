"""The `trtdiff` command group and its one error boundary.

Each command lives in `trtdiff/commands/<name>.py` (parse options, call the library, print) and is
named here explicitly (`COMMANDS`, with the summary `trtdiff --help` lists), its module imported
when the command is asked for: `--help` and `--version` import no numpy, onnx or ONNX Runtime.
`TrtDiffGroup.invoke` turns every TrtDiffError into one line on stderr and its exit code; nothing
else in the program catches errors to print them. A command ends with `ctx.exit(code)` to report
pass (0) or accuracy mismatch (1).
"""

from __future__ import annotations

import gc
import importlib
import logging
from typing import Any

import click

from trtdiff.version import __version__
from trtdiff.options.verbosity import add_verbosity_options
from trtdiff.errors import ExitCode, TrtDiffError

EXIT_INTERRUPTED = 130
# Each command, where it lives (imported when it is asked for) and its summary for `--help`: the
# command's own first sentence (a test checks they agree), so listing commands imports none.
COMMANDS = {
    "run": ("trtdiff.commands.run:run_command",
            "Run MODEL in FP32 (reference) and in the target precision, and compare every tensor."),
    "bisect": ("trtdiff.commands.bisect:bisect_group",
               "Find the smallest set of nodes to keep in FP32 (`trtdiff bisect MODEL --fp16 ...`), or the "
               "smallest subgraph that still fails (`trtdiff bisect reduce MODEL --fp16 ...`)."),
    "split": ("trtdiff.commands.split:split_command",
              "Partition MODEL into maximal subgraphs the target supports and those it does not, saved as "
              "ONNX files named by node range (`00_supported_nodes_0000-0041.onnx`), plus summary.json."),
    "build": ("trtdiff.commands.build:build_command",
              "Build the TensorRT engine of MODEL in the target precision and save it, without running it."),
    "plan": ("trtdiff.commands.plan:plan_group",
             "Precision plans: which nodes run in FP32, exported for other tools."),
    "report": ("trtdiff.commands.report:report_command",
               "Write the HTML precision report for RESULT, the JSON written by `trtdiff run --json`."),
    "doctor": ("trtdiff.commands.doctor:doctor_command",
               "Show what this machine can run: TensorRT, CUDA, GPU, ONNX Runtime and its providers."),
    "diff": ("trtdiff.commands.diff:diff_command",
             "Compare two saved results: NEW against OLD (each a `trtdiff run --json` file, or a baseline "
             "directory), tensor by tensor, matched by name."),
    "baseline": ("trtdiff.commands.baseline:baseline_group",
                 "Baselines for the regression gate (`trtdiff check`)."),
    "check": ("trtdiff.commands.check:check_command",
              "Rerun the baseline's comparison on MODEL and judge it against the baseline: each graph output "
              "must pass its tolerances and be at most --max-regression worse than the baseline's; the first "
              "tensor whose error grew beyond the margin is where the new error starts."),
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
            module, attribute = COMMANDS[cmd_name][0].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        command = super().get_command(ctx, cmd_name)
        return add_verbosity_options(command) if command is not None else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `--help`, from the summaries: no command module is imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, self._listed(ctx, name).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _listed(self, ctx: click.Context, name: str) -> click.Command:
        if name in self.commands or name not in COMMANDS:
            command = self.get_command(ctx, name)
            assert command is not None
            return command
        return click.Command(name, help=COMMANDS[name][1])


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
    try:
        cli(prog_name="trtdiff")
    finally:
        # the process ends here: every object still alive (modules, models, sessions) is frozen, so
        # that the interpreter's last garbage collections do not walk them all before the operating
        # system frees the memory anyway (about 50 ms of a short run's exit). Objects caught in a
        # reference cycle are then never collected, so their destructors do not run: nothing of
        # trtdiff's relies on one (each output is written and closed by `fileio` before the command
        # returns); atexit handlers and the destructors of everything else still run
        gc.freeze()
