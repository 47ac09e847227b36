"""Memoised, counted, budgeted evaluation of FP32 sets, and the resumable state file behind it.

Every search in `trtdiff.bisect` asks one question many times: "does the model pass with this
set of nodes kept in FP32?". `Memo` answers it once per set, counts the real evaluations, stops
the search when the budget is spent, and (with a state file) writes every answer to disk as soon
as it is known, so an interrupted search resumes without repeating a single evaluation.

The state file is JSON: {"version", "model_hash", "settings_hash", "evaluations": [{"fp32": [...],
"passed": bool, "info": {...}}]}. A file written for another model (or other settings) is refused.
Its answers do not depend on the search that asked the questions, so a file written by an earlier
search algorithm (same version) resumes under today's; a file of a newer version is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from trtdiff.errors import UsageError
from trtdiff.fileio import write_text_atomic
from trtdiff.typed import Document, check_version, decode_dataclass, read_json

log = logging.getLogger(__name__)

STATE_VERSION = 1


@dataclass(frozen=True)
class Outcome:
    """The answer for one FP32 set: whether the outputs passed, and facts for the report
    (e.g. {"outputs": {name: max_abs}, "error": "..."})."""

    passed: bool
    info: dict[str, Any] = field(default_factory=dict)


Evaluate = Callable[[frozenset[str]], Union[bool, Outcome]]
ProgressHook = Callable[[int, int, bool], None]  # (evaluations, set size, passed)


class BudgetExhausted(Exception):
    """Raised inside a search when one more evaluation would exceed --max-evals."""


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-able parts (plan, tolerances, input digests...)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_hash(serialized: bytes) -> str:
    """The hash a state file is tied to: sha256 of the serialized model."""
    return hashlib.sha256(serialized).hexdigest()[:16]


@dataclass(frozen=True)
class _StateEntry:
    """One evaluation as the state file stores it (read back through `trtdiff.typed`)."""

    fp32: tuple[str, ...]
    passed: bool
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _StateFile:
    model_hash: str
    evaluations: tuple[_StateEntry, ...]
    settings_hash: str = ""
    version: int = STATE_VERSION


@dataclass
class SearchState:
    """Every evaluation made so far for one model and one set of settings."""

    model_hash: str
    settings_hash: str = ""
    records: dict[frozenset[str], Outcome] = field(default_factory=dict)
    order: list[frozenset[str]] = field(default_factory=list)

    def add(self, fp32: frozenset[str], outcome: Outcome) -> None:
        if fp32 not in self.records:
            self.order.append(fp32)
        self.records[fp32] = outcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "model_hash": self.model_hash,
            "settings_hash": self.settings_hash,
            "evaluations": [{"fp32": sorted(s), "passed": self.records[s].passed,
                             "info": self.records[s].info} for s in self.order],
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (temp file + rename): an interrupt never leaves half a file."""
        write_text_atomic(path, json.dumps(self.to_dict(), indent=1, default=str))

    @classmethod
    def load(cls, path: str | os.PathLike[str], model_hash: str, settings_hash: str = "") -> SearchState:
        """Read a state file, refusing one written for another model or other settings."""
        file = Path(path)
        doc = Document(str(file), "bisect state file",
                       "pass a state file written by `trtdiff bisect --state`, or a new path")
        data = read_json(file, doc)
        check_version(data, "version", STATE_VERSION, doc, default=STATE_VERSION)
        stored: _StateFile = decode_dataclass(_StateFile, data, doc)
        found_model, found_settings = stored.model_hash, stored.settings_hash
        if found_model != model_hash:
            raise UsageError(
                f"the state file {file} was written for another model",
                f"it holds model hash {found_model}, this model hashes to {model_hash}",
                "pass a new --state path (or delete the file) to start a fresh search")
        if settings_hash and found_settings and found_settings != settings_hash:
            raise UsageError(
                f"the state file {file} was written with other settings",
                "the precision, tolerances, inputs or ranking differ, so its answers do not apply",
                "rerun with the same options, or pass a new --state path")
        state = cls(model_hash, settings_hash)
        for entry in stored.evaluations:
            state.add(frozenset(entry.fp32), Outcome(entry.passed, dict(entry.info)))
        return state


class Memo:
    """Evaluates FP32 sets at most once each, counting, budgeting and persisting.

    With `assume_monotone`, a set contained in one known to fail is taken to fail, and a set
    containing one known to pass is taken to pass, without running anything: the same
    monotonicity every bisect over precision relies on (more FP32 never hurts accuracy)."""

    def __init__(self, evaluate: Evaluate, state: SearchState, max_evals: int | None = None,
                 state_path: str | os.PathLike[str] | None = None, progress: ProgressHook | None = None,
                 assume_monotone: bool = True) -> None:
        self._evaluate = evaluate
        self.state = state
        self.max_evals = max_evals
        self.state_path = state_path
        self.progress = progress
        self.assume_monotone = assume_monotone
        self.new_evaluations = 0

    @property
    def evaluations(self) -> int:
        """Real evaluations, including those a resumed state file already held."""
        return len(self.state.records)

    def outcome(self, fp32: Iterable[str]) -> Outcome:
        key = frozenset(fp32)
        known = self.state.records.get(key) or self._inferred(key)
        if known is not None:
            return known
        if self.max_evals is not None and self.evaluations >= self.max_evals:
            raise BudgetExhausted()
        answer = self._evaluate(key)
        outcome = answer if isinstance(answer, Outcome) else Outcome(bool(answer))
        self.state.add(key, outcome)
        self.new_evaluations += 1
        log.info("evaluation %d: %d nodes in FP32 -> %s", self.evaluations, len(key),
                 "pass" if outcome.passed else "fail")
        if self.state_path is not None:
            self.state.save(self.state_path)
        if self.progress is not None:
            self.progress(self.evaluations, len(key), outcome.passed)
        return outcome

    def __call__(self, fp32: Iterable[str]) -> bool:
        return self.outcome(fp32).passed

    def known(self, fp32: Iterable[str]) -> Outcome | None:
        """The evaluated or inferred outcome, without running anything."""
        key = frozenset(fp32)
        return self.state.records.get(key) or self._inferred(key)

    def _inferred(self, key: frozenset[str]) -> Outcome | None:
        if not self.assume_monotone:
            return None
        for other, outcome in self.state.records.items():
            if not outcome.passed and key <= other:
                return Outcome(False, {**outcome.info, "inferred_from": sorted(other)})
            if outcome.passed and other <= key:
                return Outcome(True, {**outcome.info, "inferred_from": sorted(other)})
        return None

    def best_passing(self) -> frozenset[str] | None:
        """The smallest set evaluated so far that passed (first found among equals)."""
        passing = [s for s in self.state.order if self.state.records[s].passed]
        return min(passing, key=len) if passing else None
