"""The profile comparison shared by `check` and `diff`: the gate per output, where the new error
starts, matching by name, the margin and its floor."""

from __future__ import annotations

import dataclasses
import math

import pytest
from gate_factory import chain, comparison, profile

from trtdiff.baseline.metrics import GATE_METRICS, default_metric, gate_metric, metric_for_check
from trtdiff.baseline.profile import profile_from_comparison
from trtdiff.baseline.profile_diff import GatePolicy, compare_profiles
from trtdiff.errors import UsageError
from trtdiff.result import CheckSummary, Comparison, SampleVerdicts, Tolerances


def test_identical_profiles_pass_with_no_new_error() -> None:
    diff = compare_profiles(profile(chain(6)), profile(chain(6)))
    assert diff.passed and diff.no_new_error
    assert diff.first_regression is None and diff.grew_most == ()
    assert [(o.name, o.baseline, o.candidate) for o in diff.outputs] == [("out", 1e-4, 1e-4)]
    assert all(c.ratio == 1.0 for c in diff.changes)


def test_output_worse_than_the_margin_fails_and_names_where_the_error_starts() -> None:
    old = profile(chain(6))
    new = profile(chain(6, t2=5e-4, t3=5e-4, t4=6e-4, out=6e-4))
    diff = compare_profiles(old, new)
    assert not diff.passed
    verdict = diff.outputs[0]
    assert verdict.regressed and verdict.passed_check  # within tolerance, but 6x the baseline
    assert "max abs error 0.0001 -> 0.0006 (6.00x)" in verdict.reason
    assert diff.first_regression is not None and diff.first_regression.name == "t2"
    assert [c.name for c in diff.grew_most] == ["t4", "out", "t2", "t3"]  # by ratio, ties by order
    assert diff.first_regression.ratio == pytest.approx(5.0)


def test_growth_within_the_margin_passes() -> None:
    """Limit: 1e-4 * 1.1 + floor 1e-5 (1 % of atol) = 1.2e-4."""
    diff = compare_profiles(profile(chain(4)), profile(chain(4, out=1.19e-4)))
    assert diff.passed and diff.no_new_error and diff.outputs[0].limit == pytest.approx(1.2e-4)
    diff = compare_profiles(profile(chain(4)), profile(chain(4, out=1.21e-4)))
    assert not diff.passed
    loose = compare_profiles(profile(chain(4)), profile(chain(4, out=1.3e-4)), GatePolicy(max_regression=0.25))
    assert loose.passed


def test_the_floor_keeps_noise_around_zero_from_failing() -> None:
    """0 -> 5e-6 is infinitely worse in ratio but below 1 % of atol (1e-5): noise, not a regression."""
    diff = compare_profiles(profile(chain(3, error=0.0)), profile(chain(3, error=0.0, out=5e-6)))
    assert diff.passed and diff.outputs[0].limit == pytest.approx(1e-5)
    diff = compare_profiles(profile(chain(3, error=0.0)), profile(chain(3, error=0.0, out=2e-5)))
    assert not diff.passed and diff.outputs[0].regressed
    assert diff.first_regression is not None and math.isinf(diff.first_regression.ratio)
    explicit = compare_profiles(profile(chain(3, error=0.0)), profile(chain(3, error=0.0, out=2e-5)),
                                GatePolicy(floor=1e-4))
    assert explicit.passed


def test_an_output_out_of_tolerance_fails_even_without_growth() -> None:
    old = profile(chain(3, out=2e-3))
    diff = compare_profiles(old, old)
    assert not diff.passed and diff.no_new_error
    assert "fails its tolerance check" in diff.outputs[0].reason


def test_tensors_are_matched_by_name_never_by_position() -> None:
    """The candidate renamed t1 and inserted a tensor before it: nothing is paired by position."""
    old = profile({"a": 1e-4, "t1": 1e-4, "b": 1e-4, "out": 1e-4})
    new = profile({"a": 1e-4, "inserted": 9e-4, "t1_renamed": 9e-4, "b": 1e-4, "out": 1e-4})
    diff = compare_profiles(old, new)
    assert diff.appeared == ("inserted", "t1_renamed") and diff.vanished == ("t1",)
    assert [c.name for c in diff.changes] == ["a", "b", "out"]
    assert diff.passed and diff.no_new_error


def test_new_nan_or_inf_is_a_regression_whatever_the_finite_error_does() -> None:
    old = profile(chain(4))
    new = profile(chain(4, t1=5e-5), nonfinite={"t1": 3, "t2": 3})
    diff = compare_profiles(old, new)
    assert [c.name for c in diff.new_nonfinite] == ["t1", "t2"]
    assert diff.first_regression is not None and diff.first_regression.name == "t1"
    assert diff.passed  # the outputs held; --fail-on all makes the growth fail
    assert not compare_profiles(old, new, GatePolicy(fail_on="all")).passed


def test_a_vanished_output_fails_and_a_new_output_is_judged_by_its_check() -> None:
    old = profile({"t0": 1e-4, "out": 1e-4, "gone": 1e-4}, outputs=("out", "gone"))
    new = profile({"t0": 1e-4, "out": 1e-4, "extra": 1e-4}, outputs=("out", "extra"))
    diff = compare_profiles(old, new)
    verdicts = {o.name: o for o in diff.outputs}
    assert not verdicts["gone"].passed and "not in the candidate" in verdicts["gone"].reason
    assert verdicts["extra"].passed and verdicts["extra"].baseline is None
    assert not diff.passed


