"""trtdiff.typed: one typed reader for every JSON file trtdiff loads back, naming the field that is
wrong; plans, results and bisect states go through it (the corpus shows each through the CLI)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import pytest

from trtdiff.bisect.state import Outcome, SearchState
from trtdiff.errors import UsageError
from trtdiff.precision.plan import PrecisionPlan
from trtdiff.result import comparison_from_dict
from trtdiff.typed import Document, check_version, decode, decode_dataclass, read_json

DOC = Document("x.json", "thing", "Write a good one")


@dataclass(frozen=True)
class Inner:
    value: float
    flag: bool | None = None


@dataclass(frozen=True)
class Outer:
    name: str
    inner: tuple[Inner, ...]
    kind: Literal["a", "b"] = "a"
    table: dict[str, int] = field(default_factory=dict)
    shape: tuple[int, ...] | None = None


def test_a_good_document_decodes_with_defaults_and_number_strings():
    got = decode_dataclass(Outer, {"name": "n", "inner": [{"value": "inf"}, {"value": 2, "flag": False}],
                                   "table": {"k": 3}, "extra": "ignored"}, DOC)
    assert got.inner[0].value == math.inf and got.inner[1] == Inner(2.0, False)
    assert got.kind == "a" and got.table == {"k": 3} and got.shape is None


@pytest.mark.parametrize("data, field_name, found", [
    ({"inner": []}, "'name' is missing", "nothing"),
    ({"name": 1, "inner": []}, "'name' should be a string", "number 1"),
    ({"name": "n", "inner": {}}, "'inner' should be a list", "an object"),
    ({"name": "n", "inner": [{"value": "high"}]}, "'inner[0].value' should be a number", 'string "high"'),
    ({"name": "n", "inner": [{"value": True}]}, "'inner[0].value' should be a number", "true"),
    ({"name": "n", "inner": [{"value": 1, "flag": "maybe"}]}, "'inner[0].flag' should be true or false", "maybe"),
    ({"name": "n", "inner": [], "kind": "c"}, "'kind' should be one of a, b", '"c"'),
    ({"name": "n", "inner": [], "table": {"k": 1.5}}, "'table.k' should be a whole number", "1.5"),
    ({"name": "n", "inner": [], "shape": [1, "2"]}, "'shape[1]' should be a whole number", '"2"'),
    ({"name": "n", "inner": [None]}, "'inner[0]' should be an object", "null"),
])
def test_each_wrong_field_is_named_with_what_was_found(data, field_name, found):
    with pytest.raises(UsageError) as err:
        decode_dataclass(Outer, data, DOC)
    line = err.value.one_line()
    assert line.startswith("x.json is not a usable thing") and field_name in line and found in line
    assert err.value.exit_code == 2 and line.endswith("Write a good one.")


def test_versions_newer_are_refused_not_rewritten():
    assert check_version({"version": 1}, "version", 2, DOC) == 1
    assert check_version({}, "version", 2, DOC, default=1) == 1
    with pytest.raises(UsageError, match="newer trtdiff"):
        check_version({"version": 3}, "version", 2, DOC)
    for bad in ("2", True, 0, None):
        with pytest.raises(UsageError, match="'version'"):
            check_version({"version": bad}, "version", 2, DOC)


def test_read_json_names_the_file(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_json(tmp_path / "none.json", DOC)
    with pytest.raises(UsageError, match="it is a folder"):
        read_json(tmp_path, DOC)
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(UsageError, match="cannot read"):
        read_json(tmp_path / "bad.json", DOC)
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(UsageError):
        read_json(tmp_path / "deep.json", DOC)


def test_plan_round_trip_and_the_issue_cases():
    plan = PrecisionPlan("int8", keep_fp32_nodes=("a",), per_channel=False, percentile=99.9)
    assert PrecisionPlan.from_dict(plan.to_dict()) == plan
    for bad, word in (({"per_channel": "no"}, "per_channel"), ({"version": 99}, "newer"),
                      ({"percentile": "high"}, "percentile"), ({"percentile": None}, "percentile")):
        with pytest.raises(UsageError, match=word):
            PrecisionPlan.from_dict({**plan.to_dict(), **bad})


def test_a_result_round_trips_and_passed_maybe_is_refused(tmp_path):
    from click.testing import CliRunner

    from model_builders import conv_relu_model, save
    from trtdiff.cli import cli
    from trtdiff.result import comparison_from_json, comparison_to_json

    out = tmp_path / "r.json"
    CliRunner().invoke(cli, ["run", save(conv_relu_model(), tmp_path / "m.onnx"), "--fp16", "--mark-all", "--json", str(out)])
    comparison = comparison_from_json(out.read_text())
    assert comparison_from_json(comparison_to_json(comparison)) == comparison
    import json

    data = json.loads(out.read_text())
    data["passed"] = "maybe"
    with pytest.raises(UsageError, match="'passed' should be true or false"):
        comparison_from_dict(data)


def test_a_state_file_round_trips_and_bad_entries_are_named(tmp_path):
    state = SearchState("h", "s")
    state.add(frozenset({"a", "b"}), Outcome(False, {"outputs": {"y": 1.5}}))
    path = tmp_path / "s.json"
    state.save(path)
    again = SearchState.load(path, "h", "s")
    assert again.records == state.records
    path.write_text('{"version": 1, "model_hash": "h", "evaluations": [{"fp32": ["a"], "passed": 1}]}')
    with pytest.raises(UsageError, match=r"'evaluations\[0\].passed'"):
        SearchState.load(path, "h")


def test_decode_any_and_plain_containers():
    from typing import Any

    assert decode(Any, {"x": [1]}, DOC) == {"x": [1]}
    assert decode(dict, {"x": 1}, DOC) == {"x": 1}
    assert decode(tuple, [1, "a"], DOC) == (1, "a") and decode(list, [1], DOC) == [1]
    for hint, value in ((list, 5), (dict, []), (tuple, "ab")):
        with pytest.raises(UsageError, match="should be"):
            decode(hint, value, DOC, "f")
