"""`trtdiff.check(model, baseline=...)`: rerun the baseline's comparison on a candidate and judge it
against the baseline (the regression gate).

The comparison's settings come from the baseline unless given again (`overrides`, by the names of
`trtdiff run`'s options: `emulate="fp16"`, `load_inputs="val/"`, `atol=("1e-3",)`). A baseline of
another model (its digest differs) is refused unless `allow_model_change`; a different data set
(its fingerprint differs) unless `allow_different_data`. `against="golden"` also compares the
candidate's target outputs with the baseline's golden outputs, sample by sample.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtdiff.baseline.digest import model_digest
from trtdiff.baseline.gate_json import diff_to_dict
from trtdiff.baseline.golden import golden_as_reference
from trtdiff.baseline.load import load_baseline
from trtdiff.baseline.profile import profile_from_comparison
from trtdiff.baseline.profile_diff import GatePolicy, ProfileDiff, TensorChange, compare_profiles
from trtdiff.baseline.save import data_fingerprint
from trtdiff.baseline.store import Baseline
from trtdiff.errors import UsageError, check_choice
from trtdiff.result import Comparison

AGAINST = ("reference", "golden")


@dataclass(frozen=True)
class CheckResult:
    """A candidate judged against a baseline."""

    baseline: Baseline
    candidate: Comparison  # the rerun comparison, with the gate in `candidate.gate`
    diff: ProfileDiff
    golden: Comparison | None = None  # --against golden: the candidate's outputs vs the golden outputs
    model_changed: bool = False

    @property
    def passed(self) -> bool:
        return self.diff.passed and (self.golden is None or self.golden.passed)

    @property
    def regressions(self) -> tuple[TensorChange, ...]:
        return self.diff.regressions

    @property
    def first_regression(self) -> TensorChange | None:
        return self.diff.first_regression

    def to_dataframe(self) -> Any:
        """One row per tensor on both sides (topological order), then those on one side only."""
        from trtdiff.baseline.frames import check_frame

        return check_frame(self.diff)


def check(model: str | os.PathLike[str], baseline: str | os.PathLike[str] | Baseline, *,
          max_regression: float = 0.1, regression_floor: float | None = None, gate_metric: str | None = None,
          output_metrics: dict[str, str] | None = None, fail_on: str = "outputs", against: str = "reference",
          allow_different_data: bool = False, allow_model_change: bool = False, command: str = "",
          divergence_snr_db: float | None = None, **overrides: Any) -> CheckResult:
    """Judge `model` against `baseline` (a directory or a loaded Baseline). Raises UsageError for
    a baseline of another model or data set (unless allowed), or bad settings."""
    from trtdiff.options.run import compare_from_options, replay_options

    check_choice("--against", against, AGAINST)
    policy = GatePolicy(max_regression, regression_floor, gate_metric, dict(output_metrics or {}), fail_on)
    saved = baseline if isinstance(baseline, Baseline) else load_baseline(baseline)
    changed = _model_changed(saved, model, allow_model_change)
    options = replay_options(saved.options, overrides)
    extra = {} if divergence_snr_db is None else {"divergence_snr_db": divergence_snr_db}
    candidate = compare_from_options(model, options, fail_on=fail_on, command=command, **extra)
    _same_data(saved, candidate, allow_different_data)
    if against == "golden" and _data_differs(saved, candidate):
        raise UsageError("--against golden needs the baseline's own data",
                         f"the golden outputs in {saved.directory} were computed from the baseline's samples, and "
                         "this run's differ (--allow-different-data)",
                         "run on the baseline's data (leave out the input options), or use --against reference")
    diff = compare_profiles(saved.profile, profile_from_comparison(candidate, os.fspath(model)), policy)
    golden = _against_golden(model, saved, options, fail_on) if against == "golden" else None
    gate = {**diff_to_dict(diff), "baseline_info": _baseline_info(saved, changed),
            "golden": _golden_summary(golden)}
    return CheckResult(saved, dataclasses.replace(candidate, gate=gate), diff, golden, changed)


def _model_changed(saved: Baseline, model: str | os.PathLike[str], allowed: bool) -> bool:
    digest = model_digest(model)
    if digest == saved.model_digest:
        return False
    if not allowed:
        raise UsageError(f"the baseline {saved.directory} was saved for another model",
                         f"{saved.model_path} had digest {saved.model_digest[:19]}, {os.fspath(model)} has "
                         f"{digest[:19]}", "pass --allow-model-change for a re-exported model (tensors are "
                         "matched by name), or save a baseline of this model")
    return True


def _data_differs(saved: Baseline, candidate: Comparison) -> bool:
    """Whether the candidate ran on other samples than the baseline (unknown for an old baseline)."""
    before = saved.data.get("hash")
    return bool(before) and before != data_fingerprint(candidate.samples).get("hash")


def _same_data(saved: Baseline, candidate: Comparison, allowed: bool) -> None:
    if allowed or not _data_differs(saved, candidate):
        return
    now = data_fingerprint(candidate.samples).get("hash")
    raise UsageError(f"the data set differs from the baseline's {saved.directory}",
                     f"baseline: {saved.data.get('description') or saved.data.get('hash')}; now: "
                     f"{candidate.samples.description if candidate.samples else now} (sample hashes differ)",
                     "run on the baseline's data (its --load-inputs / --seed / --iterations are used unless given "
                     "again), or pass --allow-different-data")


def _against_golden(model: str | os.PathLike[str], saved: Baseline, options: dict[str, Any],
                    fail_on: str) -> Comparison:
    """The candidate's target outputs against the baseline's golden outputs (no FP32 run)."""
    from trtdiff.options.run import compare_from_options

    if not saved.golden_path.is_file():
        raise UsageError(f"the baseline {saved.directory} has no golden outputs",
                         f"{saved.golden_path.name} is missing", "save the baseline again with `trtdiff baseline save`")
    with tempfile.TemporaryDirectory(prefix="trtdiff-golden-") as folder:
        reference = golden_as_reference(saved.golden_path, Path(folder) / "golden.npz")
        golden_options = {**options, "load_outputs": str(reference), "mark_all": False, "attribute": False}
        return compare_from_options(model, golden_options, fail_on=fail_on)


def _golden_summary(golden: Comparison | None) -> dict[str, Any] | None:
    if golden is None:
        return None
    outputs = [t for t in golden.tensors if t.name in golden.outputs]
    return {"passed": golden.passed,
            "outputs": [{"name": t.name, "passed": t.passed is True,
                         "max_abs": t.metrics.max_abs if t.metrics is not None else None} for t in outputs]}


def _baseline_info(saved: Baseline, changed: bool) -> dict[str, Any]:
    return {"directory": saved.directory, "model_path": saved.model_path, "model_digest": saved.model_digest,
            "model_changed": changed, "target": saved.target, "data": saved.data, "trtdiff": saved.trtdiff_version,
            "created": saved.created}
