"""Helpers for the precision tests: the fixture builders, inputs, and an ONNX Runtime run
with graph optimisations off (ONNX Runtime's optimiser removes Cast pairs, which would hide the
rounding these tests look at)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from model_builders import load_fixture_builder

ROOT = Path(__file__).resolve().parents[2]


build = load_fixture_builder("fixtures/precision/build.py")

SHAPES = {"convnet": (2, 3, 8, 8), "transformer": (2, 3, 8), "shape_plumbing": (1, 2, 4, 6),
          "control_flow": (2, 4), "inits_as_inputs": (3, 4), "overflow": (2, 4), "chain": (2, 16)}


def feeds_for(model: onnx.ModelProto, seed: int = 0, scale: float = 1.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        shape = SHAPES.get(model.graph.name) or (2, 2, 6, 6)
        feeds[vi.name] = (rng.standard_normal(shape) * scale).astype(np.float32)
    return feeds


def run(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray],
        outputs: list[str] | None = None) -> dict[str, np.ndarray]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if outputs:
        from trtdiff.model import with_outputs
        model = with_outputs(model, outputs)
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, dict(feeds))))


def node_outputs(graph: onnx.GraphProto) -> set[str]:
    names = {o for n in graph.node for o in n.output if o}
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                names |= node_outputs(attr.g)
    return names


def node_names(graph: onnx.GraphProto) -> set[str]:
    names = {n.name for n in graph.node}
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                names |= node_names(attr.g)
    return names


FIXTURES = {
    "convnet": build.convnet,
    "transformer": build.transformer,
    "shape_plumbing": build.shape_plumbing,
    "control_flow": build.control_flow,
    "initializers_as_inputs": build.initializers_as_inputs,
    "overflow": build.overflow,
}
