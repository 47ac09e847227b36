"""Options that do not apply are refused, not ignored: `--load-engine` on an ONNX Runtime target,
`--seed` with loaded inputs, `--calibration` with FP16. Whether the user set an option is asked of
click (its parameter source), so a default value never counts as given.

    refuse_given(("seed", "val_ranges"), "the inputs are loaded from --load-inputs, not generated",
                 "drop them, or drop --load-inputs")
"""

from __future__ import annotations

from collections.abc import Iterable

import click
from click.core import ParameterSource

from trtdiff.errors import UsageError

_NOT_GIVEN = (None, ParameterSource.DEFAULT)


def given(names: Iterable[str]) -> list[str]:
    """The flags (e.g. '--load-engine') of the parameters among `names` that the user set, in the
    current click command; [] outside a command (a Python caller)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return []
    flags = {param.name: max(param.opts, key=len) for param in ctx.command.params if param.opts}
    return [flags[name] for name in names if name in flags and ctx.get_parameter_source(name) not in _NOT_GIVEN]


def refuse_given(names: Iterable[str], why: str, fix: str) -> None:
    """UsageError naming the options among `names` that were given although they do not apply."""
    flags = given(names)
    if flags:
        some = " and ".join(flags) if len(flags) < 3 else ", ".join(flags[:-1]) + " and " + flags[-1]
        raise UsageError(f"{some} {'does' if len(flags) == 1 else 'do'} not apply here", why, fix)
