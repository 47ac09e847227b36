"""Write the HTML precision report: one self-contained file built from a `Comparison`.

The page is `templates/report.html.j2` rendered with Jinja2 autoescaping on, from the context that
`trtdiff.report.view` builds. Its one script and its stylesheet are inlined; a Content-Security-
Policy forbids every fetch and lets only that script (pinned by its SHA-256) run, so that even a
model string that slipped past escaping could neither load anything nor execute.

The file is written to a temporary sibling and renamed over the target: a reader never sees half
a report, and a failure leaves the previous file (or none) in place.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import jinja2
from markupsafe import Markup

from trtdiff.errors import TrtDiffError, UsageError
from trtdiff.fileio import write_text_atomic
from trtdiff.report.view import view_from_comparison
from trtdiff.result import Comparison

TEMPLATE = "report.html.j2"
SCRIPT = "report.js.j2"
STYLE = "report.css.j2"
# The errors a bad result or a template bug can raise while rendering (not OSError: no I/O here).
RENDER_ERRORS = (jinja2.TemplateError, ValueError, TypeError, KeyError, AttributeError,
                 IndexError, OverflowError)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("trtdiff.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return ("default-src 'none'; "
            f"script-src 'sha256-{digest}'; "
            "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'")


def render_report(comparison: Comparison, *, command: str | None = None) -> str:
    """The report as one HTML string; raises TrtDiffError when it cannot be rendered."""
    try:
        env = _environment()
        script = env.get_template(SCRIPT).render()
        context = view_from_comparison(comparison, command=command)
        return env.get_template(TEMPLATE).render(
            **context, script=Markup(script), style=Markup(env.get_template(STYLE).render()),
            csp=_csp(script))
    except RENDER_ERRORS as err:
        raise TrtDiffError(
            "could not render the HTML report",
            f"{type(err).__name__}: {err}",
            "Check that the result was written by this trtdiff version; run with -v for details",
        ) from err


def write_report(comparison: Comparison, path: str | Path, *, command: str | None = None) -> None:
    """Render the report for `comparison` and write it to `path` atomically.

    `command` is the command line that wrote the report, shown when it differs from the one that
    ran the comparison (e.g. `trtdiff report result.json`). Raises TrtDiffError (UsageError when
    the path cannot be written); on any failure no partial file is left behind.
    """
    target = Path(path)
    if target.is_dir():  # checked before the (slow) rendering
        raise UsageError(f"cannot write the report to {target}", "it is a directory",
                         "Give a file name, e.g. report.html")
    write_text_atomic(target, render_report(comparison, command=command))
