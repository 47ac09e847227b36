"""Map engine layers and tensors back to ONNX nodes and tensors, so that TensorRT results align
with the reference by node.

Where a layer came from, best evidence first:
1. `Metadata`: the ONNX parser writes `[ONNX Layer: <node name>]` (with ` | Local Function: f`
   inside the brackets for nodes from ONNX functions); a fused layer joins its sources' entries
   with the control characters \\x1f or \\x1e (onnx-tensorrt `importerUtils.cpp`).
2. The layer name: fused names join parts with " + " ("Conv_0 + Relu_1"), pointwise fusions read
   `PWN(a, b)` (possibly nested), Myelin regions `{ForeignNode[first...last]}`: every node from
   `first` to `last` in topological order, an approximation marked as such.
Tensors: TensorRT keeps ONNX tensor names on the tensors the parser creates, so an engine tensor
maps to the ONNX tensor of the same name. Tensors marked by `mark_unfused_tensors_as_debug_tensors`
reach the debug listener under "internal" names that match the engine inspector's layer I/O names
(NvInfer.h); such a name, when it is not an ONNX name, is mapped through the layer that writes it:
a single-output layer computes the output of the last ONNX node it fused, if that node has one
output. Anything else is internal to TensorRT and is not compared.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trtdiff.trt.inspector import EngineInfo, EngineLayer

_METADATA_ENTRY = re.compile(r"\[ONNX Layer: (.*?)\]", re.S)
_FOREIGN = re.compile(r"\{ForeignNode\[(.*?)\]\}", re.S)
_SPLIT = re.compile(r"\s\+\s|,\s*|PWN\(|\)|\(|\{ForeignNode\[|\]\}")


@dataclass(frozen=True)
class LayerSource:
    """The ONNX nodes one engine layer computes, and how we know."""

    nodes: tuple[str, ...]
    evidence: str  # "metadata", "name", "name-range" (Myelin range, approximate), "inserted"
    # (a reformat layer TensorRT added) or "none"


def nodes_from_metadata(metadata: str | None) -> list[str]:
    """ONNX node names in a layer's Metadata, in order, without duplicates."""
    if not metadata:
        return []
    names: list[str] = []
    for part in re.split(r"[\x1e\x1f]", metadata):
        for match in _METADATA_ENTRY.finditer(part):
            name = match.group(1).split(" | ")[0].strip()
            if name and name not in names:
                names.append(name)
    return names


def nodes_from_layer_name(name: str, node_order: Sequence[str],
                          position: Mapping[str, int] | None = None) -> LayerSource:
    """ONNX nodes named in a (possibly fused) layer name; `node_order` lists the model's nodes
    in topological order and decides which name parts are nodes (`position`: node -> index in
    it, when the caller has built it already)."""
    position = position if position is not None else node_positions(node_order)
    if name in position:
        return LayerSource((name,), "name")
    found: list[str] = []
    evidence = "name"
    for match in _FOREIGN.finditer(name):
        first, _, last = match.group(1).partition("...")
        first, last = first.strip(), last.strip() or first.strip()
        if first in position and last in position and position[first] <= position[last]:
            found.extend(node_order[position[first]:position[last] + 1])
            evidence = "name-range" if first != last else evidence
    rest = _FOREIGN.sub(" ", name)
    for part in _SPLIT.split(rest):
        part = part.strip()
        if part in position and part not in found:
            found.append(part)
    if not found:
        return LayerSource((), "none")
    return LayerSource(tuple(sorted(dict.fromkeys(found), key=position.__getitem__)), evidence)


def node_positions(node_order: Sequence[str]) -> dict[str, int]:
    """Node name -> its index in the topological order."""
    return {node: i for i, node in enumerate(node_order)}


def layer_source(layer: EngineLayer, node_order: Sequence[str],
                 position: Mapping[str, int] | None = None) -> LayerSource:
    """Metadata first (exact), then the layer name (heuristic). Reformat layers TensorRT
    inserts between formats compute no ONNX node, though their names mention one."""
    if layer.layer_type == "Reformat" or layer.name.startswith("Reformatting CopyNode"):
        return LayerSource((), "inserted")
    from_meta = nodes_from_metadata(layer.metadata)
    if from_meta:
        return LayerSource(tuple(from_meta), "metadata")
    return nodes_from_layer_name(layer.name, node_order, position)


def engine_layer_facts(info: EngineInfo, node_order: Sequence[str],
                       aliases: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Per engine layer: name, type, precision, tactic, the ONNX nodes it fused, its tensors and
    the ONNX tensors its outputs stand for (None: internal). This is what
    `Comparison.engine_layers` and the report show."""
    known = aliases or {}
    position = node_positions(node_order)
    facts = []
    for layer in info.layers:
        source = layer_source(layer, node_order, position)
        facts.append({
            "name": layer.name,
            "type": layer.layer_type,
            "precision": layer.precision,
            "tactic": layer.tactic,
            "onnx_nodes": list(source.nodes),
            "mapping": source.evidence,
            "inputs": [t.name for t in layer.inputs],
            "outputs": [t.name for t in layer.outputs],
            "onnx_outputs": [known.get(t.name) for t in layer.outputs],
        })
    return facts


def onnx_tensor_for(engine_name: str, onnx_tensors: Iterable[str] | set[str]) -> str | None:
    """The ONNX tensor an engine tensor stands for, or None for a TensorRT-internal tensor."""
    names = onnx_tensors if isinstance(onnx_tensors, set) else set(onnx_tensors)
    return engine_name if engine_name in names else None


def tensor_aliases(info: EngineInfo, node_order: Sequence[str],
                   node_outputs: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Engine tensor name -> ONNX tensor name: every ONNX tensor under its own name, plus engine
    names that are not ONNX names, mapped through their writing layer (see the module docstring).
    An ONNX tensor that already appears under its own name is never given a second engine name."""
    onnx_names = {t for outputs in node_outputs.values() for t in outputs if t}
    aliases = {name: name for name in onnx_names}
    present = info.tensor_names() & onnx_names
    position = node_positions(node_order)
    for layer in info.layers:
        if len(layer.outputs) != 1 or layer.outputs[0].name in onnx_names:
            continue
        nodes = [n for n in layer_source(layer, node_order, position).nodes if n in position]
        if not nodes:
            continue
        last = max(nodes, key=position.__getitem__)
        outputs = [t for t in node_outputs.get(last, ()) if t]
        if len(outputs) == 1 and outputs[0] not in present:  # one engine name per ONNX tensor
            aliases[layer.outputs[0].name] = outputs[0]
            present.add(outputs[0])
    return aliases


def fused_away(info: EngineInfo, wanted: Iterable[str],
               aliases: Mapping[str, str] | None = None) -> list[str]:
    """ONNX tensors with no counterpart among the engine's tensors, in the order given.

    Only meaningful for an engine built with DETAILED profiling verbosity; for a names-only
    inspector document nothing can be said, and the empty list is returned."""
    if not info.detailed:
        return []
    present = info.tensor_names()
    if aliases:
        present = present | {aliases[name] for name in present if name in aliases}
    return [name for name in wanted if name not in present]


def node_of_tensor(model_nodes: Iterable[Any]) -> dict[str, str]:
    """Tensor name -> producing node name, for ONNX NodeProtos (or anything with .name/.output)."""
    producers: dict[str, str] = {}
    for node in model_nodes:
        for output in node.output:
            if output:
                producers[output] = node.name
    return producers
