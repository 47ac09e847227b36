"""The search for a small FP32 set, over an abstract `evaluate(fp32_set) -> bool`.

Nothing here knows about ONNX: `evaluate` says whether the model passes with a set of nodes kept
in FP32. The search, seeded by a ranking (worst local error first), is adaptive group testing
(Hwang's generalized binary splitting) with the density of needed nodes estimated as it goes:

1. checks the all-lower set (nothing in FP32): if it passes there is nothing to do;
2. finds the shortest passing prefix of the ranking by binary search (with an informative ranking
   the top node alone and the top two are tried first: cheap when the culprits rank first, at
   most two evaluations lost when they do not); its last node is needed, the nodes after it are
   dropped; if even the whole ranking fails, the target differs for a reason FP32 cannot fix;
3. tries that node alone, then decides the rest of the prefix from its lowest-ranked end, a group
   at a time: a group whose removal still passes is dropped in one evaluation; one whose removal
   fails holds a needed node, found by binary search inside the group (the nodes below it go
   too). Group sizes follow Hwang's rule for the density of needed nodes over the last few found:
   one at a time above a density of (3 - sqrt 5)/2 (where testing one by one is optimal), large
   groups where needed nodes are rare. About k*log2(n/k) + 2k evaluations for k needed nodes of n,
   near the information bound log2 C(n, k) at every density, where one binary search per needed
   node (the previous search) cost about k*log2(n);
4. removes single nodes until none can go: the result is 1-minimal (dropping any one node fails).
   Under monotonicity (more FP32 never hurts) step 3 already proves it and step 4 costs nothing.

Under monotonicity steps 2-3 return exactly the set that removing nodes one at a time from the
lowest rank up would keep (the previous search's answer), with fewer evaluations: a node is kept
when the nodes ranked above it plus those already kept do not pass without it.

With `groups` (op types), steps 2-4 run first over the groups, then over the nodes of the groups
kept. A budget (`max_evals`) stops the search early; the smallest passing set found is returned.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    the whole sequence fails. `passes(list)` answers for a prefix. With `gallop`, the prefixes of
    one and two items are tried before bisecting (the bet that the ranking put the culprits first)."""
    n = len(items)
    low, high = 0, n  # low: longest prefix known to fail; high: shortest assumed to pass
    for size in (1, 2) if gallop else ():
        if size >= n:
            break
        if passes(items[:size]):
            return size
        low = size
    while high - low > 1:
        mid = (low + high) // 2
        if passes(items[:mid]):
            high = mid
        else:
            low = mid
    if n == 0 or (high == n and not passes(items)):  # checked last: a shorter passing prefix implies it
        return None
    return high


WINDOW = 3  # gaps between needed nodes that make the density estimate (recent ones: rankings drift)
ONE_BY_ONE = (3 - math.sqrt(5)) / 2  # above this density testing nodes one by one is optimal (Ungar)


def group_size(undecided: int, density: float) -> int:
    """Hwang's generalized binary splitting: with d needed nodes expected among m, test groups of
    2^round(log2((m - d + 1) / d)) nodes, so that a group is as likely to pass as to fail."""
    if density >= ONE_BY_ONE:
        return 1
    expected = density * undecided
    exponent = round(math.log2(max((undecided - expected + 1) / expected, 1.0)))
    return min(undecided, 1 << exponent)


def remove_groups(needed: list[str], undecided: list[str], passes: Passes, gaps: list[float]) -> list[str]:
    """`needed + undecided` passes and each of `needed` is needed: decide the undecided nodes
    (ranking order) from the lowest-ranked end, a group at a time (module doc, step 3). `gaps`
    (distances between needed nodes seen so far) make the density estimate. The needed nodes
    alone are tried first: one evaluation that ends the search when they suffice."""
    needed, gaps, cleared = list(needed), list(gaps), 0  # cleared: dropped since the last needed one
    if not undecided or passes(needed):
        return needed
    while undecided:
        recent = gaps[-WINDOW:]
        size = group_size(len(undecided), len(recent) / (sum(recent) + cleared))
        rest, group = undecided[:-size], undecided[-size:]
        if passes(needed + rest):
            undecided, cleared = rest, cleared + size
            continue
        length = 1 if size == 1 else shortest_passing_prefix(
            group, lambda part: passes(needed + rest + list(part)), gallop=False)
        if length is None:  # not monotone: keep everything left and let single removal decide
            return needed + undecided
        needed.append(group[length - 1])
        gaps.append(cleared + size - length + 1)
        undecided, cleared = rest + list(group[:length - 1]), 0
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
    with _phase(phases, f"{label}prefix", memo):
        length = shortest_passing_prefix(items, passes, gallop)
    if length is None:
        return None
    with _phase(phases, f"{label}groups", memo):
        # density prior: one needed node per sqrt(n), the geometric middle of 1/n..1 (a wrong guess
        # costs about as much either way), then the gap the prefix search found below the last one
        gaps = [math.sqrt(len(items)), len(items) - length + 1]
        chosen = remove_groups([items[length - 1]], list(items[:length - 1]), passes, gaps)
    with _phase(phases, f"{label}singles", memo):
        return remove_singles(chosen, passes)


@contextlib.contextmanager
def _phase(phases: dict[str, int], name: str, memo: Memo) -> Iterator[None]:
    """Count the evaluations spent in a phase, also when the budget runs out inside it."""
    before = memo.evaluations
    try:
        yield
    finally:
        phases[name] = memo.evaluations - before


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
