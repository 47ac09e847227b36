"""The HTML precision report: `write_report(comparison, path)` writes one self-contained file.

`view` turns a Comparison into plain template context (all figures formatted there), `plots`
draws the per-layer error chart as inline SVG, `html` renders `templates/report.html.j2` and writes
the file atomically, `load` reads a comparison back from `trtdiff run --json` output.
"""

from __future__ import annotations

from trtdiff.report.html import render_report, write_report
from trtdiff.report.load import comparison_from_file

__all__ = ["comparison_from_file", "render_report", "write_report"]
