"""Build trtdiff/data/trt_onnx_ops.json, TensorRT's ONNX operator support table, from the history of
onnx/onnx-tensorrt's docs/operators.md, corrected by scripts/trt_onnx_ops_corrections.json.

The newest version of the file gives each operator's support, types and restrictions, and the data
types TensorRT has; walking the file's history gives the first TensorRT version whose table marks
it supported ("since"). The corrections (each found with TensorRT-RTX's real parser, see that
file) are merged, then restriction sentences of a checkable form become rules that
`trtdiff.trt.optable` applies: inputs that must be initializers, a single output, attributes that
must be all ones, left at their default, or one value. The `parser_check` section, written by
scripts/check_trt_onnx_ops.py, is kept. Usage:

    git clone https://github.com/onnx/onnx-tensorrt /tmp/onnx-tensorrt
    python scripts/build_trt_onnx_ops.py /tmp/onnx-tensorrt [trtdiff/data/trt_onnx_ops.json]
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

DOC = "docs/operators.md"
VERSION_RE = re.compile(r"TensorRT (\d+(?:\.\d+)*) supports")
TYPES_RE = re.compile(r"supports the following ONNX data types: ([A-Z0-9, ]+?)(?: and ([A-Z0-9]+))?\s*$", re.M)
TYPE_ALIASES = {"FLOAT32": "FP32", "FLOAT16": "FP16", "BFLOAT16": "BF16"}
CORRECTIONS = Path(__file__).with_name("trt_onnx_ops_corrections.json")
CONSTANT_RE = re.compile(r"`(\w+)` (?:input )?must be (?:an initializer|a build-time constant|a constant tensor)")
ONE_OUTPUT_RE = re.compile(r"Only the first output|output tensor unsupported")
ONES_RE = re.compile(r"`(\w+)` must be empty or all ones")
DEFAULT_RE = re.compile(r"`(\w+)` is not supported")
VALUE_RE = re.compile(r"`(\w+)` (?:attribute )?must be (-?\d+)\b")


def git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def parse(text: str) -> tuple[str | None, dict[str, dict[str, object]]]:
    """The TensorRT version a revision documents and its rows: op -> {supported, types, restrictions}."""
    found = VERSION_RE.search(text)
    rows: dict[str, dict[str, object]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not re.fullmatch(r"[A-Z][A-Za-z0-9]*", cells[0]) or cells[0] == "Operator":
            continue
        supported = cells[1].upper().startswith("Y")
        types = [t.strip() for t in cells[2].split(",") if t.strip()] if len(cells) > 2 else []
        restrictions = cells[3].replace("<br />", " ").replace("\\.", ".").strip() if len(cells) > 3 else ""
        rows[cells[0]] = {"supported": supported, "experimental": "EXPERIMENTAL" in cells[1].upper(),
                          "types": types, "restrictions": " ".join(restrictions.split())}
    return (found.group(1) if found else None), rows


def tensor_types(text: str) -> list[str]:
    """The data types the document says TensorRT supports, in the table's spelling."""
    found = TYPES_RE.search(text)
    if not found:
        return []
    names = [t.strip() for t in found.group(1).split(",") if t.strip()] + ([found.group(2)] if found.group(2) else [])
    return [TYPE_ALIASES.get(name, name) for name in names]


def rules(restrictions: str) -> dict[str, object]:
    """The checkable rules a restriction text states (see the module docstring)."""
    found: dict[str, object] = {}
    if CONSTANT_RE.search(restrictions):
        found["constant_inputs"] = CONSTANT_RE.findall(restrictions)
    if ONE_OUTPUT_RE.search(restrictions):
        found["single_output"] = True
    if ONES_RE.search(restrictions):
        found["ones_attributes"] = ONES_RE.findall(restrictions)
    if DEFAULT_RE.search(restrictions):
        found["default_attributes"] = {name: "none" for name in DEFAULT_RE.findall(restrictions)}
    values = {name: int(value) for name, value in VALUE_RE.findall(restrictions)}
    if values:
        found["attribute_values"] = values
    return found


def corrected(op: str, row: dict[str, object], corrections: dict[str, dict[str, object]]) -> dict[str, object]:
    """The row with its correction merged (types, restrictions replaced or added) and its rules."""
    fix = corrections.get(op, {})
    row = dict(row)
    if "types" in fix:
        row["types"] = list(fix["types"])  # type: ignore[call-overload]
    if "restrictions" in fix:
        row["restrictions"] = fix["restrictions"]
    if "add" in fix:
        row["restrictions"] = f"{row['restrictions']} {fix['add']}".strip()
    if fix:
        row["corrected"] = fix["why"]
    return {**row, **rules(str(row["restrictions"]))}


def build(repo: str) -> dict[str, object]:
    commits = git(repo, "log", "--format=%H %cs %s", "--", DOC).split("\n")
    history = [c.split(" ", 2) for c in commits if c.strip()][::-1]  # oldest first
    since: dict[str, str] = {}
    latest_version, latest_rows, latest_commit, latest_date, latest_types = None, {}, "", "", []
    subject = ""
    for commit, date, subject in history:
        text = git(repo, "show", f"{commit}:{DOC}")
        version, rows = parse(text)
        if version is None:
            continue
        latest_types = tensor_types(text) or latest_types
        for op, row in rows.items():
            if row["supported"]:
                since.setdefault(op, version)
        latest_version, latest_rows, latest_commit, latest_date = version, rows, commit, date
    corrections = json.loads(CORRECTIONS.read_text())["ops"]
    ops = [corrected(op, {"op": op, "supported": row["supported"],
                          "since": since.get(op) if row["supported"] else None,
                          **{k: row[k] for k in ("experimental", "types", "restrictions")}}, corrections)
           for op, row in sorted(latest_rows.items())]
    return {
        "tensorrt_version": latest_version,
        "source": f"https://github.com/onnx/onnx-tensorrt/blob/{latest_commit}/{DOC}",
        "source_date": latest_date,
        "source_commit": subject,
        "note": "since = first TensorRT version whose operators.md marks the op supported "
                "(the file's history starts at TensorRT 7.2, so 7.2 means 7.2 or earlier); "
                "corrected = why a row differs from operators.md (scripts/trt_onnx_ops_corrections.json)",
        "tensor_types": latest_types,
        "ops": ops,
    }


def main(argv: list[str]) -> None:
    repo = argv[1]
    out = Path(argv[2] if len(argv) > 2 else Path(__file__).parent.parent / "trtdiff/data/trt_onnx_ops.json")
    table = build(repo)
    if out.is_file() and "parser_check" in json.loads(out.read_text()):
        table["parser_check"] = json.loads(out.read_text())["parser_check"]
    out.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv)
