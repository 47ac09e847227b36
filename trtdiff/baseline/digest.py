"""The model digest a baseline is tied to: SHA-256 over the model file and, in name order, every
external-data file its weights live in, so that a re-export or new weights change it and a move or
a copy does not."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import onnx
from onnx.external_data_helper import ExternalDataInfo, uses_external_data

from trtdiff.errors import ModelError, UsageError

CHUNK = 1 << 20


def _hash_file(digest: "hashlib._Hash", path: Path) -> None:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)


def _external_files(path: Path) -> list[Path]:
    """The external-data files the model's initializers name (onnx's own reader of those fields)."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # onnx raises DecodeError, OSError...: all mean "not a readable model"
        raise ModelError(f"cannot read {path} as an ONNX model", f"{type(err).__name__}: {err}",
                         "check that it is a complete .onnx file") from err
    locations = {ExternalDataInfo(t).location for t in model.graph.initializer if uses_external_data(t)}
    return [path.parent / location for location in sorted(locations)]


def model_digest(path: str | os.PathLike[str]) -> str:
    """'sha256:<hex>' of the model and its external data."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"model file not found: {file}", "the path does not name a file",
                         "check the path, or pass the .onnx file itself rather than its folder")
    digest = hashlib.sha256()
    try:
        _hash_file(digest, file)
        for external in _external_files(file):
            digest.update(external.name.encode())
            _hash_file(digest, external)
    except OSError as err:
        raise ModelError(f"cannot read {file} or its external data", err.strerror or str(err),
                         "check that the external data files sit beside the model") from err
    return f"sha256:{digest.hexdigest()}"
