"""Searches a user runs when `trtdiff run` fails.

- `bisect_precision`: the smallest set of nodes to keep in FP32 (1-minimal), seeded by the
  local-error ranking, over precision plans (`precision.py`, on the pure search in `search.py`).
- `reduce_failure`: the smallest subgraph that still fails, with its captured inputs (`reduce.py`).
- `split_model`: supported / unsupported partitions for a target (`split.py`).

The names below are imported from their modules on first use: `trtdiff run` needs only
`trtdiff.bisect.graph` and should not pay for the searches.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trtdiff.bisect.precision import PrecisionBisect, SearchInterrupted, bisect_precision
    from trtdiff.bisect.reduce import ReduceResult, capture_reference, reduce_failure, save_reduced
    from trtdiff.bisect.search import SearchResult, minimal_fp32_set
    from trtdiff.bisect.split import Segment, split_model, unsupported_nodes
    from trtdiff.bisect.state import Memo, Outcome, SearchState

_MODULE_OF = {
    "PrecisionBisect": "precision", "SearchInterrupted": "precision", "bisect_precision": "precision",
    "ReduceResult": "reduce", "capture_reference": "reduce", "reduce_failure": "reduce", "save_reduced": "reduce",
    "SearchResult": "search", "minimal_fp32_set": "search",
    "Segment": "split", "split_model": "split", "unsupported_nodes": "split",
    "Memo": "state", "Outcome": "state", "SearchState": "state",
}

__all__ = [
    "Memo", "Outcome", "PrecisionBisect", "ReduceResult", "SearchInterrupted", "SearchResult", "SearchState",
    "Segment", "bisect_precision", "capture_reference", "minimal_fp32_set", "reduce_failure", "save_reduced",
    "split_model", "unsupported_nodes",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'trtdiff.bisect' has no attribute {name!r}")
    return getattr(importlib.import_module(f"trtdiff.bisect.{module}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
