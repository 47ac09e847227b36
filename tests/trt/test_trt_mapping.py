"""Engine layer and tensor names back to ONNX nodes and tensors: Metadata entries, fused names
("a + b", PWN(...), Myelin ForeignNode ranges), per-layer facts and fused-away tensors."""

from __future__ import annotations

import pytest

from trtdiff.trt.inspector import parse_engine_info
from trtdiff.trt.mapping import (
    engine_layer_facts,
    fused_away,
    node_of_tensor,
    nodes_from_layer_name,
    nodes_from_metadata,
    onnx_tensor_for,
)


@pytest.mark.parametrize("metadata, nodes", [
    ("[ONNX Layer: conv1]", ["conv1"]),
    ("[ONNX Layer: conv1]\x1f[ONNX Layer: relu1]", ["conv1", "relu1"]),
    ("[ONNX Layer: flat]\x1e[ONNX Layer: fc]\x1f[ONNX Layer: softmax]", ["flat", "fc", "softmax"]),
    ("[ONNX Layer: /blocks.0/attn/MatMul | Local Function: Attention]", ["/blocks.0/attn/MatMul"]),
    ("[ONNX Layer: a][ONNX Layer: b][ONNX Layer: a]", ["a", "b"]),
    ("", []), (None, []),
])
def test_nodes_from_metadata(metadata, nodes):
    assert nodes_from_metadata(metadata) == nodes


@pytest.mark.parametrize("name, nodes, evidence", [
    ("conv2", ("conv2",), "name"),
    ("conv1 + relu1", ("conv1", "relu1"), "name"),
    ("PWN(sig, swish)", ("sig", "swish"), "name"),
    ("PWN(PWN(sig), swish)", ("sig", "swish"), "name"),
    ("{ForeignNode[flat...softmax]}", ("flat", "fc", "softmax"), "name-range"),
    ("{ForeignNode[gap]}", ("gap",), "name"),
    ("swish + {ForeignNode[gap...fc]}", ("swish", "gap", "flat", "fc"), "name-range"),
    ("Reformatting CopyNode for Input Tensor 0 to conv1 + relu1", ("relu1",), "name"),
    ("__myl_Mul_0x123", (), "none"),
    ("{ForeignNode[softmax...flat]}", (), "none"),  # reversed range: no guess
])
def test_nodes_from_layer_name(name, nodes, evidence, node_order):
    source = nodes_from_layer_name(name, node_order)
    assert source.nodes == nodes
    assert source.evidence == evidence


@pytest.mark.parametrize("sample", ["inspector_10x.json", "inspector_11x.json"])
def test_engine_layer_facts(sample, sample_text, node_order):
    facts = engine_layer_facts(parse_engine_info(sample_text(sample)), node_order)
    by_name = {f["name"]: f for f in facts}
    conv = by_name["conv1 + relu1"]
    assert conv["onnx_nodes"] == ["conv1", "relu1"] and conv["mapping"] == "metadata"
    assert conv["precision"] == "fp16" and conv["type"] == "CaskConvolution"
    assert conv["tactic"].startswith("sm")
    assert conv["outputs"] == ["relu1_out"]
    myelin = by_name["{ForeignNode[flat...softmax]}"]
    assert myelin["onnx_nodes"] == ["flat", "fc", "softmax"]
    assert myelin["precision"] == "fp32"
    if facts[0]["type"] == "Reformat":
        assert facts[0]["onnx_nodes"] == [] and facts[0]["mapping"] == "inserted"
    covered = {n for f in facts for n in f["onnx_nodes"]}
    assert covered == set(node_order)


def test_myelin_without_metadata_is_marked_approximate(sample_text, node_order):
    facts = engine_layer_facts(parse_engine_info(sample_text("inspector_10x.json")), node_order)
    assert facts[-1]["mapping"] == "name-range"
    facts = engine_layer_facts(parse_engine_info(sample_text("inspector_11x.json")), node_order)
    assert facts[-1]["mapping"] == "metadata"
    pwn = facts[2]
    assert pwn["onnx_nodes"] == ["sig", "swish"] and pwn["mapping"] == "name"


