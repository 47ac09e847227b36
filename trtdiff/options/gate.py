"""Options shared by `check` and `diff`: the margin (--max-regression, --regression-floor), the gate
metric, what decides the verdict, and the CI outputs (--json, --junit, --markdown)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console

from trtdiff.baseline.gate_json import diff_to_dict
from trtdiff.baseline.junit import junit_xml
from trtdiff.baseline.markdown import markdown_summary
from trtdiff.baseline.profile_diff import DEFAULT_MAX_REGRESSION, FAIL_ON, GatePolicy, ProfileDiff
from trtdiff.options.paths import OutputPath
from trtdiff.errors import UsageError
from trtdiff.fileio import is_stdout, write_text_atomic
from trtdiff.terminal import consoles

F = TypeVar("F", bound=Callable[..., Any])
OUTPUT_OPTIONS = (("json_path", "--json"), ("junit_path", "--junit"), ("markdown_path", "--markdown"))


def gate_options(func: F) -> F:
    options = [
        click.option("--max-regression", default=f"{DEFAULT_MAX_REGRESSION:g}", show_default=True,
                     metavar="SHARE|PCT%", help="How much worse than the baseline an output's gate metric may "
                     "get: 0.1 or 10% (relative, plus --regression-floor)."),
        click.option("--regression-floor", default=None, metavar="VALUE",
                     help="Absolute allowance added to the margin, in the metric's error units, so that "
                          "noise around zero does not fail. [default: 1% of the tensor's atol (rtol for "
                          "relative metrics); 1e-6 for cosine and SNR]"),
        click.option("--gate-metric", "gate_metrics", multiple=True, metavar="METRIC|NAME:METRIC",
                     help="The metric the gate compares, for every tensor or one output: max_abs, p99_abs, "
                          "median_abs, mean_abs, max_rel, mean_rel, cosine, snr_db. [default: the "
                          "tolerance check's own statistic]"),
        click.option("--fail-on", "fail_on", type=click.Choice(FAIL_ON), default="outputs", show_default=True,
                     help="outputs: the graph outputs decide; all: any tensor whose error grew beyond the "
                          "margin (or gained NaN/Inf) fails the gate too."),
        click.option("--json", "json_path", type=OutputPath(), default=None,
                     help="Write the gate as JSON."),
        click.option("--junit", "junit_path", type=OutputPath(), default=None,
                     help="Write the gate as JUnit XML (one testcase per output, one for 'no new error')."),
        click.option("--markdown", "markdown_path", type=OutputPath(), default=None,
                     help="Write a short markdown summary (for a CI step summary)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def parse_share(option: str, text: str) -> float:
    """'0.1' or '10%' -> 0.1; UsageError for anything else, negative, or not finite."""
    raw = text.strip()
    scale = 100.0 if raw.endswith("%") else 1.0
    try:
        value = float(raw.rstrip("%")) / scale
    except ValueError as err:
        raise UsageError(f"{option} '{text}' is not a number", "it takes a share (0.1) or a percentage (10%)",
                         f"for example {option} 0.1") from err
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{option} '{text}' is not usable", "it must be a finite number >= 0",
                         f"for example {option} 0.1")
    return value


def policy_from(options: dict[str, Any]) -> GatePolicy:
    """The GatePolicy from the command's keyword arguments (taking its options out of them)."""
    floor_text = options.pop("regression_floor")
    default_metric = None
    per_output: dict[str, str] = {}
    for entry in options.pop("gate_metrics"):
        name, sep, metric = entry.rpartition(":")
        if sep:
            per_output[name] = metric
        else:
            default_metric = entry
    return GatePolicy(max_regression=parse_share("--max-regression", options.pop("max_regression")),
                      floor=parse_share("--regression-floor", floor_text) if floor_text is not None else None,
                      metric=default_metric, output_metrics=per_output, fail_on=options.pop("fail_on"))


def table_console(options: dict[str, Any]) -> Console:
    """Where the gate's table goes: stdout, or stderr when one of the files goes to stdout ('-')."""
    out, err = consoles()
    return err if any(is_stdout(options.get(key)) for key in (*dict(OUTPUT_OPTIONS), "report_path")) else out


def write_gate_files(diff: ProfileDiff, options: dict[str, Any], facts: dict[str, str],
                     json_text: str | None = None, seconds: float = 0.0,
                     golden: dict[str, Any] | None = None, command: str = "trtdiff check") -> None:
    """--json (the gate, or `json_text` when given), --junit, --markdown; each written atomically,
    titled with `command` (`trtdiff diff` writes the same files)."""
    if options.get("json_path"):
        text = json_text if json_text is not None else json.dumps(diff_to_dict(diff), indent=1, allow_nan=False)
        write_text_atomic(options["json_path"], text)
    if options.get("junit_path"):
        write_text_atomic(options["junit_path"], junit_xml(diff, facts, name=command, seconds=seconds, golden=golden))
    if options.get("markdown_path"):
        write_text_atomic(options["markdown_path"], markdown_summary(diff, facts, title=command, golden=golden))
