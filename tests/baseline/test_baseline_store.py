"""The baseline directory: baseline.json round trip, its diff-friendly layout and size, field-by-field
validation on load (newer format refused, an older trtdiff's same format accepted), and atomic
directory writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_factory import chain, comparison

from trtdiff.baseline.load import load_baseline
from trtdiff.baseline.profile import profile_from_comparison
from trtdiff.baseline.store import BASELINE_FILE, BASELINE_FORMAT, GOLDEN_FILE, Baseline, baseline_to_json, \
    write_baseline
from trtdiff.errors import UsageError


def make_baseline(n: int = 5, **errors: float) -> Baseline:
    result = comparison(chain(n, **errors))
    return Baseline(trtdiff_version="0.1.0", created="2025-01-01T00:00:00+00:00", model_path="model.onnx",
                    model_digest="sha256:" + "ab" * 32, target=result.settings.target, plan={"default": "fp16"},
                    data={"source": "generated", "count": 1, "seed": 1, "hash": "sha256:00"},
                    environment=result.environment, profile=profile_from_comparison(result),
                    options={"emulate": "fp16", "mark_all": True})


def saved(tmp_path: Path, baseline: Baseline | None = None) -> Path:
    write_baseline(baseline or make_baseline(), tmp_path / "base", golden=None)
    return tmp_path / "base"


def edit(directory: Path, change) -> None:
    file = directory / BASELINE_FILE
    data = json.loads(file.read_text())
    change(data)
    file.write_text(json.dumps(data))


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    original = make_baseline(6, t2=float("inf"))
    loaded = load_baseline(saved(tmp_path, original))
    assert loaded.profile.tensors == original.profile.tensors
    assert loaded.profile.tolerances == original.profile.tolerances
    assert loaded.profile.outputs == original.profile.outputs
    for name in ("trtdiff_version", "created", "model_path", "model_digest", "target", "plan", "data",
                 "environment", "options", "format"):
        assert getattr(loaded, name) == getattr(original, name), name
    assert loaded.directory == str(tmp_path / "base")


def test_layout_is_sorted_one_tensor_per_line_and_standard_json() -> None:
    text = baseline_to_json(make_baseline(4, t1=float("nan")))
    data = json.loads(text)  # no NaN literal: standard JSON
    assert list(data) == sorted(data)
    lines = text.splitlines()
    rows = [line for line in lines if line.startswith('  {"atol"')]
    assert [json.loads(line.rstrip(","))["name"] for line in rows] == ["t0", "t1", "t2", "out"]
    assert json.loads(rows[1].rstrip(","))["max_abs"] == "nan"
    assert all(list(json.loads(r.rstrip(","))) == sorted(json.loads(r.rstrip(","))) for r in rows)


def test_a_thousand_tensor_profile_is_under_a_megabyte() -> None:
    text = baseline_to_json(make_baseline(1000))
    assert len(text.encode()) < 1_000_000
    assert len(json.loads(text)["profile"]) == 1000


def test_a_newer_format_is_refused_with_a_clear_line(tmp_path: Path) -> None:
    directory = saved(tmp_path)
    edit(directory, lambda d: d.update(format=BASELINE_FORMAT + 1))
    with pytest.raises(UsageError, match=r"written by a newer trtdiff.*Upgrade trtdiff") as caught:
        load_baseline(directory)
    assert "\n" not in caught.value.one_line()


def test_an_older_trtdiff_with_the_same_format_loads(tmp_path: Path) -> None:
    """Another version wrote it, with a field this one does not know and without an optional one."""
    directory = saved(tmp_path)

    def older(data: dict) -> None:
        data.update(trtdiff="0.0.9", written_by_a_plugin={"x": 1})
        del data["options"]
        for row in data["profile"]:
            row["future_field"] = 1
    edit(directory, older)
    loaded = load_baseline(directory)
    assert loaded.trtdiff_version == "0.0.9" and loaded.options == {}
    assert len(loaded.profile.tensors) == 5


@pytest.mark.parametrize("change, field", [
    (lambda d: d.pop("model"), "'model' is missing"),
    (lambda d: d["model"].update(digest=5), "'model.digest' should be a string"),
    (lambda d: d.update(format="1"), "'format' should be a whole number"),
    (lambda d: d.update(profile={}), "'profile' should be a list"),
    (lambda d: d["profile"][2].update(max_abs="lots"), "'profile[2].max_abs' should be a number"),
    (lambda d: d["profile"][0].update(size=1.5), "'profile[0].size' should be a whole number"),
    (lambda d: d["profile"][1].update(histogram=[1, "x"]), "'profile[1].histogram[1]' should be a whole number"),
    (lambda d: d["profile"][1].update(status="lost"), "'profile[1].status' should be one of"),
    (lambda d: d["profile"][3].update(is_output="yes"), "'profile[3].is_output' should be true or false"),
    (lambda d: d["tolerances"].update(atol=None), "'tolerances.atol' should be"),
    (lambda d: d["outputs"].append(3), "'outputs[1]' should be a string"),
])
def test_each_bad_field_is_named(tmp_path: Path, change, field: str) -> None:
    directory = saved(tmp_path)
    edit(directory, change)
    with pytest.raises(UsageError, match="is not a usable baseline") as caught:
        load_baseline(directory)
    assert field in str(caught.value)


@pytest.mark.parametrize("content, message", [(None, "has no baseline.json"), ("{", "is not valid JSON"),
                                              ("[1]", "should be an object")])
def test_missing_or_corrupt_baselines(tmp_path: Path, content: str | None, message: str) -> None:
    directory = tmp_path / "base"
    directory.mkdir()
    if content is not None:
        (directory / BASELINE_FILE).write_text(content)
    with pytest.raises(UsageError, match=message):
        load_baseline(directory)
    with pytest.raises(UsageError, match="no such directory"):
        load_baseline(tmp_path / "nowhere")


def test_writing_is_atomic_and_replaces_an_earlier_baseline(tmp_path: Path) -> None:
    golden = tmp_path / "golden.npz"
    golden.write_bytes(b"npz")
    write_baseline(make_baseline(), tmp_path / "base", golden=golden)
    assert sorted(p.name for p in (tmp_path / "base").iterdir()) == [BASELINE_FILE, GOLDEN_FILE]
    assert not golden.exists()  # moved in
    write_baseline(make_baseline(7), tmp_path / "base", golden=None)
    assert len(load_baseline(tmp_path / "base").profile.tensors) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base"]  # nothing left aside


def test_a_failed_write_leaves_nothing_and_keeps_the_earlier_baseline(tmp_path: Path) -> None:
    write_baseline(make_baseline(), tmp_path / "base", golden=None)
    with pytest.raises(UsageError):  # the golden file to move in does not exist
        write_baseline(make_baseline(9), tmp_path / "base", golden=tmp_path / "missing.npz")
    assert len(load_baseline(tmp_path / "base").profile.tensors) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base"]


def test_a_folder_holding_other_files_or_a_file_is_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(UsageError, match="holds other files"):
        write_baseline(make_baseline(), tmp_path / "mine", golden=None)
    (tmp_path / "file").write_text("keep")
    with pytest.raises(UsageError, match="is a file"):
        write_baseline(make_baseline(), tmp_path / "file", golden=None)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep" and (tmp_path / "file").read_text() == "keep"


def test_an_impossible_place_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("keep")
    with pytest.raises(UsageError, match="cannot write the baseline"):
        write_baseline(make_baseline(), tmp_path / "file" / "base", golden=None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
