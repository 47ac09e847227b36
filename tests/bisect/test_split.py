"""Split: supported/unsupported partitions that are valid models and chain back to the original."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from model_builders import mixed_model
from trtdiff.bisect.split import (
    load_op_table, partition, run_chain, split_model, unsupported_by_table, unsupported_nodes)


def ort_infer(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def test_table_has_version_source_and_restrictions():
    table = load_op_table()
    assert table["tensorrt_version"] and "onnx/onnx-tensorrt" in table["source"]
    rows = {row["op"]: row for row in table["ops"]}
    assert rows["Conv"]["supported"] and rows["Conv"]["since"]
    assert not rows["Det"]["supported"]
    assert "axes" in rows["Squeeze"]["restrictions"]


def test_table_flags_unsupported_ops_types_and_custom_domains():
    model = mixed_model()
    reasons = unsupported_by_table(model)
    assert list(reasons) == ["det_3"] and "Det" in reasons["det_3"]
    model.graph.node[4].domain = "com.example"
    assert "custom-domain" in unsupported_by_table(model)["mul_4"]


def test_partition_groups_independent_supported_nodes_together():
    model = mixed_model()
    segments = partition(model, unsupported_by_table(model))
    assert [s.supported for s in segments] == [True, False, True]
    assert set(segments[0].nodes) == {"matmul_0", "relu_1", "reshape_2", "sigmoid_5"}
    assert segments[1].nodes == ("det_3",) and segments[1].inputs == ("s",)


def test_split_models_are_valid_and_chain_to_the_original_outputs(tmp_path):
    model = mixed_model()
    reasons, source = unsupported_nodes(model)
    segments, models, summary = split_model(model, reasons, tmp_path, source)
    files = sorted(p.name for p in tmp_path.glob("*.onnx"))
    assert files == ["00_supported_nodes_0000-0005.onnx", "01_unsupported_nodes_0003-0003.onnx",
                     "02_supported_nodes_0004-0004.onnx"]
    for path in tmp_path.glob("*.onnx"):
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    feeds = {"x": np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)}
    expected = ort_infer(model, feeds)
    chained = run_chain([onnx.load(s.file) for s in segments], feeds, ort_infer)
    for name, value in expected.items():
        np.testing.assert_array_equal(chained[name], value)
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["unsupported"] == [{"op": "Det", "reason": reasons["det_3"], "nodes": ["det_3"]}]
    assert written["source"] == source  # the real parser where TensorRT(-RTX) imports, else the table


def test_tensorrt_parser_is_used_when_available(monkeypatch):
    fake = types.ModuleType("trtdiff.runners.trt")
    fake.tensorrt_available = lambda: (True, "fake 11.0")  # type: ignore[attr-defined]
    fake.unsupported_nodes = lambda model: {"relu_1": "parser said no"}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "trtdiff.runners.trt", fake)
    import trtdiff.runners

    monkeypatch.setattr(trtdiff.runners, "trt", fake, raising=False)
    reasons, source = unsupported_nodes(mixed_model())
    assert reasons == {"relu_1": "parser said no"} and "parser" in source


def test_unknown_target_is_a_usage_error():
    from trtdiff.errors import UsageError

    with pytest.raises(UsageError, match="unknown split target"):
        unsupported_nodes(mixed_model(), target="tpu")
