"""Read a comparison back from the JSON that `trtdiff run --json` writes, turning every way the
file can be wrong into one UsageError line (exit 2) that names the file and the field."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from trtdiff.measure.divergence import first_significant_divergence
from trtdiff.result import RESULT_FIX, SCHEMA_VERSION, Comparison, comparison_from_dict
from trtdiff.typed import Document, check_version, read_json

FIX = RESULT_FIX


def comparison_from_file(path: str | Path) -> Comparison:
    """The Comparison stored in a `--json` result file; UsageError when it is not one."""
    doc = Document(str(path), "trtdiff result", FIX)
    data = read_json(path, doc)
    if not isinstance(data, dict) or "tensors" not in data or "settings" not in data:
        doc.fail("", "should be an object with 'tensors' and 'settings'", data,
                 found=None if not isinstance(data, dict) else "keys " + ", ".join(sorted(data)[:6]))
    check_version(data, "schema_version", SCHEMA_VERSION, doc, default=SCHEMA_VERSION)
    comparison = comparison_from_dict(data, doc)
    if "significant_divergence" not in data:  # written before trtdiff named it: name it now
        found = first_significant_divergence(comparison.tensors, comparison.settings.divergence_snr_db)
        comparison = replace(comparison, significant_divergence=found)
    return comparison
