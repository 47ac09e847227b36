"""`baseline save`: run the comparison over the data set and write the baseline directory (its
profile, settings, data fingerprint, environment and the target's outputs per sample)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trtdiff.baseline.digest import model_digest
from trtdiff.baseline.profile import profile_from_comparison
from trtdiff.baseline.store import GOLDEN_FILE, Baseline, baseline_dir_writer, check_output_dir, write_baseline_file
from trtdiff.result import Comparison, SamplesInfo
from trtdiff.version import __version__


def data_fingerprint(samples: SamplesInfo | None) -> dict[str, Any]:
    """What identifies the data set: source, location, count, seed and the hash of the samples."""
    if samples is None:
        return {}
    return {"source": samples.source, "location": samples.location, "count": samples.count, "seed": samples.seed,
            "hash": samples.fingerprint, "description": samples.description}


def baseline_from_comparison(comparison: Comparison, model: str | os.PathLike[str], digest: str,
                             options: Mapping[str, Any]) -> Baseline:
    settings = comparison.settings
    return Baseline(
        trtdiff_version=__version__,
        created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        model_path=os.fspath(model),
        model_digest=digest,
        target=settings.target,
        plan=settings.precision_plan,
        data=data_fingerprint(comparison.samples),
        environment=dict(comparison.environment),
        profile=profile_from_comparison(comparison),
        options=dict(options),
    )


def save_baseline(model: str | os.PathLike[str], output: str | os.PathLike[str], options: Mapping[str, Any],
                  *, command: str = "", **extra: Any) -> tuple[Baseline, Comparison]:
    """Run the comparison `options` describe (see `trtdiff.options.run`; `extra`: more
    RunRequest fields) and write its baseline to directory `output`, atomically. Returns the
    baseline and the comparison."""
    from trtdiff.options.run import compare_from_options, saved_options

    check_output_dir(output)
    digest = model_digest(model)
    with baseline_dir_writer(output) as folder:
        comparison = compare_from_options(model, options, command=command, save_outputs=str(folder / GOLDEN_FILE),
                                          **extra)
        baseline = baseline_from_comparison(comparison, model, digest, saved_options(options))
        write_baseline_file(baseline, folder)
    return dataclasses.replace(baseline, directory=str(Path(output))), comparison
