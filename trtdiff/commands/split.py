"""`trtdiff split MODEL [--target trt]`: supported and unsupported subgraphs as separate models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np

from trtdiff.bisect.split import TARGETS, run_chain, split_model, unsupported_nodes, write_json
from trtdiff.options.data import input_options
from trtdiff.options.paths import CheckedCommand, InputPath, OutputFolder, OutputPath
from trtdiff.errors import ModelError
from trtdiff.model import load_model


@click.command("split", cls=CheckedCommand)
@click.argument("model", type=InputPath(dir_okay=False))
@click.option("--target", type=click.Choice(TARGETS), default="trt", show_default=True,
              help="Whose operator support decides the split.")
@click.option("-o", "--output-dir", type=OutputFolder(), default=None,
              help="Where the pieces and summary.json go (default: MODEL_split/).")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Run the pieces in a chain on ONNX Runtime and check they reproduce the model's outputs.")
@input_options
@click.option("--json", "json_path", type=OutputPath(), default=None,
              help="Write the summary as JSON ('-' for stdout).")
def split_command(model: str, target: str, output_dir: str | None, verify: bool, json_path: str | None,
                  **input_kwargs: Any) -> None:
    """Partition MODEL into maximal subgraphs the target supports and those it does not, saved as
    ONNX files named by node range (`00_supported_nodes_0000-0041.onnx`), plus summary.json."""
    loaded = load_model(model)
    reasons, source = unsupported_nodes(loaded, target)
    directory = Path(output_dir or f"{Path(model).stem}_split")
    segments, models, summary = split_model(loaded, reasons, directory, source)
    if verify:
        summary["verified_max_abs"] = _verify(loaded, models, input_kwargs)
        write_json(directory / "summary.json", summary)
    if json_path == "-":
        click.echo(json.dumps(summary, indent=1))
    else:
        if json_path:
            write_json(Path(json_path), summary)
        _print(summary, directory)


def _verify(model: Any, models: list[Any], input_kwargs: dict[str, Any]) -> float:
    """Max abs difference between the chained pieces and the whole model on ONNX Runtime."""
    from trtdiff.bisect.evaluate import onnxruntime_infer
    from trtdiff.options.data import input_settings_from
    from trtdiff.pipeline import resolve_feeds

    feeds = resolve_feeds(model, input_settings_from(**input_kwargs))
    infer = onnxruntime_infer()
    whole = infer(model, feeds)
    chained = run_chain(models, feeds, infer)
    worst = 0.0
    for name, value in whole.items():
        got = chained.get(name)
        if got is None or got.shape != value.shape:
            raise ModelError(f"the split pieces do not reproduce output '{name}'",
                             "it is missing or has another shape when the pieces run in a chain",
                             "report this with the model; use --no-verify to keep the pieces anyway")
        if value.dtype.kind in "fc":
            diff = np.abs(got.astype(np.float64) - value.astype(np.float64))
            worst = max(worst, float(np.nanmax(diff)) if diff.size else 0.0)
        elif not np.array_equal(got, value):
            worst = float("inf")
    return worst


def _print(summary: dict[str, Any], directory: Path) -> None:
    click.echo(f"support from: {summary['source']}")
    for segment in summary["segments"]:
        kind = "supported  " if segment["supported"] else "UNSUPPORTED"
        click.echo(f"  {kind} nodes {segment['first']}-{segment['last']} ({len(segment['nodes'])} nodes) "
                   f"-> {segment['file']}")
    for row in summary["unsupported"]:
        click.echo(f"  {row['op']}: {row['reason']} ({len(row['nodes'])} nodes: {', '.join(row['nodes'][:5])}"
                   f"{', ...' if len(row['nodes']) > 5 else ''})")
    if "verified_max_abs" in summary:
        click.echo(f"chained on ONNX Runtime, the pieces reproduce the outputs (max abs diff "
                   f"{summary['verified_max_abs']:.3g})")
    click.echo(f"summary: {directory / 'summary.json'}")
