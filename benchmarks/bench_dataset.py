"""Benchmark: `trtdiff run` over a data set against plain ONNX Runtime running the FP32 model and the
target model over the same samples in one process.

A small CNN (16 x (Conv 3x3 + Relu) at 3x64x64, 16 channels, then a pooled 10-way Gemm), the target
FP16 emulated (as `trtdiff run --emulate fp16` builds it), over 10, 100 and 1,000 generated samples
(each drawn as trtdiff draws it, in both variants). Each measurement is a fresh process; the
variants are measured round robin; the medians and their ratios are printed:

- outputs only: `trtdiff run --emulate fp16 --iterations N --no-attribute` vs plain ONNX Runtime
  running both models on every sample (target: <= 1.5x);
- every tensor: the same with `--mark-all` vs both models run with every node output marked
  (target: <= 4x);
- peak RSS of trtdiff at 1,000 samples against its peak at 10 (target: <= 1.15x).

Two clocks, both printed:
- whole process (what a user waits for): `python -m trtdiff run ...` against a plain Python script
  that imports numpy, onnx and ONNX Runtime, loads both models, opens a session for each and runs
  the samples; each timed from its start to its exit, peak RSS from os.wait4;
- after the common imports (stricter): both clocks start inside the process after numpy, onnx and
  ONNX Runtime are imported, so trtdiff's own imports, its target build, printing and the JSON
  result are all charged to it while the libraries both need are not.

Children run with Python bytecode cached, as an installed trtdiff has it (`child_env.py`), after one
untimed run of each variant.

    .venv/bin/python benchmarks/bench_dataset.py [--repeats 3] [--samples 10 100 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).parent))

from child_env import child_env, timed_child  # noqa: E402

CHANNELS, SIZE, BLOCKS = 16, 64, 16


def build_cnn() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    nodes, inits, x, width = [], [], "images", 3
    for i in range(BLOCKS):
        w = rng.normal(0, (2.0 / (9 * width)) ** 0.5, (CHANNELS, width, 3, 3)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"conv{i}.w"), numpy_helper.from_array(np.zeros(CHANNELS, np.float32), f"conv{i}.b")]
        nodes += [helper.make_node("Conv", [x, f"conv{i}.w", f"conv{i}.b"], [f"conv{i}"], name=f"conv{i}", pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"], name=f"relu{i}")]
        x, width = f"relu{i}", CHANNELS
    inits += [numpy_helper.from_array(rng.normal(0, 0.3, (CHANNELS, 10)).astype(np.float32), "fc.w"),
              numpy_helper.from_array(np.zeros(10, np.float32), "fc.b")]
    nodes += [helper.make_node("GlobalAveragePool", [x], ["pooled"], name="pool"),
              helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten"),
              helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc")]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _marked(model: onnx.ModelProto) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    listed = {o.name for o in copy.graph.output}
    copy.graph.output.extend(helper.make_empty_tensor_value_info(o) for n in copy.graph.node for o in n.output
                             if o not in listed)
    return copy


def _sample_rng(seed: int, index: int) -> np.random.Generator:
    """trtdiff's generator of sample `index` (trtdiff.dataset.sources.sample_rng; a test checks the
    two agree), written out so that the plain variant does not import trtdiff."""
    if index == 0:
        return np.random.default_rng(seed)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def child_plain(model_path: str, target_path: str, samples: int, mark_all: bool) -> dict[str, float]:
    """Both models on every sample, one session each, with the session options trtdiff's runner
    uses (the reference with graph optimisations off, the target with them on; idle worker threads
    sleep rather than spin, which on a shared machine is the faster choice for both variants)."""
    import onnxruntime as ort

    start = time.perf_counter()
    reference, target = onnx.load(model_path), onnx.load(target_path)
    if mark_all:
        reference, target = _marked(reference), _marked(target)
    off, on = ort.SessionOptions(), ort.SessionOptions()
    off.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    for options in (off, on):
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sessions = [ort.InferenceSession(reference.SerializeToString(), off),
                ort.InferenceSession(target.SerializeToString(), on)]
    for index in range(samples):
        feeds = {"images": _sample_rng(1, index).uniform(0, 1, (1, 3, SIZE, SIZE)).astype(np.float32)}
        for session in sessions:
            session.run(None, feeds)
    return {"wall_s": time.perf_counter() - start}


def trtdiff_args(model_path: str, json_path: str, samples: int, mark_all: bool) -> list[str]:
    return ["run", model_path, "--emulate", "fp16", "--iterations", str(samples), "--no-attribute", "--no-progress",
            "--json", json_path] + (["--mark-all"] if mark_all else [])


def child_trtdiff(model_path: str, json_path: str, samples: int, mark_all: bool) -> dict[str, Any]:
    import onnxruntime  # noqa: F401  (imported before the clock starts, as in the plain variant)

    args = trtdiff_args(model_path, json_path, samples, mark_all)
    start = time.perf_counter()
    from trtdiff.cli import cli  # trtdiff's own imports are charged to it

    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        try:
            cli(args, standalone_mode=False)
        except SystemExit:
            pass
    wall = time.perf_counter() - start
    result = json.loads(Path(json_path).read_text())
    return {"wall_s": wall, "samples": result["samples"]["count"], "tensors": len(result["tensors"])}


def measure(env: dict[str, str], *args: str) -> dict[str, Any]:
    """One child of this script: its own clock (after the common imports) and, from outside, the
    whole process's wall time and peak RSS."""
    whole = timed_child([sys.executable, __file__, "--child", *args], env)
    inside = json.loads(whole.pop("out").strip().splitlines()[-1])
    return {**inside, "whole_s": whole["wall_s"], "whole_rss": whole["rss"]}


