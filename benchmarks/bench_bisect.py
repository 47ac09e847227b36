"""Benchmark: trtdiff's FP32-set search against onnxconverter-common and Polygraphy's algorithm.

Side by side on the same models (the planted-fault fixtures, at three sizes), the same input and
the same tolerance (numpy.allclose with atol 1e-2, rtol 0 on every output):

- occ:        onnxconverter-common's `auto_convert_mixed_precision` itself (segment halving); its
              evaluations are its calls to `convert_float_to_float16`, its set the final block list;
- poly-first, poly-last: Polygraphy `debug precision`'s bisection over "the first N / last N
              layers in higher precision", reproduced here (it cannot run without TensorRT);
- trtdiff:    `trtdiff.bisect.search.minimal_fp32_set`, seeded by a local-error ranking (each node
              run alone in FP16 on the reference's inputs: one small run per node, reported apart)
              and, as a worst case, by plain graph order.

Every algorithm evaluates a set the same way: onnxconverter-common's FP16 conversion with that set
blocked, run on ONNX Runtime CPU, compared with the FP32 run. The trtdiff and Polygraphy searches
are also run over trtdiff's own precision plans (native and emulated FP16; `--no-plans` skips them),
where the ranking is the one `trtdiff bisect` uses (attribution's `local_error_ranking`, consumers of
overflowing tensors moved up), plus the project's demo ConvNet at `trtdiff run`'s default tolerances.

Target (issue 5): an FP32 set no larger than theirs with at most a third of their evaluations. Each
row says whether the expected (planted) set was found; the summary compares per model.

Issue 17 adds (benchmarks/bisect_real.py): `--real`, `trtdiff bisect` on the PP-OCRv4 recognizer and
detector shipped by rapidocr-onnxruntime at 1e-3 and 1e-2 next to onnxconverter-common (10 minutes
at most each), and `--sweep`, the search's evaluations at densities 1%-70% on synthetic monotone
functions against k*log2(n/k) + 2k + 10.

Run: python benchmarks/bench_bisect.py [--json out.json] [--no-plans]   (needs `pip install -e .[bench]`)
     python benchmarks/bench_bisect.py --sweep          (seconds)
     python benchmarks/bench_bisect.py --real [--no-occ] [--models ppocr_v4_rec,ppocr_v4_det]   (an hour with occ)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import math
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "fixtures" / "bisect"))
sys.path.insert(0, str(Path(__file__).parent))

import build_bisect_fixtures as fixtures  # noqa: E402
from occ_search import run_occ  # noqa: E402

from trtdiff.bisect.search import minimal_fp32_set  # noqa: E402
from trtdiff.bisect.state import Memo, SearchState  # noqa: E402

SIZES = (2, 12, 24)  # filler blocks: about 25, 90 and 170 nodes
# paired_overflow is left out: ONNX Runtime's CPU provider runs Mul/Sqrt of an FP16 model through
# FP32 kernels (inserted casts, then merged), so its activation overflow never shows there.
KINDS = ("one_culprit", "two_culprits", "amplified_culprit")


def infer(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def occ_convert(model: onnx.ModelProto, block: list[str]) -> onnx.ModelProto:
    from onnxconverter_common import float16

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return float16.convert_float_to_float16(model, keep_io_types=True, node_block_list=list(block))


def passes(ref: list[np.ndarray], got: list[np.ndarray]) -> bool:
    return all(np.allclose(r, g.astype(np.float32), rtol=fixtures.RTOL, atol=fixtures.ATOL) for r, g in zip(ref, got))


def occ_evaluator(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> Callable[[frozenset[str]], bool]:
    ref = infer(model, feeds)
    return lambda fp32: passes(ref, infer(occ_convert(model, sorted(fp32)), feeds))


def run_polygraphy(order: list[str], evaluate: Callable[[frozenset[str]], bool], forward: bool) -> dict[str, object]:
    """Polygraphy's BisectMarker, reproduced: start with all N layers marked, then bisect on N
    (floor towards 'bad' on success, ceil on failure) until good and bad are 1 apart."""
    total = len(order)
    good, bad, marked, evaluations = total + 1, 0, total, 0

    def chosen(n: int) -> list[str]:
        return order[:n] if forward else order[total - n:]

    while True:
        evaluations += 1
        ok = evaluate(frozenset(chosen(marked)))
        if ok:
            good = marked
        else:
            bad = marked
        previous = marked
        marked = int((math.floor if ok else math.ceil)((good + bad) / 2.0))
        if previous == marked or abs(good - bad) <= 1 or marked > total:
            break
    return {"fp32": chosen(good) if good <= total else None, "evaluations": evaluations}


def local_ranking(model: onnx.ModelProto, feeds: dict[str, np.ndarray],
                  convert: Callable[[onnx.ModelProto], onnx.ModelProto] | None = None) -> list[str]:
    """Nodes by the scaled error each adds alone: the node converted to FP16 (by `convert`,
    default onnxconverter-common), fed the reference's own inputs (attribution's local error)."""
    convert = convert or (lambda single: occ_convert(single, []))
    from trtdiff.bisect.graph import extract
    from trtdiff.model import inferred_value_info, with_outputs

    names = [o for n in model.graph.node for o in n.output]
    marked = with_outputs(model, names)
    session_out = [o.name for o in marked.graph.output]
    tensors = dict(zip(session_out, infer(marked, feeds)))
    tensors.update(feeds)
    infos = inferred_value_info(model)
    weights = {i.name for i in model.graph.initializer}
    scores = {}
    for node in model.graph.node:
        inputs = list(dict.fromkeys(i for i in node.input if i and i not in weights))
        single = extract(model, inputs, list(node.output), infos=infos, nodes=[node])
        got = infer(convert(single), {i: tensors[i] for i in inputs})
        ref = [tensors[o] for o in node.output]
        scores[node.name] = max(_scaled_error(g, r) for g, r in zip(got, ref))
    return sorted(scores, key=lambda n: -scores[n])


def _scaled_error(got: np.ndarray, ref: np.ndarray) -> float:
    """max |error| / max |reference|: the error relative to the tensor's scale (inf/NaN: inf)."""
    error = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    if error.size == 0:
        return 0.0
    if not np.all(np.isfinite(error)):
        return math.inf
    return float(error.max() / max(float(np.abs(ref).max()), 1e-12))


