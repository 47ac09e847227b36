"""bench_bisect.py's real-model and density parts (run through it: `--real`, `--sweep`).

- real: `trtdiff bisect MODEL --fp16 --load-inputs X.npz --json` as a whole process, at the default
  tolerances (1e-3) and at --atol/--rtol 1e-2, on the PP-OCRv4 recognizer and detector that
  rapidocr-onnxruntime ships, on drawn text: evaluations, FP32 set size, wall time, and seconds per evaluation
  (wall minus a `--max-evals 1` run of the same command, over the evaluations after the first);
  next to onnxconverter-common's `auto_convert_mixed_precision` on the same model, input and
  tolerances, in its own process, stopped after 10 minutes.
- sweep: the search alone over synthetic monotone functions (k needed nodes of n at random, a set
  passes when it holds all of them), k/n from 1% to 70%, with a ranking that knows nothing and with
  an informative one: evaluations against the target k*log2(n/k) + 2k + 10 and the information
  bound log2 C(n, k).
"""

from __future__ import annotations

import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).parent))

import real_models  # noqa: E402

OCC_LIMIT_S = 600
TOLERANCES = {"1e-3": (), "1e-2": ("--atol", "1e-2", "--rtol", "1e-2")}


def trtdiff_bisect(model: Path, inputs: Path, flags: tuple[str, ...], out: Path) -> dict[str, Any]:
    """One whole-process `trtdiff bisect` run: its JSON plus the wall time."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "trtdiff", "bisect", str(model), "--fp16", "--load-inputs",
                           str(inputs), "--json", str(out), "--no-progress", "-q", *flags],
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode > 1:
        raise SystemExit(f"trtdiff bisect failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    data = json.loads(out.read_text())
    return {"wall_s": wall, "evaluations": data["evaluations"], "fp32": len(data["fp32_nodes"]),
            "status": data["status"], "candidates": data["candidates"], "phases": data["evaluations_by_phase"]}


def occ_child(model_path: str, inputs_path: str, atol: float, rtol: float) -> dict[str, Any]:
    """onnxconverter-common's own search in this process, its conversions (= evaluations) counted."""
    from occ_search import run_occ

    with np.load(inputs_path) as data:
        feeds = {k: data[k] for k in data.files}
    start = time.perf_counter()
    found = run_occ(onnx.load(model_path), feeds, rtol, atol)
    return {"evaluations": found["evaluations"], "fp32": len(found["fp32"]), "wall_s": time.perf_counter() - start}


def occ(model: Path, inputs: Path, atol: float, rtol: float) -> dict[str, Any]:
    try:
        done = subprocess.run([sys.executable, __file__, "--occ", str(model), str(inputs), str(atol), str(rtol)],
                              capture_output=True, text=True, timeout=OCC_LIMIT_S)
    except subprocess.TimeoutExpired:
        return {"note": f"did not finish in {OCC_LIMIT_S // 60} minutes"}
    if done.returncode != 0:
        return {"note": "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1][:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_real(names: list[str], with_occ: bool = True) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            model = real_models.model_path(name)
            inputs = real_models.write_inputs(name, Path(tmp) / f"{name}.npz")
            for label, flags in TOLERANCES.items():
                found = trtdiff_bisect(model, inputs, flags, Path(tmp) / "r.json")
                setup = trtdiff_bisect(model, inputs, (*flags, "--max-evals", "1"), Path(tmp) / "s.json")["wall_s"]
                per_eval = (found["wall_s"] - setup) / max(found["evaluations"] - 1, 1)
                k, n = found["fp32"], found["candidates"]
                row = {"model": name, "tolerance": label, **found, "s_per_eval": per_eval,
                       "target": k * math.log2(n / k) + 2 * k + 10 if k else 10.0}
                tol = 1e-3 if label == "1e-3" else 1e-2
                row["occ"] = occ(model, inputs, tol, tol) if with_occ else {"note": "skipped"}
                rows.append(row)
                print_real_row(row)
    return rows


def print_real_row(r: dict[str, Any]) -> None:
    other = r["occ"]
    theirs = (other.get("note") or f"{other['fp32']} nodes, {other['evaluations']} evaluations, {other['wall_s']:.0f} s")
    per_eval = f"{r['s_per_eval']:.2f} s per evaluation" if r["evaluations"] > 1 else "one evaluation"
    print(f"{r['model']:13} tol {r['tolerance']}: trtdiff {r['status']}, {r['fp32']} of {r['candidates']} nodes in FP32, "
          f"{r['evaluations']} evaluations (target <= {r['target']:.0f}: {'MET' if r['evaluations'] <= r['target'] else 'NOT MET'}; "
          f"phases {r['phases']}), {r['wall_s']:.0f} s, {per_eval} | "
          f"onnxconverter-common: {theirs}", flush=True)


def sweep(sizes: tuple[int, ...] = (100, 400), trials: int = 20) -> None:
    from trtdiff.bisect.search import minimal_fp32_set
    from trtdiff.bisect.state import Memo, SearchState

    print(f"{'n':>5} {'k':>4} {'k/n':>5} {'ranking':12} {'evals mean':>10} {'max':>5} {'target':>7} {'log2 C(n,k)':>11}")
    for n in sizes:
        nodes = [f"n{i}" for i in range(n)]
        for density in (0.01, 0.03, 0.1, 0.2, 0.35, 0.5, 0.7):
            k = max(1, round(density * n))
            rng = random.Random(n * 1000 + k)
            for label in ("uninformed", "informative"):
                counts = []
                for _ in range(trials):
                    needed = set(rng.sample(nodes, k))
                    if label == "uninformed":
                        ranking = rng.sample(nodes, n)
                    else:
                        score = {x: rng.random() + (0.5 if x in needed else 0.0) for x in nodes}
                        ranking = sorted(nodes, key=lambda x: -score[x])
                    memo = Memo(lambda s, needed=needed: needed <= s, SearchState("sweep"))
                    counts.append(minimal_fp32_set(ranking, memo, gallop=label == "informative").evaluations)
                target = k * math.log2(n / k) + 2 * k + 10
                info = math.log2(math.comb(n, k))
                print(f"{n:>5} {k:>4} {k / n:>5.0%} {label:12} {statistics.mean(counts):>10.1f} {max(counts):>5} "
                      f"{target:>7.1f} {info:>11.1f}", flush=True)


if __name__ == "__main__" and sys.argv[1:2] == ["--occ"]:
    print(json.dumps(occ_child(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))))
