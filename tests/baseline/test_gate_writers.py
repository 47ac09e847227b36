"""The gate's CI outputs: JUnit XML (read back with junitparser and checked against the structure of
the Jenkins/Surefire JUnit schema that Jenkins, GitLab and GitHub reporters read), the markdown
summary and the JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import junitparser
import pytest
from gate_factory import chain, profile

from trtdiff.baseline.gate_json import diff_to_dict
from trtdiff.baseline.junit import NO_NEW_ERROR, junit_xml
from trtdiff.baseline.markdown import markdown_summary
from trtdiff.baseline.profile_diff import GatePolicy, ProfileDiff, compare_profiles

FACTS = {"trtdiff": "0.1.0", "onnxruntime": "1.18.0 -> 1.19.2", "baseline": "baselines/model"}

# The Jenkins xunit-plugin's junit-10.xsd (the Surefire format), element by element: the children
# it allows, its attributes, and those it requires.
SCHEMA = {
    "testsuites": ({"testsuite"}, {"name", "time", "tests", "failures", "errors"}, set()),
    "testsuite": ({"testsuite", "properties", "testcase", "system-out", "system-err"},
                  {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname",
                   "id", "package", "file", "log", "url"}, {"name", "tests", "failures", "errors"}),
    "properties": ({"property"}, set(), set()),
    "property": (set(), {"name", "value"}, {"name", "value"}),
    "testcase": ({"skipped", "error", "failure", "system-out", "system-err"},
                 {"name", "time", "classname", "group"}, {"name"}),
    "failure": (set(), {"type", "message"}, set()),
    "system-out": (set(), set(), set()),
}


def check_against_schema(element: ET.Element) -> None:
    children, attributes, required = SCHEMA[element.tag]
    assert set(element.attrib) <= attributes, (element.tag, set(element.attrib) - attributes)
    assert required <= set(element.attrib), (element.tag, required - set(element.attrib))
    for child in element:
        assert child.tag in children, (element.tag, child.tag)
        check_against_schema(child)
    if element.tag in ("testsuites", "testsuite"):
        cases = list(element.iter("testcase"))
        assert int(element.get("tests", "0")) == len(cases)
        assert int(element.get("failures", "0")) == sum(c.find("failure") is not None for c in cases)
    if element.get("time") is not None:
        float(element.get("time", ""))


def regressed_diff() -> ProfileDiff:
    old = profile(chain(6, error=1e-4), outputs=("out", "t1"))
    new = profile(chain(6, error=1e-4, t3=8e-4, t4=8e-4, out=8e-4), outputs=("out", "t1"))
    return compare_profiles(old, new)


def test_junit_of_a_failing_gate_reads_back_with_its_numbers(tmp_path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(junit_xml(regressed_diff(), FACTS, seconds=1.5), encoding="utf-8")
    check_against_schema(ET.parse(path).getroot())
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {"trtdiff check: outputs (elementwise check)", "trtdiff check: error profile"}
    outputs = {case.name: case for case in suites["trtdiff check: outputs (elementwise check)"]}
    assert outputs["output t1"].is_passed
    failure = outputs["output out"].result[0]
    assert isinstance(failure, junitparser.Failure)
    assert "max abs error 0.0001 -> 0.0008 (8.00x), limit 0.00012" in failure.message
    (profile_case,) = list(suites["trtdiff check: error profile"])
    assert profile_case.name == NO_NEW_ERROR
    assert "new error starts at 't3' (Conv node 'node_t3', #3)" in profile_case.result[0].message
    properties = {p.name: p.value for p in suites["trtdiff check: error profile"].properties()}
    assert properties["onnxruntime"] == "1.18.0 -> 1.19.2"
    assert (xml.tests, xml.failures, xml.errors) == (3, 2, 0)


def test_junit_of_a_passing_gate_has_no_failure() -> None:
    old = profile(chain(4))
    root = ET.fromstring(junit_xml(compare_profiles(old, old), FACTS))
    check_against_schema(root)
    assert root.get("failures") == "0" and root.get("tests") == "2"


def test_junit_reports_growth_in_intermediates_without_failing_when_the_outputs_hold() -> None:
    """--fail-on outputs: the exit code is 0, so the JUnit file must not show a failure either."""
    old, new = profile(chain(4)), profile(chain(4, t1=5e-4))
    for fail_on, failures in (("outputs", "0"), ("all", "1")):
        root = ET.fromstring(junit_xml(compare_profiles(old, new, GatePolicy(fail_on=fail_on)), FACTS))
        assert root.get("failures") == failures
        assert "new error starts at 't1'" in ET.tostring(root, encoding="unicode")


def test_junit_escapes_hostile_names() -> None:
    old = profile({"<b>&\"'": 1e-4, "out": 1e-4})
    new = profile({"<b>&\"'": 9e-4, "out": 9e-4})
    text = junit_xml(compare_profiles(old, new), {"x": "<y>"})
    root = ET.fromstring(text)  # well-formed
    check_against_schema(root)
    assert "<b>" not in text
    messages = [f.get("message", "") for f in root.iter("failure")]
    assert any("'<b>&\"'' (Conv node 'node_<b>&\"'', #0)" in m for m in messages)


def test_markdown_summary_says_verdict_numbers_and_where() -> None:
    text = markdown_summary(regressed_diff(), FACTS)
    assert text.startswith("## trtdiff check: FAIL")
    assert "| `out` | max_abs | 0.0001 | 0.0008 | 0.00012 | **fail**:" in text
    assert "| `t1` | max_abs | 0.0001 | 0.0001 | 0.00012 | pass |" in text
    assert "**New error starts at** `t3` (`Conv` node `node_t3`, #3)" in text
    assert "- onnxruntime: 1.18.0 -&gt; 1.19.2" in text


def test_markdown_cannot_be_broken_by_names() -> None:
    old = profile({"a|b`<img src=x>": 1e-4, "out": 1e-4})
    new = profile({"a|b`<img src=x>": 9e-4, "out": 9e-4})
    text = markdown_summary(compare_profiles(old, new), {})
    assert "`a\\|b'<img src=x>`" in text  # inside code: a pipe cannot split the cell, no backtick
    rows = [line for line in text.splitlines() if line.startswith("| ") and "img" in line]
    assert all(line.count(" | ") == 7 for line in rows)


def test_gate_json_is_standard_json_with_every_tensor(tmp_path) -> None:
    data = diff_to_dict(regressed_diff())
    text = json.dumps(data, allow_nan=False)
    back = json.loads(text)
    assert back["passed"] is False and back["first_regression"]["name"] == "t3"
    assert back["regressions"] == ["t3", "t4", "out"] and len(back["tensors"]) == 6
    assert back["outputs"][0]["reason"].startswith("max abs error")
    assert back["policy"]["max_regression"] == pytest.approx(0.1)
