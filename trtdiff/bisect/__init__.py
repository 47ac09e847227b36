"""Searches a user runs when `trtdiff run` fails.

- `bisect_precision`: the smallest set of nodes to keep in FP32 (1-minimal), seeded by the
  local-error ranking, over precision plans (`precision.py`, on the pure search in `search.py`).
- `reduce_failure`: the smallest subgraph that still fails, with its captured inputs (`reduce.py`).
- `split_model`: supported / unsupported partitions for a target (`split.py`).
"""

from __future__ import annotations

from trtdiff.bisect.precision import PrecisionBisect, SearchInterrupted, bisect_precision
from trtdiff.bisect.reduce import ReduceResult, capture_reference, reduce_failure, save_reduced
from trtdiff.bisect.search import SearchResult, minimal_fp32_set
from trtdiff.bisect.split import Segment, split_model, unsupported_nodes
from trtdiff.bisect.state import Memo, Outcome, SearchState

__all__ = [
    "Memo", "Outcome", "PrecisionBisect", "ReduceResult", "SearchInterrupted", "SearchResult", "SearchState",
    "Segment", "bisect_precision", "capture_reference", "minimal_fp32_set", "reduce_failure", "save_reduced",
    "split_model", "unsupported_nodes",
]
