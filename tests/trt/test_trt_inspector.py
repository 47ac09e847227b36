"""Engine-inspector JSON in the TensorRT 10.x and 11.x layouts (samples under data/, written to
the documented formats), names-only documents, and data-type words."""

from __future__ import annotations

import json

import pytest

from trtdiff.errors import ToolError
from trtdiff.trt.inspector import dtype_from_text, parse_engine_info


def test_10x_layout(sample_text):
    info = parse_engine_info(sample_text("inspector_10x.json"))
    assert info.layout == "10.x"
    assert [t.name for t in info.io_tensors] == ["input", "probs"]
    assert len(info.layers) == 6 and info.detailed
    conv = info.layers[1]
    assert conv.name == "conv1 + relu1" and conv.layer_type == "CaskConvolution"
    assert conv.precision == "fp16"
    assert conv.tactic.startswith("sm80_xmma_fprop")  # TacticName preferred over TacticValue
    assert conv.outputs[0].dims == (1, 4, 8, 8)
    assert conv.outputs[0].format == "Channel major FP16 format where channel % 8 == 0"
    assert info.layers[3].tactic == "0x0000000000000009"  # no TacticName: TacticValue
    assert info.layers[0].origin == "REFORMAT"
    assert info.layers[-1].precision == "fp32"  # Myelin layer writes FP32 probs


def test_11x_layout(sample_text):
    info = parse_engine_info(sample_text("inspector_11x.json"))
    assert info.layout == "11.x"
    inp, out = info.io_tensors
    assert (inp.name, inp.io_mode, inp.dtype, inp.dims) == ("input", "Input", "fp32", (-1, 3, 8, 8))
    assert inp.format == "Row major linear FP32 format (kLINEAR)"  # from ProfileInfo
    assert out.io_mode == "Output"
    conv1, conv2 = info.layers[0], info.layers[1]
    assert conv1.inputs[0].dtype == "fp32" and conv1.outputs[0].dtype == "fp16"
    assert conv1.outputs[0].format.endswith("(kHWC8)")
    assert conv2.outputs[0].dtype == "fp16"  # spelled "Datatype": keys are case-insensitive
    assert conv2.tactic == "0x9c1f3d2e4b5a6078"


def test_keys_are_case_insensitive():
    doc = {"layers": [{"name": "L", "layertype": "Myelin",
                       "outputs": [{"name": "t", "FORMAT": "Row major linear FP32 format",
                                    "dataType": "BFloat16", "dimensions": [2]}]}],
           "i/o tensors": [{"name": "t", "iomode": "Output", "datatype": "Float"}]}
    info = parse_engine_info(json.dumps(doc))
    assert info.layout == "11.x"
    assert info.layers[0].outputs[0].dtype == "bf16"
    assert info.layers[0].outputs[0].dims == (2,)
    assert info.io_tensors[0].io_mode == "Output"


def test_names_only_document(sample_text):
    info = parse_engine_info(sample_text("inspector_names_only.json"))
    assert info.layout == "names-only" and not info.detailed
    assert [layer.name for layer in info.layers][0] == "conv1 + relu1"
    assert info.layers[0].precision is None


def test_bare_layer_list_from_trtexec_export(sample_text):
    layers = json.loads(sample_text("inspector_10x.json"))["Layers"]
    info = parse_engine_info(layers)
    assert len(info.layers) == 6 and info.io_tensors == ()


@pytest.mark.parametrize("text", ["{not json", "42"])
def test_unreadable_document_is_a_tool_error(text):
    with pytest.raises(ToolError) as info:
        parse_engine_info(text)
    assert info.value.exit_code == 3


@pytest.mark.parametrize("text, short", [
    ("Row major linear FP32", "fp32"), ("Float", "fp32"), ("Half", "fp16"),
    ("Channel major FP16 format where channel % 8 == 0", "fp16"),
    ("Row major linear BF16 format", "bf16"), ("BFloat16", "bf16"), ("FP8", "fp8"),
    ("Row major Int8 format", "int8"), ("Int32", "int32"), ("Int64", "int64"), ("Bool", "bool"),
    ("UInt8", "uint8"), ("Row major linear FP4 format", "fp4"), ("Int4", "int4"),
    ("N/A", None), ("", None), (None, None),
])
def test_dtype_words(text, short):
    assert dtype_from_text(text) == short
