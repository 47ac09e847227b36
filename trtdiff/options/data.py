"""Click options shared by commands that run a model (run, bisect, reduce): inputs (a data set of
samples) and the data options of commands that compare over samples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from trtdiff.options import apply_options
from trtdiff.options.given import refuse_given
from trtdiff.options.paths import InputPath

from trtdiff.inputs import InputSettings, parse_range_arg, parse_shape_arg

F = TypeVar("F", bound=Callable[..., Any])
MAX_SEED = 2**32 - 1  # numpy and Polygraphy take any 32-bit seed; larger ones are a typo


INPUT_KEYS = ("input_shapes", "val_ranges", "seed", "load_inputs", "iterations", "max_samples", "batched_npz",
              "data_loader_script")


def input_options(func: F) -> F:
    """--input-shapes, --val-range, --seed, --iterations, --load-inputs, --batched-npz,
    --data-loader-script, --max-samples."""
    return apply_options([
        click.option("--input-shapes", "input_shapes", multiple=True, metavar="NAME:SHAPE",
                     help="Shape for a dynamic input: images:[1,3,224,224] or images:1x3x224x224. Repeatable."),
        click.option("--val-range", "val_ranges", multiple=True, metavar="[LO,HI]|NAME:[LO,HI]",
                     help="Range of generated values, for every input or one. Default [0,1]."),
        click.option("--seed", type=click.IntRange(0, MAX_SEED), default=1, show_default=True, help="Seed for generated inputs."),
        click.option("--iterations", type=int, default=1, show_default=True,
                     help="How many samples to generate (sample i is drawn from the seed and i)."),
        click.option("--load-inputs", "load_inputs", type=InputPath(), default=None,
                     help="Samples from an .npz, .npy, Polygraphy --save-inputs JSON, or a directory of .npz "
                          "files (one sample each), ONNX test_data_set_* folders, input_N.pb or NAME.npy files."),
        click.option("--batched-npz", is_flag=True,
                     help="The --load-inputs .npz holds arrays with a leading sample axis."),
        click.option("--data-loader-script", "data_loader_script", type=InputPath(), default=None, metavar="FILE.py[:FUNC]",
                     help="Samples from a Python function (default load_data) returning an iterable of "
                          "dicts input name -> array (Polygraphy's convention)."),
        click.option("--max-samples", type=int, default=None, help="Use at most this many samples of any source."),
    ], func)


def input_settings_from(input_shapes: tuple[str, ...], val_ranges: tuple[str, ...], seed: int,
                        load_inputs: str | None, iterations: int = 1, max_samples: int | None = None,
                        batched_npz: bool = False, data_loader_script: str | None = None) -> InputSettings:
    shapes = dict(parse_shape_arg(s) for s in input_shapes)
    ranges = dict(parse_range_arg(r) for r in val_ranges)
    return InputSettings(shapes, ranges, seed, load_inputs, iterations, max_samples, batched_npz, data_loader_script)


def pop_input_settings(options: dict[str, Any]) -> InputSettings:
    """The InputSettings of a command's options, taking the input options out of `options`.
    Options of generated inputs are refused when the inputs are loaded, and the other way round."""
    if options.get("load_inputs") or options.get("data_loader_script"):
        source = "--data-loader-script" if options.get("data_loader_script") else "--load-inputs"
        refuse_given(("val_ranges", "seed", "iterations", "input_shapes", "load_inputs" * bool(
            options.get("data_loader_script"))), f"options of generated inputs do nothing when the inputs come "
            f"from {source}", f"Drop the option, or drop {source}")
    else:
        refuse_given(("batched_npz",), "it describes the file --load-inputs reads", "Drop it, or add --load-inputs")
    return input_settings_from(**{key: options.pop(key) for key in INPUT_KEYS})


def data_options(func: F) -> F:
    """--load-outputs, --calibration-data, --attribute-sample, --no-progress: comparing over samples."""
    return bisect_data_options(click.option("--no-progress", is_flag=True, help="No progress bar.")(func))


def bisect_data_options(func: F) -> F:
    """--load-outputs, --calibration-data, --attribute-sample (bisect has its own --no-progress)."""
    return apply_options([
        click.option("--load-outputs", "load_outputs", type=InputPath(dir_okay=False), default=None,
                     help="Reference outputs from an earlier run (trtdiff --save-outputs .npz or Polygraphy "
                          "--save-outputs JSON) instead of running the FP32 model for them."),
        click.option("--calibration-data", "calibration_data", type=InputPath(), default=None, metavar="PATH",
                     help="Samples that calibrate --int8/--fp8 scales (same sources as --load-inputs, or a "
                          "FILE.py[:FUNC] loader). Default: the samples being judged, with a warning."),
        click.option("--attribute-sample", "attribute_sample", type=click.IntRange(min=0), default=None,
                     help="Run attribution (bisect: the ranking; reduce: the reduction) on this sample "
                          "(default: the worst sample of the failing outputs)."),
    ], func)