def measure_cli(env: dict[str, str], model_path: str, json_path: str, samples: int, mark_all: bool) -> dict[str, Any]:
    """`python -m trtdiff run ...` as a user runs it, timed from start to exit."""
    command = [sys.executable, "-m", "trtdiff", *trtdiff_args(model_path, json_path, samples, mark_all)]
    whole = timed_child(command, env)
    result = json.loads(Path(json_path).read_text())
    if result["samples"]["count"] != samples:
        raise SystemExit(f"trtdiff compared {result['samples']['count']} samples, not {samples}")
    return {"whole_s": whole["wall_s"], "whole_rss": whole["rss"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        flag = rest[-1] == "mark-all"
        result = (child_plain(rest[0], rest[1], int(rest[2]), flag) if mode == "plain"
                  else child_trtdiff(rest[0], rest[1], int(rest[2]), flag))
        result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        model_path, target_path, json_path = (str(Path(tmp) / n) for n in ("cnn.onnx", "target.onnx", "r.json"))
        model = build_cnn()
        onnx.save(model, model_path)
        from trtdiff.precision.apply import apply_plan
        from trtdiff.precision.plan import PrecisionPlan

        onnx.save(apply_plan(model, PrecisionPlan.from_dict({"default": "fp16", "mode": "emulated"})).model, target_path)
        env = child_env(Path(tmp) / "bytecode")
        for scope in ("outputs", "mark-all"):  # untimed: fills the bytecode cache
            measure(env, "plain", model_path, target_path, "1", scope)
            measure(env, "trtdiff", model_path, json_path, "1", scope)
            measure_cli(env, model_path, json_path, 1, scope == "mark-all")
        rows: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        for _ in range(args.repeats):  # round robin: a machine slowing down hits every variant alike
            for count in args.samples:
                for scope in ("outputs", "mark-all"):
                    rows.setdefault(("plain", scope, count), []).append(
                        measure(env, "plain", model_path, target_path, str(count), scope))
                    rows.setdefault(("trtdiff", scope, count), []).append(
                        measure(env, "trtdiff", model_path, json_path, str(count), scope))
                    rows.setdefault(("cli", scope, count), []).append(
                        measure_cli(env, model_path, json_path, count, scope == "mark-all"))
    report(rows, args)


def report(rows: dict[tuple[str, str, int], list[dict[str, Any]]], args: argparse.Namespace) -> None:
    def med(key: tuple[str, str, int], field: str) -> float:
        return statistics.median(r[field] for r in rows[key])

    print(f"CNN {BLOCKS} x (Conv3x3 {CHANNELS}ch + Relu) at 3x{SIZE}x{SIZE}, target FP16 emulated; "
          f"medians of {args.repeats}, each a fresh process")
    limits = {"outputs": 1.5, "mark-all": 4.0}
    clocks = (("whole process", ("plain", "whole_s"), ("cli", "whole_s")),
              ("after the common imports", ("plain", "wall_s"), ("trtdiff", "wall_s")))
    for clock, (plain_kind, plain_field), (ours_kind, ours_field) in clocks:
        print(f"{clock}:")
        for scope in ("outputs", "mark-all"):
            for count in args.samples:
                plain, ours = med((plain_kind, scope, count), plain_field), med((ours_kind, scope, count), ours_field)
                ratio = ours / plain
                print(f"  {scope:8s} {count:5d} samples: plain onnxruntime {plain:7.2f} s, trtdiff run {ours:7.2f} s = "
                      f"{ratio:.2f}x (target <= {limits[scope]}x: {'MET' if ratio <= limits[scope] else 'NOT MET'})")
    for scope in ("outputs", "mark-all"):
        low, high = min(args.samples), max(args.samples)
        first, last = (med(("cli", scope, n), "whole_rss") for n in (low, high))
        growth = last / first
        print(f"{scope:8s} peak RSS of `trtdiff run` (whole process) {first / 2**20:.0f} MiB at {low} samples, "
              f"{last / 2**20:.0f} MiB at {high}: {growth:.3f}x (target <= 1.15x: {'MET' if growth <= 1.15 else 'NOT MET'})")


if __name__ == "__main__":
    main()