@pytest.mark.parametrize("sample", ["inspector_10x.json", "inspector_11x.json"])
def test_fused_away_tensors(sample, sample_text, model):
    info = parse_engine_info(sample_text(sample))
    wanted = [o for node in model.graph.node for o in node.output]
    assert fused_away(info, wanted) == ["conv1_out", "sig_out", "flat_out", "fc_out"]


def test_names_only_engine_says_nothing_is_fused_away(sample_text, model, node_order):
    info = parse_engine_info(sample_text("inspector_names_only.json"))
    assert fused_away(info, ["conv1_out"]) == []
    facts = engine_layer_facts(info, node_order)
    assert facts[0]["onnx_nodes"] == ["conv1", "relu1"] and facts[0]["precision"] is None


def test_tensor_names_and_producers(model):
    onnx_names = {o for node in model.graph.node for o in node.output}
    assert onnx_tensor_for("relu1_out", onnx_names) == "relu1_out"
    assert onnx_tensor_for("Reformatted Input Tensor 0 to conv1 + relu1", onnx_names) is None
    assert node_of_tensor(model.graph.node)["swish_out"] == "swish"


def _internal_names(sample_text):
    """The 11.x sample with the names an unfused debug listener might see (NvInfer.h: "internal
    tensor names ... correspond to the names obtained by IEngineInspector")."""
    text = sample_text("inspector_11x.json").replace('"relu1_out"', '"conv1 + relu1_out_int"')
    return parse_engine_info(text.replace('"swish_out"', '"__mye42"'))


def test_internal_engine_names_map_through_their_layer(sample_text, model, node_order):
    from trtdiff.trt.mapping import tensor_aliases

    info = _internal_names(sample_text)
    outputs = {n.name: list(n.output) for n in model.graph.node}
    aliases = tensor_aliases(info, node_order, outputs)
    assert aliases["conv1 + relu1_out_int"] == "relu1_out"  # last node of conv1 + relu1
    assert aliases["__mye42"] == "swish_out"  # PWN(PWN(sig), swish): swish is last
    assert aliases["probs"] == "probs" and aliases["conv1_out"] == "conv1_out"
    wanted = [o for outs in outputs.values() for o in outs]
    assert fused_away(info, wanted, aliases) == ["conv1_out", "sig_out", "flat_out", "fc_out"]
    assert fused_away(info, wanted) == ["conv1_out", "relu1_out", "sig_out", "swish_out",
                                        "flat_out", "fc_out"]
    facts = engine_layer_facts(info, node_order, aliases)
    assert facts[0]["outputs"] == ["conv1 + relu1_out_int"]
    assert facts[0]["onnx_outputs"] == ["relu1_out"]


def test_no_alias_when_the_onnx_name_is_already_there_or_ambiguous(sample_text, model, node_order):
    from trtdiff.trt.mapping import tensor_aliases

    info = parse_engine_info(sample_text("inspector_10x.json"))
    outputs = {n.name: list(n.output) for n in model.graph.node}
    aliases = tensor_aliases(info, node_order, outputs)
    assert "Reformatted Input Tensor 0 to conv1 + relu1" not in aliases  # inserted layer
    assert all(k == v for k, v in aliases.items())  # every engine name here is an ONNX name
    outputs["relu1"] = ["relu1_out", "relu1_mask"]  # two outputs: which one is unknowable
    aliases = tensor_aliases(_internal_names(sample_text), node_order, outputs)
    assert "conv1 + relu1_out_int" not in aliases


def test_router_uses_aliases():
    from trtdiff.trt.collect import TensorRouter
    import numpy as np

    router = TensorRouter({"relu1_out": "relu1_out", "conv1 + relu1_out_int": "relu1_out"})
    got = []
    router.start(lambda name, array: got.append(name))
    assert router.accepts("conv1 + relu1_out_int")
    router.deliver("conv1 + relu1_out_int", np.zeros(1))
    assert not router.accepts("relu1_out")  # the same ONNX tensor is not delivered twice
    router.deliver("relu1_out", np.zeros(1))
    assert got == ["relu1_out"]
