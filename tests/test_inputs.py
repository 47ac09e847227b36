from __future__ import annotations

import base64
import io
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtdiff.errors import UsageError
from trtdiff.dataset import NonFiniteTally, save_npz
from trtdiff.dataset.files import file_source
from trtdiff.inputs import (InputSettings, generate_inputs, input_specs, parse_range_arg,
                            parse_shape_arg, resolve_shapes, validate_feeds)


def load_inputs(path):
    """Every sample the file holds (the data-set source, read whole)."""
    return list(file_source(str(path)))
from trtdiff.runners.base import TensorSpec

from model_builders import conv_relu_model, make_model


@pytest.mark.parametrize("text,expected", [
    ("images:[1,3,224,224]", ("images", (1, 3, 224, 224))),
    ("images:1x3x224x224", ("images", (1, 3, 224, 224))),
    ("input:0:[2,4]", ("input:0", (2, 4))),
    ("scalar:[]", ("scalar", ())),
    ("n:7", ("n", (7,))),
])
def test_parse_shape_both_forms(text, expected):
    assert parse_shape_arg(text) == expected


@pytest.mark.parametrize("text", ["images", "images:[1,a]", "images:1xx3", "images:[1,-2]"])
def test_parse_shape_rejects(text):
    with pytest.raises(UsageError):
        parse_shape_arg(text)


def test_parse_range():
    assert parse_range_arg("[0,2]") == ("", (0.0, 2.0))
    assert parse_range_arg("mask:[-1,1]") == ("mask", (-1.0, 1.0))
    with pytest.raises(UsageError):
        parse_range_arg("[3,1]")


def _mixed_model() -> onnx.ModelProto:
    nodes = [helper.make_node("Cast", ["ids"], ["ids_f"], to=TensorProto.FLOAT, name="cast"),
             helper.make_node("Add", ["x", "ids_f"], ["s"], name="add"),
             helper.make_node("Add", ["s", "w"], ["y"], name="add_w")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 4]),
              helper.make_tensor_value_info("ids", TensorProto.INT64, ["B", 4]),
              helper.make_tensor_value_info("flag", TensorProto.BOOL, ["B", 4]),
              helper.make_tensor_value_info("w", TensorProto.FLOAT, [4])]
    return make_model(nodes, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                      [numpy_helper.from_array(np.ones(4, np.float32), "w")])


def test_initializer_listed_as_input_is_not_a_user_input():
    names = [s.name for s in input_specs(_mixed_model())]
    assert names == ["x", "ids", "flag"]


def test_generation_per_dtype_is_seeded_and_in_range():
    specs = input_specs(_mixed_model())
    settings = InputSettings({"x": (2, 4), "ids": (2, 4), "flag": (2, 4)},
                             {"": (0.0, 1.0), "ids": (3.0, 5.0)}, seed=3)
    a = generate_inputs(specs, settings)
    b = generate_inputs(specs, settings)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert a["x"].dtype == np.float32 and 0 <= a["x"].min() and a["x"].max() <= 1
    assert a["ids"].dtype == np.int64 and set(np.unique(a["ids"])) <= {3, 4, 5}
    assert a["flag"].dtype == np.bool_
    c = generate_inputs(specs, InputSettings(settings.shapes, settings.ranges, seed=4))
    assert not np.array_equal(a["x"], c["x"])


def test_dynamic_dims_without_shapes_say_how_to_fix():
    with pytest.raises(UsageError, match=r"--input-shapes x:\[1,3,8,8\]"):
        resolve_shapes(input_specs(conv_relu_model(batch="N")), {})


def test_shape_override_checks_name_and_rank():
    specs = input_specs(conv_relu_model(batch="N"))
    with pytest.raises(UsageError, match="unknown input 'y'"):
        resolve_shapes(specs, {"y": (1,)})
    with pytest.raises(UsageError, match="rank"):
        resolve_shapes(specs, {"x": (1, 3, 8)})
    assert resolve_shapes(specs, {"x": (2, 3, 8, 8)}) == {"x": (2, 3, 8, 8)}


