"""Atomic file writes and early checks that output paths are writable."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from trtdiff.errors import UsageError


def ensure_writable(path: str | os.PathLike[str], option: str) -> Path:
    """Fail before any work if `path` could not be written. Creates nothing: the folders are
    made when the file is written."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option} {target} is a directory", "it needs a file path",
                         f"name a file, for example {target / 'result.json'}")
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"cannot create the folder for {option} {target}", f"{ancestor} is a file",
                         "choose a path under a folder")
    if not os.access(ancestor, os.W_OK):
        raise UsageError(f"cannot write {option} {target}", f"{ancestor} is not writable",
                         "choose a writable location")
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise UsageError(f"cannot write {target}", err.strerror or str(err), "choose a writable path") from err
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except OSError as err:
        raise UsageError(f"cannot write {target}", err.strerror or str(err), "choose a writable path") from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
