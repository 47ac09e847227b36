"""Atomic file writes and early checks that output paths are writable.

Every file trtdiff writes goes through `atomic_output`: the content is written to a temporary file
beside the target and renamed over it, so a reader (or a failed run) never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from trtdiff.errors import UsageError

SHARED_FILE_MODE = 0o644  # mkstemp makes files private; results are meant to be shared


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


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on any failure it is
    removed. OSErrors become one-line UsageErrors."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as err:
        raise UsageError(f"cannot write {target}", err.strerror or str(err), "choose a writable path") from err
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, SHARED_FILE_MODE)
        os.replace(temporary, target)
    except OSError as err:
        raise UsageError(f"cannot write {target}", err.strerror or str(err),
                         "check the free space and permissions there, or choose another path") from err
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_output(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_output(path) as temporary:
        temporary.write_bytes(data)