def run_trtdiff(ranking: list[str], evaluate: Callable[[frozenset[str]], bool],
                gallop: bool = True) -> dict[str, object]:
    memo = Memo(evaluate, SearchState("bench"))
    result = minimal_fp32_set(ranking, memo, gallop=gallop)
    return {"fp32": list(result.fp32), "evaluations": result.evaluations, "status": result.status}


def bench_model(kind: str, blocks: int) -> list[dict[str, object]]:
    model = fixtures.build(kind, blocks)
    feeds = fixtures.feeds()
    order = [n.name for n in model.graph.node]
    evaluate = occ_evaluator(model, feeds)
    rows = []

    def row(name: str, fn: Callable[[], dict[str, object]], extra: str = "") -> None:
        start = time.perf_counter()
        found = fn()
        fp32 = found["fp32"]
        rows.append({"model": f"{kind}[{len(order)}]", "algorithm": name,
                     "fp32_size": None if fp32 is None else len(fp32),
                     "evaluations": found["evaluations"], "seconds": round(time.perf_counter() - start, 2),
                     "found_expected": fp32 is not None and set(fixtures.EXPECTED[kind]) <= set(fp32), "note": extra,
                     "fp32": fp32})

    row("occ auto_convert_mixed_precision", lambda: run_occ(model, feeds, max(fixtures.RTOL, 1e-12), fixtures.ATOL))
    row("polygraphy first-N (reproduced)", lambda: run_polygraphy(order, evaluate, True))
    row("polygraphy last-N (reproduced)", lambda: run_polygraphy(order, evaluate, False))
    start = time.perf_counter()
    ranking = local_ranking(model, feeds)
    ranking_seconds = time.perf_counter() - start
    row("trtdiff (local-error ranking)", lambda: run_trtdiff(ranking, evaluate),
        f"+ ranking: {len(order)} single-node runs, {ranking_seconds:.2f}s")
    row("trtdiff (graph order, no ranking)", lambda: run_trtdiff(order, evaluate, gallop=False))
    return rows


