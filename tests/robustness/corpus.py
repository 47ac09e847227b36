"""What the bad-input corpus shares: a workspace of good files to break, a snapshot of a folder's
files (to show a refused command left nothing behind and changed nothing), and the CLI call.

Each case runs in a copy of the workspace as its working directory, so a file a command would
leave behind (a default output folder, an interrupt state) shows in the snapshot too.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import stat
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from click.testing import CliRunner, Result
from onnx import TensorProto, helper

from model_builders import REPO, conv_relu_model, make_model

DEMO = REPO / "fixtures" / "demo_convnet.onnx"
FileContent = bytes | str | Callable[[Path], None]
ERROR_LINE = "trtdiff: error: "


@dataclass(frozen=True)
class Case:
    """One bad input: the command line (run in the workspace), files to add first (path ->
    content, or a function that makes it), the exit code and fragments the error line must hold."""

    id: str
    args: tuple[str, ...]
    code: int
    says: tuple[str, ...] = ()
    files: Mapping[str, FileContent] = field(default_factory=dict)


def case(id: str, args: str | list[str], code: int, *says: str, files: Mapping[str, FileContent] | None = None) -> Case:
    return Case(id, tuple(args.split() if isinstance(args, str) else args), code, says, dict(files or {}))


# -- the workspace: good files that cases break or point at ------------------------------------

def dynamic_model() -> onnx.ModelProto:
    """x[N,3,H,W] -> Relu 'relu' -> y: every shape but the channels is the user's to choose."""
    shape = ["N", 3, "H", "W"]
    return make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])


def cyclic_model() -> onnx.ModelProto:
    """add -> relu -> neg -> add: a cycle (a broken export or a bad edit)."""
    nodes = [helper.make_node("Add", ["x", "c"], ["a"], name="add"),
             helper.make_node("Relu", ["a"], ["b"], name="relu"),
             helper.make_node("Neg", ["b"], ["c"], name="neg"),
             helper.make_node("Identity", ["b"], ["y"], name="out")]
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3]) for n in ("x", "y")]
    return make_model(nodes, vi[:1], vi[1:])


def build_workspace(folder: Path) -> None:
    """m.onnx (conv_relu: x[1,3,8,8] -> y), demo.onnx, dyn.onnx, inputs.npz, plan.json, a good
    result.json (written by a real run) and its HTML twin name taken by nothing."""
    from trtdiff.cli import cli

    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(conv_relu_model(), folder / "m.onnx")
    shutil.copy(DEMO, folder / "demo.onnx")
    onnx.save(dynamic_model(), folder / "dyn.onnx")
    np.savez(folder / "inputs.npz", x=np.ones((1, 3, 8, 8), np.float32))
    (folder / "plan.json").write_text(json.dumps({"format": "trtdiff-precision-plan", "version": 1,
                                                  "default": "fp16"}))
    result = CliRunner().invoke(cli, ["run", str(folder / "m.onnx"), "--fp16", "--json", str(folder / "result.json")])
    assert result.exit_code in (0, 1), result.output


def copy_workspace(source: Path, target: Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True)


def add_files(folder: Path, files: Mapping[str, FileContent]) -> None:
    for relative, content in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


# -- file makers --------------------------------------------------------------------------------

def onnx_file(model: onnx.ModelProto) -> Callable[[Path], None]:
    return lambda path: onnx.save(model, path)


def npz_file(**arrays: np.ndarray) -> Callable[[Path], None]:
    return lambda path: np.savez(path, **arrays)


def compressed_npz_declaring(name: str, shape: tuple[int, ...]) -> Callable[[Path], None]:
    """An .npz whose compressed member `name` declares `shape` (float32) in its header but holds
    a few bytes: a small file that would take terabytes if read whole."""
    def write(path: Path) -> None:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{name}.npy", header.getvalue() + bytes(64))
    return write


def json_text(data: object) -> str:
    return json.dumps(data)


def polygraphy_array(array: np.ndarray) -> dict[str, str]:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return {"array": base64.b64encode(buffer.getvalue()).decode()}


def edited_json(source: str, edit: Callable[[dict], None]) -> Callable[[Path], None]:
    """A copy of workspace file `source` (a JSON object) with `edit` applied."""
    def make(path: Path) -> None:
        data = json.loads((path.parent / source).read_text())
        edit(data)
        path.write_text(json.dumps(data))

    return make


def truncated(source: str, keep: float = 0.5) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        data = (path.parent / source).read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return make


def device_copy(major: int, minor: int) -> Callable[[Path], None]:
    """A character device like /dev/null (1, 3) or /dev/full (1, 7): needs root (mknod)."""
    return lambda path: os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))


# -- snapshot and call --------------------------------------------------------------------------

def snapshot(folder: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry under `folder`: its kind, mtime (ns) and content hash (regular files)."""
    entries = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        kind = ("link" if stat.S_ISLNK(info.st_mode) else "dir" if stat.S_ISDIR(info.st_mode)
                else "file" if stat.S_ISREG(info.st_mode) else "special")
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if kind == "file" else os.readlink(path) \
            if kind == "link" else ""
        entries[str(path.relative_to(folder))] = (kind, info.st_mtime_ns, digest)
    return entries


def invoke(args: tuple[str, ...] | list[str]) -> Result:
    """The real `trtdiff` group, error boundary included, in-process."""
    from trtdiff.cli import cli

    return CliRunner().invoke(cli, list(args))


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(ERROR_LINE)]


def check_one_error_line(stderr: str, code: int) -> str:
    """The single error line of a refused command, checked for its form: what: why. fix."""
    lines = error_lines(stderr)
    assert len(lines) == 1, f"expected one error line, got:\n{stderr}"
    assert "Traceback" not in stderr and "internal error" not in lines[0], stderr
    message = lines[0][len(ERROR_LINE):]
    what, _, rest = message.partition(": ")
    assert what and rest, f"no 'what: why' in: {message}"
    assert ". " in rest and rest.endswith((".", "?")), f"no fix sentence in: {message}"
    assert code in (2, 3)
    return lines[0]
