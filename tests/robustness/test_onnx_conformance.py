"""ONNX conformance in CI: a fixed sample of 240 ONNX backend node-test cases that ONNX Runtime
itself runs (every operator among them), each through `run --fp16 --mark-all` and `run --emulate
int8 --mark-all` in-process. No crash; every refusal for a reason the README lists. The whole set:
`make conformance` (tests/conformance.py), whose counts are in the README."""

from __future__ import annotations

import re

import pytest

from conformance import README, readme_reasons, run_all, summary, unexplained
from node_cases import SAMPLE_SIZE, conformance_sample


def test_the_readme_lists_the_refusal_reasons_and_the_counts():
    reasons = readme_reasons()
    assert len(reasons) >= 2
    text = README.read_text(encoding="utf-8")
    assert "make conformance" in text
    assert re.search(r"\| `--fp16 --mark-all` \| \d+ \|", text) and re.search(r"\| `--emulate int8 --mark-all` \| \d+ \|", text)


@pytest.mark.slow
def test_the_sample_runs_or_is_refused_for_a_listed_reason():
    cases = conformance_sample()
    assert len(cases) == SAMPLE_SIZE >= 200
    reasons = readme_reasons()
    outcomes = run_all(cases, jobs=1)
    assert len(outcomes) == 2 * len(cases)
    bad = [o for o in outcomes if unexplained(o, reasons)]
    assert not bad, "\n".join(summary(outcomes, reasons) + [f"{o.case} {o.mode}: {o.exit_code} {o.error}" for o in bad])
    ran = sum(o.exit_code in (0, 1) for o in outcomes)
    assert ran >= 0.9 * len(outcomes), "\n".join(summary(outcomes, reasons))
