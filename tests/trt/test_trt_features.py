"""What the runner does is decided by the module's features, never by its version number.

The `trt_builder` tests read the REAL module trtdiff builds with (TensorRT-RTX 1.7 in CI). The
others use hand-written stand-in modules (SimpleNamespace objects that carry only the attributes
a given TensorRT release has), to show the decisions for TensorRT 8.x/10.x/11.x, which cannot be
installed here; they say nothing about how those releases behave."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from trtdiff.errors import ToolError, UsageError
from trtdiff.trt.features import Features, cc_from_member, features_of, member_name
from trtdiff.trt.options import TrtOptions, parse_compute_capabilities


class _Members:
    """An enum stand-in: attributes plus `__members__`, as pybind11 enums have."""

    def __init__(self, *names: str) -> None:
        self.__members__ = {name: index for index, name in enumerate(names)}
        for name in names:
            setattr(self, name, name)


def stand_in(version: str, *, v3: bool = True, debug: bool = True, unfused: bool = True,
             weak: bool = False, targets: tuple[str, ...] = ()) -> SimpleNamespace:
    network = {"mark_debug": 1} if debug else {}
    if unfused:
        network["mark_unfused_tensors_as_debug_tensors"] = 1
    module = SimpleNamespace(
        __version__=version,
        IExecutionContext=SimpleNamespace(**({"execute_async_v3": 1} if v3 else {"execute_async_v2": 1})),
        INetworkDefinition=SimpleNamespace(**network),
        BuilderFlag=_Members("TF32", *(("FP16", "INT8") if weak else ())),
        Runtime=SimpleNamespace(deserialize_cuda_engine=1),
    )
    if targets:
        module.ComputeCapability = _Members("NONE", "CURRENT", *targets)
    return module


TRT_8 = stand_in("8.6.1", v3=False, debug=False, unfused=False, weak=True)
TRT_10_8 = stand_in("10.8.0.43", unfused=False, weak=True)
TRT_11 = stand_in("11.0.0.1")


def test_decisions_come_from_features_not_from_version_numbers():
    assert features_of(TRT_10_8, "tensorrt").default_mode() == "debug"
    assert features_of(TRT_11, "tensorrt").default_mode() == "unfused"
    # a version string that compares as "older than 10" but a module with 10.12+ features
    odd = features_of(stand_in("1.7.1", targets=("SM86",)), "rtx")
    odd.check_usable()
    assert odd.default_mode() == "unfused" and odd.build_targets == ("8.6",)
    with pytest.raises(ToolError, match="too old"):
        features_of(TRT_8, "tensorrt").check_usable()


def test_modes_and_weak_typing_follow_the_module():
    old = features_of(TRT_10_8, "tensorrt")
    assert old.resolve_mode(TrtOptions(mode="outputs")) == "outputs"
    with pytest.raises(UsageError, match="mark_unfused_tensors_as_debug_tensors"):
        old.resolve_mode(TrtOptions(mode="unfused"))
    weak = TrtOptions(weak_typing=("fp16",), layer_precisions={"conv1": "fp32"})
    old.check_options(weak)
    with pytest.raises(UsageError, match="strongly typed only"):
        features_of(TRT_11, "tensorrt").check_options(weak)


def test_compute_capabilities_only_where_the_module_has_them():
    rtx = features_of(stand_in("1.7.1", targets=("SM75", "SM86", "SM89", "SM120")), "rtx")
    assert rtx.build_targets == ("7.5", "8.6", "8.9", "12.0")
    rtx.check_options(TrtOptions(compute_capabilities=("8.6", "12.0")))
    rtx.check_options(TrtOptions(compute_capabilities=("current",)))
    with pytest.raises(UsageError, match="cannot build for compute capability 9.0"):
        rtx.check_options(TrtOptions(compute_capabilities=("9.0",)))
    with pytest.raises(UsageError, match="needs TensorRT-RTX"):
        features_of(TRT_11, "tensorrt").check_options(TrtOptions(compute_capabilities=("8.6",)))


@pytest.mark.parametrize("text, expected", [
    (["8.6"], ("8.6",)), (["sm89", "SM_120"], ("8.9", "12.0")), (["86,8.6 current"], ("8.6", "current")),
])
def test_compute_capability_option_forms(text, expected):
    assert parse_compute_capabilities(text) == expected


def test_bad_compute_capability_values():
    with pytest.raises(UsageError, match="cannot read compute capability 'ampere'"):
        parse_compute_capabilities(["ampere"])
    with pytest.raises(UsageError, match="current cannot be combined"):
        TrtOptions(compute_capabilities=("current", "8.6"))
    with pytest.raises(UsageError, match="unknown TensorRT flavour"):
        TrtOptions(flavor="tensorrt-llm")


def test_member_names_round_trip():
    for cc in ("7.5", "8.6", "12.0", "12.1", "current"):
        assert cc_from_member(member_name(cc)) == cc
    assert cc_from_member("ComputeCapability.SM89") == "8.9"


@pytest.mark.trt_builder
def test_features_of_the_real_module(trt_builder: Features):
    """The module CI has (TensorRT-RTX 1.7): strongly typed only, unfused debug tensors, and for
    RTX the compute capabilities its ComputeCapability enum offers."""
    trt_builder.check_usable()
    assert trt_builder.execute_v3 and trt_builder.debug_tensors and trt_builder.unfused_debug
    assert trt_builder.default_mode() == "unfused"
    assert not trt_builder.weak_typing  # 1.7 and TensorRT 11 removed the weak-typing flags
    if trt_builder.flavor == "rtx":
        assert {"8.0", "8.6", "8.9", "12.0"} <= set(trt_builder.build_targets)
        assert "9.0" not in trt_builder.build_targets  # why H100/H200 cannot run RTX engines
        assert trt_builder.engine_validity
        assert trt_builder.label.startswith("TensorRT-RTX ")
