"""Benchmark: how long `apply_plan` takes on a model of about 1,000 nodes, per target.

    python benchmarks/bench_convert.py [blocks]     # 5 nodes per block, default 200 = 1,000 nodes

Bisect applies a plan dozens of times, so this must stay well under a few seconds.
"""

from __future__ import annotations

import importlib.util
import sys
import statistics
import time
from pathlib import Path

import numpy as np

from trtdiff.precision import PrecisionPlan, apply_plan

ROOT = Path(__file__).resolve().parents[1]


def _builders():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("precision_fixtures", ROOT / "fixtures/precision/build.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main(blocks: int = 200) -> None:
    model = _builders().chain(blocks)
    feeds = [{"x": np.random.default_rng(0).standard_normal((4, 16)).astype(np.float32)}]
    print(f"model: {len(model.graph.node)} nodes, {len(model.graph.initializer)} initializers")
    plans = [PrecisionPlan("fp16"), PrecisionPlan("bf16"), PrecisionPlan("fp16", "emulated"),
             PrecisionPlan("fp8", "emulated"), PrecisionPlan("int8", "emulated"), PrecisionPlan("int8"),
             PrecisionPlan("fp16", keep_fp32_nodes=tuple(f"act{i}" for i in range(0, blocks, 3)))]
    for plan in plans:
        if plan.default == "fp8":
            continue  # needs opset 19; the chain model is opset 17
        apply_plan(model, plan, feeds)  # warm: calibration is cached after the first call
        times = []
        for _ in range(5):
            start = time.perf_counter()
            applied = apply_plan(model, plan, feeds)
            times.append(time.perf_counter() - start)
        print(f"{plan.describe():40s} median {statistics.median(times) * 1000:7.1f} ms  "
              f"({len(applied.lowered_nodes)} lowered, {len(applied.kept_nodes)} kept, "
              f"{len(applied.model.graph.node)} nodes out)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
