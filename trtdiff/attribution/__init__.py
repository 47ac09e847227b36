"""Layer attribution: which nodes introduce error (local error), how much each magnifies what it
receives (amplification), and why (cause hints).

The pipeline calls, in order:
    reference_inputs_needed(model, selected)  tensors the reference run must also hold
    attribute(...)                            after the reference run, before its tensors are dropped
    annotate(comparison, attribution)         after the Comparison is assembled

`local_error_ranking` does the whole thing for one plan (for bisect).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx

from trtdiff.attribution.core import Attribution, annotate, attribute, drop_unselected, reference_inputs_needed
from trtdiff.attribution.local import LocalResult
from trtdiff.attribution.rank import local_score
from trtdiff.attribution.ranking import ranking
from trtdiff.precision.plan import PrecisionPlan

__all__ = ["Attribution", "LocalResult", "annotate", "attribute", "drop_unselected", "local_error_ranking",
           "local_score", "reference_inputs_needed"]


def local_error_ranking(model: onnx.ModelProto, plan: PrecisionPlan, feeds: Mapping[str, np.ndarray]) -> list[str]:
    """Node names, worst local error first, for `plan` (a PrecisionPlan) applied to `model` and
    run on ONNX Runtime CPU with these inputs."""
    return ranking(model, plan, feeds)
