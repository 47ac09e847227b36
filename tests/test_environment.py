"""The environment recorded in results and baselines names every TensorRT flavour installed: a
baseline of a `--target trt` run on TensorRT-RTX said "tensorrt: not installed" and nothing
about RTX, so the gate could not show that the TensorRT-RTX version changed between releases."""

from __future__ import annotations

import importlib.metadata

from trtdiff import environment


def test_both_tensorrt_flavours_are_recorded(monkeypatch) -> None:
    versions = {"tensorrt-rtx": "1.7.1.116"}

    def version(name: str) -> str:
        if name in versions:
            return versions[name]
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    facts = environment.collect()
    assert facts["tensorrt-rtx"] == "1.7.1.116" and facts["tensorrt"] == "not installed"
