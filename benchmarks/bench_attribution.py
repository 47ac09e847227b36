"""Benchmark: what attribution adds to `trtdiff run --mark-all` on a model of about 300 nodes.

    python benchmarks/bench_attribution.py [blocks] [repeats]   # 10 nodes per block, default 30 = 300

Runs the whole comparison (reference, target, compare; plus shadow models, local metrics and
hints when attribution is on) with the FP16 target (emulated on CPU) and with INT8 Q/DQ, several
times each, interleaved, and prints the medians and their ratio. Target: at most about 3x. A
line shows the cost of a small --memory-budget (the nodes split over many shadow models), and the
last ones what the check of representation against computation adds (its second shadow pass over
the notable nodes), measured against the same runs without it, interleaved.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from trtdiff.options.targets import target_from_options
from trtdiff.pipeline import RunRequest, TensorSelection, run_comparison

WIDTH, ROWS = 256, 64


def build(blocks: int) -> onnx.ModelProto:
    """Residual blocks of 10 nodes: MatMul, bias Add, a LayerNorm written out (ReduceMean, Sub,
    Mul, ReduceMean, Add, Sqrt, Div) and a Relu, on float32[64, 256]."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x = "x"
    for b in range(blocks):
        p = f"b{b}_"
        inits += [numpy_helper.from_array(rng.normal(0, WIDTH ** -0.5, (WIDTH, WIDTH)).astype(np.float32), p + "w"),
                  numpy_helper.from_array(rng.normal(0, 0.1, WIDTH).astype(np.float32), p + "bias"),
                  numpy_helper.from_array(np.array(1e-5, np.float32), p + "eps")]
        steps = [("MatMul", [x, p + "w"], {}), ("Add", [p + "mm", p + "bias"], {}),
                 ("ReduceMean", [p + "add"], {"axes": [-1], "keepdims": 1}), ("Sub", [p + "add", p + "mean"], {}),
                 ("Mul", [p + "sub", p + "sub"], {}), ("ReduceMean", [p + "mul"], {"axes": [-1], "keepdims": 1}),
                 ("Add", [p + "var", p + "eps"], {}), ("Sqrt", [p + "vareps"], {}), ("Div", [p + "sub", p + "std"], {}),
                 ("Relu", [p + "div"], {})]
        outs = ["mm", "add", "mean", "sub", "mul", "var", "vareps", "std", "div", "relu"]
        for (op, inputs, attrs), out in zip(steps, outs):
            nodes.append(helper.make_node(op, inputs, [p + out], name=p + out, **attrs))
        x = p + "relu"
    graph = helper.make_graph(nodes, "bench_attribution",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [ROWS, WIDTH])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [ROWS, WIDTH])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def once(path: str, attribution: bool, target: dict[str, object], budget: int | None = None) -> tuple[float, int]:
    request = RunRequest(model_path=path, target=target_from_options(target),
                         selection=TensorSelection(mark_all=True), attribution="on" if attribution else "off", memory_budget=budget)
    start = time.perf_counter()
    comparison = run_comparison(request)
    return time.perf_counter() - start, len(comparison.offenders)


def main(blocks: int = 30, repeats: int = 5) -> None:
    model = build(blocks)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.onnx")
        onnx.save(model, path)
        print(f"model: {len(model.graph.node)} nodes, tensors float32[{ROWS},{WIDTH}]; "
              f"median of {repeats} runs each")
        for label, target in (("fp16 (emulated on CPU)", {"fp16": True}), ("int8 Q/DQ (native)", {"int8": True})):
            once(path, False, target)  # warm up imports and the calibration cache
            plain, attributed = [], []
            for _ in range(repeats):
                plain.append(once(path, False, target)[0])
                seconds, offenders = once(path, True, target)
                attributed.append(seconds)
            a, b = statistics.median(plain), statistics.median(attributed)
            print(f"{label:24s} run --mark-all {a:6.3f} s   with attribution {b:6.3f} s   "
                  f"ratio {b / a:4.2f}x   ({offenders} nodes ranked)")
        budget = [once(path, True, {"fp16": True}, 2 << 20)[0] for _ in range(repeats)]
        print(f"{'fp16, --memory-budget 2M':24s} with attribution {statistics.median(budget):6.3f} s "
              "(300 nodes split over 12 shadow models)")
        for label, target in (("fp16 (emulated on CPU)", {"fp16": True}), ("int8 Q/DQ (native)", {"int8": True})):
            representation_cost(path, label, target, repeats)


def representation_cost(path: str, label: str, target: dict[str, object], repeats: int) -> None:
    """Attribution with and without the representation check (representation.py), interleaved."""
    from trtdiff.attribution import core, representation

    checked: list[int] = []

    def counting(results, *args, **kwargs):  # type: ignore[no-untyped-def]
        checked.append(sum(1 for r in results.values() if representation.notable(r)))
        return representation.check_representation(results, *args, **kwargs)

    def skipped(results, *args, **kwargs):  # type: ignore[no-untyped-def]
        return dict(results), [], 0

    with_check, without = [], []
    try:
        for _ in range(repeats):
            core.check_representation = counting
            with_check.append(once(path, True, target)[0])
            core.check_representation = skipped
            without.append(once(path, True, target)[0])
    finally:
        core.check_representation = representation.check_representation
    a, b = statistics.median(without), statistics.median(with_check)
    print(f"{label:24s} attribution without the representation check {a:6.3f} s, with it {b:6.3f} s "
          f"({b / a:4.2f}x; {checked[-1]} notable nodes checked)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
