"""The model digest a baseline is tied to: the model file and its external data, not its place."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from trtdiff.baseline.digest import model_digest
from trtdiff.errors import ModelError, UsageError

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo_convnet.onnx"


def test_a_copy_has_the_same_digest_and_a_changed_weight_another(tmp_path: Path) -> None:
    copy = tmp_path / "copy.onnx"
    shutil.copy(DEMO, copy)
    assert model_digest(copy) == model_digest(DEMO)
    assert model_digest(DEMO).startswith("sha256:") and len(model_digest(DEMO)) == 7 + 64
    model = onnx.load(str(DEMO))
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(
        numpy_helper.to_array(model.graph.initializer[0]) + np.float32(1e-3), model.graph.initializer[0].name))
    onnx.save(model, str(copy))
    assert model_digest(copy) != model_digest(DEMO)


def test_external_data_is_part_of_the_digest(tmp_path: Path) -> None:
    model = onnx.load(str(DEMO))
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="ext.data", size_threshold=0)
    before = model_digest(path)
    data = bytearray((tmp_path / "ext.data").read_bytes())
    data[100] ^= 1
    (tmp_path / "ext.data").write_bytes(bytes(data))
    assert model_digest(path) != before
    (tmp_path / "ext.data").unlink()
    with pytest.raises(ModelError, match="external data"):
        model_digest(path)


def test_missing_or_corrupt_models(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="model file not found"):
        model_digest(tmp_path / "none.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"\x00garbage\xff")
    with pytest.raises(ModelError, match="cannot read"):
        model_digest(tmp_path / "bad.onnx")
