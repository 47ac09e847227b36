"""The gate as JUnit XML, the test-report format Jenkins, GitLab and GitHub reporters read.

One `<testsuite>` per tolerance check, holding one `<testcase>` per graph output judged by it, and a
last suite "error profile" with the testcase "no new error introduced" (where the new error starts).
A failed testcase carries a `<failure>` whose message has the numbers. Versions and settings go
into the suites' `<properties>`. Element and attribute names are those of the Jenkins/Surefire
JUnit schema (`testsuites > testsuite > properties, testcase > failure, system-out`).
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any
from datetime import datetime, timezone

from trtdiff.baseline.profile_diff import OutputVerdict, ProfileDiff
from trtdiff.baseline.wording import fmt

NO_NEW_ERROR = "no new error introduced"
CLASSNAME = "trtdiff.check"


def junit_xml(diff: ProfileDiff, properties: Mapping[str, str], *, name: str = "trtdiff check",
              seconds: float = 0.0, golden: Mapping[str, Any] | None = None) -> str:
    """The JUnit XML document (UTF-8 text with its declaration) for one gate; `golden` (the
    gate JSON's "golden" object, `check --against golden`) adds a suite of its own."""
    root = ET.Element("testsuites", name=name)
    stamp = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    for check in dict.fromkeys(o.check for o in diff.outputs):
        verdicts = [o for o in diff.outputs if o.check == check]
        suite = _suite(root, f"{name}: outputs ({check} check)", properties, stamp, seconds)
        for verdict in verdicts:
            _output_case(suite, verdict)
        _count(suite)
    suite = _suite(root, f"{name}: error profile", properties, stamp, 0.0)
    _profile_case(suite, diff)
    _count(suite)
    if golden:
        suite = _suite(root, f"{name}: golden outputs", properties, stamp, 0.0)
        for output in golden.get("outputs", []):
            failure = "" if output.get("passed") else (
                f"output '{output.get('name')}' differs from the baseline's golden outputs beyond the tolerances "
                f"(max abs error {fmt(output.get('max_abs'))})")
            _case(suite, f"output {output.get('name')} matches golden", failure, "")
        _count(suite)
    _count(root, suites=True)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(root: ET.Element, name: str, properties: Mapping[str, str], stamp: str, seconds: float) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=name, timestamp=stamp, hostname=socket.gethostname(),
                          time=f"{seconds:.3f}")
    holder = ET.SubElement(suite, "properties")
    for key in sorted(properties):
        ET.SubElement(holder, "property", name=key, value=str(properties[key]))
    return suite


def _case(suite: ET.Element, name: str, failure: str, details: str) -> None:
    case = ET.SubElement(suite, "testcase", name=name, classname=CLASSNAME, time="0")
    if failure:
        ET.SubElement(case, "failure", message=failure, type="regression").text = details or failure
    elif details:
        ET.SubElement(case, "system-out").text = details


def _output_case(suite: ET.Element, verdict: OutputVerdict) -> None:
    numbers = (f"{verdict.metric}: baseline {fmt(verdict.baseline)}, candidate {fmt(verdict.candidate)}, "
               f"limit {fmt(verdict.limit)}; tolerance check {'passed' if verdict.passed_check else 'failed'}")
    _case(suite, f"output {verdict.name}", verdict.reason, numbers)


def _profile_case(suite: ET.Element, diff: ProfileDiff) -> None:
    first = diff.first_regression
    lines = [c.describe() for c in diff.grew_most]
    lines += [f"appeared (only in the candidate): {', '.join(diff.appeared)}"] if diff.appeared else []
    lines += [f"vanished (only in the baseline): {', '.join(diff.vanished)}"] if diff.vanished else []
    counts = f"{len(diff.regressions)} of {len(diff.changes)} tensors grew beyond the margin"
    if first is None:
        _case(suite, NO_NEW_ERROR, "", "\n".join([counts, *lines]))
        return
    where = f"new error starts at {first.describe()}"
    if diff.policy.fail_on == "all" or not diff.passed:
        _case(suite, NO_NEW_ERROR, where, "\n".join([where, counts, "grew most:", *lines]))
    else:  # the outputs held: the growth is reported, not failed (--fail-on all fails it)
        _case(suite, NO_NEW_ERROR, "", "\n".join([f"outputs held; {where}", counts, *lines]))


def _count(element: ET.Element, suites: bool = False) -> None:
    cases = element.iter("testcase")
    tests = failures = 0
    for case in cases:
        tests += 1
        failures += case.find("failure") is not None
    element.set("tests", str(tests))
    element.set("failures", str(failures))
    element.set("errors", "0")
    if not suites:
        element.set("skipped", "0")
