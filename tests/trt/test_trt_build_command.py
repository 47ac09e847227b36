"""The commands against the REAL TensorRT builder and parser (TensorRT-RTX 1.7 on a CPU in CI), no
stand-ins: `trtdiff build`, `run --target trt` stopping after the build, `split --target trt` and
the capability check with the real parser, and the parser's own words when it rejects a model.
Skipped (with the reason) where neither `tensorrt` nor `tensorrt_rtx` imports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import onnx
import pytest
from onnx import helper

from model_builders import mixed_model
from trtdiff.model import save_model
from trtdiff.runners.trt import unsupported_nodes
from trtdiff.trt.gpu import driver_status
from trtdiff.trt.plan import read_plan, read_sidecar

pytestmark = pytest.mark.trt_builder

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo_convnet.onnx"
needs_no_driver = pytest.mark.skipif(driver_status().ok, reason="an NVIDIA driver is present here: "
                                     "the engine would be run, not stopped after the build")


def mixed_model_file(path: Path) -> Path:
    """model_builders.mixed_model (TensorRT's parser rejects its Det) saved at `path`."""
    save_model(mixed_model(), path)
    return path


def one_line_error(result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("trtdiff: error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_build_writes_the_engine_and_its_sidecar(cli_run, trt_builder, tmp_path):
    engine = tmp_path / "out" / "demo.engine"
    result = cli_run("build", DEMO, "--fp16", "-o", engine)
    assert result.exit_code == 0, result.output
    assert f"with {trt_builder.label}" in result.output and str(engine) in result.output
    data, facts = read_plan(engine)
    assert len(data) > 10_000
    assert facts.flavor == trt_builder.flavor and facts.tensorrt_version == trt_builder.version
    assert facts.mode == "unfused" and facts.compute_capabilities == ()
    assert facts.options["opt_shapes"] == {"images": [1, 3, 32, 32]}
    assert sorted(p.name for p in engine.parent.iterdir()) == ["demo.engine", "demo.engine.trtdiff.json"]


def test_build_for_chosen_compute_capabilities(cli_run, trt_builder, tmp_path):
    if not trt_builder.build_targets:
        pytest.skip(f"{trt_builder.label} builds for the GPU it runs on")
    engine = tmp_path / "demo.engine"
    result = cli_run("build", DEMO, "--int8", "--trt-compute-capability", "8.6",
                     "--trt-compute-capability", "SM89", "-o", engine)
    assert result.exit_code == 0, result.output
    assert read_sidecar(engine).compute_capabilities == ("8.6", "8.9")
    assert "compute capability 8.6, 8.9" in result.output
    line = one_line_error(cli_run("build", DEMO, "--trt-compute-capability", "9.0", "-o", engine), 2)
    assert "cannot build for compute capability 9.0" in line


@needs_no_driver
def test_current_compute_capability_needs_a_gpu(cli_run, trt_builder, tmp_path):
    if not trt_builder.build_targets:
        pytest.skip(f"{trt_builder.label} has no compute-capability targets")
    line = one_line_error(cli_run("build", DEMO, "--trt-compute-capability", "current",
                                  "-o", tmp_path / "e.engine"), 2)
    assert "current needs a GPU" in line and "no NVIDIA driver" in line
    assert not (tmp_path / "e.engine").exists()


@needs_no_driver
@pytest.mark.parametrize("side", ["--target", "--reference"])
def test_run_stops_after_the_build_and_says_where_the_engine_is(cli_run, trt_builder, side, tmp_path):
    """No driver here: one line, exit 3, why, and where the built engine was saved; applying
    the advice (--load-engine with the same precision options) gets past every check of the
    engine and stops at the same place, without the wrong 'drop --load-engine' advice."""
    line = one_line_error(cli_run("run", DEMO, "--fp16", side, "trt"), 3)
    assert f"{trt_builder.label} built the engine but cannot run it here: no NVIDIA driver" in line
    assert "drop --load-engine" not in line
    saved = Path(re.search(r"Engine saved at (\S+) ", line).group(1))
    assert read_plan(saved)[1].flavor == trt_builder.flavor
    if side == "--target":
        again = cli_run("run", DEMO, "--fp16", "--target", "trt", "--load-engine", saved)
        line = one_line_error(again, 3)  # one line: no warning that another model built it
        assert f"loaded the engine {saved} but cannot run it here: no NVIDIA driver" in line
        assert "drop --load-engine" not in line


@needs_no_driver
def test_run_saves_where_save_engine_says_and_build_then_load(cli_run, trt_builder, tmp_path):
    chosen = tmp_path / "target.engine"
    line = one_line_error(cli_run("run", DEMO, "--int8", "--target", "trt", "--save-engine", chosen), 3)
    assert f"Engine saved at {chosen} " in line and read_sidecar(chosen).mode == "unfused"
    built = tmp_path / "built.engine"
    assert cli_run("build", DEMO, "--fp16", "-o", built).exit_code == 0
    line = one_line_error(cli_run("run", DEMO, "--fp16", "--target", "trt", "--load-engine", built), 3)
    assert f"loaded the engine {built} but cannot run it here" in line


def test_an_unsupported_op_gives_the_parsers_own_words(cli_run, trt_builder, tmp_path):
    path = mixed_model_file(tmp_path / "mixed.onnx")
    for args in (["build", path, "-o", tmp_path / "m.engine"], ["run", path, "--target", "trt"]):
        line = one_line_error(cli_run(*args), 3)
        assert "TensorRT's ONNX parser rejected node 'det_3' (Det): UNSUPPORTED_NODE" in line, line
        assert "trtdiff split --target trt" in line
    assert not (tmp_path / "m.engine").exists()


def test_a_rejected_fixture_gives_the_parsers_own_words(cli_run, trt_builder, tmp_path):
    """TensorRT-RTX 1.7 rejects control_flow.onnx's Loop inside its body: the error names the
    main-graph node and the body node, and the capability check says the same."""
    fixture = REPO / "fixtures" / "precision" / "control_flow.onnx"
    line = one_line_error(cli_run("build", fixture, "-o", tmp_path / "c.engine"), 3)
    assert re.search(r"rejected node 'loop' \(Loop; in its body, node '[^']+' \(\w+\)\)", line), line
    reasons = unsupported_nodes(onnx.load(str(fixture)))
    assert list(reasons) == ["loop"] and "in its body" in reasons["loop"]


def test_capability_check_uses_the_real_parser(trt_builder):
    """Det is rejected; the nodes after it in the parser's order, which one parse never looks
    at, are asked about again and found supported; a custom-domain op is rejected too."""
    model = mixed_model()
    assert list(unsupported_nodes(model)) == ["det_3"]
    model.graph.node[5].op_type, model.graph.node[5].domain = "Mystery", "com.example"
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    reasons = unsupported_nodes(model)
    assert list(reasons) == ["det_3", "sigmoid_5"] and "Mystery" in reasons["sigmoid_5"]


def test_split_uses_the_real_parser(cli_run, trt_builder, tmp_path):
    path = mixed_model_file(tmp_path / "mixed.onnx")
    result = cli_run("split", path, "-o", tmp_path / "pieces", "--json", "-")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["source"].startswith(trt_builder.label) and "parser" in summary["source"]
    assert [s["supported"] for s in summary["segments"]] == [True, False, True]
    assert summary["unsupported"][0]["nodes"] == ["det_3"]
    assert summary["unsupported"][0]["reason"].startswith("Det: UNSUPPORTED_NODE")
    assert summary["verified_max_abs"] == 0.0


def test_build_refuses_options_that_do_not_apply_and_the_model_as_output(cli_run, tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(DEMO.read_bytes())
    line = one_line_error(cli_run("build", model, "--save-engine", tmp_path / "e", "-o", tmp_path / "x"), 2)
    assert "--save-engine does not apply to `trtdiff build`" in line
    line = one_line_error(cli_run("build", model, "-o", model), 2)
    assert "is also the MODEL" in line and model.read_bytes() == DEMO.read_bytes()


@needs_no_driver
def test_bisect_stops_at_an_engine_that_cannot_run_here(cli_run, trt_builder, tmp_path):
    """Not a failing candidate plan ("even all-FP32 fails"): no plan changes a missing driver."""
    line = one_line_error(cli_run("bisect", DEMO, "--fp16", "--target", "trt", "-o", tmp_path / "out"), 3)
    assert "built the engine but cannot run it here: no NVIDIA driver" in line
