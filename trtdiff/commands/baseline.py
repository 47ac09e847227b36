"""`trtdiff baseline save MODEL [run's options] -o DIR`: the comparison a release gate checks
against, saved as a baseline directory."""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click
from rich.text import Text

from trtdiff.baseline.save import save_baseline
from trtdiff.options.paths import CheckedGroup, InputPath, OutputFolder
from trtdiff.commands.display import display_options, show_comparison
from trtdiff.options.run import comparison_options
from trtdiff.terminal import consoles


@click.group("baseline", cls=CheckedGroup)
def baseline_group() -> None:
    """Baselines for the regression gate (`trtdiff check`)."""


@baseline_group.command("save")
@click.argument("model", type=InputPath(dir_okay=False))
@comparison_options
@click.option("-o", "--output", required=True, type=OutputFolder(),
              help="The baseline directory to write (an earlier baseline there is replaced).")
@display_options
def save_command(model: str, output: str, table_mode: str, wide: bool, divergence_snr: float, **options: Any) -> None:
    """Run MODEL as `trtdiff run` would (same target, data and tolerance options) and save the
    result as a baseline: baseline.json (settings, data fingerprint, versions, the per-tensor error
    profile) and outputs.npz (the target's graph outputs per sample: golden outputs).

    Exit code: 0 when the baseline is written, 2 usage error, 3 model or tool error."""
    baseline, comparison = save_baseline(model, output, options, command=shlex.join(["trtdiff", *sys.argv[1:]]),
                                         divergence_snr_db=divergence_snr)
    show_comparison(comparison, table_mode, wide)
    console, errors = consoles()
    if not comparison.passed:
        errors.print("[yellow]warning:[/] the baseline's outputs fail their tolerances, so `trtdiff check` against "
                      "it fails until they pass (loosen --atol/--rtol/--check, or fix the target)", soft_wrap=True)
    count, tensors = baseline.data.get("count", "?"), len(baseline.profile.tensors)
    console.print(Text(f"baseline written to {baseline.directory} ({tensors} tensor{'' if tensors == 1 else 's'}, "
                       f"{count} sample{'' if count == 1 else 's'})"), soft_wrap=True)
