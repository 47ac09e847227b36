"""Benchmark: whole-process `trtdiff run` against a plain ONNX Runtime inference of the same model
and input, each a fresh process, side by side (A B A B ...), medians; wall time and peak RSS from
the operating system's accounting of each child (os.wait4).

Cases (issue 17's targets):
- `--fp16 --mark-all --json` on the generated conv net (marked tensors >= 500 MB) and on the PP-OCRv4
  detector (a real trained model, 330 tensors; shipped by rapidocr-onnxruntime, the bench extra)
  against a plain mark-all inference: wall <= 2.5x, peak RSS <= 2 x (one side's marked bytes) + model;
- `--emulate int8 --mark-all` and `--int8 --mark-all` on the same models: wall <= 4x plain mark-all;
- an outputs-only `--fp16 --json` run of a 2,000-node chain against the plain inference of its
  outputs: wall <= 1.5x.

Children run with Python bytecode cached, as an installed trtdiff has it (`child_env.py`), each
command once untimed before its timed runs.

    .venv/bin/python benchmarks/bench_run.py [--repeats 5] [--cases convnet,det,chain,int8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).parent))

from child_env import child_env, timed_child  # noqa: E402


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


def build_chain(nodes: int, width: int = 64) -> onnx.ModelProto:
    """nodes/2 x (MatMul width x width + Tanh) on a [16, width] input: many small tensors."""
    rng = np.random.default_rng(0)
    graph_nodes, inits, x = [], [], "x"
    for i in range(nodes // 2):
        w = rng.normal(0, width ** -0.5, (width, width)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        graph_nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"mm{i}"], name=f"mm{i}"))
        graph_nodes.append(helper.make_node("Tanh", [f"mm{i}"], [f"act{i}"], name=f"act{i}"))
        x = f"act{i}"
    graph = helper.make_graph(graph_nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [16, width])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [16, width])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _marked(model: onnx.ModelProto, names: set[str] | None = None) -> onnx.ModelProto:
    """Every node output marked as a graph output (`names`: only those, e.g. the reference's
    tensors in a target whose inserted Cast nodes trtdiff does not fetch)."""
    outputs = {o.name for o in model.graph.output}
    for name in (o for n in model.graph.node for o in n.output if o and o not in outputs):
        if names is None or name in names:
            model.graph.output.append(helper.make_empty_tensor_value_info(name))
    return model


def plain_child(model_path: str, inputs_path: str, mark_all: str, target_path: str = "") -> None:
    """Plain ONNX Runtime in this (child) process: load, mark every node output if asked, one
    inference; prints the bytes of the outputs. With `target_path` (the floor of any tool that
    runs both models): the model with graph optimisations off, as trtdiff's reference runs, then
    the target model trtdiff builds, with them on, one after the other; nothing is compared."""
    import onnxruntime as ort

    with np.load(inputs_path) as data:
        feeds = {k: data[k] for k in data.files}
    if not target_path:
        model = onnx.load(model_path)
        model = _marked(model) if mark_all == "1" else model
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        print(json.dumps({"marked_bytes": sum(np.asarray(o).nbytes for o in session.run(None, feeds))}))
        return
    off = ort.SessionOptions()
    off.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    reference_tensors: set[str] = set()
    for path, options in ((model_path, off), (target_path, ort.SessionOptions())):
        model = onnx.load(path)
        if mark_all == "1":  # the target: the tensors the reference has, as trtdiff fetches them
            model = _marked(model, reference_tensors or None)
            reference_tensors = {o.name for o in model.graph.output}
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        outputs = session.run(None, feeds)
        del session, outputs
    print(json.dumps({"marked_bytes": 0}))


def case(label: str, model: Path, inputs: Path, flags: list[str], plain_mark_all: bool, repeats: int,
         target: float, json_path: Path, env: dict[str, str], target_model: Path | None = None) -> dict[str, Any]:
    """trtdiff against the plain inference; with `target_model`, also the floor: both models run
    plainly in one process (what any tool comparing them must at least do), against the same."""
    plain_cmd = [sys.executable, __file__, "--plain", str(model), str(inputs), "1" if plain_mark_all else "0"]
    floor_cmd = plain_cmd + [str(target_model)] if target_model else []
    mine_cmd = [sys.executable, "-m", "trtdiff", "run", str(model), "--load-inputs", str(inputs), *flags,
                "--json", str(json_path), "-q"]
    plain, mine, floor = [], [], []
    timed_child(plain_cmd, env), timed_child(mine_cmd, env)  # untimed: fills the bytecode cache, warms the disk cache
    if floor_cmd:
        timed_child(floor_cmd, env)
    for _ in range(repeats):  # round robin: a machine slowing down hits every variant alike
        plain.append(timed_child(plain_cmd, env))
        mine.append(timed_child(mine_cmd, env))
        if floor_cmd:
            floor.append(timed_child(floor_cmd, env))
    marked = json.loads(plain[0]["out"].strip().splitlines()[-1])["marked_bytes"]
    ratios = [m["wall_s"] / p["wall_s"] for m, p in zip(mine, plain)]
    row = {"case": label, "plain_s": statistics.median(p["wall_s"] for p in plain),
           "trtdiff_s": statistics.median(m["wall_s"] for m in mine), "ratio": statistics.median(ratios),
           "target": target, "rss": statistics.median(m["rss"] for m in mine), "marked": marked,
           "model_bytes": model.stat().st_size}
    rss_limit = 2 * marked + row["model_bytes"]
    memory = (f"peak RSS {row['rss'] / 2**20:.0f} MiB vs 2 x marked {marked / 2**20:.0f} MiB + model "
              f"{row['model_bytes'] / 2**20:.1f} MiB = {rss_limit / 2**20:.0f} MiB "
              f"({'within' if row['rss'] <= rss_limit else 'OVER'})" if plain_mark_all
              else f"peak RSS {row['rss'] / 2**20:.0f} MiB")
    print(f"{label}: trtdiff {row['trtdiff_s']:.2f} s, plain {row['plain_s']:.2f} s, ratio {row['ratio']:.2f}x "
          f"(pairwise {min(ratios):.2f}-{max(ratios):.2f}; target <= {target}x: {'MET' if row['ratio'] <= target else 'NOT MET'}); "
          f"{memory}", flush=True)
    if floor:
        floors = [f["wall_s"] / p["wall_s"] for f, p in zip(floor, plain)]
        row["floor"] = statistics.median(floors)
        print(f"  floor: the reference (optimisations off) and trtdiff's target model (on) run plainly in one "
              f"process, nothing compared: {statistics.median(f['wall_s'] for f in floor):.2f} s = "
              f"{row['floor']:.2f}x the plain inference (pairwise {min(floors):.2f}-{max(floors):.2f})", flush=True)
    return row


def models(tmp: Path, names: list[str]) -> dict[str, tuple[Path, Path]]:
    made: dict[str, tuple[Path, Path]] = {}
    rng = np.random.default_rng(1)
    if "convnet" in names or "int8" in names:
        onnx.save(build_convnet(32, 256), tmp / "convnet.onnx")
        np.savez(tmp / "convnet.npz", images=rng.uniform(0, 1, (1, 32, 256, 256)).astype(np.float32))
        made["convnet"] = (tmp / "convnet.onnx", tmp / "convnet.npz")
    if "det" in names or "int8" in names:
        import real_models

        made["det"] = (real_models.model_path("ppocr_v4_det"), real_models.write_inputs("ppocr_v4_det", tmp / "det.npz"))
    if "chain" in names:
        onnx.save(build_chain(2000), tmp / "chain.onnx")
        np.savez(tmp / "chain.npz", x=rng.standard_normal((16, 64)).astype(np.float32))
        made["chain"] = (tmp / "chain.onnx", tmp / "chain.npz")
    return made


def fp16_target(model_path: Path, folder: Path) -> Path:
    """The target `trtdiff run --fp16` builds on a CPU-only ONNX Runtime (FP16 emulated), saved in
    `folder` for the floor."""
    from trtdiff.precision import PrecisionPlan, apply_plan

    path = folder / (model_path.stem + ".fp16-emulated.onnx")
    plan = PrecisionPlan.from_dict({"default": "fp16", "mode": "emulated"})
    onnx.save(apply_plan(onnx.load(str(model_path)), plan).model, str(path))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", default="convnet,det,chain,int8")
    parser.add_argument("--plain", nargs="+", metavar="MODEL INPUTS MARK_ALL [TARGET]")
    args = parser.parse_args()
    if args.plain:
        plain_child(*args.plain)
        return
    names = args.cases.split(",")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        made, out, env = models(tmp, names), tmp / "r.json", child_env(tmp / "bytecode")
        print(f"medians of {args.repeats}, whole processes side by side")
        for name in ("convnet", "det"):
            if name in names:
                case(f"{name} --fp16 --mark-all", *made[name], ["--fp16", "--mark-all"], True, args.repeats, 2.5,
                     out, env, fp16_target(made[name][0], tmp))
        if "det" in names:  # its verdict fails, so attribution runs: the same without it
            case("det --fp16 --mark-all --no-attribute", *made["det"], ["--fp16", "--mark-all", "--no-attribute"],
                 True, args.repeats, 2.5, out, env)
        if "chain" in names:
            case("chain (2,000 nodes) --fp16, outputs only", *made["chain"], ["--fp16"], False, args.repeats, 1.5,
                 out, env, fp16_target(made["chain"][0], tmp))
        if "int8" in names:
            for name, flags in (("convnet", []), ("det", []), ("det", ["--no-attribute"])):
                for precision in (["--emulate", "int8"], ["--int8"]):
                    chosen = [*precision, "--mark-all", *flags]
                    case(f"{name} {' '.join(chosen)}", *made[name], chosen, True, args.repeats, 4.0, out, env)


if __name__ == "__main__":
    main()
