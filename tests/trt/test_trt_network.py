"""trtdiff's calls into a REAL TensorRT network and builder config (TensorRT-RTX 1.7 on a CPU in CI),
read back from the module itself: marking per intermediate-tensor mode, the builder config from
the options, the optimization profile, compute capabilities, and the parser's rejection."""

from __future__ import annotations

import pytest
from onnx import helper

from trtdiff.errors import ModelError, UsageError
from trtdiff.runners import trt_build
from trtdiff.runners.trt import import_tensorrt
from trtdiff.trt.options import TrtOptions

pytestmark = pytest.mark.trt_builder

ONNX_TENSORS = {"conv1_out", "relu1_out", "conv2_out", "sig_out", "swish_out", "gap_out", "flat_out",
                "fc_out", "probs"}


@pytest.fixture
def parsed(trt_builder, make_model):
    """(module, builder, network, parser) with the tiny model (dynamic batch) parsed."""
    trt, _ = import_tensorrt(trt_builder.flavor)
    logger = trt_build.make_logger(trt)
    builder = trt.Builder(logger)
    network = builder.create_network(trt_build.network_flags(trt, TrtOptions()))
    parser = trt.OnnxParser(network, logger)
    trt_build.parse_model(parser, make_model())
    return trt, builder, network, parser


def test_debug_mode_marks_the_onnx_tensors(parsed):
    trt, _, network, _ = parsed
    tensors = trt_build.network_tensors(network)
    assert ONNX_TENSORS <= set(tensors)  # the parser keeps ONNX names on node outputs
    marked, missing = trt_build.mark_tensors(network, "debug", None, ONNX_TENSORS)
    assert set(marked) == ONNX_TENSORS - {"probs"} and missing == []  # probs is already an output
    assert all(network.is_debug_tensor(tensors[name]) for name in marked)
    assert not network.is_debug_tensor(tensors["probs"])


def test_outputs_mode_marks_network_outputs_and_reports_missing_names(parsed):
    _, _, network, _ = parsed
    marked, missing = trt_build.mark_tensors(network, "outputs", ["relu1_out", "folded_away"], ONNX_TENSORS)
    assert marked == ["relu1_out"] and missing == ["folded_away"]
    outputs = {network.get_output(i).name for i in range(network.num_outputs)}
    assert outputs == {"probs", "relu1_out"}


def test_unfused_mode_marks_nothing_by_name(parsed):
    _, _, network, _ = parsed
    assert trt_build.mark_tensors(network, "unfused", None, ONNX_TENSORS) == ([], [])
    assert network.num_outputs == 1


def test_config_from_the_options_reads_back(parsed, trt_builder, tmp_path):
    trt, builder, network, _ = parsed
    cache = tmp_path / "timing.cache"
    options = TrtOptions(pool_limits={"WORKSPACE": 2**30}, optimization_level=4, version_compatible=True,
                         exclude_lean_runtime=True, min_shapes={"input": (1, 3, 8, 8)}, opt_shapes={"input": (2, 3, 8, 8)},
                         max_shapes={"input": (4, 3, 8, 8)}, timing_cache=cache)
    config, timing = trt_build.configure(trt, builder, network, options)
    assert config.profiling_verbosity == trt.ProfilingVerbosity.DETAILED
    assert not config.get_flag(trt.BuilderFlag.TF32)  # TF32 off unless asked
    assert config.get_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
    assert config.get_flag(trt.BuilderFlag.EXCLUDE_LEAN_RUNTIME)
    assert config.get_memory_pool_limit(trt.MemoryPoolType.WORKSPACE) == 2**30
    assert config.builder_optimization_level == 4 and config.num_optimization_profiles == 1
    assert timing is not None and not hasattr(trt.BuilderFlag, "FP16")
    assert builder.build_serialized_network(network, config) is not None
    plain, no_cache = trt_build.configure(trt, builder, network, TrtOptions(opt_shapes={"input": (2, 3, 8, 8)}))
    assert no_cache is None and plain.num_optimization_profiles == 1  # no timing cache unless asked


def test_compute_capabilities_read_back(parsed, trt_builder):
    if not trt_builder.build_targets:
        pytest.skip(f"{trt_builder.label} has no compute-capability targets")
    trt, builder, network, _ = parsed
    shapes = {"input": (1, 3, 8, 8)}
    config, _ = trt_build.configure(trt, builder, network,
                                    TrtOptions(opt_shapes=shapes, compute_capabilities=("8.6", "12.0")))
    assert trt_build.compute_capabilities(config) == ("8.6", "12.0")
    default, _ = trt_build.configure(trt, builder, network, TrtOptions(opt_shapes=shapes))
    assert trt_build.compute_capabilities(default) == ()


def test_an_ignored_hardware_compatibility_level_is_refused(parsed, trt_builder):
    """TensorRT-RTX takes the call but ignores it ("setHardwareCompatibilityLevel() is
    unsupported in TensorRT-RTX"): trtdiff reads the level back and refuses the option."""
    trt, builder, network, _ = parsed
    options = TrtOptions(opt_shapes={"input": (1, 3, 8, 8)}, hardware_compatibility="ampere_plus")
    if trt_builder.flavor != "rtx":
        config, _ = trt_build.configure(trt, builder, network, options)
        assert config.hardware_compatibility_level == trt.HardwareCompatibilityLevel.AMPERE_PLUS
        return
    with pytest.raises(UsageError, match="does not take --trt-hardware-compatibility"):
        trt_build.configure(trt, builder, network, options)


def test_the_parsers_rejection_is_a_model_error_in_its_words(trt_builder, make_model):
    trt, _ = import_tensorrt(trt_builder.flavor)
    logger = trt_build.make_logger(trt)
    network = trt.Builder(logger).create_network(trt_build.network_flags(trt, TrtOptions()))
    model = make_model(batch=1)
    model.graph.node[1].op_type = "Det"  # relu1 becomes a Det of a 4-D tensor
    with pytest.raises(ModelError) as info:
        trt_build.parse_model(trt.OnnxParser(network, logger), model)
    assert info.value.what == "TensorRT's ONNX parser rejected node 'relu1' (Det)"
    assert info.value.why.startswith("UNSUPPORTED_NODE") and info.value.exit_code == 3
    model.graph.node[1].op_type, model.graph.node[1].domain = "Mystery", "com.example"
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    network = trt.Builder(logger).create_network(trt_build.network_flags(trt, TrtOptions()))
    with pytest.raises(ModelError, match="rejected node 'relu1' \\(Mystery\\)"):
        trt_build.parse_model(trt.OnnxParser(network, logger), model)


def test_a_failed_build_quotes_the_builders_words(trt_builder, make_model, tmp_path):
    """TensorRT-RTX's wheel has no lean runtime, so a version-compatible plan that embeds one
    cannot be built: trtdiff's one line says what the builder said."""
    from trtdiff.errors import ToolError
    from trtdiff.runners.trt_source import build_engine

    if trt_builder.flavor != "rtx":
        pytest.skip("the lean runtime is missing only from TensorRT-RTX's wheel")
    with pytest.raises(ToolError) as info:
        build_engine(make_model(batch=1), TrtOptions(version_compatible=True), tmp_path / "vc.engine")
    assert info.value.what == "TensorRT could not build the engine"
    assert "libnvinfer_lean" in info.value.why and not (tmp_path / "vc.engine").exists()
