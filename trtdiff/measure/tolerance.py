"""Tolerances: defaults, per-tensor overrides, the checks that decide pass/fail per sample, and the
share of samples that must pass.

CLI form: `--atol 1e-3` sets the default; `--atol NAME:1e-2` overrides one tensor (repeatable);
`--check topk:1 --check boxes:cosine:0.999` (see `trtdiff.measure.checks`); `--min-agreement 0.99`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from trtdiff.measure.checks import Check, checks_for, parse_check
from trtdiff.measure.metrics import CHECKS
from trtdiff.errors import UsageError, close_names
from trtdiff.result import Tolerances

DEFAULT_ATOL = 1e-3
DEFAULT_RTOL = 1e-3
DEFAULT_REL_FLOOR = 1e-6


@dataclass(frozen=True)
class ToleranceSpec:
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    check: str = "elementwise"
    rel_floor: float = DEFAULT_REL_FLOOR
    per_tensor_atol: dict[str, float] = field(default_factory=dict)
    per_tensor_rtol: dict[str, float] = field(default_factory=dict)
    checks: tuple[Check, ...] = ()  # () means (Check(check),)
    min_agreement: float = 1.0  # share of samples that must pass
    topk_axis: int = -1

    def __post_init__(self) -> None:
        if not (0.0 <= self.min_agreement <= 1.0):  # also refuses NaN
            raise UsageError(f"--min-agreement {self.min_agreement} is outside [0, 1]",
                             "it is the share of samples that must pass",
                             "give a number from 0 to 1, for example --min-agreement 0.99")

    def for_tensor(self, name: str) -> tuple[float, float]:
        return self.per_tensor_atol.get(name, self.atol), self.per_tensor_rtol.get(name, self.rtol)

    def checks_for(self, name: str, gated: bool) -> tuple[Check, ...]:
        """The checks deciding tensor `name` on each sample (`gated`: an output or --outputs tensor)."""
        return checks_for(self.checks, name, gated, self.check)

    def check_names(self, known: Iterable[str]) -> None:
        """Per-tensor overrides and checks must name tensors that exist."""
        names = sorted(set(known))
        named = [(n, "--atol/--rtol NAME:VALUE") for n in list(self.per_tensor_atol) + list(self.per_tensor_rtol)]
        named += [(c.tensor, "--check NAME:CHECK") for c in self.checks if c.tensor is not None]
        for name, option in named:
            if name not in names:
                raise UsageError(f"{option.split()[0]} names unknown tensor '{name}'",
                                 f"{option} takes a tensor name of the model",
                                 f"close names: {close_names(name, names)}")

    def as_result(self) -> Tolerances:
        return Tolerances(self.atol, self.rtol, self.check, self.rel_floor,
                          dict(self.per_tensor_atol), dict(self.per_tensor_rtol),
                          tuple(str(c) for c in self.checks), self.min_agreement, self.topk_axis)


def parse_tolerance_values(option: str, values: Sequence[str], default: float) -> tuple[float, dict[str, float]]:
    """Split `('1e-3', 'out:1e-2')` into a default and per-tensor overrides."""
    result = default
    overrides: dict[str, float] = {}
    for value in values:
        name, sep, number = value.rpartition(":")
        try:
            parsed = float(number if sep else value)
        except ValueError as err:
            raise UsageError(f"cannot read {option} '{value}'", "expected a number or NAME:NUMBER",
                             f"for example {option} 1e-3 or {option} logits:1e-2") from err
        if not math.isfinite(parsed) or parsed < 0:
            raise UsageError(f"{option} '{value}' is not a usable tolerance", "tolerances are finite numbers >= 0",
                             f"for example {option} 1e-3")
        if sep:
            overrides[name] = parsed
        else:
            result = parsed
    return result, overrides


def tolerance_spec_from_options(atol: Sequence[str], rtol: Sequence[str], check: str | Sequence[str],
                                rel_floor: float = DEFAULT_REL_FLOOR, min_agreement: float = 1.0,
                                topk_axis: int = -1) -> ToleranceSpec:
    """`check`: one check or several (each `[NAME:]KIND[:VALUE]`, see trtdiff.measure.checks)."""
    checks = tuple(parse_check(text) for text in ([check] if isinstance(check, str) else check))
    if not math.isfinite(rel_floor) or rel_floor <= 0:
        raise UsageError(f"--rel-floor {rel_floor} is not usable", "relative error divides by max(|ref|, floor)",
                         "give a finite number > 0, for example 1e-6")
    default_atol, per_atol = parse_tolerance_values("--atol", atol, DEFAULT_ATOL)
    default_rtol, per_rtol = parse_tolerance_values("--rtol", rtol, DEFAULT_RTOL)
    shared = [c.kind for c in checks if c.tensor is None and c.kind in CHECKS]
    return ToleranceSpec(default_atol, default_rtol, shared[0] if shared else "elementwise", rel_floor, per_atol,
                         per_rtol, checks if checks != (Check("elementwise"),) else (), min_agreement, topk_axis)


def spec_from_result(tolerances: Tolerances) -> ToleranceSpec:
    """The ToleranceSpec a result's Tolerances were made from (its checks parsed back)."""
    return ToleranceSpec(tolerances.atol, tolerances.rtol, tolerances.check, tolerances.rel_floor,
                         dict(tolerances.per_tensor_atol), dict(tolerances.per_tensor_rtol),
                         tuple(parse_check(text) for text in tolerances.checks), tolerances.min_agreement,
                         tolerances.topk_axis)
