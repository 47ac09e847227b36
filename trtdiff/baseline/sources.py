"""Where a profile comes from for `trtdiff diff`: a run's `--json` result, a `check`'s `--json`
(its candidate), or a baseline (its directory or its baseline.json)."""

from __future__ import annotations

import json
from pathlib import Path

from trtdiff.baseline.load import load_baseline
from trtdiff.baseline.profile import Profile, profile_from_comparison
from trtdiff.baseline.store import BASELINE_FILE
from trtdiff.report.load import comparison_from_file
from trtdiff.result import Comparison


def _is_baseline(path: Path) -> bool:
    if path.is_dir():
        return True
    if path.name != BASELINE_FILE or not path.is_file():
        return False
    try:
        with path.open(encoding="utf-8") as handle:
            head = json.loads(handle.read())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False  # comparison_from_file says what is wrong with it
    return isinstance(head, dict) and "profile" in head


def load_profile(path: str | Path) -> tuple[Profile, dict[str, str]]:
    """The profile stored at `path` and the environment it was measured in; UsageError when the
    file is neither a result nor a baseline."""
    path = Path(path)
    if _is_baseline(path):
        baseline = load_baseline(path)
        return baseline.profile, baseline.environment
    comparison: Comparison = comparison_from_file(path)
    return profile_from_comparison(comparison, str(path)), comparison.environment
