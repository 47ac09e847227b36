"""PrecisionPlan: values, JSON round trip, cheap overrides, and validation against a model."""

from __future__ import annotations

import json
import time

import pytest
from precision_helpers import build

from trtdiff.errors import UsageError
from trtdiff.precision.plan import PrecisionPlan, validate_plan


def test_defaults_change_nothing() -> None:
    plan = PrecisionPlan()
    assert plan.default == "fp32" and plan.mode == "native" and not plan.lowers
    assert plan.describe() == "fp32"


def test_json_round_trip(tmp_path) -> None:
    plan = PrecisionPlan("int8", "emulated", keep_fp32_nodes=("b", "a", "a"), keep_fp32_ops=("Softmax",),
                         calibration="entropy", per_channel=False, out_of_range="clamp")
    assert plan.keep_fp32_nodes == ("a", "b")  # sorted and unique
    path = plan.save(tmp_path / "plan.json")
    assert json.loads(path.read_text())["format"] == "trtdiff-precision-plan"
    assert PrecisionPlan.load(path) == plan
    assert PrecisionPlan.from_dict(plan.to_dict()) == plan


def test_with_fp32_nodes_is_cheap_and_canonical() -> None:
    plan = PrecisionPlan("fp16", keep_fp32_nodes=("x",))
    more = plan.with_fp32_nodes(["z", "y", "x"])
    assert more.keep_fp32_nodes == ("x", "y", "z")
    assert plan.keep_fp32_nodes == ("x",)  # frozen: the original is untouched
    assert more == PrecisionPlan("fp16", keep_fp32_nodes=("z", "y", "x"))
    assert hash(more) == hash(PrecisionPlan("fp16", keep_fp32_nodes=("y", "z", "x")))
    start = time.perf_counter()
    for _ in range(1000):
        plan.with_fp32_nodes(["a", "b"])
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("kwargs, word", [
    ({"default": "fp4"}, "precision"), ({"mode": "fast"}, "mode"),
    ({"calibration": "kl"}, "calibration"), ({"out_of_range": "drop"}, "out-of-range"),
    ({"percentile": 0}, "percentile"), ({"keep_fp32_nodes": ("",)}, "--keep-fp32"),
])
def test_bad_values_are_usage_errors(kwargs, word) -> None:
    with pytest.raises(UsageError, match=word):
        PrecisionPlan(**kwargs)


def test_bad_files(tmp_path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        PrecisionPlan.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        PrecisionPlan.load(tmp_path / "bad.json")
    with pytest.raises(UsageError, match="unknown key.*keep_nodes"):
        PrecisionPlan.from_dict({"default": "fp16", "keep_nodes": []})
    with pytest.raises(UsageError, match="'keep_fp32_nodes' should be a list"):
        PrecisionPlan.from_dict({"default": "fp16", "keep_fp32_nodes": "conv1"})
    with pytest.raises(UsageError, match="format"):
        PrecisionPlan.from_dict({"format": "polygraphy"})


def test_validate_names_close_matches() -> None:
    model = build.convnet()
    validate_plan(PrecisionPlan("fp16", keep_fp32_nodes=("conv1", "bn")), model)
    with pytest.raises(UsageError) as err:
        validate_plan(PrecisionPlan("fp16", keep_fp32_nodes=("conv_1",)), model)
    assert "'conv_1'" in str(err.value) and "conv1" in str(err.value)
    assert err.value.exit_code == 2


def test_validate_knows_body_nodes_and_op_types() -> None:
    model = build.control_flow()
    validate_plan(PrecisionPlan("fp16", keep_fp32_nodes=("then_mul", "loop_add")), model)
    validate_plan(PrecisionPlan("fp16", keep_fp32_ops=("LayerNormalization",)), model)  # real op, absent
    with pytest.raises(UsageError, match="LayerNorm'.*close names: .*LayerNormalization"):
        validate_plan(PrecisionPlan("fp16", keep_fp32_ops=("LayerNorm",)), model)
