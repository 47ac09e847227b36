"""The gate as JSON (`--json` of `check` and `diff`): the verdict per output, where the new error
starts, the tensors that grew most, those on one side only, and every tensor's change, in the
candidate's topological order. Non-finite numbers are the strings "inf", "-inf", "nan", as in a
run's `--json`."""

from __future__ import annotations

import dataclasses
from typing import Any

from trtdiff.baseline.profile import encode_floats
from trtdiff.baseline.profile_diff import ProfileDiff, TensorChange

GATE_SCHEMA_VERSION = 1


def _change(change: TensorChange) -> dict[str, Any]:
    return {**dataclasses.asdict(change), "new_nonfinite": change.new_nonfinite}


def diff_to_dict(diff: ProfileDiff) -> dict[str, Any]:
    first = diff.first_regression
    data = {
        "gate_schema_version": GATE_SCHEMA_VERSION,
        "passed": diff.passed,
        "baseline": diff.baseline_source,
        "candidate": diff.candidate_source,
        "policy": dataclasses.asdict(diff.policy),
        "outputs": [{**dataclasses.asdict(o), "passed": o.passed} for o in diff.outputs],
        "no_new_error": diff.no_new_error,
        "first_regression": _change(first) if first is not None else None,
        "regressions": [c.name for c in diff.regressions],
        "grew_most": [c.name for c in diff.grew_most],
        "new_nonfinite": [c.name for c in diff.new_nonfinite],
        "appeared": list(diff.appeared),
        "vanished": list(diff.vanished),
        "tensors": [_change(c) for c in diff.changes],
    }
    return encode_floats(data)
