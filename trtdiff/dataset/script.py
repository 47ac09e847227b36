"""Samples from a data-loader script, Polygraphy's convention: `FILE.py[:FUNC]` names a function
(default `load_data`) that takes no arguments and returns an iterable of dicts input name -> array
(a generator is fine). The script is imported as a module; each pass over the data set calls the
function again, so sample K is found by iterating to it.

Anything the user's code raises (on import, on the call, or while iterating) becomes one
UsageError naming the script and the sample; the traceback stays attached (`from err`) and is
shown with -vv.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from trtdiff.dataset.sources import out_of_range
from trtdiff.errors import UsageError
from trtdiff.inputs import Feeds

DEFAULT_FUNCTION = "load_data"


def split_script(spec: str) -> tuple[Path, str]:
    """`FILE.py[:FUNC]` -> (path, function name)."""
    path, sep, function = spec.rpartition(":")
    if sep and function.isidentifier() and path.endswith(".py"):
        return Path(path), function
    return Path(spec), DEFAULT_FUNCTION


def is_script(spec: str) -> bool:
    return split_script(spec)[0].suffix == ".py"


class ScriptSource:
    """The samples a loader script's function yields."""

    kind = "script"

    def __init__(self, spec: str) -> None:
        self._path, self._name = split_script(spec)
        self.location = f"{self._path}:{self._name}"
        self._function = _load_function(self._path, self._name)

    def count(self) -> None:
        return None

    def __iter__(self) -> Iterator[Feeds]:
        index = 0
        iterator = self._user_call(lambda: iter(self._function()), "when called")
        while True:
            item = self._user_call(lambda: next(iterator, _END), f"at sample {index}")
            if item is _END:
                return
            if not isinstance(item, dict):
                raise UsageError(f"data loader {self.location} gave a {type(item).__name__} as sample {index}",
                                 "each sample must be a dict input name -> numpy array",
                                 "yield {name: array, ...} for every sample")
            yield item
            index += 1

    def sample(self, index: int) -> Feeds:
        for position, item in enumerate(self):
            if position == index:
                return item
        raise out_of_range(self, index, None)

    def _user_call(self, call: Callable[[], Any], when: str) -> Any:
        try:
            return call()
        except Exception as err:  # the user's code: any error, reported as theirs with its cause chained
            raise _script_error(self.location, when, err) from err


_END = object()


def _load_function(path: Path, name: str) -> Callable[[], Iterable[Feeds]]:
    if not path.is_file():
        raise UsageError(f"data loader script not found: {path}", "the path is not a file",
                         "pass --data-loader-script FILE.py[:FUNCTION]")
    module_name = "trtdiff_data_loader_" + hashlib.blake2b(str(path.resolve()).encode(), digest_size=6).hexdigest()
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}", "Python does not recognise it as a module", "pass a .py file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # the user's module failed to import: theirs to fix, cause chained
        raise _script_error(str(path), "on import", err) from err
    function = getattr(module, name, None)
    if not callable(function):
        found = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        raise UsageError(f"{path} has no function '{name}'", f"it defines: {', '.join(found) or 'nothing callable'}",
                         f"name the function: --data-loader-script {path}:FUNCTION")
    return function  # type: ignore[no-any-return]


def _script_error(location: str, when: str, err: Exception) -> UsageError:
    return UsageError(f"data loader {location} raised {type(err).__name__} {when}", str(err) or "(no message)",
                      "fix the script (run with -vv to see its traceback)")