def _plan(mode: str, out_of_range: str = "clamp") -> Any:
    from trtdiff.precision.plan import PrecisionPlan

    return PrecisionPlan(default="fp16", mode=mode, out_of_range=out_of_range)


def plan_evaluator(model: onnx.ModelProto, feeds: dict[str, np.ndarray], plan: Any,
                   atol: float = fixtures.ATOL, rtol: float = fixtures.RTOL) -> Callable[[frozenset[str]], bool]:
    """Evaluate an FP32 set over trtdiff's own plans, as `trtdiff bisect` does."""
    from trtdiff.bisect.evaluate import onnxruntime_infer, run_plan
    from trtdiff.result import Tolerances

    run = onnxruntime_infer()
    reference = run(model, feeds)
    tolerances = Tolerances(atol, rtol, "elementwise", 1e-6)
    return lambda fp32: run_plan(model, plan.with_fp32_nodes(sorted(fp32)), feeds, reference, tolerances, run).passed


def plan_ranking(model: onnx.ModelProto, feeds: dict[str, np.ndarray], plan: Any) -> list[str]:
    """The order `trtdiff bisect` itself uses: attribution's local-error ranking with consumers of
    overflowing tensors moved up; without attribution, the same measure computed here."""
    from trtdiff.bisect.evaluate import default_apply, onnxruntime_infer
    from trtdiff.bisect.precision import candidate_nodes
    from trtdiff.bisect.ranking import resolve_ranking
    from trtdiff.precision.apply import apply_plan

    if importlib.util.find_spec("trtdiff.attribution") is None:
        return local_ranking(model, feeds, lambda single: apply_plan(single, plan).model)
    candidates = candidate_nodes(model, plan, default_apply, feeds)
    return resolve_ranking(None, model, plan, feeds, candidates, onnxruntime_infer())[0]


def compare_over_plans(label: str, model: onnx.ModelProto, feeds: dict[str, np.ndarray], plan: Any,
                       expected: list[str], atol: float = fixtures.ATOL,
                       rtol: float = fixtures.RTOL) -> list[dict[str, object]]:
    """trtdiff and Polygraphy's algorithm over trtdiff plans (onnxconverter-common cannot use them)."""
    order = [n.name for n in model.graph.node]
    evaluate = plan_evaluator(model, feeds, plan, atol, rtol)
    ranking = plan_ranking(model, feeds, plan)
    rows = []
    for name, fn in (("polygraphy first-N (reproduced)", lambda: run_polygraphy(order, evaluate, True)),
                     ("polygraphy last-N (reproduced)", lambda: run_polygraphy(order, evaluate, False)),
                     ("trtdiff (local-error ranking)", lambda: run_trtdiff(ranking, evaluate))):
        start = time.perf_counter()
        found = fn()
        fp32 = found["fp32"]
        rows.append({"model": label, "algorithm": name,
                     "fp32_size": None if fp32 is None else len(fp32), "evaluations": found["evaluations"],
                     "seconds": round(time.perf_counter() - start, 2), "note": "",
                     "found_expected": fp32 is not None and set(expected) <= set(fp32), "fp32": fp32})
    return rows


def bench_plans(kind: str, blocks: int, mode: str) -> list[dict[str, object]]:
    model = fixtures.build(kind, blocks)
    return compare_over_plans(f"{kind}[{len(model.graph.node)}] plan fp16 {mode}", model, fixtures.feeds(),
                              _plan(mode), fixtures.EXPECTED[kind])


