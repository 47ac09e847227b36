"""Check trtdiff/data/trt_onnx_ops.json against a real TensorRT ONNX parser: every ONNX backend node
test (built in memory by the onnx package's own generator, tests/node_cases.py) is parsed by the
installed TensorRT (TensorRT-RTX runs on a CPU) and judged by the table; prints the agreement and
each op where they differ, with the explanation recorded in scripts/trt_onnx_ops_corrections.json.
With --write, records the figures in the table's `parser_check` section (which
tests/trt/test_trt_op_table.py holds the table to). Usage:

    pip install tensorrt-rtx
    python scripts/check_trt_onnx_ops.py [--write]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "trtdiff" / "data" / "trt_onnx_ops.json"
CORRECTIONS = Path(__file__).with_name("trt_onnx_ops_corrections.json")


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from node_cases import node_cases

    from trtdiff.runners.trt import parser_accepts, tensorrt_features
    from trtdiff.trt.optable import agreement

    features = tensorrt_features()
    result = agreement(((c.name, c.op_type, c.model) for c in node_cases()), parser_accepts)
    explained = json.loads(CORRECTIONS.read_text())["explained"]
    print(f"{features.label} parser vs the table over {result.cases} ONNX node tests "
          f"(onnx {onnx.__version__}): {result.agree} agree ({result.ratio:.1%})")
    for op, sides in sorted(result.differences.items(), key=lambda item: -sum(item[1].values())):
        counts = ", ".join(f"{side} {n}" for side, n in sorted(sides.items()))
        print(f"  {op:20s} {counts:40s} {explained.get(op, 'NOT EXPLAINED')}")
    if "--write" in argv:
        table = json.loads(TABLE.read_text())
        table["parser_check"] = {
            "parser": features.label, "onnx": onnx.__version__, "cases": result.cases,
            "agree": result.agree, "differences": result.differences,
            "explained": {op: explained.get(op, "") for op in sorted(result.differences)},
        }
        TABLE.write_text(json.dumps(table, indent=1) + "\n")
        print(f"recorded in {TABLE}")


if __name__ == "__main__":
    main(sys.argv)
