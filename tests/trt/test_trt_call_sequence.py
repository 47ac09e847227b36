"""MOCK-BASED tests, with hand-written stand-ins for the `tensorrt` module, network and builder
config, kept ONLY for TensorRT 10.x paths no real module here can show (TensorRT 10/11 cannot be
installed; TensorRT-RTX has 11's API): the STRONGLY_TYPED flag's value 1 in 10.x, a builder flag
a version lacks, and the weak-typing flags and layer precisions of TensorRT < 10.12. They say
NOTHING about how a real TensorRT behaves. The same calls against a real module (TensorRT-RTX on a
CPU) are in test_trt_network.py and test_trt_builder.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from trtdiff.errors import ModelError, UsageError
from trtdiff.runners import trt_build
from trtdiff.trt.options import TrtOptions


def fake_trt(strongly_typed_value: int = 0, weak: bool = False) -> SimpleNamespace:
    flags = ["TF32", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME"]
    if weak:
        flags += ["FP16", "INT8", "OBEY_PRECISION_CONSTRAINTS"]
    return SimpleNamespace(
        NetworkDefinitionCreationFlag=SimpleNamespace(STRONGLY_TYPED=strongly_typed_value),
        BuilderFlag=SimpleNamespace(**{f: f"BuilderFlag.{f}" for f in flags}),
        MemoryPoolType=SimpleNamespace(WORKSPACE="pool.WORKSPACE",
                                       TACTIC_SHARED_MEMORY="pool.TACTIC_SHARED_MEMORY"),
        ProfilingVerbosity=SimpleNamespace(DETAILED="verbosity.DETAILED"),
        HardwareCompatibilityLevel=SimpleNamespace(AMPERE_PLUS="hw.AMPERE_PLUS"),
        DataType=SimpleNamespace(FLOAT="dtype.FLOAT", HALF="dtype.HALF"),
    )


class Tensor:
    def __init__(self, name, shape=(), is_shape_tensor=False):
        self.name, self.shape, self.is_shape_tensor = name, shape, is_shape_tensor


class Layer:
    def __init__(self, name, outputs, metadata=""):
        self.name, self._outputs, self.metadata, self.precision = name, outputs, metadata, None
        self.num_outputs = len(outputs)

    def get_output(self, i):
        return self._outputs[i]


class Network:
    def __init__(self, layers, inputs, outputs):
        self.layers, self.inputs, self.outputs = layers, inputs, outputs
        self.num_layers, self.num_inputs, self.num_outputs = len(layers), len(inputs), len(outputs)
        self.calls = []

    def get_layer(self, i):
        return self.layers[i]

    def get_input(self, i):
        return self.inputs[i]

    def get_output(self, i):
        return self.outputs[i]

    def mark_debug(self, tensor):
        self.calls.append(("mark_debug", tensor.name))

    def mark_output(self, tensor):
        self.calls.append(("mark_output", tensor.name))

    def mark_unfused_tensors_as_debug_tensors(self):
        self.calls.append(("mark_unfused_tensors_as_debug_tensors",))


class Recorder:
    """Records every method call and attribute assignment made on it."""

    def __init__(self):
        object.__setattr__(self, "calls", [])

    def __setattr__(self, name, value):
        self.calls.append(("set", name, value))

    def __getattr__(self, name):
        def method(*args, **kwargs):
            self.calls.append((name, *args))
            return f"{name}-result"
        return method


def network():
    names = ["conv1_out", "relu1_out", "(Unnamed Layer* 3) [Shuffle]_output", "probs"]
    tensors = {n: Tensor(n) for n in names}
    layers = [Layer("conv1", [tensors["conv1_out"]], "[ONNX Layer: conv1]"),
              Layer("relu1", [tensors["relu1_out"]], "[ONNX Layer: relu1]"),
              Layer("(Unnamed Layer* 3) [Shuffle]", [tensors["(Unnamed Layer* 3) [Shuffle]_output"]]),
              Layer("softmax", [tensors["probs"]], "[ONNX Layer: softmax]")]
    return Network(layers, [Tensor("input", (-1, 3, 8, 8))], [tensors["probs"]])


ONNX_TENSORS = {"conv1_out", "relu1_out", "probs"}


def test_network_flags_use_the_enum_name_in_both_major_versions():
    assert trt_build.network_flags(fake_trt(strongly_typed_value=1), TrtOptions()) == 1 << 1  # 10.x
    assert trt_build.network_flags(fake_trt(strongly_typed_value=0), TrtOptions()) == 1 << 0  # 11.x
    assert trt_build.network_flags(fake_trt(), TrtOptions(weak_typing=("fp16",))) == 0


def test_configure_without_a_flag_this_version_lacks():
    trt = fake_trt()
    del trt.BuilderFlag.EXCLUDE_LEAN_RUNTIME
    builder, config = Recorder(), Recorder()
    object.__setattr__(builder, "create_builder_config", lambda: config)
    options = TrtOptions(version_compatible=True, exclude_lean_runtime=True,
                         opt_shapes={"input": (1, 3, 8, 8)})
    with pytest.raises(UsageError, match="no EXCLUDE_LEAN_RUNTIME builder flag"):
        trt_build.configure(trt, builder, network(), options)


def test_weak_typing_sets_flags_and_layer_precisions_by_node_name():
    trt, net, config = fake_trt(weak=True), network(), Recorder()
    options = TrtOptions(weak_typing=("fp16",), layer_precisions={"relu1": "fp32"})
    trt_build._apply_weak_typing(trt, net, config, options)
    assert ("set_flag", "BuilderFlag.FP16") in config.calls
    assert ("set_flag", "BuilderFlag.OBEY_PRECISION_CONSTRAINTS") in config.calls
    assert net.layers[1].precision == "dtype.FLOAT" and net.layers[0].precision is None
    with pytest.raises(UsageError, match="close names"):
        trt_build._apply_weak_typing(trt, network(), Recorder(),
                                     TrtOptions(weak_typing=("fp16",), layer_precisions={"relu9": "fp32"}))
