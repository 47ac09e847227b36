"""The node-test case generator shared by the conformance test and TensorRT's parser tests."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from node_cases import SAMPLE_SIZE, conformance_sample, node_cases, onnxruntime_cases


def test_the_generator_yields_checkable_models_with_named_data():
    cases = node_cases()
    assert len(cases) > 1000
    by_name = {case.name: case for case in cases}
    add = by_name["test_add"]
    onnx.checker.check_model(add.model)
    assert add.op_type == "Add" and set(add.inputs) == {"x", "y"} and set(add.expected) == {"sum"}
    np.testing.assert_allclose(add.inputs["x"] + add.inputs["y"], add.expected["sum"], rtol=1e-6)


def _digest(cases) -> str:
    digest = hashlib.sha256()
    for case in cases:
        for name, value in case.inputs.items():
            data = repr(value.tolist()).encode() if value.dtype == object else value.tobytes()  # no pointers
            digest.update(name.encode() + data)
    return digest.hexdigest()


@pytest.mark.slow
def test_generation_is_deterministic_across_processes_and_leaves_numpy_state_alone():
    state = np.random.get_state()[1].copy()
    here = _digest(conformance_sample())
    assert np.array_equal(np.random.get_state()[1], state)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import test_node_cases as t, node_cases as n; "
            "print(t._digest(n.conformance_sample()))")
    there = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True,
                           text=True, check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert there.stdout.strip() == here


def test_the_sample_covers_every_operator_onnxruntime_runs(tmp_path):
    sample = conformance_sample()
    runnable = onnxruntime_cases()
    assert len(sample) == SAMPLE_SIZE >= 200
    assert {case.op_type for case in sample} == {case.op_type for case in runnable}
    assert all(case.tensor_inputs for case in sample)
    model_path, inputs_path = sample[0].save(tmp_path)
    onnx.checker.check_model(onnx.load(model_path))
    with np.load(inputs_path) as saved:
        assert set(saved.files) == set(sample[0].inputs)
