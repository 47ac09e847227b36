"""Engine plan files: atomic save with a sidecar, reading back, and the checks made before a
saved plan is handed to TensorRT (flavour, version, model, missing sidecar, wrong file). The
bytes here are stand-ins; test_trt_builder.py saves and reads back real TensorRT-RTX engines."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import numpy_helper

from trtdiff.errors import UsageError
from trtdiff.trt.plan import (
    PlanFacts,
    check_plan,
    model_digest,
    read_plan,
    read_sidecar,
    save_plan,
    sidecar_path,
)


def _facts(**changes):
    base = dict(tensorrt_version="10.13.0.35", mode="unfused", model_digest="abc",
                options={"tf32": False}, marked=("relu1_out",), version_compatible=False)
    base.update(changes)
    return PlanFacts(**base)


def test_save_and_read_round_trip(tmp_path):
    path = tmp_path / "engines" / "model.engine"
    plan = bytes(range(256)) * 4
    save_plan(plan, path, _facts())
    data, facts = read_plan(path)
    assert data == plan
    assert facts == _facts()
    assert sidecar_path(path).name == "model.engine.trtdiff.json"
    stored = json.loads(sidecar_path(path).read_text())
    assert stored["tensorrt_version"] == "10.13.0.35" and stored["marked"] == ["relu1_out"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.engine", "model.engine.trtdiff.json"]


def test_save_replaces_an_existing_plan(tmp_path):
    path = tmp_path / "m.engine"
    save_plan(b"old", path, _facts())
    save_plan(b"new", path, _facts(mode="debug"))
    data, facts = read_plan(path)
    assert data == b"new" and facts.mode == "debug"


def test_read_plan_rejects_wrong_files(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        read_plan(tmp_path / "missing.engine")
    onnx_file = tmp_path / "model.onnx"
    onnx_file.write_bytes(b"\x08\x07")
    with pytest.raises(UsageError, match="looks like an ONNX model"):
        read_plan(onnx_file)
    empty = tmp_path / "empty.engine"
    empty.write_bytes(b"")
    with pytest.raises(UsageError, match="empty"):
        read_plan(empty)


def test_plan_without_or_with_broken_sidecar(tmp_path):
    path = tmp_path / "trtexec.engine"
    path.write_bytes(b"plan")
    assert read_plan(path) == (b"plan", None)
    sidecar_path(path).write_text("{broken")
    assert read_sidecar(path) is None
    warnings = check_plan(None, "tensorrt", "10.13.0", "abc", path)
    assert len(warnings) == 1 and "no .trtdiff.json sidecar" in warnings[0]


def test_check_plan_refuses_another_tensorrt_version(tmp_path):
    with pytest.raises(UsageError) as info:
        check_plan(_facts(tensorrt_version="10.8.0.43"), "tensorrt", "11.0.0.1", "abc",
                   tmp_path / "m.engine")
    assert "TensorRT 10.8.0.43" in info.value.one_line() and "--trt-version-compatible" in info.value.fix


def test_check_plan_accepts_version_compatible_plans_and_warns_on_another_model(tmp_path):
    facts = _facts(tensorrt_version="10.8.0.43", version_compatible=True)
    assert check_plan(facts, "tensorrt", "11.0.0.1", "abc", tmp_path / "m.engine") == []
    warnings = check_plan(_facts(), "tensorrt", "10.13.0.35", "other", tmp_path / "m.engine")
    assert len(warnings) == 1 and "different ONNX model" in warnings[0]


def test_check_plan_refuses_the_other_flavor(tmp_path):
    rtx = _facts(tensorrt_version="1.7.1.116", flavor="rtx", compute_capabilities=("8.6",))
    with pytest.raises(UsageError) as info:
        check_plan(rtx, "tensorrt", "1.7.1.116", "abc", tmp_path / "m.engine")
    line = info.value.one_line()
    assert "built by TensorRT-RTX 1.7.1.116, this is TensorRT 1.7.1.116" in line
    assert "--trt-flavor rtx" in line
    assert check_plan(rtx, "rtx", "1.7.1.116", "abc", tmp_path / "m.engine") == []


def test_a_version_1_sidecar_reads_as_tensorrt(tmp_path):
    path = tmp_path / "old.engine"
    save_plan(b"plan", path, _facts())
    stored = json.loads(sidecar_path(path).read_text())
    for key in ("flavor", "compute_capabilities"):
        del stored[key]
    stored["sidecar_version"] = 1
    sidecar_path(path).write_text(json.dumps(stored))
    facts = read_sidecar(path)
    assert facts.flavor == "tensorrt" and facts.compute_capabilities == () and facts == _facts()


def test_model_digest_follows_graph_and_weights(make_model):
    first, second = make_model(), make_model()
    assert model_digest(first) == model_digest(second)
    second.doc_string = "documentation does not count"
    assert model_digest(first) == model_digest(second)
    weight = numpy_helper.to_array(second.graph.initializer[0]).copy()
    weight[0, 0, 0, 0] += np.float32(1.0)
    second.graph.initializer[0].CopyFrom(numpy_helper.from_array(weight, "w1"))
    assert model_digest(first) != model_digest(second)
    assert model_digest(make_model(batch=1)) != model_digest(first)
