"""Bad data sets through the command line: one line on stderr, exit 2, no traceback, nothing left
behind (the output files asked for are not created)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from data_helpers import constant_samples, scale_model
from model_builders import save


@pytest.fixture
def model(tmp_path) -> str:
    return save(scale_model(1.0), tmp_path / "m.onnx")


def _outputs(tmp_path) -> list[str]:
    return ["--json", str(tmp_path / "out" / "r.json"), "--save-outputs", str(tmp_path / "out" / "o.npz"),
            "--save-inputs", str(tmp_path / "out" / "i.npz")]


def _refused(result, tmp_path, *fragments: str) -> None:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("trtdiff: error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_empty_data_set(cli_run, tmp_path, model):
    script = tmp_path / "none.py"
    script.write_text("def load_data():\n    return []\n")
    _refused(cli_run("run", model, "--fp16", "--data-loader-script", script, *_outputs(tmp_path)), tmp_path,
             "holds no samples")
    empty_npz = tmp_path / "empty.npz"
    np.savez(empty_npz, x=np.zeros((0, 1, 4), np.float32))
    _refused(cli_run("run", model, "--fp16", "--load-inputs", empty_npz, "--batched-npz", *_outputs(tmp_path)),
             tmp_path, "holds no samples")


def test_loader_script_that_raises(cli_run, tmp_path, model):
    script = tmp_path / "broken.py"
    script.write_text("import numpy as np\n"
                      "def load_data():\n"
                      "    yield {'x': np.zeros((1, 4), np.float32)}\n"
                      "    raise RuntimeError('the bucket is gone')\n")
    _refused(cli_run("run", model, "--fp16", "--data-loader-script", script, *_outputs(tmp_path)), tmp_path,
             "raised RuntimeError at sample 1", "the bucket is gone")


@pytest.mark.slow
def test_loader_script_traceback_only_with_vv(tmp_path, model):
    script = tmp_path / "broken.py"
    script.write_text("def load_data():\n    raise KeyError('missing column')\n")
    command = [sys.executable, "-m", "trtdiff", "run", model, "--fp16", "--data-loader-script", str(script)]
    quiet = subprocess.run(command, capture_output=True, text=True)
    loud = subprocess.run(command[:3] + ["-vv"] + command[3:], capture_output=True, text=True)
    assert quiet.returncode == loud.returncode == 2
    assert "Traceback" not in quiet.stderr and len(quiet.stderr.strip().splitlines()) == 1
    assert "Traceback" in loud.stderr and "broken.py" in loud.stderr  # the script's own frame


@pytest.mark.parametrize("arrays,fragment", [
    ({"z": np.zeros((1, 4), np.float32)}, "unknown input 'z'"),
    ({"x": np.zeros((1, 4), np.float32), "extra": np.zeros(1, np.float32)}, "unknown input 'extra'"),
    ({}, "lack x"),
    ({"x": np.zeros((1, 5), np.float32)}, "has shape [1, 5]"),  # the model is static: [1, 4] only
])
def test_a_bad_sample_names_its_index(cli_run, tmp_path, model, arrays, fragment):
    folder = tmp_path / "val"
    constant_samples(folder, [0.0, 1.0, 2.0, 3.0])
    np.savez(folder / "s02.npz", **arrays)
    _refused(cli_run("run", model, "--fp16", "--load-inputs", folder, *_outputs(tmp_path)), tmp_path,
             "sample 2 of", fragment)


def test_polygraphy_outputs_with_other_names(cli_run, tmp_path, model):
    from polygraphy.comparator import RunResults
    from polygraphy.comparator.struct import IterationResult
    from polygraphy.json import save_json

    golden = RunResults()
    golden.append(("trt-runner", [IterationResult({"logits": np.zeros((1, 4), np.float32)}, runner_name="trt-runner")]))
    save_json(golden, str(tmp_path / "golden.json"))
    _refused(cli_run("run", model, "--fp16", "--load-outputs", tmp_path / "golden.json", *_outputs(tmp_path)),
             tmp_path, "no reference values for output 'y'", "it holds logits")


def test_golden_outputs_for_too_few_samples(cli_run, tmp_path, model):
    first = cli_run("run", model, "--fp16", "--iterations", "2", "--save-outputs", tmp_path / "two.npz")
    assert first.exit_code in (0, 1), first.output
    _refused(cli_run("run", model, "--fp16", "--iterations", "3", "--load-outputs", tmp_path / "two.npz",
                     *_outputs(tmp_path)), tmp_path, "holds reference outputs for 2 samples", "--max-samples 2")


@pytest.mark.parametrize("value", ["-0.1", "1.5", "nan"])
def test_min_agreement_outside_zero_to_one(cli_run, tmp_path, model, value):
    _refused(cli_run("run", model, "--fp16", "--min-agreement", value, *_outputs(tmp_path)), tmp_path,
             "--min-agreement", "outside [0, 1]")


@pytest.mark.parametrize("args,fragment", [
    (["--check", "topk"], "needs a value"),
    (["--check", "cosine:2"], "lies in [-1, 1]"),
    (["--check", "nosuch:topk:1"], "names unknown tensor 'nosuch'"),
    (["--iterations", "0"], "--iterations 0"),
    (["--attribute-sample", "5", "--iterations", "2", "--mark-all"], "no sample 5"),
    (["--attribute-sample", "1", "--iterations", "2"], "--attribute-sample needs attribution"),
])
def test_bad_data_options(cli_run, tmp_path, model, args, fragment):
    _refused(cli_run("run", model, "--fp16", *args, *_outputs(tmp_path)), tmp_path, fragment)


def test_golden_outputs_of_other_inputs_are_refused_at_the_first_sample_that_differs(cli_run, tmp_path, model):
    """--save-outputs records a hash of each sample's inputs: the same inputs pass, other ones are
    refused at the sample that differs (here the second of three), before any result is written."""
    saved = ("--save-outputs", tmp_path / "golden.npz", "--save-inputs", tmp_path / "inputs.npz")
    assert cli_run("run", model, "--fp16", "--iterations", "3", *saved).exit_code in (0, 1)
    same = cli_run("run", model, "--fp16", "--load-inputs", tmp_path / "inputs.npz", "--load-outputs",
                   tmp_path / "golden.npz", "--json", tmp_path / "same.json")
    assert same.exit_code in (0, 1), same.output
    with np.load(tmp_path / "inputs.npz") as data:
        arrays = {key: data[key] for key in data.files}
    arrays["1:x"] = arrays["1:x"] + 1
    np.savez(tmp_path / "other.npz", **arrays)
    _refused(cli_run("run", model, "--fp16", "--load-inputs", tmp_path / "other.npz", "--load-outputs",
                     tmp_path / "golden.npz", *_outputs(tmp_path)), tmp_path,
             "golden outputs of sample 1", "computed from other inputs")


def test_golden_outputs_for_fewer_samples_than_a_loader_script_yields(cli_run, tmp_path, model):
    first = cli_run("run", model, "--fp16", "--iterations", "2", "--save-outputs", tmp_path / "two.npz",
                    "--save-inputs", tmp_path / "two_inputs.npz")
    assert first.exit_code in (0, 1), first.output
    script = tmp_path / "three.py"
    script.write_text("import numpy as np\n"
                      "def load_data():\n"
                      f"    saved = np.load({str(tmp_path / 'two_inputs.npz')!r})\n"
                      "    return [{'x': saved['0:x']}, {'x': saved['1:x']}, {'x': np.zeros((1, 4), np.float32)}]\n")
    _refused(cli_run("run", model, "--fp16", "--data-loader-script", script, "--load-outputs", tmp_path / "two.npz",
                     *_outputs(tmp_path)), tmp_path, "holds reference outputs for 2 samples", "sample 2")


def test_golden_outputs_of_a_model_with_a_string_input_load_back(cli_run, tmp_path):
    """The inputs hash reads strings by content (object arrays hold addresses): the same inputs,
    loaded again, match their golden outputs."""
    from onnx import TensorProto, helper

    from model_builders import make_model
    from trtdiff.dataset import sample_digest

    words = ["hello there", "world wide"]
    rebuilt = ["".join(list(word)) for word in words]  # equal strings, other objects
    assert rebuilt[0] is not words[0]
    assert sample_digest({"s": np.array(words, dtype=object)}) == sample_digest({"s": np.array(rebuilt, dtype=object)})
    assert sample_digest({"s": np.array(words, dtype=object)}) != \
        sample_digest({"s": np.array(["hello there", "world"], dtype=object)})
    info = lambda name, kind: helper.make_tensor_value_info(name, kind, (2, 3))  # noqa: E731
    nodes = [helper.make_node("StringConcat", ["a", "a"], ["s"], name="concat"),
             helper.make_node("Relu", ["x"], ["y"], name="relu")]
    model = save(make_model(nodes, [info("a", TensorProto.STRING), info("x", TensorProto.FLOAT)],
                            [info("y", TensorProto.FLOAT)], opset=20), tmp_path / "s.onnx")
    np.savez(tmp_path / "in.npz", a=np.array([["one word", "two words", "three"], ["four", "five", "six sixes"]]),
             x=np.ones((2, 3), np.float32))
    saved = cli_run("run", model, "--fp16", "--load-inputs", tmp_path / "in.npz", "--save-outputs", tmp_path / "o.npz")
    assert saved.exit_code == 0, saved.output
    loaded = cli_run("run", model, "--fp16", "--load-inputs", tmp_path / "in.npz", "--load-outputs", tmp_path / "o.npz")
    assert loaded.exit_code == 0, loaded.output
