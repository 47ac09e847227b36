"""Option parsing: shapes in Polygraphy and trtexec forms, memory pools, layer precisions,
validation of option combinations, and the click decorator end to end."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from trtdiff.options.trt import TRT_OPTION_NAMES, trt_options, trt_options_from_cli
from trtdiff.errors import UsageError
from trtdiff.trt.options import (
    TrtOptions,
    parse_layer_precisions,
    parse_pool_limits,
    parse_shapes,
    parse_size,
)


@pytest.mark.parametrize("text, expected", [
    ("input:[1,3,224,224]", {"input": (1, 3, 224, 224)}),
    ("input:1x3x224x224", {"input": (1, 3, 224, 224)}),
    ("input:1X3X224X224", {"input": (1, 3, 224, 224)}),
    ("a:[1, 3],b:2x4", {"a": (1, 3), "b": (2, 4)}),
    ("a:1x3 b:[2,4]", {"a": (1, 3), "b": (2, 4)}),
    ("input:0:1x3", {"input:0": (1, 3)}),  # TensorFlow-style name: split at the LAST colon
    ("'input:0':[1,3]", {"input:0": (1, 3)}),
    ("scalar:[]", {"scalar": ()}),
])
def test_parse_shapes_accepts_both_forms(text, expected):
    assert parse_shapes(text) == expected


def test_parse_shapes_merges_repeated_options():
    assert parse_shapes(["a:1x3", "b:[2,4]"]) == {"a": (1, 3), "b": (2, 4)}


@pytest.mark.parametrize("text", ["input", "input:1xax3", ":1x3", "input:[1,-1]", "a:1x3,a:1x3"])
def test_parse_shapes_rejects_bad_entries(text):
    with pytest.raises(UsageError) as info:
        parse_shapes(text, "--trt-min-shapes")
    assert "--trt-min-shapes" in info.value.one_line() or "twice" in info.value.one_line() \
        or "negative" in info.value.one_line()


@pytest.mark.parametrize("text, expected", [
    ("2G", 2 * 2**30), ("512M", 512 * 2**20), ("1024", 1024 * 2**20), ("48K", 48 * 1024),
    ("1.5GiB", int(1.5 * 2**30)), ("100B", 100), ("3 mb", 3 * 2**20),
])
def test_parse_size_units(text, expected):
    assert parse_size(text) == expected


def test_parse_pool_limits_names_and_trtexec_aliases():
    limits = parse_pool_limits(["workspace:2G", "tacticSharedMem:48K,dlaSRAM:1M"])
    assert limits == {"WORKSPACE": 2 * 2**30, "TACTIC_SHARED_MEMORY": 48 * 1024,
                      "DLA_MANAGED_SRAM": 2**20}


@pytest.mark.parametrize("text", ["workspace", "gpu:2G", "workspace:lots", "workspace:2T"])
def test_parse_pool_limits_rejects_bad_entries(text):
    with pytest.raises(UsageError):
        parse_pool_limits(text)


def test_parse_layer_precisions():
    assert parse_layer_precisions(["conv1:fp32", "/model/Mul:FP16"]) == {
        "conv1": "fp32", "/model/Mul": "fp16"}
    with pytest.raises(UsageError):
        parse_layer_precisions("conv1:fp64")


def test_profile_shapes_must_be_ordered_and_complete():
    ok = TrtOptions(min_shapes={"x": (1, 3)}, opt_shapes={"x": (2, 3)}, max_shapes={"x": (4, 3)})
    assert ok.opt_shapes["x"] == (2, 3)
    TrtOptions(opt_shapes={"x": (2, 3)})  # opt alone: a fixed shape
    with pytest.raises(UsageError, match="not ordered"):
        TrtOptions(min_shapes={"x": (4, 3)}, opt_shapes={"x": (2, 3)}, max_shapes={"x": (4, 3)})
    with pytest.raises(UsageError, match="different ranks"):
        TrtOptions(min_shapes={"x": (1,)}, opt_shapes={"x": (2, 3)}, max_shapes={"x": (4, 3)})
    with pytest.raises(UsageError, match="needs all of"):
        TrtOptions(min_shapes={"x": (1, 3)}, max_shapes={"x": (4, 3)})
    with pytest.raises(UsageError, match="different inputs"):
        TrtOptions(min_shapes={"x": (1, 3)}, opt_shapes={"y": (2, 3)}, max_shapes={"x": (4, 3)})


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "all"}, "unknown intermediate-tensor mode"),
    ({"optimization_level": 7}, "out of range"),
    ({"hardware_compatibility": "hopper"}, "unknown hardware compatibility"),
    ({"exclude_lean_runtime": True}, "needs --trt-version-compatible"),
    ({"weak_typing": ("fp64",)}, "unknown weak-typing"),
    ({"layer_precisions": {"conv1": "fp32"}}, "need --trt-weak-typing"),
])
def test_invalid_combinations_are_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=message) as info:
        TrtOptions(**kwargs)
    assert info.value.exit_code == 2
    assert "\n" not in info.value.one_line()


def _command():
    @click.command()
    @trt_options
    def command(**kwargs):
        options = trt_options_from_cli(**kwargs)
        click.echo(repr(options.describe()))
        command.result = options  # type: ignore[attr-defined]
    return command


def test_decorator_and_conversion_end_to_end(tmp_path):
    command = _command()
    result = CliRunner().invoke(command, [
        "--trt-mode", "debug",
        "--trt-min-shapes", "input:1x3x8x8", "--trt-opt-shapes", "input:[2,3,8,8]",
        "--trt-max-shapes", "input:4x3x8x8", "--trt-pool-limit", "workspace:1G",
        "--trt-tf32", "--trt-opt-level", "5", "--trt-timing-cache", str(tmp_path / "t.cache"),
        "--trt-plugins", "a.so", "--trt-plugins", "b.so", "--trt-version-compatible",
        "--trt-exclude-lean-runtime", "--trt-hardware-compatibility", "ampere_plus",
        "--load-engine", str(tmp_path / "in.engine"), "--save-engine", str(tmp_path / "out.engine"),
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    options = command.result
    assert options.mode == "debug"
    assert options.min_shapes == {"input": (1, 3, 8, 8)}
    assert options.opt_shapes == {"input": (2, 3, 8, 8)}
    assert options.pool_limits == {"WORKSPACE": 2**30}
    assert options.tf32 and options.optimization_level == 5
    assert options.plugins == (Path("a.so"), Path("b.so"))
    assert options.version_compatible and options.exclude_lean_runtime
    assert options.hardware_compatibility == "ampere_plus"
    assert options.save_engine == tmp_path / "out.engine"


def test_defaults_are_tensorrt_defaults_except_tf32():
    command = _command()
    result = CliRunner().invoke(command, [], catch_exceptions=False)
    assert result.exit_code == 0
    options = command.result
    assert options == TrtOptions()
    assert options.tf32 is False and options.mode is None and not options.weak_typing


def test_bad_value_surfaces_as_usage_error():
    command = _command()
    result = CliRunner().invoke(command, ["--trt-opt-shapes", "input:1xbx3"])
    assert isinstance(result.exception, UsageError)


def test_option_names_cover_every_decorated_option():
    params = {p.name for p in _command().params}
    assert params == set(TRT_OPTION_NAMES)


def test_weak_typing_options_parse():
    command = _command()
    CliRunner().invoke(command, ["--trt-weak-typing", "fp16", "--trt-layer-precision", "conv1:fp32"],
                       catch_exceptions=False)
    assert command.result.weak_typing == ("fp16",)
    assert command.result.layer_precisions == {"conv1": "fp32"}
