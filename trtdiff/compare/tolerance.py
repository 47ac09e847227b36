"""Tolerances: defaults, per-tensor overrides, and the check that decides pass/fail.

CLI form: `--atol 1e-3` sets the default; `--atol NAME:1e-2` overrides one tensor (repeatable).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from trtdiff.compare.metrics import CHECKS
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

    def for_tensor(self, name: str) -> tuple[float, float]:
        return self.per_tensor_atol.get(name, self.atol), self.per_tensor_rtol.get(name, self.rtol)

    def check_names(self, known: Iterable[str]) -> None:
        """Per-tensor overrides must name tensors that exist."""
        names = sorted(set(known))
        for name in list(self.per_tensor_atol) + list(self.per_tensor_rtol):
            if name not in names:
                raise UsageError(f"tolerance override names unknown tensor '{name}'",
                                 "--atol/--rtol NAME:VALUE takes a tensor name of the model",
                                 f"close names: {close_names(name, names)}")

    def as_result(self) -> Tolerances:
        return Tolerances(self.atol, self.rtol, self.check, self.rel_floor,
                          dict(self.per_tensor_atol), dict(self.per_tensor_rtol))


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


def tolerance_spec_from_options(atol: Sequence[str], rtol: Sequence[str], check: str,
                                rel_floor: float = DEFAULT_REL_FLOOR) -> ToleranceSpec:
    if check not in CHECKS:
        raise UsageError(f"unknown check '{check}'", f"choose one of {', '.join(CHECKS)}", "")
    if not math.isfinite(rel_floor) or rel_floor <= 0:
        raise UsageError(f"--rel-floor {rel_floor} is not usable", "relative error divides by max(|ref|, floor)",
                         "give a finite number > 0, for example 1e-6")
    default_atol, per_atol = parse_tolerance_values("--atol", atol, DEFAULT_ATOL)
    default_rtol, per_rtol = parse_tolerance_values("--rtol", rtol, DEFAULT_RTOL)
    return ToleranceSpec(default_atol, default_rtol, check, rel_floor, per_atol, per_rtol)
