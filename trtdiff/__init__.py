"""trtdiff: find where a model loses accuracy at reduced precision.

    import trtdiff
    result = trtdiff.compare("model.onnx", target="fp16", inputs="val/", mark_all=True)
    frame = result.to_dataframe()

The public API is listed in `__all__`; everything else is internal. The names are loaded on first
use, so that `import trtdiff` (and the command line) stays quick.
"""

from __future__ import annotations

import os
from typing import Any

from trtdiff.version import __version__

__all__ = ["CheckResult", "Comparison", "InputSettings", "TargetSpec", "ToleranceSpec", "__version__", "check",
           "compare", "comparison_from_json", "run_comparison", "target_spec"]


def compare(model: str | os.PathLike[str], target: Any = "fp16", **options: Any) -> Any:
    """Compare `model` (FP32 reference) with `target` over a data set and return the Comparison:
    `trtdiff.api.compare` (see it for every option), the function `trtdiff run` calls."""
    from trtdiff.api import compare as run

    return run(model, target, **options)


def __getattr__(name: str) -> Any:
    """The public names, imported when first asked for (PEP 562)."""
    if name == "target_spec":
        from trtdiff import api

        return getattr(api, name)
    if name in ("check", "CheckResult"):
        from trtdiff.baseline import check

        return getattr(check, name)
    if name in ("Comparison", "comparison_from_json"):
        from trtdiff import result

        return getattr(result, name)
    if name in ("run_comparison", "TargetSpec"):
        from trtdiff import pipeline

        return getattr(pipeline, name)
    if name == "InputSettings":
        from trtdiff.inputs import InputSettings

        return InputSettings
    if name == "ToleranceSpec":
        from trtdiff.measure.tolerance import ToleranceSpec

        return ToleranceSpec
    raise AttributeError(f"module 'trtdiff' has no attribute {name!r}")
