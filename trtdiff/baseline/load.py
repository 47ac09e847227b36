"""Read a baseline directory back, checking `baseline.json` field by field: every way it can be
wrong (missing, not JSON, a field of the wrong type, a newer format) is one UsageError line that
names the file and the field and says what to do. A baseline written by another trtdiff version
with the same format loads; fields it does not know are ignored, fields added later take defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trtdiff.baseline.fields import Fields, Source
from trtdiff.baseline.profile import Profile
from trtdiff.baseline.rows import tensor_from_row, tolerances_from
from trtdiff.baseline.store import BASELINE_FILE, BASELINE_FORMAT, Baseline
from trtdiff.errors import UsageError
from trtdiff.version import __version__

FIX = "Save it again with `trtdiff baseline save MODEL ... -o DIR`"


def load_baseline(path: str | Path) -> Baseline:
    """The baseline in directory `path` (or its baseline.json); UsageError when it is not one."""
    directory = Path(path)
    file = directory if directory.name == BASELINE_FILE and directory.is_file() else directory / BASELINE_FILE
    if not file.is_file():
        why = "no such directory" if not file.parent.exists() else f"it has no {BASELINE_FILE}"
        raise UsageError(f"cannot read the baseline {directory}", why, FIX)
    source = Source(file, "baseline", FIX)
    return baseline_from_dict(source.read_json(), source)


def baseline_from_dict(data: Any, source: Source) -> Baseline:
    top = Fields(data, "", source)
    version = top.get("format", (int,))
    if version > BASELINE_FORMAT:
        raise UsageError(f"{source.file} was written by a newer trtdiff",
                         f"baseline format {version}; this trtdiff {__version__} reads up to {BASELINE_FORMAT}",
                         "Upgrade trtdiff (pip install -U trtdiff) or save the baseline again with this one")
    if version < 1:
        source.fail("format", f"should be 1 to {BASELINE_FORMAT}", str(version))
    model, target = top.sub("model"), top.sub("target")
    tensors = tuple(tensor_from_row(row) for row in top.items("profile"))
    profile = Profile(tensors, tuple(top.strings("outputs")), tolerances_from(top.sub("tolerances")),
                      str(source.file.parent))
    return Baseline(
        trtdiff_version=top.get("trtdiff", (str,)),
        created=top.get("created", (str,), ""),
        model_path=model.get("path", (str,)),
        model_digest=model.get("digest", (str,)),
        target=target.get("description", (str,)),
        plan=target.get("plan", (dict,), None, optional=True),
        data=top.mapping("data"),
        environment={str(k): str(v) for k, v in top.mapping("environment", {}).items()},
        profile=profile,
        options=top.mapping("options", {}),
        directory=str(source.file.parent),
        format=version,
    )
