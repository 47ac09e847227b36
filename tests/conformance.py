"""ONNX conformance of trtdiff's ONNX Runtime targets: every ONNX backend node-test case that ONNX
Runtime itself runs, through `trtdiff run --fp16 --mark-all` and `trtdiff run --emulate int8
--mark-all`. A run may pass or find a mismatch (exit 0/1); a refusal (exit 2/3) must be for one of
the reasons the README lists under "ONNX conformance"; anything else is a trtdiff bug.

    python tests/conformance.py            # the whole set, with counts (`make conformance`)
    python tests/conformance.py --sample   # the fixed sample CI runs (tests/robustness)
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from node_cases import NodeCase, conformance_sample, onnxruntime_cases  # noqa: E402

README = Path(__file__).parents[1] / "README.md"
MODES = {"fp16": ("--fp16",), "int8": ("--emulate", "int8")}
REASON_LINE = re.compile(r"^- refused: `([^`]+)`")


@dataclass(frozen=True)
class Outcome:
    case: str
    mode: str
    exit_code: int
    error: str  # the error line ("" when the run passed or found a mismatch)


def readme_reasons(readme: Path = README) -> list[str]:
    """The refusal reasons the README lists: lines '- refused: `<phrase of the error line>` ...'."""
    return [m[1] for line in readme.read_text(encoding="utf-8").splitlines() if (m := REASON_LINE.match(line))]


def run_case(case: NodeCase, mode: str, directory: Path) -> Outcome:
    """`trtdiff run` on the case in-process (the real command group, error boundary included)."""
    from click.testing import CliRunner

    from trtdiff.cli import cli

    model, inputs = case.save(directory / case.name)
    result = CliRunner().invoke(cli, ["run", str(model), *MODES[mode], "--mark-all", "--load-inputs", str(inputs)])
    errors = [line for line in result.output.splitlines() if line.startswith("trtdiff: error:")]
    if result.exit_code not in (0, 1, 2, 3) or "Traceback" in result.output:
        errors.append(f"crash: {result.exception!r}")
    return Outcome(case.name, mode, result.exit_code, errors[-1] if errors else "")


def unexplained(outcome: Outcome, reasons: list[str]) -> bool:
    """A crash, a refusal for a reason the README does not list, or an error line on a finished run."""
    if outcome.exit_code in (0, 1):
        return bool(outcome.error)
    return outcome.exit_code not in (2, 3) or not any(reason in outcome.error for reason in reasons)


def _run_chunk(names: list[str]) -> list[Outcome]:
    by_name = {case.name: case for case in onnxruntime_cases()}
    with tempfile.TemporaryDirectory(prefix="trtdiff-conformance-") as folder:
        return [run_case(by_name[name], mode, Path(folder)) for name in names for mode in MODES]


def run_all(cases: tuple[NodeCase, ...], jobs: int) -> list[Outcome]:
    names = [case.name for case in cases]
    chunks = [names[i::jobs] for i in range(jobs)]
    if jobs == 1:
        return _run_chunk(names)
    with ProcessPoolExecutor(jobs) as pool:
        return [outcome for chunk in pool.map(_run_chunk, chunks) for outcome in chunk]


def summary(outcomes: list[Outcome], reasons: list[str]) -> list[str]:
    """Counts per mode: passed, mismatch, refused per README reason, unexplained."""
    lines = []
    for mode in MODES:
        mine = [o for o in outcomes if o.mode == mode]
        codes = collections.Counter(o.exit_code for o in mine)
        by_reason = collections.Counter(next((r for r in reasons if r in o.error), "unexplained")
                                        for o in mine if o.exit_code not in (0, 1))
        lines.append(f"{mode}: {len(mine)} cases, {codes[0] + codes[1]} ran ({codes[0]} within tolerance, "
                     f"{codes[1]} mismatch), {len(mine) - codes[0] - codes[1]} refused")
        lines += [f"  refused {count:4d}: {reason}" for reason, count in by_reason.most_common()]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", action="store_true", help="only the fixed sample CI runs")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args()
    start = time.perf_counter()
    cases = conformance_sample() if args.sample else onnxruntime_cases()
    reasons = readme_reasons()
    outcomes = run_all(cases, max(1, args.jobs))
    print(f"ONNX backend node tests that ONNX Runtime runs: {len(cases)} "
          f"({'fixed sample' if args.sample else 'all'}), {time.perf_counter() - start:.0f} s")
    print("\n".join(summary(outcomes, reasons)))
    bad = [o for o in outcomes if unexplained(o, reasons)]
    for outcome in bad:
        print(f"UNEXPLAINED {outcome.case} {outcome.mode} exit {outcome.exit_code}: {outcome.error}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