def bench_demo() -> list[dict[str, object]]:
    """The project's demo ConvNet (fixtures/demo_convnet.onnx: `head_conv` overflows FP16 and its
    consumer `rescale` must read the FP32 tensor), emulated FP16 with the default plan and the
    default tolerances of `trtdiff run` (atol = rtol = 1e-3), generated inputs as `trtdiff run` makes them."""
    from trtdiff.inputs import InputSettings
    from trtdiff.model import load_model
    from trtdiff.pipeline import resolve_feeds

    model = load_model(ROOT / "fixtures" / "demo_convnet.onnx")
    feeds = resolve_feeds(model, InputSettings({}, {}))
    return compare_over_plans(f"demo_convnet[{len(model.graph.node)}] plan fp16 emulated", model, feeds,
                              _plan("emulated", "keep"), ["head_conv", "rescale"], 1e-3, 1e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="filler blocks per model")
    parser.add_argument("--no-plans", dest="plans", action="store_false",
                        help="skip the searches over trtdiff's precision plans")
    parser.add_argument("--sweep", action="store_true", help="only the density sweep on synthetic functions")
    parser.add_argument("--real", action="store_true", help="only the real trained models")
    parser.add_argument("--models", default="ppocr_v4_rec,ppocr_v4_det", help="real models for --real")
    parser.add_argument("--no-occ", dest="occ", action="store_false", help="--real without onnxconverter-common")
    args = parser.parse_args()
    if args.sweep or args.real:
        import bisect_real

        if args.sweep:
            bisect_real.sweep()
        if args.real:
            rows = bisect_real.bench_real(args.models.split(","), args.occ)
            if args.json:
                Path(args.json).write_text(json.dumps(rows, indent=1))
        return
    sizes = [int(b) for b in args.sizes.split(",")]
    rows = [r for blocks in sizes for kind in KINDS for r in bench_model(kind, blocks)]
    if args.plans:
        rows += [r for mode in ("native", "emulated") for blocks in sizes for kind in fixtures.KINDS
                 for r in bench_plans(kind, blocks, mode)]
        rows += bench_demo()
    print(f"{'model':26} {'algorithm':36} {'FP32 set':>8} {'evals':>6} {'secs':>6}  found  note")
    for r in rows:
        size = "-" if r["fp32_size"] is None else r["fp32_size"]
        print(f"{r['model']:26} {r['algorithm']:36} {size:>8} {r['evaluations']:>6} {r['seconds']:>6}  "
              f"{'yes' if r['found_expected'] else 'NO ':5}  {r['note']}")
    summarise(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def summarise(rows: list[dict[str, object]]) -> None:
    """Per model and overall: is trtdiff's set no larger than each other's, with at most a third of
    their evaluations?"""
    print()
    totals: dict[str, list[tuple[bool, float]]] = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = next(r for r in rows if r["model"] == model and str(r["algorithm"]).startswith("trtdiff (local"))
        for other in (r for r in rows if r["model"] == model and not str(r["algorithm"]).startswith("trtdiff")):
            size_ok = other["fp32_size"] is None or mine["fp32_size"] <= other["fp32_size"]
            ratio = mine["evaluations"] / other["evaluations"]
            totals.setdefault(str(other["algorithm"]), []).append((size_ok, ratio))
            print(f"{model:40} vs {other['algorithm']:34} set {mine['fp32_size']} vs {other['fp32_size']} "
                  f"({'ok' if size_ok else 'LARGER'}), evaluations {mine['evaluations']} vs {other['evaluations']} "
                  f"= {ratio:.2f}x")
    print()
    for name, results in totals.items():
        ratios = [r for _, r in results]
        print(f"overall vs {name:34} set no larger in {sum(ok for ok, _ in results)}/{len(results)} models; "
              f"evaluation ratio median {sorted(ratios)[len(ratios) // 2]:.2f}, worst {max(ratios):.2f} "
              f"(<= 1/3 in {sum(r <= 1 / 3 for r in ratios)}/{len(ratios)})")


if __name__ == "__main__":
    main()
