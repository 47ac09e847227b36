"""Benchmark: what the regression gate costs, as whole processes, side by side.

1. `trtdiff check MODEL --baseline DIR` against the `trtdiff run` it wraps (same model, data,
   target: the data-set benchmark's CNN, `--emulate fp16`, 100 generated samples, outputs only, no
   attribution), measured round robin, each run a fresh process (target: check <= 1.1x run).
2. `trtdiff diff OLD.json NEW.json` on two 2,000-tensor results (target: under 1 s wall).

Wall and CPU time (user + system) of each whole process; medians printed,
with the ratio of the medians and the median of the pairwise ratios.

    .venv/bin/python benchmarks/bench_gate.py [--repeats 7] [--samples 100] [--tensors 2000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dataset import build_cnn  # noqa: E402  (the data-set benchmark's model)

TRTDIFF = [sys.executable, "-m", "trtdiff"]
HISTOGRAM_BINS = 19


def timed(command: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one whole process (its exit code 0 or 1: pass or accuracy mismatch);
    CPU is user + system time of the process and its children, which a loaded machine disturbs less."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def round_robin(commands: dict[str, list[str]], repeats: int) -> dict[str, list[tuple[float, float]]]:
    for command in commands.values():  # warm-up: file cache, numba's compiled kernel
        timed(command)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            times[name].append(timed(command))
    return times


def synthetic_result(tensors: int, grown: int | None) -> dict:
    """A `trtdiff run --json`-shaped result of a chain of `tensors` tensors; tensor `grown` and
    everything after it carry 5x the error."""
    rows = []
    for i in range(tensors):
        error = 1e-4 * (5 if grown is not None and i >= grown else 1) * (1 + (i % 7) / 10)
        histogram = [0] * HISTOGRAM_BINS
        histogram[0] = 4096
        rows.append({"name": f"t{i}", "node": f"n{i}", "op_type": "Conv", "index": i, "shape": [1, 4096],
                     "dtype": "float32", "status": "compared", "target_dtype": "float32",
                     "is_output": i == tensors - 1, "passed": True, "atol": 1e-3, "rtol": 1e-3, "size": 4096,
                     "max_abs": error, "mean_abs": error / 4, "median_abs": error / 5, "p99_abs": error / 2,
                     "max_rel": error, "mean_rel": error / 8, "cosine": 1 - error ** 2, "snr_db": 60.0,
                     "mismatches": 0, "nan_ref": 0, "nan_target": 0, "inf_ref": 0, "inf_target": 0,
                     "ref_max_abs": 3.0, "histogram": histogram, "local": None, "hints": []})
    tolerances = {"atol": 1e-3, "rtol": 1e-3, "check": "elementwise", "rel_floor": 1e-6}
    return {"model": "synthetic.onnx", "passed": True, "outputs": [f"t{tensors - 1}"], "tensors": rows,
            "settings": {"reference": "onnxruntime fp32", "target": "fp16", "tolerances": tolerances}}


def report(label: str, times: dict[str, list[tuple[float, float]]], pair: tuple[str, str] | None = None) -> None:
    for name, values in times.items():
        wall, cpu = [v[0] for v in values], [v[1] for v in values]
        print(f"  {name:<36} wall median {statistics.median(wall):6.3f} s (min {min(wall):.3f}, max "
              f"{max(wall):.3f}), CPU median {statistics.median(cpu):6.3f} s, n={len(values)}")
    if pair:
        for kind, index in (("wall", 0), ("CPU", 1)):
            a, b = [v[index] for v in times[pair[0]]], [v[index] for v in times[pair[1]]]
            ratios = [x / y for x, y in zip(a, b)]
            print(f"  {label}, {kind}: ratio of medians {statistics.median(a) / statistics.median(b):.3f}x, "
                  f"median of pairwise ratios {statistics.median(ratios):.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--tensors", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trtdiff-bench-gate-") as folder:
        work = Path(folder)
        model = work / "cnn.onnx"
        onnx.save(build_cnn(), str(model))
        options = ["--emulate", "fp16", "--iterations", str(args.samples), "--no-attribute", "--no-progress"]
        subprocess.run([*TRTDIFF, "baseline", "save", str(model), *options, "-o", str(work / "base")],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"check vs run: the data-set benchmark's CNN, {args.samples} samples, --emulate fp16, outputs only "
              f"({os.cpu_count()} CPUs)")
        times = round_robin({
            "trtdiff run": [*TRTDIFF, "run", str(model), *options],
            "trtdiff check --baseline": [*TRTDIFF, "check", str(model), "--baseline", str(work / "base"),
                                         "--no-progress"],
        }, args.repeats)
        report("check / run (target <= 1.1x)", times, ("trtdiff check --baseline", "trtdiff run"))
        old, new = work / "old.json", work / "new.json"
        old.write_text(json.dumps(synthetic_result(args.tensors, None)))
        new.write_text(json.dumps(synthetic_result(args.tensors, math.ceil(args.tensors * 0.4))))
        print(f"diff of two {args.tensors:,}-tensor results ({old.stat().st_size / 1e6:.1f} MB each)")
        diff_times = round_robin({"trtdiff diff": [*TRTDIFF, "diff", str(old), str(new)],
                                  "trtdiff --version (start-up alone)": [*TRTDIFF, "--version"]}, args.repeats)
        report("diff", diff_times)
        walls = [v[0] for v in diff_times["trtdiff diff"]]
        print(f"  target: trtdiff diff under 1 s: wall median {statistics.median(walls):.3f} s")


if __name__ == "__main__":
    main()
