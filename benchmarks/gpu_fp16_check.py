"""Check on a real GPU that trtdiff's FP16 emulation (FP32 compute, every tensor rounded to FP16)
matches native FP16 execution: same overflow (inf) pattern, same NaNs, differences within FP16
rounding. Needs PyTorch with CUDA; run on demand:

    python benchmarks/gpu_fp16_check.py [model.onnx]    # default: fixtures/demo_convnet.onnx

Native FP16 here is PyTorch on CUDA with FP16 weights and activations (cuDNN convolutions, FP16
storage of every tensor), interpreting the ONNX graph op by op. Only the ops the bundled fixtures
use are implemented (Conv, Relu, Mul, Add, GlobalAveragePool, Flatten, Gemm, Softmax).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trtdiff.model import load_model, with_outputs  # noqa: E402
from trtdiff.precision.apply import apply_plan  # noqa: E402
from trtdiff.precision.plan import PrecisionPlan  # noqa: E402
from trtdiff.runners.onnxrt import OnnxRuntimeRunner  # noqa: E402


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def run_native_fp16(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    env = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()).cuda().half() for i in model.graph.initializer}
    env.update({k: torch.from_numpy(v).cuda().half() for k, v in feeds.items()})
    for node in model.graph.node:
        x = [env[n] for n in node.input]
        if node.op_type == "Conv":
            pads = _attr(node, "pads", [0, 0, 0, 0])
            y = F.conv2d(x[0], x[1], x[2] if len(x) > 2 else None, padding=(pads[0], pads[1]))
        elif node.op_type == "Relu":
            y = torch.relu(x[0])
        elif node.op_type == "Mul":
            y = x[0] * x[1]
        elif node.op_type == "Add":
            y = x[0] + x[1]
        elif node.op_type == "GlobalAveragePool":
            y = x[0].mean(dim=(2, 3), keepdim=True)
        elif node.op_type == "Flatten":
            y = x[0].flatten(int(_attr(node, "axis", 1)))
        elif node.op_type == "Gemm":
            y = x[0] @ (x[1].t() if _attr(node, "transB", 0) else x[1]) + x[2]
        elif node.op_type == "Softmax":
            y = torch.softmax(x[0], dim=int(_attr(node, "axis", -1)))
        else:
            raise SystemExit(f"op {node.op_type} is not implemented in this check")
        env[node.output[0]] = y.half()
    return {n.output[0]: env[n.output[0]].float().cpu().numpy() for n in model.graph.node}


def run_emulated(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    emulated = apply_plan(model, PrecisionPlan(default="fp16", mode="emulated")).model
    names = [n.output[0] for n in model.graph.node]
    with OnnxRuntimeRunner(with_outputs(emulated, names)) as runner:
        return {k: v for k, v in runner.infer(feeds).items() if k in names}


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parent.parent / "fixtures" / "demo_convnet.onnx")
    model = load_model(path)
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    feeds = {model.graph.input[0].name: np.random.default_rng(1).uniform(0, 1, shape).astype(np.float32)}
    native = run_native_fp16(model, feeds)
    emulated = run_emulated(model, feeds)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}; model {path}")
    print(f"{'tensor':12s} {'inf native':>10s} {'inf emul':>9s} {'nan native':>10s} {'nan emul':>9s} "
          f"{'non-finite differ':>17s} {'max |diff| in ulps at max|t|':>28s}")
    for name, a in native.items():
        b = emulated[name]
        differ = int(((~np.isfinite(a)) != (~np.isfinite(b))).sum() + (np.isnan(a) != np.isnan(b)).sum())
        both = np.isfinite(a) & np.isfinite(b)
        scale = float(np.abs(b[both]).max()) if both.any() else 0.0
        ulp = float(np.spacing(np.float16(min(scale, 65504.0))))  # FP16 spacing at the tensor's largest value
        worst = float(np.abs(a[both] - b[both]).max() / ulp) if both.any() and ulp > 0 else float("nan")
        print(f"{name:12s} {int(np.isinf(a).sum()):10d} {int(np.isinf(b).sum()):9d} {int(np.isnan(a).sum()):10d} "
              f"{int(np.isnan(b).sum()):9d} {differ:17d} {worst:28.2f}")


if __name__ == "__main__":
    main()
