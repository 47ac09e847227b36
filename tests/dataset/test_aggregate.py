"""Metrics merged over samples equal the metrics of all samples' elements taken together (the
quantiles within the stated bound); one sample gives exactly its own metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trtdiff.measure.align import compare_pair
from trtdiff.measure.aggregate import TensorAggregate
from trtdiff.measure.checks import parse_check
from trtdiff.measure.fine import RELATIVE_BOUND, FineCounts
from trtdiff.measure.metrics import compute_metrics
from trtdiff.measure.quantiles import bucket_counts
from trtdiff.measure.tolerance import ToleranceSpec


def _pairs(count: int, size: int = 5000, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        ref = rng.normal(0, 1 + i, size).astype(np.float32)
        noise = rng.normal(0, 10.0 ** -(2 + i % 3), size) * rng.random(size) ** 3
        pairs.append((ref, (ref + noise).astype(np.float32)))
    if count > 1:
        pairs[1][1][7] = np.nan  # a NaN disagreement in one sample
    return pairs


def _merged(pairs, tolerances: ToleranceSpec, fine: bool = True) -> TensorAggregate:
    aggregate = None
    for index, (ref, target) in enumerate(pairs):
        result, _ = compare_pair("y", ref, target, tolerances, gated=True, fine=fine, own_quantiles=index == 0)
        aggregate = aggregate or TensorAggregate(tolerances.checks_for("y", True), result)
        aggregate.add(index, result)
    assert aggregate is not None
    return aggregate


def test_merged_metrics_equal_the_metrics_of_the_concatenation():
    pairs = _pairs(6)
    tolerances = ToleranceSpec(atol=1e-3, rtol=1e-3)
    merged = _merged(pairs, tolerances).metrics()
    whole, _ = compute_metrics(np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]),
                               1e-3, 1e-3)
    for field in ("size", "mismatches", "nan_ref", "nan_target", "inf_ref", "inf_target", "histogram"):
        assert getattr(merged, field) == getattr(whole, field), field
    for field in ("max_abs", "max_rel", "ref_max_abs"):
        assert getattr(merged, field) == getattr(whole, field), field
    for field in ("mean_abs", "mean_rel", "cosine", "snr_db"):
        assert getattr(merged, field) == pytest.approx(getattr(whole, field), rel=1e-9), field
    for field in ("median_abs", "p99_abs"):  # from merged bucket counts: within the stated bound
        exact, approx = getattr(whole, field), getattr(merged, field)
        assert approx != exact or field == "median_abs"
        assert abs(approx - exact) <= RELATIVE_BOUND * exact, (field, approx, exact)


def test_one_sample_is_exactly_that_sample():
    ref, target = _pairs(1)[0]
    merged = _merged([(ref, target)], ToleranceSpec()).metrics()
    alone, _ = compute_metrics(ref, target, 1e-3, 1e-3)
    assert merged == alone


def test_later_samples_skip_their_own_quantiles_unless_a_check_reads_them():
    ref, target = _pairs(1)[0]
    exact, _ = compute_metrics(ref, target, 1e-3, 1e-3)
    later, _ = compare_pair("y", ref, target, ToleranceSpec(), gated=True, fine=True, own_quantiles=False)
    assert math.isnan(later.metrics.median_abs) and math.isnan(later.metrics.p99_abs)
    assert later.metrics.max_abs == exact.max_abs and later.metrics.histogram == exact.histogram
    median_check = ToleranceSpec(checks=(parse_check("median"),))
    decided, _ = compare_pair("y", ref, target, median_check, gated=True, fine=True, own_quantiles=False)
    assert decided.metrics.median_abs == exact.median_abs and decided.metrics.p99_abs == exact.p99_abs


def test_a_lone_sample_without_its_own_quantiles_reads_them_from_the_counts():
    ref, target = _pairs(1)[0]
    exact, _ = compute_metrics(ref, target, 1e-3, 1e-3)
    result, _ = compare_pair("y", ref, target, ToleranceSpec(), gated=True, fine=True, own_quantiles=False)
    aggregate = TensorAggregate(ToleranceSpec().checks_for("y", True), result)
    aggregate.add(0, result)
    merged = aggregate.metrics()
    for field in ("median_abs", "p99_abs"):
        assert abs(getattr(merged, field) - getattr(exact, field)) <= RELATIVE_BOUND * getattr(exact, field)
    assert merged.max_abs == exact.max_abs and merged.mismatches == exact.mismatches


@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0])
def test_fine_quantiles_stay_within_the_bound(q):
    rng = np.random.default_rng(3)
    parts = [np.abs(rng.standard_cauchy(20_000)).astype(np.float32) * 10.0 ** -k for k in range(4)]
    parts[0][:500] = 0  # exact zeros come back exact
    counts = FineCounts(0, np.zeros(0, np.int64))
    for part in parts:
        counts.merge(FineCounts.of(part, bucket_counts(part)[0]))
    values = np.concatenate(parts)
    zeros = int(np.count_nonzero(values == 0))
    approx = counts.quantiles((q,), zeros, float(values.max()))[0]
    exact = float(np.quantile(values.astype(np.float64), q))
    assert abs(approx - exact) <= RELATIVE_BOUND * exact + 1e-30


def test_worst_sample_and_failing_indices():
    pairs = _pairs(6)
    aggregate = _merged(pairs, ToleranceSpec(atol=1e-3, rtol=1e-3))
    assert aggregate.worst_sample == 1  # the NaN disagreement outranks any finite error
    verdicts = aggregate.verdicts(1.0)
    assert verdicts.count == 6 and verdicts.failed == len(verdicts.failing) == aggregate.failed
    assert 1 in verdicts.failing and sum(verdicts.max_abs_histogram) == 6
    assert verdicts.max_abs_histogram[-1] == 1  # sample 1 in the non-finite bin
    assert aggregate.passed(0.0) and not aggregate.passed(1.0)
    assert aggregate.passed((6 - aggregate.failed) / 6) and not aggregate.passed((6 - aggregate.failed) / 6 + 0.01)


def test_task_checks_per_sample():
    rng = np.random.default_rng(0)
    logits = [rng.normal(size=(4, 10)).astype(np.float32) for _ in range(5)]
    targets = [x.copy() for x in logits]
    row = targets[2][1]
    row[np.argsort(row)[-2]] = row.max() + 1  # sample 2, row 1: the runner-up becomes the top-1
    tolerances = ToleranceSpec(checks=tuple(parse_check(c) for c in ("topk:1", "cosine:0.9", "snr:10")))
    aggregate = _merged(list(zip(logits, targets)), tolerances)
    verdicts = aggregate.verdicts(1.0)
    assert verdicts.failed == 1 and verdicts.failing == (2,)
    topk, cosine, snr = verdicts.checks
    assert topk.check == "topk:1" and topk.value == pytest.approx(19 / 20) and topk.failed == 1
    assert cosine.failed == 0 and 0.9 < cosine.value < 1 and math.isfinite(snr.value) and snr.failed == 0
    assert aggregate.passed(0.8) and not aggregate.passed(1.0)


@pytest.mark.parametrize("nan_first", [False, True])
def test_a_sample_with_no_finite_element_is_the_worst_of_a_cosine_check(nan_first):
    """A sample whose target is all inf has cosine NaN and fails `cosine:0.99`: the summary's worst
    value is that NaN, not the best finite cosine of the others (the terminal said "cosine 1.000000
    in the worst sample (>= 0.99); 1 of 3 samples fail")."""
    from trtdiff.measure.checks import describe_check

    rng = np.random.default_rng(0)
    good = [(r, (r * np.float32(1.001)).astype(np.float32)) for r in rng.uniform(-1, 1, (2, 100)).astype(np.float32)]
    broken = (good[0][0], np.full(100, np.inf, np.float32))
    pairs = [broken, *good] if nan_first else [*good, broken]
    verdicts = _merged(pairs, ToleranceSpec(checks=(parse_check("cosine:0.99"),))).verdicts(1.0)
    (cosine,) = verdicts.checks
    assert cosine.failed == 1 and math.isnan(cosine.value)
    assert describe_check(cosine.check, cosine.value) == "cosine: the worst sample has no element finite on both sides"


@pytest.mark.parametrize("text, label", [("cosine:0.999", "cosine:0.999"), ("cosine:0.99999999", "cosine:0.99999999"),
                                         ("snr:30.123456", "snr:30.123456"), ("logits:topk:5", "logits:topk:5"),
                                         ("snr:1e-7", "snr:1e-07")])
def test_a_check_reads_back_as_the_same_check(text, label):
    check = parse_check(text)
    assert str(check) == label and parse_check(str(check)) == check


def test_a_value_below_a_fine_threshold_does_not_read_as_equal_to_it():
    from trtdiff.measure.checks import describe_check

    assert describe_check("cosine:0.99999999", 0.9999999174) == \
        "cosine 0.9999999 in the worst sample (>= 0.99999999)"
    assert describe_check("cosine:0.999", 0.99912) == "cosine 0.999120 in the worst sample (>= 0.999)"
    assert describe_check("snr:30.05", 30.049) == "SNR 30.0 dB in the worst sample (>= 30.05 dB)"
    assert describe_check("cosine:1", 0.9999999) == "cosine 0.9999999 in the worst sample (>= 1)"
    assert describe_check("snr:30", 29.996) == "SNR 29.996 dB in the worst sample (>= 30 dB)"
    assert describe_check("snr:30", 30.0) == "SNR 30.0 dB in the worst sample (>= 30 dB)"
    assert describe_check("snr:30", 30.00001) == "SNR 30.00001 dB in the worst sample (>= 30 dB)"


def test_a_share_below_one_never_reads_as_all():
    from trtdiff.formatting import fmt_share_exact

    assert [fmt_share_exact(s) for s in (0.9, 0.9999, 0.123456789, 0.0)] == ["90.0%", "99.99%", "12.3456789%", "0.0%"]
