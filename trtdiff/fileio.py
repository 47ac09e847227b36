"""Writing files without clobbering anything: the one mechanism every command's output goes through.

- A regular file (or a path that does not exist yet) is written atomically: the content goes to a
  temporary file beside it, renamed over it on success, so a reader or a failed run never sees half
  a file. A symlink to a regular file stays a symlink: its target is replaced.
- `-` is stdout, and a path that is not a regular file (a character device such as /dev/null, a
  FIFO, /dev/stdout or a symlink to one) is written to directly, never renamed over: the content is
  staged in a temporary file and copied there only when complete.
- A directory of several files is built beside its place and swapped in whole (`swap_into_place`).
- `check_paths` refuses, before any work, an output that is one of the command's inputs, two
  outputs on one path, and a path that could not be written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from trtdiff.errors import UsageError

SHARED_FILE_MODE = 0o644  # mkstemp makes files private; results are meant to be shared
STDOUT = "-"
_STREAM_PREFIXES = ("/proc/", "/dev/fd/")  # /dev/stdout -> /proc/self/fd/1 -> whatever fd 1 is
_STREAM_NAMES = ("/dev/stdout", "/dev/stderr")
_MAX_LINKS = 40
PathLike = str | os.PathLike[str]


def is_stdout(path: str | os.PathLike[str] | None) -> bool:
    return path is not None and os.fspath(path) == STDOUT


def writes_in_place(path: str | os.PathLike[str]) -> bool:
    """True when `path` must be written directly rather than replaced: stdout (`-`), a device, a
    FIFO, a socket, or a path whose symlinks lead through /proc or /dev/fd (/dev/stdout)."""
    if is_stdout(path) or _through_stream(path):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # does not exist yet (or a dangling link): created as a regular file
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _through_stream(path: str | os.PathLike[str]) -> bool:
    """Whether `path` or a symlink on its way is /dev/stdout, /dev/stderr or under /proc, /dev/fd:
    a file descriptor of this process, whatever file it is open on."""
    hop = os.path.abspath(os.fspath(path))
    for _ in range(_MAX_LINKS):
        if hop in _STREAM_NAMES or hop.startswith(_STREAM_PREFIXES):
            return True
        if not os.path.islink(hop):
            return False
        hop = os.path.normpath(os.path.join(os.path.dirname(hop), os.readlink(hop)))
    return False


def ensure_writable(path: str | os.PathLike[str], option: str) -> Path:
    """Fail before any work if `path` could not be written. Creates nothing: the folders are
    made when the file is written."""
    target = Path(path)
    if is_stdout(path):
        return target
    if target.is_dir():
        raise UsageError(f"{option} {target} is a directory", "it needs a file path",
                         f"name a file, for example {target / 'result.json'}")
    if writes_in_place(target):
        if not os.access(target, os.W_OK):
            raise UsageError(f"cannot write {option} {target}", "it is not writable", "choose another path")
        return target
    real = Path(os.path.realpath(target))
    ancestor = real.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"cannot create the folder for {option} {target}", f"{ancestor} is a file",
                         "choose a path under a folder")
    if not os.access(ancestor, os.W_OK):
        raise UsageError(f"cannot write {option} {target}", f"{ancestor} is not writable",
                         "choose a writable location")
    return target


def ensure_directory_writable(path: str | os.PathLike[str], option: str) -> Path:
    """Fail before any work if files could not be written into folder `path` (made when written)."""
    target = Path(path)
    if is_stdout(path):
        raise UsageError(f"{option} cannot be '-'", "it names a folder that several files go into",
                         f"name a folder, for example {option} out/")
    if target.exists() and not target.is_dir():
        raise UsageError(f"{option} {target} is a file", "it names a folder that several files go into",
                         "Name a folder (it is created when missing)")
    return ensure_writable(target / "file", option).parent


def check_paths(outputs: Iterable[tuple[str, PathLike | None]], inputs: Iterable[tuple[str, PathLike | None]] = (),
                folders: Iterable[tuple[str, PathLike | None]] = ()) -> None:
    """Refuse, before any work: an output (option, path) or output folder that is also an input
    (what, path; e.g. "the MODEL", "the --load-inputs file"); two outputs on one path (character
    devices such as /dev/null excepted: they keep nothing); an output that could not be written.
    `None` paths (options not given) are skipped; a file both read and written (a timing cache)
    is listed in both, the input under the option's own name."""
    given_inputs = [(what, os.fspath(path)) for what, path in inputs if path is not None]
    seen: dict[str, str] = {}
    for option, path, is_folder in [*((o, p, False) for o, p in outputs), *((o, p, True) for o, p in folders)]:
        if path is None:
            continue
        text = os.fspath(path)
        if is_folder:
            ensure_directory_writable(text, option)
        else:
            ensure_writable(text, option)
        for what, source in given_inputs:
            if what != option and not is_stdout(text) and _same_file(text, source):
                raise UsageError(f"{option} {text} is also {what}", "writing it would replace a file trtdiff reads",
                                 f"Choose another path for {option}")
        key = _identity(text)
        if key in seen and not _is_sink(text):
            raise UsageError(f"{seen[key]} and {option} both write {text}",
                             "the second would replace the first", "Give each output its own path")
        seen[key] = option


def _identity(path: str) -> str:
    return STDOUT if is_stdout(path) else os.path.realpath(path)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _is_sink(path: str) -> bool:
    """A character device named directly (/dev/null, /dev/full, a copy of one): it keeps nothing,
    so several outputs may share it. /dev/stdout is no sink: what goes there is read."""
    if is_stdout(path) or _through_stream(path):
        return False
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write the whole content to. On success it replaces `path` (a
    regular file) or is copied into it (stdout, a device, a FIFO); on any failure nothing is
    written and the temporary is removed. OSErrors become one-line UsageErrors."""
    if writes_in_place(path):
        with _staged(path) as temporary:
            yield temporary
        return
    target = Path(os.path.realpath(path))  # a symlink to a regular file keeps being a symlink
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as err:
        raise UsageError(f"cannot write {path}", err.strerror or str(err), "choose a writable path") from err
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, SHARED_FILE_MODE)
        os.replace(temporary, target)
    except OSError as err:
        raise _write_error(path, err) from err
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def _staged(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Write to a private temporary file, then copy it into stdout or the special file `path`
    (opened for appending: /dev/stdout redirected to a log must not truncate the log)."""
    with tempfile.TemporaryDirectory(prefix="trtdiff-out-") as folder:
        temporary = Path(folder) / (Path(os.fspath(path)).name or "output")
        try:
            yield temporary
            with open(temporary, "rb") as source:
                if is_stdout(path):
                    sys.stdout.flush()
                    shutil.copyfileobj(source, sys.stdout.buffer)
                    sys.stdout.buffer.flush()
                else:
                    with open(path, "ab") as sink:
                        shutil.copyfileobj(source, sink)
        except OSError as err:
            raise _write_error(path, err) from err


def _write_error(path: str | os.PathLike[str], err: OSError) -> UsageError:
    return UsageError(f"cannot write {os.fspath(path)}", err.strerror or str(err),
                      "check the free space and permissions there, or choose another path")


def swap_into_place(temporary: Path, target: Path) -> None:
    """Rename the directory `temporary` (written beside `target`) to `target`; an existing one is
    moved aside first, then removed, and put back if the rename fails."""
    if not target.exists():
        os.rename(temporary, target)
        return
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
    os.rename(target, old / target.name)
    try:
        os.rename(temporary, target)
    except OSError:
        os.rename(old / target.name, target)  # put the earlier one back
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_output(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_output(path) as temporary:
        temporary.write_bytes(data)
