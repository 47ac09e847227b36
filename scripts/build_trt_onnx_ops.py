"""Build trtdiff/data/trt_onnx_ops.json, TensorRT's ONNX operator support table, from the history of
onnx/onnx-tensorrt's docs/operators.md.

The newest version of the file gives each operator's support, types and restrictions; walking the
file's history gives the first TensorRT version whose table marks it supported ("since"). Usage:

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


def build(repo: str) -> dict[str, object]:
    commits = git(repo, "log", "--format=%H %cs %s", "--", DOC).split("\n")
    history = [c.split(" ", 2) for c in commits if c.strip()][::-1]  # oldest first
    since: dict[str, str] = {}
    latest_version, latest_rows, latest_commit, latest_date = None, {}, "", ""
    subject = ""
    for commit, date, subject in history:
        version, rows = parse(git(repo, "show", f"{commit}:{DOC}"))
        if version is None:
            continue
        for op, row in rows.items():
            if row["supported"]:
                since.setdefault(op, version)
        latest_version, latest_rows, latest_commit, latest_date = version, rows, commit, date
    ops = [{"op": op, "supported": row["supported"], "since": since.get(op) if row["supported"] else None,
            **{k: row[k] for k in ("experimental", "types", "restrictions")}}
           for op, row in sorted(latest_rows.items())]
    return {
        "tensorrt_version": latest_version,
        "source": f"https://github.com/onnx/onnx-tensorrt/blob/{latest_commit}/{DOC}",
        "source_date": latest_date,
        "source_commit": subject,
        "note": "since = first TensorRT version whose operators.md marks the op supported "
                "(the file's history starts at TensorRT 7.2, so 7.2 means 7.2 or earlier)",
        "ops": ops,
    }


def main(argv: list[str]) -> None:
    repo = argv[1]
    out = Path(argv[2] if len(argv) > 2 else Path(__file__).parent.parent / "trtdiff/data/trt_onnx_ops.json")
    out.write_text(json.dumps(build(repo), indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv)
