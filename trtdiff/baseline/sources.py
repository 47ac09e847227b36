"""Where a profile comes from for `trtdiff diff`: a `trtdiff run --json` result (or a `check`'s,
which is its candidate's result), or a baseline (its directory or its baseline.json).

A result file is read straight into a profile, field by field (`trtdiff.baseline.rows`): only the
tensors, outputs, tolerances and environment, so that two 2,000-tensor results compare in well
under a second.
"""

from __future__ import annotations

from pathlib import Path

from trtdiff.baseline.fields import Fields, Source
from trtdiff.baseline.load import load_baseline
from trtdiff.baseline.profile import Profile
from trtdiff.baseline.rows import tensor_from_row, tolerances_from
from trtdiff.baseline.store import BASELINE_FILE
from trtdiff.errors import UsageError
from trtdiff.result import SCHEMA_VERSION

RESULT_FIX = "Pass the file written by `trtdiff run MODEL --json RESULT.json`, or a baseline directory"


def load_profile(path: str | Path) -> tuple[Profile, dict[str, str]]:
    """The profile stored at `path` and the environment it was measured in; UsageError when it is
    neither a result nor a baseline."""
    path = Path(path)
    if path.is_dir() or path.name == BASELINE_FILE:
        baseline = load_baseline(path)
        return baseline.profile, baseline.environment
    if not path.is_file():
        raise UsageError(f"cannot read {path}", "no such file", RESULT_FIX)
    source = Source(path, "trtdiff result", RESULT_FIX)
    top = Fields(source.read_json(), "", source)
    version = top.get("schema_version", (int,), SCHEMA_VERSION)
    if version > SCHEMA_VERSION:
        raise UsageError(f"{path} was written by a newer trtdiff",
                         f"result schema {version}; this trtdiff reads up to {SCHEMA_VERSION}", "Upgrade trtdiff")
    tensors = tuple(tensor_from_row(row) for row in top.items("tensors"))
    profile = Profile(tensors, tuple(top.strings("outputs")), tolerances_from(top.sub("settings").sub("tolerances")),
                      str(path))
    environment = {str(k): str(v) for k, v in top.mapping("environment", {}).items()}
    return profile, environment
