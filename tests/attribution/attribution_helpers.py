"""Helpers for the attribution tests: the planted-fault fixture builders and a library-level run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx

from trtdiff.options.targets import target_from_options
from trtdiff.pipeline import RunRequest, TensorSelection, run_comparison
from trtdiff.result import Comparison
from model_builders import load_fixture_builder

ROOT = Path(__file__).resolve().parents[2]


build = load_fixture_builder("fixtures/attribution/build.py")


def save(model: onnx.ModelProto, path: Path) -> str:
    onnx.save(model, path)
    return str(path)


def attributed(model_path: str, budget: int | None = None, **target: Any) -> Comparison:
    """`trtdiff run MODEL --mark-all --attribute` with the target options given (e.g. fp16=True)."""
    request = RunRequest(model_path=model_path, target=target_from_options(target),
                         selection=TensorSelection(mark_all=True), attribution="on", memory_budget=budget)
    return run_comparison(request)


def offender_nodes(comparison: Comparison) -> list[str]:
    return [o.node for o in comparison.offenders]


def score(comparison: Comparison, node: str) -> float:
    return next(o.score for o in comparison.offenders if o.node == node)


def hints_of(comparison: Comparison, node: str, kind: str) -> list[Any]:
    return [h for t in comparison.tensors if t.node == node for h in t.hints if h.kind == kind]
