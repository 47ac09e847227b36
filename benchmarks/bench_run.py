"""Benchmark: `trtdiff run --fp16 --mark-all --json` against a plain ONNX Runtime mark-all inference
of the same generated conv net (marked intermediates >= 500 MB), each in a fresh process.

Prints median wall time and peak RSS over repeats, and the two ratios the issue sets targets for:
wall <= 4x the plain inference, peak RSS <= 2.5x (one side's marked bytes + model bytes). The
command is measured as the issue writes it (attribution then runs only if the verdict fails; on
this model it passes), and also with attribution forced on and with a verdict that fails.

    .venv/bin/python benchmarks/bench_run.py [--repeats 5] [--blocks 32] [--size 256]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build_convnet(blocks: int, size: int, channels: int = 32) -> onnx.ModelProto:
    """blocks x (Conv 3x3 + Relu) at full resolution: 2 tensors of channels*size*size floats each."""
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "images"
    for i in range(blocks):
        w = rng.normal(0, (2.0 / (9 * channels)) ** 0.5, (channels, channels, 3, 3)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"conv{i}.w"), numpy_helper.from_array(np.zeros(channels, np.float32), f"conv{i}.b")]
        nodes.append(helper.make_node("Conv", [x, f"conv{i}.w", f"conv{i}.b"], [f"conv{i}"], name=f"conv{i}", pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"], name=f"relu{i}"))
        x = f"relu{i}"
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"], name="pool"))
    graph = helper.make_graph(nodes, "bench", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, channels, size, size])],
                              [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def child_plain(model_path: str) -> dict[str, float]:
    """Plain ONNX Runtime: every node output marked, one inference (session creation included)."""
    import onnxruntime as ort

    model = onnx.load(model_path)
    names = [o for n in model.graph.node for o in n.output]
    for name in names[:-1]:
        model.graph.output.append(helper.make_empty_tensor_value_info(name))
    feeds = {"images": np.random.default_rng(1).uniform(0, 1, (1, 32, *_hw(model))).astype(np.float32)}
    start = time.perf_counter()
    session = ort.InferenceSession(model.SerializeToString())
    created = time.perf_counter()
    outputs = session.run(None, feeds)
    done = time.perf_counter()
    return {"wall_s": done - start, "run_s": done - created, "marked_bytes": float(sum(o.nbytes for o in outputs))}


def _hw(model: onnx.ModelProto) -> tuple[int, int]:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return dims[2].dim_value, dims[3].dim_value


def child_trtdiff(model_path: str, json_path: str, *extra: str) -> dict[str, Any]:
    """The command in-process after importing the CLI module (imports the command itself makes,
    such as onnxruntime and numba, are timed); its terminal output goes to /dev/null."""
    from trtdiff.cli import cli

    start = time.perf_counter()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        try:
            cli(["run", model_path, "--fp16", "--mark-all", "--json", json_path, *extra], standalone_mode=False)
        except SystemExit:
            pass
    wall = time.perf_counter() - start
    result = json.loads(Path(json_path).read_text())
    return {"wall_s": wall, "passed": result["passed"], "attribution": result["settings"]["attribution"]}


def measure(mode: str, *args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--blocks", type=int, default=32)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        result = child_plain(*rest) if mode == "plain" else child_trtdiff(*rest)
        result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        model_path = str(Path(tmp) / "convnet.onnx")
        onnx.save(build_convnet(args.blocks, args.size), model_path)
        model_bytes = Path(model_path).stat().st_size
        json_path = str(Path(tmp) / "r.json")
        plain: list[dict[str, Any]] = []
        variants: dict[str, list[dict[str, Any]]] = {label: [] for label in VARIANTS}
        for _ in range(args.repeats):  # round robin, so that a machine slowing down hits every variant alike
            plain.append(measure("plain", model_path))
            for label, flags in VARIANTS.items():
                variants[label].append(measure("trtdiff", model_path, json_path, *flags))
    report(plain, variants, model_bytes, args)


VARIANTS = {  # label -> extra flags
    "(as the issue writes it)": (),
    "--no-attribute": ("--no-attribute",),
    "--attribute": ("--attribute",),
    "--atol 1e-6 --rtol 0 (verdict fails)": ("--atol", "1e-6", "--rtol", "0"),
}


def report(plain: list[dict[str, Any]], variants: dict[str, list[dict[str, Any]]], model_bytes: int,
           args: argparse.Namespace) -> None:
    def med(rows: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    marked = plain[0]["marked_bytes"]
    budget = 2.5 * (marked + model_bytes)
    print(f"conv net: {args.blocks} x (Conv3x3 32ch + Relu) at {args.size}x{args.size}; "
          f"marked tensors {marked / 2**20:.0f} MiB, model {model_bytes / 2**20:.1f} MiB; medians of {args.repeats}")
    print(f"plain onnxruntime mark-all: wall {med(plain, 'wall_s'):.2f} s (run {med(plain, 'run_s'):.2f} s), "
          f"peak RSS {med(plain, 'peak_rss_bytes') / 2**20:.0f} MiB")
    for label, rows in variants.items():
        ratio = med(rows, "wall_s") / med(plain, "wall_s")
        rss = med(rows, "peak_rss_bytes")
        walls = ", ".join(f"{r['wall_s']:.2f}" for r in rows)
        print(f"trtdiff run --fp16 --mark-all --json {label}: wall {med(rows, 'wall_s'):.2f} s = {ratio:.2f}x "
              f"(target <= 4x: {'MET' if ratio <= 4 else 'NOT MET'}); peak RSS {rss / 2**20:.0f} MiB = "
              f"{rss / (marked + model_bytes):.2f}x of marked + model (target <= 2.5x = {budget / 2**20:.0f} MiB: "
              f"{'MET' if rss <= budget else 'NOT MET'})\n    verdict {'PASS' if rows[0]['passed'] else 'FAIL'}, "
              f"attribution {rows[0]['attribution']}; walls {walls}")


if __name__ == "__main__":
    main()
