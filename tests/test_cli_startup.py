"""`trtdiff --help` and `--version` import no command module (numpy, onnx, ONNX Runtime, rich
stay unloaded), and the summaries `--help` lists are the commands' own."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from trtdiff import cli

HEAVY = ("numpy", "onnx", "onnxruntime", "rich")
LIGHT_COMMAND_MODULES = {"trtdiff.commands", "trtdiff.options.verbosity"}  # -v/-q: click only


def modules_loaded_by(args: list[str]) -> set[str]:
    code = ("import sys\nfrom trtdiff.cli import cli\ntry:\n    cli.main(%r, prog_name='trtdiff')\n"
            "except SystemExit:\n    pass\nprint(' '.join(sys.modules), file=sys.stderr)" % (args,))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stderr.split())


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"]])
def test_help_and_version_import_no_command_module(args):
    loaded = modules_loaded_by(args)
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY
                   or (m.startswith("trtdiff.commands") and m not in LIGHT_COMMAND_MODULES))
    assert not heavy, f"`trtdiff {' '.join(args)}` imported {heavy[:8]}"


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_listed_summary_is_the_commands_own(name):
    command = cli.cli.get_command(None, name)  # type: ignore[arg-type]
    assert command is not None and command.name == name
    assert command.get_short_help_str(10_000) == cli.COMMANDS[name][1]


def test_help_lists_every_command_and_a_command_still_runs():
    result = CliRunner().invoke(cli.cli, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:")[1]
    assert [line.split()[0] for line in listed.strip().splitlines()] == sorted(cli.COMMANDS)
    result = CliRunner().invoke(cli.cli, ["plan", "--help"])
    assert result.exit_code == 0 and "export" in result.output
    assert CliRunner().invoke(cli.cli, ["nosuch"]).exit_code == 2


def test_an_outputs_only_run_imports_neither_the_searches_nor_attribution(tmp_path):
    """A passing `run` without --mark-all pays for what it uses: trtdiff.bisect's searches and
    trtdiff.attribution are imported where a command needs them."""
    from model_builders import conv_relu_model, save

    model = save(conv_relu_model(), tmp_path / "m.onnx")
    loaded = modules_loaded_by(["run", model, "--fp16", "-q"])
    assert "trtdiff.pipeline" in loaded and "trtdiff.bisect.graph" in loaded  # it ran
    unwanted = sorted(m for m in loaded if m.startswith(("trtdiff.attribution", "trtdiff.bisect."))
                      and m != "trtdiff.bisect.graph")
    assert not unwanted, unwanted


def test_every_name_trtdiff_bisect_lists_resolves():
    import trtdiff.bisect as searches
    from trtdiff.bisect import precision, reduce, search, split, state

    modules = (precision, reduce, search, split, state)
    assert sorted(searches.__all__) == sorted(searches._MODULE_OF) and set(searches.__all__) <= set(dir(searches))
    for name in searches.__all__:
        assert any(getattr(module, name, None) is getattr(searches, name) for module in modules), name
    with pytest.raises(AttributeError, match="no_such_name"):
        searches.no_such_name  # noqa: B018