def test_load_npz_npy_dir_pb_dir_and_polygraphy_json(tmp_path):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    save_npz({"x": x}, tmp_path / "in.npz")
    assert np.array_equal(load_inputs(tmp_path / "in.npz")[0]["x"], x)

    npy_dir = tmp_path / "npy"
    npy_dir.mkdir()
    np.save(npy_dir / "x.npy", x)
    assert np.array_equal(load_inputs(npy_dir)[0]["x"], x)

    pb_dir = tmp_path / "test_data_set_0"
    pb_dir.mkdir()
    (pb_dir / "input_0.pb").write_bytes(numpy_helper.from_array(x, "x").SerializeToString())
    assert np.array_equal(load_inputs(pb_dir)[0]["x"], x)

    from polygraphy.json import save_json  # Polygraphy's own writer: the real format

    save_json([{"x": x}, {"x": x + 1}], str(tmp_path / "poly.json"))
    sets = load_inputs(tmp_path / "poly.json")
    assert len(sets) == 2 and np.array_equal(sets[1]["x"], x + 1)


def test_polygraphy_json_written_by_hand_matches_documented_layout(tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.ones((2, 2), np.float32), allow_pickle=False)
    doc = [{"x": {"array": base64.b64encode(buffer.getvalue()).decode(), "polygraphy_class": "ndarray"}}]
    (tmp_path / "p.json").write_text(json.dumps(doc))
    assert load_inputs(tmp_path / "p.json")[0]["x"].shape == (2, 2)


def test_corrupt_and_missing_input_files(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(UsageError, match="cannot read inputs"):
        load_inputs(tmp_path / "bad.npz")
    with pytest.raises(UsageError, match="not found"):
        load_inputs(tmp_path / "missing.npz")
    with pytest.raises(UsageError, match="unsupported"):
        (tmp_path / "x.txt").write_text("1")
        load_inputs(tmp_path / "x.txt")


def test_validate_feeds_names_rank_dtype():
    specs = [TensorSpec("x", np.dtype("float32"), ("N", 3))]
    with pytest.raises(UsageError, match="unknown input 'z'"):
        validate_feeds({"x": np.zeros((1, 3), np.float32), "z": np.zeros(1)}, specs)
    with pytest.raises(UsageError, match="rank 1"):
        validate_feeds({"x": np.zeros(3, np.float32)}, specs)
    with pytest.raises(UsageError, match="float64"):
        validate_feeds({"x": np.zeros((1, 3))}, specs)
    with pytest.raises(UsageError, match=r"expects \[N,3\]"):
        validate_feeds({"x": np.zeros((1, 4), np.float32)}, specs)
    with pytest.raises(UsageError, match="lack x"):
        validate_feeds({}, specs)
    assert validate_feeds({"x": np.zeros((5, 3), np.float32)}, specs)["x"].shape == (5, 3)


def test_nan_in_inputs_is_reported():
    tally = NonFiniteTally()
    tally.update(0, {"x": np.array([1.0, np.nan, np.inf], np.float32), "i": np.array([1])})
    warnings = tally.warnings(1)
    assert len(warnings) == 1 and "1 NaN and 1 Inf" in warnings[0]
    tally.update(3, {"x": np.array([np.nan, np.nan, 0], np.float32), "i": np.array([1])})
    tally.update(4, {"x": np.zeros(3, np.float32), "i": np.array([1])})
    assert tally.warnings(5) == ["input 'x' holds NaN or Inf in 2 of 5 samples (sample 0: 1 NaN, 1 Inf, sample 3: "
                                 "2 NaN, 0 Inf); errors downstream of them are expected"]


def test_save_npz_leaves_no_partial_file(tmp_path, monkeypatch):
    def fail_halfway(handle, **arrays):
        handle.write(b"PK partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", fail_halfway)
    with pytest.raises(UsageError, match="No space left"):
        save_npz({"x": np.zeros(2)}, tmp_path / "in.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_npz_into_a_file_path_fails_cleanly(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="cannot write"):
        save_npz({"x": np.zeros(2)}, tmp_path / "file" / "in.npz")
