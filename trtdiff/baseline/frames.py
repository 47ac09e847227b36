"""The gate as a pandas DataFrame (`CheckResult.to_dataframe()`): one row per tensor on both sides
in the candidate's topological order, then the tensors on one side only."""

from __future__ import annotations

from typing import Any

from trtdiff.baseline.profile_diff import ProfileDiff

COLUMNS = ("name", "node", "op_type", "index", "is_output", "side", "metric", "baseline", "candidate", "ratio",
           "limit", "regressed", "new_nonfinite", "nonfinite_baseline", "nonfinite_candidate")


def check_frame(diff: ProfileDiff) -> Any:
    import pandas as pd

    rows: list[dict[str, Any]] = [{
        "name": c.name, "node": c.node, "op_type": c.op_type, "index": c.index, "is_output": c.is_output,
        "side": "both", "metric": c.metric, "baseline": c.baseline, "candidate": c.candidate, "ratio": c.ratio,
        "limit": c.limit, "regressed": c.regressed, "new_nonfinite": c.new_nonfinite,
        "nonfinite_baseline": c.nonfinite_baseline, "nonfinite_candidate": c.nonfinite_candidate,
    } for c in diff.changes]
    rows += [{"name": name, "side": side} for side, names in (("candidate only", diff.appeared),
                                                               ("baseline only", diff.vanished)) for name in names]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in ("baseline", "candidate", "ratio", "limit"):
        frame[column] = frame[column].astype("float64")
    for column in ("index", "nonfinite_baseline", "nonfinite_candidate"):
        frame[column] = frame[column].astype("Int64")
    for column in ("is_output", "regressed", "new_nonfinite"):
        frame[column] = frame[column].astype("boolean")
    return frame
