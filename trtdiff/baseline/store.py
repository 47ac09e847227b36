"""The baseline directory: `baseline.json` (what was run, on what, and the per-tensor error profile)
and `outputs.npz` (the target's graph outputs per sample: golden outputs).

`baseline.json` is human-readable and diff-friendly: sorted keys, one tensor per line in the
`profile` list (topological order), non-finite numbers as "inf"/"-inf"/"nan". Its top level:

    format            BASELINE_FORMAT; a newer one is refused, an older trtdiff's same one loads
    trtdiff, created  the version that wrote it, and when (UTC)
    model             {"path", "digest"}: sha256 of the model file and its external data
    target            {"description", "plan"}: the target and its precision plan (None: own model)
    tolerances        atol, rtol, check, rel_floor, per-tensor overrides
    data              the data fingerprint: source, count, seed, hash of the samples
    environment       trtdiff/onnx/ONNX Runtime/TensorRT versions and providers
    options           the run options it was saved with; `check` reruns with them unless overridden
    outputs           the graph outputs, in order
    profile           one object per tensor: name, node, op_type, index, status, passed, atol,
                      rtol and every ErrorMetrics field (aggregated over the data set)

Writing is atomic: the directory is written aside (`.NAME.tmp-*` beside it) and renamed into place,
so a failed save leaves no baseline, and a reader never sees half of one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtdiff.baseline.profile import Profile, encode_floats, tensor_to_line
from trtdiff.errors import UsageError
from trtdiff.fileio import swap_into_place

BASELINE_FORMAT = 1
BASELINE_FILE = "baseline.json"
GOLDEN_FILE = "outputs.npz"
_PROFILE_SLOT = "@@profile@@"


@dataclass(frozen=True)
class Baseline:
    """A saved baseline: everything `check` needs to rerun the comparison and judge the result."""

    trtdiff_version: str
    created: str
    model_path: str
    model_digest: str
    target: str
    plan: dict[str, Any] | None
    data: dict[str, Any]  # fingerprint: source, count, seed, hash
    environment: dict[str, str]
    profile: Profile
    options: dict[str, Any] = field(default_factory=dict)
    directory: str = ""  # where it was loaded from ("" before it is saved)
    format: int = BASELINE_FORMAT

    @property
    def golden_path(self) -> Path:
        return Path(self.directory) / GOLDEN_FILE


def baseline_to_json(baseline: Baseline) -> str:
    """The text of baseline.json: sorted keys, indented, the profile one tensor per line."""
    profile = baseline.profile
    data = {
        "format": baseline.format,
        "trtdiff": baseline.trtdiff_version,
        "created": baseline.created,
        "model": {"path": baseline.model_path, "digest": baseline.model_digest},
        "target": {"description": baseline.target, "plan": baseline.plan},
        "tolerances": dataclasses.asdict(profile.tolerances),
        "data": baseline.data,
        "environment": baseline.environment,
        "options": baseline.options,
        "outputs": list(profile.outputs),
        "profile": _PROFILE_SLOT,
    }
    text = json.dumps(encode_floats(data), indent=1, sort_keys=True, allow_nan=False)
    rows = ",\n  ".join(tensor_to_line(t) for t in profile.tensors)
    return text.replace(json.dumps(_PROFILE_SLOT), f"[\n  {rows}\n ]" if rows else "[]", 1) + "\n"


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """Fail before any work when `path` cannot become a baseline directory: it must not be a file,
    nor a folder holding anything but a baseline's own files (it would be replaced)."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise UsageError(f"-o {target} is a file", "a baseline is a directory",
                         f"name a new folder, for example {target.with_suffix('')}-baseline")
    if target.is_dir():
        others = sorted(p.name for p in target.iterdir() if p.name not in (BASELINE_FILE, GOLDEN_FILE))
        if others:
            raise UsageError(f"-o {target} holds other files ({', '.join(others[:3])})",
                             "saving a baseline replaces the whole directory",
                             "name a new folder, or an existing baseline's folder")
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not os.access(ancestor, os.W_OK):
        raise UsageError(f"cannot write the baseline {target}", f"{ancestor} is not writable",
                         "choose a writable location")
    return target


@contextlib.contextmanager
def baseline_dir_writer(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary directory beside `path`; on success it becomes `path` (an earlier
    baseline there is replaced), on any failure it is removed and `path` is untouched."""
    target = check_output_dir(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    except OSError as err:
        raise UsageError(f"cannot write the baseline {target}", err.strerror or str(err),
                         "choose a writable location") from err
    try:
        yield temporary
        os.chmod(temporary, 0o755)
        swap_into_place(temporary, target)
    except OSError as err:
        raise UsageError(f"cannot write the baseline {target}", err.strerror or str(err),
                         "check the free space and permissions there") from err
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def write_baseline_file(baseline: Baseline, folder: Path) -> None:
    """baseline.json into `folder` (a directory being written aside by `baseline_dir_writer`)."""
    (folder / BASELINE_FILE).write_text(baseline_to_json(baseline), encoding="utf-8")
    os.chmod(folder / BASELINE_FILE, 0o644)


def write_baseline(baseline: Baseline, path: str | os.PathLike[str], golden: Path | None) -> Baseline:
    """Write the baseline directory atomically; `golden` is the outputs .npz to move into it (it is
    consumed). Returns the baseline with its directory set."""
    with baseline_dir_writer(path) as temporary:
        write_baseline_file(baseline, temporary)
        if golden is not None:
            shutil.move(str(golden), temporary / GOLDEN_FILE)
            os.chmod(temporary / GOLDEN_FILE, 0o644)
    return dataclasses.replace(baseline, directory=str(path))
