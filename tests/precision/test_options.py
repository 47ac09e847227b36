"""The shared click options and the plan they ask for."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from trtdiff.options.precision import plan_from_options, precision_options
from trtdiff.errors import UsageError
from trtdiff.precision.plan import PrecisionPlan


@click.command()
@precision_options
def probe(**kwargs: object) -> None:
    plan = plan_from_options(**kwargs, unrelated_option=3)
    click.echo("none" if plan is None else plan.to_json())


def invoke(*args: str) -> PrecisionPlan | None:
    result = CliRunner().invoke(probe, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return None if result.output.strip() == "none" else PrecisionPlan.from_dict(__import__("json").loads(result.output))


def test_no_precision_flag_means_no_plan() -> None:
    assert invoke() is None


def test_native_and_emulated_flags() -> None:
    assert invoke("--fp16") == PrecisionPlan("fp16")
    assert invoke("--int8", "--calibration", "entropy") == PrecisionPlan("int8", calibration="entropy")
    assert invoke("--emulate", "fp8") == PrecisionPlan("fp8", "emulated")
    assert invoke("--fp16", "--emulate", "fp16") == PrecisionPlan("fp16", "emulated")
    plan = invoke("--bf16", "--keep-fp32", "a", "--keep-fp32", "b", "--keep-fp32-op", "Softmax",
                  "--out-of-range", "clamp")
    assert plan == PrecisionPlan("bf16", keep_fp32_nodes=("a", "b"), keep_fp32_ops=("Softmax",),
                                 out_of_range="clamp")


def test_plan_file_is_the_base_and_flags_add_to_it(tmp_path) -> None:
    path = PrecisionPlan("fp16", keep_fp32_nodes=("a",), per_channel=False).save(tmp_path / "p.json")
    assert invoke("--precision-plan", str(path)) == PrecisionPlan.load(path)
    plan = invoke("--precision-plan", str(path), "--keep-fp32", "b", "--emulate", "fp16")
    assert plan == PrecisionPlan("fp16", "emulated", keep_fp32_nodes=("a", "b"), per_channel=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"fp16": True, "int8": True}, "both given"),
    ({"fp16": True, "emulate": "int8"}, "disagree"),
    ({"keep_fp32": ("a",)}, "need a reduced precision"),
])
def test_conflicts_are_usage_errors(kwargs, match) -> None:
    with pytest.raises(UsageError, match=match):
        plan_from_options(**kwargs)
