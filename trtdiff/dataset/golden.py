"""Golden outputs: the reference outputs of an earlier run, per sample, instead of running the FP32
model for them (`--load-outputs`).

Two formats:
- trtdiff's own `--save-outputs` .npz: keys `reference:I:NAME` (sample I's reference value of
  tensor NAME; `target:I:NAME` entries are ignored) and `inputs:I`, the hash of sample I's inputs
  (`sample_digest`): outputs of other inputs are refused, sample by sample. A file from before data
  sets, with keys `reference:NAME`, is one sample (files without `inputs:I` keys are not checked).
- Polygraphy's `--save-outputs` RunResults JSON: `{"lst": [[runner, [IterationResult, ...]], ...]}`,
  each iteration's `outputs` a dict name -> array; the first runner's iterations are the samples.
  It records no inputs, so nothing tells whether they were these.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trtdiff.dataset.dataset import sample_digest
from trtdiff.dataset.files import decode_polygraphy_array
from trtdiff.dataset.npz import member_array, read_sample
from trtdiff.errors import UsageError, close_names

_OWN_KEY = re.compile(r"^reference:(\d+):(.+)$")
_INPUTS_KEY = re.compile(r"^inputs:(\d+)$")
_LEGACY_KEY = re.compile(r"^reference:(.+)$")


class GoldenOutputs:
    """Reference outputs per sample: `names` (tensors held), `count`, `sample(i)`."""

    def __init__(self, location: str, kind: str, names: Sequence[str], count: int, note: str = "") -> None:
        self.location, self.kind, self.names, self.count, self.note = location, kind, tuple(names), count, note

    def sample(self, index: int, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Sample `index`'s reference outputs, for the inputs `feeds` (a UsageError past the last
        sample, or where the file records other inputs for it)."""
        if not 0 <= index < self.count:
            raise UsageError(f"{self.location} holds reference outputs for {self.count} samples",
                             f"the data set has a sample {index}", "save the outputs of every sample, or "
                             f"compare at most {self.count} samples (--max-samples {self.count})")
        recorded = self._inputs_digest(index)
        if recorded is not None and recorded != sample_digest(feeds):
            raise UsageError(f"the golden outputs of sample {index} in {self.location} were computed from other inputs",
                             f"the file records a hash of the inputs each sample was run on, and sample {index} "
                             "of this data set differs (values, names, shapes or order)",
                             "pass the inputs saved with them (--save-inputs of that run), or save the golden "
                             "outputs again from these inputs")
        return self._read(index)

    def _read(self, index: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _inputs_digest(self, index: int) -> str | None:
        """The hash of the inputs sample `index` was run on, where the file records it."""
        return None

    def check_against(self, outputs: Sequence[str], samples: int | None) -> None:
        """The file must hold every compared graph output, for at least as many samples as the data set."""
        missing = [name for name in outputs if name not in self.names]
        if missing:
            raise UsageError(f"{self.location} has no reference values for output '{missing[0]}'",
                             f"it holds {', '.join(self.names) or 'no tensors'}; tensors are matched by name",
                             f"save the golden outputs from this model (close names: "
                             f"{close_names(missing[0], list(self.names))})")
        if samples is not None and samples > self.count:
            raise UsageError(f"{self.location} holds reference outputs for {self.count} samples",
                             f"the data set has {samples}", "compare as many samples as the golden file holds "
                             f"(--max-samples {self.count}) or save the outputs of every sample")


class _OwnNpz(GoldenOutputs):
    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            keys = list(data.files)
        self._keys: dict[int, dict[str, str]] = {}
        self._inputs: dict[int, str] = {}
        for key in keys:
            own = _OWN_KEY.match(key)
            if own:
                self._keys.setdefault(int(own[1]), {})[own[2]] = key
            elif inputs := _INPUTS_KEY.match(key):
                self._inputs[int(inputs[1])] = key
        if not self._keys:
            legacy = {m[1]: key for key in keys if (m := _LEGACY_KEY.match(key))}
            self._keys = {0: legacy} if legacy else {}
        if not self._keys:
            raise UsageError(f"{path} holds no reference outputs", "trtdiff reads keys reference:I:NAME "
                             "(written by trtdiff run --save-outputs)", "pass a file written by --save-outputs")
        if sorted(self._keys) != list(range(len(self._keys))):
            raise UsageError(f"{path} does not number its samples 0, 1, 2, ... without gaps",
                             "its reference:I:NAME keys skip a sample", "save the outputs again")
        self._path = path
        super().__init__(str(path), "trtdiff-npz", list(self._keys[0]), len(self._keys))

    def _read(self, index: int) -> dict[str, np.ndarray]:
        return read_sample(self._path, self._keys[index], f"the golden outputs of sample {index} in {self._path}",
                           "Save the outputs of fewer or smaller tensors")

    def _inputs_digest(self, index: int) -> str | None:
        key = self._inputs.get(index)
        return None if key is None else str(member_array(self._path, key))


class _PolygraphyRunResults(GoldenOutputs):
    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text())
        runs = data.get("lst") if isinstance(data, dict) else None
        if not isinstance(runs, list) or not runs or not isinstance(runs[0], list) or len(runs[0]) != 2:
            raise UsageError(f"{path} is not a Polygraphy RunResults file",
                             "expected {\"lst\": [[runner name, [iteration results]]]}",
                             "pass the file written by polygraphy run --save-outputs")
        runner, iterations = runs[0]
        self._outputs: list[dict[str, Any]] = [_iteration_outputs(path, i, item) for i, item in enumerate(iterations)]
        note = (f"{path} holds {len(runs)} runners' results; the first, '{runner}', gives the reference outputs"
                if len(runs) > 1 else "")
        names = list(self._outputs[0]) if self._outputs else []
        super().__init__(str(path), "polygraphy-json", names, len(self._outputs), note)

    def _read(self, index: int) -> dict[str, np.ndarray]:
        try:
            return {name: decode_polygraphy_array(value) for name, value in self._outputs[index].items()}
        except (ValueError, TypeError, OSError) as err:
            raise UsageError(f"cannot read iteration {index} of {self.location}", str(err),
                             "check that the file is complete") from err


def _iteration_outputs(path: Path, index: int, item: object) -> dict[str, Any]:
    outputs = item.get("outputs") if isinstance(item, dict) else None
    if not isinstance(outputs, dict):
        raise UsageError(f"iteration {index} of {path} has no outputs",
                         "each IterationResult holds {\"outputs\": {name: array}}", "save the outputs again")
    return {k: v for k, v in outputs.items() if k != "polygraphy_class"}


def open_golden(path: str) -> GoldenOutputs:
    """The golden outputs in `path` (.npz or Polygraphy .json)."""
    location = Path(path)
    if not location.is_file():
        raise UsageError(f"--load-outputs file not found: {location}", "the path is not a file",
                         "pass an .npz from trtdiff --save-outputs or a .json from polygraphy --save-outputs")
    try:
        if location.suffix == ".npz":
            return _OwnNpz(location)
        if location.suffix == ".json":
            return _PolygraphyRunResults(location)
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise UsageError(f"cannot read outputs from {location}", str(err) or type(err).__name__,
                         "check that the file is complete") from err
    raise UsageError(f"unsupported outputs file {location}", f"'{location.suffix}' is not a known format",
                     "pass an .npz from trtdiff --save-outputs or a .json from polygraphy --save-outputs")