def test_no_tensor_in_common_is_refused() -> None:
    with pytest.raises(UsageError, match="shares no compared tensor"):
        compare_profiles(profile({"a": 1e-4, "out": 1e-4}), profile({"b": 1e-4, "y": 1e-4}, outputs=("y",)))


def test_the_gate_metric_follows_the_check_and_can_be_chosen_per_output() -> None:
    assert metric_for_check("p99").name == "p99_abs" and metric_for_check("elementwise").name == "max_abs"
    old, new = profile(chain(3), check="p99"), profile(chain(3, out=3e-4), check="p99")
    diff = compare_profiles(old, new)
    assert diff.outputs[0].metric == "p99_abs" and diff.outputs[0].candidate == pytest.approx(1.5e-4)
    chosen = compare_profiles(old, new, GatePolicy(output_metrics={"out": "cosine"}))
    assert chosen.outputs[0].metric == "cosine" and not chosen.outputs[0].regressed  # 1-cos ~1e-9: under the floor


@pytest.mark.parametrize("name", sorted(GATE_METRICS))
def test_every_gate_metric_detects_a_tenfold_error_and_ignores_none(name: str) -> None:
    old = profile(chain(3, error=1e-2))  # well above every floor
    same = compare_profiles(old, old, GatePolicy(metric=name, floor=0.0))
    worse = compare_profiles(old, profile(chain(3, error=1e-2, out=1e-1)), GatePolicy(metric=name, floor=0.0))
    assert same.no_new_error
    assert worse.first_regression is not None and worse.first_regression.name == "out"
    assert worse.first_regression.ratio > 9


def test_badness_of_higher_is_better_metrics() -> None:
    cosine, snr = gate_metric("cosine"), gate_metric("snr_db")
    assert cosine.ratio(0.999, 0.998) == pytest.approx(2.0)
    assert snr.ratio(40.0, 30.0) == pytest.approx(10.0)  # 10 dB less SNR = 10x the noise power
    assert snr.regressed(math.inf, 80.0, 0.1, 1e-6) is False  # 1e-8 noise: below the 1e-6 floor
    assert snr.regressed(math.inf, 50.0, 0.1, 1e-6) is True


@pytest.mark.parametrize("policy", [dict(max_regression=-0.1), dict(max_regression=math.nan),
                                    dict(floor=-1.0), dict(metric="nope"), dict(fail_on="some")])
def test_bad_policies_are_usage_errors(policy: dict) -> None:
    with pytest.raises(UsageError):
        GatePolicy(**policy)


def test_profile_from_comparison_drops_attribution_but_keeps_metrics() -> None:
    result = comparison(chain(3))
    profile_ = profile_from_comparison(result, "x.json")
    assert profile_.source == "x.json" and profile_.outputs == ("out",)
    assert [t.metrics for t in profile_.tensors] == [t.metrics for t in result.tensors]


def test_default_metric_follows_the_first_check_that_applies_to_every_tensor() -> None:
    def tolerances(*checks: str) -> Tolerances:
        return Tolerances(1e-3, 1e-3, "elementwise", 1e-6, checks=checks)

    assert default_metric(tolerances("logits:cosine:0.999", "topk:1", "snr:30")).name == "snr_db"
    assert default_metric(tolerances("cosine:p99")).name == "max_abs"  # p99 of a tensor named "cosine"
    assert default_metric(tolerances("p99")).name == "p99_abs"
    assert default_metric(tolerances()).name == "max_abs"


def with_check(result: Comparison, label: str, value: float) -> Comparison:
    """The output judged by `label` over 100 samples, its statistic `value`."""
    verdicts = SampleVerdicts(100, 0, (), (CheckSummary(label, value, 0),))
    tensors = tuple(dataclasses.replace(t, sample_verdicts=verdicts) if t.is_output else t for t in result.tensors)
    return dataclasses.replace(result, tensors=tensors)


def test_an_output_is_gated_by_its_checks_own_statistic() -> None:
    """top-1 agreement 100% -> 98%: 2% of positions flip, above the 0.1% floor; cosine:0.999's worst
    sample 0.9995 -> 0.99946 (1 - cos 5e-4 -> 5.4e-4) stays within 10% + 1% of (1 - 0.999): 5.6e-4."""
    old = profile_from_comparison(with_check(comparison(chain(3)), "topk:1", 1.0))
    new = profile_from_comparison(with_check(comparison(chain(3)), "topk:1", 0.98))
    diff = compare_profiles(old, new)
    assert diff.outputs[0].metric == "topk:1" and diff.outputs[0].regressed and not diff.passed
    assert diff.outputs[0].check == "topk:1"
    assert compare_profiles(old, old).passed
    old = profile_from_comparison(with_check(comparison(chain(3)), "cosine:0.999", 0.9995))
    new = profile_from_comparison(with_check(comparison(chain(3)), "cosine:0.999", 0.99946))
    assert compare_profiles(old, new).passed
    worse = profile_from_comparison(with_check(comparison(chain(3)), "cosine:0.999", 0.999))
    assert not compare_profiles(old, worse).passed
