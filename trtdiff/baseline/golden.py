"""The baseline's golden outputs (`outputs.npz`, written by `--save-outputs`: `reference:I:NAME` and
`target:I:NAME` for each sample I and graph output NAME), read back as the reference of a run
(`--load-outputs` reads `reference:I:NAME`): `check --against golden` compares the candidate's
target outputs with the baseline's target outputs."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from trtdiff.dataset.npz import member_array, npz_writer
from trtdiff.errors import UsageError

_TARGET_KEY = re.compile(r"^target:(\d+:.+)$")


def golden_as_reference(golden: Path, into: Path) -> Path:
    """Write `into`: the golden file's `target:I:NAME` arrays as `reference:I:NAME`, one at a time,
    and its `inputs:I` hashes as they are (so a check fed other inputs is refused)."""
    try:
        with zipfile.ZipFile(golden) as archive:
            keys = [name.removesuffix(".npy") for name in archive.namelist()]
    except (OSError, zipfile.BadZipFile) as err:
        raise UsageError(f"cannot read the golden outputs {golden}", str(err),
                         "save the baseline again with `trtdiff baseline save`") from err
    targets = [(key, match.group(1)) for key in keys if (match := _TARGET_KEY.match(key))]
    if not targets:
        raise UsageError(f"{golden} holds no target outputs", "expected keys target:I:NAME",
                         "save the baseline again with `trtdiff baseline save`")
    with npz_writer(into) as writer:
        for key, rest in targets:
            writer.add(f"reference:{rest}", member_array(golden, key))
        for key in keys:
            if key.startswith("inputs:"):
                writer.add(key, member_array(golden, key))
    return into
