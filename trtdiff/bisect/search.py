"""The search for a small FP32 set, over an abstract `evaluate(fp32_set) -> bool`.

Nothing here knows about ONNX: `evaluate` says whether the model passes with a set of nodes kept
in FP32. The search, seeded by a ranking (worst local error first):

1. checks the all-lower set (nothing in FP32): if it passes there is nothing to do;
2. finds the shortest passing prefix of the ranking by binary search (galloping first, 1, 2, 4, ...
   nodes, when the ranking is informative: cheap when the culprits rank high); if even the whole
   ranking fails, the target differs for a reason FP32 cannot fix;
3. removes groups: the prefix's last node is needed (the prefix without it failed); the rest of
   the prefix is dropped in blocks, by binary search for the shortest part of it that still
   passes together with the nodes found so far, whose last node is needed in turn, and so on
   (one binary search per needed node, where delta debugging's halving spends more);
4. removes single nodes until none can go: the result is 1-minimal (dropping any one node fails).
   Under monotonicity (more FP32 never hurts) step 3 already proves it and step 4 costs nothing.

With `groups` (op types), steps 2-4 run first over the groups, then over the nodes of the groups
kept. A budget (`max_evals`) stops the search early; the smallest passing set found is returned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from trtdiff.bisect.state import BudgetExhausted, Memo, Outcome

log = logging.getLogger(__name__)

Passes = Callable[[Sequence[str]], bool]  # does the model pass with these kept in FP32?

STATUS_MINIMAL = "minimal"  # a 1-minimal passing set
STATUS_ALL_LOWER_PASSES = "all_lower_passes"  # nothing needs FP32
STATUS_ALL_FP32_FAILS = "all_fp32_fails"  # keeping every candidate in FP32 still fails
STATUS_BUDGET = "budget"  # --max-evals reached; best passing set so far


@dataclass(frozen=True)
class SearchResult:
    """What the search found: `fp32` in ranking order, `necessary` maps each node of the set to
    the outcome of the set without it (why it is needed)."""

    status: str
    passed: bool
    fp32: tuple[str, ...]
    evaluations: int
    new_evaluations: int
    necessary: dict[str, Outcome] = field(default_factory=dict)
    phases: dict[str, int] = field(default_factory=dict)  # evaluations spent per phase

    @property
    def minimal(self) -> bool:
        return self.status == STATUS_MINIMAL


def shortest_passing_prefix(items: Sequence[str], passes: Passes, gallop: bool = True) -> int | None:
    """Length of the shortest passing prefix of `items`, assuming the empty prefix fails; None if
    the whole sequence fails. `passes(list)` answers for a prefix. With `gallop`, prefixes of 1, 2,
    4, ... are tried before bisecting (fewer evaluations when the answer is short)."""
    n = len(items)
    if n == 0:
        return None
    low, high = 0, n  # low: longest prefix known to fail; high: shortest assumed to pass
    if gallop:
        size = 1
        while size < n and not passes(items[:size]):
            low, size = size, size * 2
        high = min(size, n)
    while high - low > 1:
        mid = (low + high) // 2
        if passes(items[:mid]):
            high = mid
        else:
            low = mid
    if high == n and not passes(items):  # checked last: a shorter passing prefix implies it
        return None
    return high


def remove_groups(prefix: list[str], passes: Passes, gallop: bool = True) -> list[str]:
    """`prefix` passes and `prefix[:-1]` fails. Keep its last node, then find the shortest part of
    the rest that passes with the nodes kept so far; its last node is needed too; repeat."""
    needed = [prefix[-1]]
    rest = list(prefix[:-1])
    while rest and not passes(needed):
        length = shortest_passing_prefix(rest, lambda part: passes(needed + list(part)), gallop)
        if length is None:  # not monotone: keep everything left and let single removal decide
            return needed + rest
        needed.append(rest[length - 1])
        rest = rest[:length - 1]
    return needed


def remove_singles(chosen: list[str], passes: Passes) -> list[str]:
    """Drop nodes one at a time (lowest rank first) until every remaining node is needed."""
    changed = True
    while changed:
        changed = False
        for item in reversed(list(chosen)):
            rest = [x for x in chosen if x != item]
            if passes(rest):
                chosen = rest
                changed = True
    return chosen


def _minimise(items: list[str], passes: Passes, phases: dict[str, int], memo: Memo, label: str,
              gallop: bool) -> list[str] | None:
    """Steps 2-4 over `items`; None when even all of them fail."""
    before = memo.evaluations
    length = shortest_passing_prefix(items, passes, gallop)
    phases[f"{label}prefix"] = memo.evaluations - before
    if length is None:
        return None
    before = memo.evaluations
    chosen = remove_groups(list(items[:length]), passes, gallop)
    phases[f"{label}groups"] = memo.evaluations - before
    before = memo.evaluations
    chosen = remove_singles(chosen, passes)
    phases[f"{label}singles"] = memo.evaluations - before
    return chosen


def minimal_fp32_set(
    ranking: Sequence[str],
    memo: Memo,
    groups: Mapping[str, str] | None = None,
    gallop: bool = True,
) -> SearchResult:
    """Find a 1-minimal set of `ranking`'s items whose FP32 keeps the outputs in tolerance.

    `groups` maps each item to a group (its op type) to search groups first; `gallop=False` when
    the ranking carries no information (graph order). Evaluations go through `memo`, which
    counts, caches, persists and enforces the budget."""
    ranking = list(dict.fromkeys(ranking))
    phases: dict[str, int] = {}
    try:
        if memo(()):
            return _result(STATUS_ALL_LOWER_PASSES, (), memo, phases)
        candidates: list[str] | None = ranking
        if groups:
            candidates = _search_groups(ranking, groups, memo, phases, gallop)
        if candidates is None:
            return _result(STATUS_ALL_FP32_FAILS, (), memo, phases, passed=False)
        chosen = _minimise(candidates, memo, phases, memo, "", gallop)
        if chosen is None:
            return _result(STATUS_ALL_FP32_FAILS, (), memo, phases, passed=False)
        return _result(STATUS_MINIMAL, tuple(x for x in ranking if x in chosen), memo, phases)
    except BudgetExhausted:
        best = memo.best_passing()
        log.warning("the evaluation budget (%s) ran out; returning the best passing set so far", memo.max_evals)
        fp32 = tuple(x for x in ranking if best is not None and x in best)
        return _result(STATUS_BUDGET, fp32, memo, phases, passed=best is not None)


def _search_groups(ranking: list[str], groups: Mapping[str, str], memo: Memo,
                   phases: dict[str, int], gallop: bool) -> list[str] | None:
    """Minimise over op types (ranked by their best-ranked node), then return the nodes of the
    types kept, in ranking order, as the candidates for the node search."""
    members: dict[str, list[str]] = {}
    for item in ranking:
        members.setdefault(groups.get(item, "?"), []).append(item)

    def expand(kinds: Sequence[str]) -> list[str]:
        return [x for kind in kinds for x in members[kind]]

    def passes_kinds(kinds: Sequence[str]) -> bool:
        return memo(expand(kinds))

    kinds = _minimise(list(members), passes_kinds, phases, memo, "op_type_", gallop)
    if kinds is None:
        return None
    return [x for x in ranking if groups.get(x, "?") in set(kinds)]


def _result(status: str, fp32: tuple[str, ...], memo: Memo, phases: dict[str, int],
            passed: bool = True) -> SearchResult:
    necessary: dict[str, Outcome] = {}
    if status == STATUS_MINIMAL:
        for item in fp32:
            known = memo.known([x for x in fp32 if x != item])
            if known is not None:
                necessary[item] = known
    return SearchResult(status, passed, fp32, memo.evaluations, memo.new_evaluations, necessary, phases)
