"""`trtdiff diff OLD NEW`: the regression gate of two saved results, without running anything."""

from __future__ import annotations

from typing import Any

import click

from trtdiff.baseline.profile_diff import compare_profiles
from trtdiff.baseline.sources import load_profile
from trtdiff.baseline.terminal import print_diff
from trtdiff.baseline.wording import environment_facts
from trtdiff.options.gate import gate_options, policy_from, table_console, write_gate_files
from trtdiff.options.paths import CheckedCommand, InputPath
from trtdiff.options.verbosity import is_quiet
from trtdiff.errors import ExitCode


@click.command("diff", cls=CheckedCommand)
@click.argument("old", type=InputPath())
@click.argument("new", type=InputPath())
@gate_options
def diff_command(old: str, new: str, **options: Any) -> None:
    """Compare two saved results: NEW against OLD (each a `trtdiff run --json` file, or a baseline
    directory), tensor by tensor, matched by name.

    Says whether each graph output got worse by more than --max-regression, where the new error
    starts (the first tensor in topological order whose error grew beyond the margin), the tensors
    that grew most, new NaN/Inf, and the tensors on one side only.

    Exit code: 0 the gate holds, 1 it does not, 2 usage error."""
    policy = policy_from(options)
    old_profile, old_environment = load_profile(old)
    new_profile, new_environment = load_profile(new)
    diff = compare_profiles(old_profile, new_profile, policy)
    print_diff(diff, table_console(options), quiet=is_quiet())
    facts = {"old": old, "new": new, **environment_facts(old_environment, new_environment)}
    write_gate_files(diff, options, facts, command="trtdiff diff")
    click.get_current_context().exit(int(ExitCode.PASSED if diff.passed else ExitCode.MISMATCH))
