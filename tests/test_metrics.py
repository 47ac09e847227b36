from __future__ import annotations

import math

import numpy as np
import pytest

from trtdiff.measure import accumulate, small
from trtdiff.measure.metrics import compute_metrics
from trtdiff.measure.quantiles import BUCKET_SHIFT, EDGE_BITS, FINE_BUCKETS, ErrorDistribution
from trtdiff.measure.tolerance import parse_tolerance_values, tolerance_spec_from_options
from trtdiff.errors import UsageError


def _reference_metrics(ref: np.ndarray, tgt: np.ndarray, atol: float, rtol: float, floor: float = 1e-6):
    r = ref.astype(np.float64).ravel()
    t = tgt.astype(np.float64).ravel()
    both = np.isfinite(r) & np.isfinite(t)
    e = np.abs(t[both] - r[both])
    rel = e / np.maximum(np.abs(r[both]), floor)
    same = (np.isnan(r) & np.isnan(t)) | (~np.isfinite(r) & ~np.isfinite(t) & (r == t))
    mism = int((e > atol + rtol * np.abs(r[both])).sum()) + int((~both & ~same).sum())
    return dict(max_abs=e.max(), mean_abs=e.mean(), median_abs=np.median(e), p99_abs=np.quantile(e, 0.99),
                max_rel=rel.max(), mean_rel=rel.mean(), mismatches=mism,
                cosine=np.dot(r[both], t[both]) / np.sqrt(np.dot(r[both], r[both]) * np.dot(t[both], t[both])),
                snr_db=10 * np.log10(np.dot(r[both], r[both]) / np.dot(e, e)))


@pytest.mark.parametrize("size", [1, 17, 70_001])
def test_metrics_match_a_direct_float64_computation(size, monkeypatch):
    monkeypatch.setattr(accumulate, "CHUNK", 1 << 12)  # exercise many chunks
    rng = np.random.default_rng(size)
    ref = rng.normal(0, 3, size).astype(np.float32)
    tgt = ref.astype(np.float16)
    if size > 10:
        ref[3] = np.nan
        tgt[5] = np.inf
    m, passed = compute_metrics(ref, tgt, 1e-3, 1e-3)
    expected = _reference_metrics(ref, tgt, 1e-3, 1e-3)
    for key, value in expected.items():
        assert getattr(m, key) == pytest.approx(value, rel=1e-9, abs=1e-12), key
    assert m.size == size
    assert m.nan_ref == (1 if size > 10 else 0) and m.inf_target == (1 if size > 10 else 0)
    assert m.ref_max_abs == pytest.approx(np.nanmax(np.abs(ref.astype(np.float64))))
    assert sum(m.histogram) == size  # finite errors by decade + the two non-finite disagreements
    assert passed is (expected["mismatches"] == 0)


def test_histogram_bins_by_decade_exactly():
    ref = np.zeros(6, np.float32)
    tgt = np.array([0, 1e-7, 5e-4, 1e-3, 2.0, 1e6], np.float32)
    m, _ = compute_metrics(ref, tgt, 1, 0)
    labels = ["0"] + [f"<=1e{d}" for d in range(-10, 6)] + [">1e5", "non-finite"]
    counts = dict(zip(labels, m.histogram))
    assert counts["0"] == 1 and counts["<=1e-7"] == 1 and counts["<=1e-3"] == 2
    assert counts["<=1e1"] == 1 and counts[">1e5"] == 1 and counts["non-finite"] == 0


def test_identical_tensors_pass_with_infinite_snr():
    x = np.linspace(-1, 1, 100, dtype=np.float32)
    m, passed = compute_metrics(x, x.copy(), 0, 0)
    assert passed and m.max_abs == 0 and math.isinf(m.snr_db) and m.cosine == pytest.approx(1.0)


def test_overflow_to_inf_fails_even_with_statistic_checks():
    ref = np.array([1e5, 1.0, 2.0], np.float32)
    with np.errstate(over="ignore"):
        tgt = ref.astype(np.float16)
    for check in ("elementwise", "max", "mean", "median", "p99"):
        m, passed = compute_metrics(ref, tgt, 1e-3, 1e-3, check=check)
        assert not passed and m.inf_target == 1 and m.histogram[-1] == 1


def test_statistic_checks_differ_from_elementwise():
    ref = np.zeros(1000, np.float32)
    tgt = np.zeros(1000, np.float32)
    tgt[0] = 1.0  # one outlier
    assert not compute_metrics(ref, tgt, 0.01, 0, "elementwise")[1]
    assert not compute_metrics(ref, tgt, 0.01, 0, "max")[1]
    assert compute_metrics(ref, tgt, 0.01, 0, "mean")[1]  # mean error 1e-3
    assert compute_metrics(ref, tgt, 0.01, 0, "p99")[1]
    assert compute_metrics(ref, tgt, 0.01, 0, "median")[1]


def test_relative_tolerance_alone_can_pass_a_statistic():
    ref = np.full(100, 1000.0, np.float32)
    tgt = ref * np.float32(1.0001)
    assert not compute_metrics(ref, tgt, 1e-3, 0, "max")[1]
    assert compute_metrics(ref, tgt, 1e-3, 1e-3, "max")[1]
    assert compute_metrics(ref, tgt, 1e-3, 1e-3, "p99")[1]


def test_nan_on_both_sides_matches():
    ref = np.array([np.nan, 1.0], np.float32)
    m, passed = compute_metrics(ref, ref.copy(), 0, 0)
    assert passed and m.nan_ref == 1 and m.nan_target == 1 and m.mismatches == 0


def test_quantiles_exact_on_ties_and_zeros():
    values = np.array([0, 0, 0, 1, 1, 2, 3, 1e-30, 5, 5], np.float32)
    (median, p99, p10), _ = ErrorDistribution(values).summary((0.5, 0.99, 0.1))
    expected = np.quantile(values, [0.5, 0.99, 0.1])
    assert [median, p99, p10] == pytest.approx(list(expected))


def test_empty_tensor():
    m, passed = compute_metrics(np.zeros(0, np.float32), np.zeros(0, np.float32), 0, 0)
    assert passed and m.size == 0 and math.isnan(m.max_abs)


def test_tolerance_parsing_with_overrides():
    assert parse_tolerance_values("--atol", ("1e-2", "out:0.5", "a:b:1"), 1e-3) == (1e-2, {"out": 0.5, "a:b": 1.0})
    with pytest.raises(UsageError, match="cannot read --atol"):
        parse_tolerance_values("--atol", ("x",), 0)
    with pytest.raises(UsageError, match="not a usable tolerance"):
        parse_tolerance_values("--atol", ("-1",), 0)
    spec = tolerance_spec_from_options(("1e-2", "y:1"), ("y:0.5",), "p99")
    assert spec.for_tensor("y") == (1.0, 0.5) and spec.for_tensor("z") == (1e-2, 1e-3)
    with pytest.raises(UsageError, match="close names: y"):
        tolerance_spec_from_options(("q:1",), (), "max").check_names(["y"])


def _kernel_state(size: int) -> tuple[np.ndarray, ...]:
    return (np.zeros(8), np.zeros(8, np.int64), np.empty(size, np.float32), np.empty(size, np.float32),
            np.zeros((2, FINE_BUCKETS), np.int64))


def test_simd_pass_agrees_with_the_general_pass():
    from trtdiff.measure import kernel

    rng = np.random.default_rng(7)
    ref = (rng.normal(0, 1, 50_000) * 10.0 ** rng.integers(-30, 30, 50_000)).astype(np.float32)
    tgt = (ref * (1 + rng.normal(0, 1e-3, ref.size))).astype(np.float32)
    tgt[::97] = ref[::97]  # exact zeros among the errors
    results = []
    for run in (kernel.accumulate_finite, kernel.accumulate):
        sums, counts, abs_errors, rel_errors, buckets = _kernel_state(ref.size)
        handled = run(ref, tgt, 1e-3, 1e-3, 1e-6, sums, counts, abs_errors, rel_errors, True, buckets,
                      EDGE_BITS, BUCKET_SHIFT)
        assert handled is not False
        results.append((sums, counts, abs_errors, rel_errors, buckets))
    (fast_sums, *fast_exact), (general_sums, *general_exact) = results
    np.testing.assert_allclose(fast_sums, general_sums, rtol=1e-12)  # only the order of additions differs
    for fast, general in zip(fast_exact, general_exact):
        np.testing.assert_array_equal(fast, general)


def test_simd_pass_declines_a_chunk_with_nan_or_inf_and_records_nothing():
    from trtdiff.measure import kernel

    for bad in (np.nan, np.inf, -np.inf):
        ref = np.ones(1000, np.float32)
        tgt = ref.copy()
        tgt[500] = bad
        sums, counts, abs_errors, rel_errors, buckets = _kernel_state(ref.size)
        assert kernel.accumulate_finite(ref, tgt, 0.0, 0.0, 1e-6, sums, counts, abs_errors, rel_errors, False,
                                        buckets, EDGE_BITS, BUCKET_SHIFT) is False
        assert not sums.any() and not counts.any() and not buckets.any()


def test_histogram_splits_values_at_each_decade_edge_exactly():
    edges = np.array([10.0 ** d for d in range(-10, 6)], np.float32)
    values = np.concatenate([edges, np.nextafter(edges, np.float32(0)), np.nextafter(edges, np.float32(np.inf)),
                             np.float32([0, 1e-12, 3e5])])
    expected = np.bincount(1 + np.searchsorted(edges, values[values > 0], side="left"), minlength=len(edges) + 2)
    expected[0] = np.count_nonzero(values == 0)
    small_path, _ = compute_metrics(np.zeros_like(values), values, 1, 0)  # counts from the numpy pass
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(small, "SMALL", 0)
        kernel_path, _ = compute_metrics(np.zeros_like(values), values, 1, 0)  # counts from the kernel
    numpy_path = ErrorDistribution(values).histogram()  # counts from numpy
    assert list(kernel_path.histogram[:-1]) == list(small_path.histogram[:-1]) == expected.tolist()
    assert numpy_path.tolist() == expected.tolist()


def test_errors_beyond_float32_range_are_clamped_alike_on_both_passes():
    ref = np.array([-3e38, 1.0] * 8, np.float32)
    tgt = np.array([3e38, 1.0] * 8, np.float32)  # |t - r| = 6e38: finite in float64, not in float32
    fast, _ = compute_metrics(ref, tgt, 0, 0)
    with_nan, _ = compute_metrics(np.append(ref, np.nan), np.append(tgt, np.nan), 0, 0)  # the general pass
    assert fast.max_abs == with_nan.max_abs == pytest.approx(6e38)
    assert fast.p99_abs == with_nan.p99_abs == pytest.approx(float(np.finfo(np.float32).max))


def test_an_infinite_neighbour_does_not_turn_an_exact_quantile_into_nan():
    assert ErrorDistribution(np.array([0.05, 0.05, np.inf], np.float32)).quantiles((0.5,)) == [pytest.approx(0.05)]
    ref = np.array([1, 1, 0], np.float32)
    tgt = np.array([1.05, 1.05, 1e33], np.float32)  # relative error of the last element: inf in float32
    assert compute_metrics(ref, tgt, 0.01, 0.1, "median")[1]


def test_extreme_tolerances_take_the_general_pass_and_agree_with_numpy():
    rng = np.random.default_rng(3)
    ref = rng.normal(0, 1e30, 5000).astype(np.float32)
    tgt = (ref * np.float32(1.001)).astype(np.float32)
    m, _ = compute_metrics(ref, tgt, 0.0, 1e-3, rel_floor=1e-300)
    expected = _reference_metrics(ref, tgt, 0.0, 1e-3, floor=1e-300)
    for key in ("max_abs", "mean_abs", "max_rel", "mean_rel", "mismatches"):
        assert getattr(m, key) == pytest.approx(expected[key], rel=1e-9), key


@pytest.mark.parametrize("seed", range(6))
def test_numpy_pass_for_small_tensors_agrees_with_the_kernel(seed):
    """The numpy twin records every count, maximum and stored error the kernel does; its float64 sums
    differ only in the order of their additions."""
    from trtdiff.measure import kernel
    from trtdiff.measure.quantiles import bucket_counts

    rng = np.random.default_rng(seed)
    size = int(rng.integers(0, small.SMALL))
    ref = (rng.normal(0, 1, size) * 10.0 ** rng.integers(-30, 30, size)).astype(np.float32)
    tgt = (ref * (1 + rng.normal(0, 1e-3, size))).astype(np.float32)
    tgt[::13] = ref[::13]  # exact zeros among the errors
    if seed % 2 and size > 10:  # NaN and Inf on either side, some agreeing
        for bad in (np.nan, np.inf, -np.inf):
            ref[rng.integers(0, size, 3)] = bad
            tgt[rng.integers(0, size, 3)] = bad
    (k_sums, k_counts, k_abs, k_rel, k_buckets), (n_sums, n_counts, n_abs, n_rel, _) = (
        _kernel_state(size), _kernel_state(size))
    kernel.accumulate(ref, tgt, 1e-3, 1e-3, 1e-6, k_sums, k_counts, k_abs, k_rel, True, k_buckets,
                      EDGE_BITS, BUCKET_SHIFT)
    small.accumulate(ref, tgt, 1e-3, 1e-3, 1e-6, n_sums, n_counts, n_abs, n_rel, True)
    filled = int(n_counts[0])
    np.testing.assert_array_equal(n_counts, k_counts)
    np.testing.assert_array_equal(n_abs[:filled], k_abs[:filled])
    np.testing.assert_array_equal(n_rel[:filled], k_rel[:filled])
    np.testing.assert_array_equal(bucket_counts(n_abs[:filled]), k_buckets)
    np.testing.assert_allclose(n_sums, k_sums, rtol=1e-12)
    maxima = [2, 3, 7]  # MAX_ABS, MAX_REL, REF_MAX: no order involved
    np.testing.assert_array_equal(n_sums[maxima], k_sums[maxima])


def test_small_and_large_paths_give_the_same_metrics(monkeypatch):
    """The same tensors measured through numpy and through the kernel (quantiles over several
    samples included): equal metrics but for the last bits of the float64 sums."""
    from trtdiff.measure.metrics import measure

    rng = np.random.default_rng(11)
    ref = rng.normal(0, 3, 3000).astype(np.float32)
    tgt = ref.astype(np.float16).astype(np.float32)
    ref[7], tgt[9] = np.nan, np.inf
    fast = measure(ref, tgt, 1e-3, 1e-3, rel_quantiles=(0.5, 0.99), fine=True)
    monkeypatch.setattr(small, "SMALL", 0)
    kernel = measure(ref, tgt, 1e-3, 1e-3, rel_quantiles=(0.5, 0.99), fine=True)
    for key in ("size", "max_abs", "median_abs", "p99_abs", "max_rel", "mismatches", "nan_ref", "inf_target",
                "ref_max_abs", "histogram"):
        assert getattr(fast.metrics, key) == getattr(kernel.metrics, key), key
    for key in ("mean_abs", "mean_rel", "cosine", "snr_db"):
        assert getattr(fast.metrics, key) == pytest.approx(getattr(kernel.metrics, key), rel=1e-12), key
    assert fast.rel_quantiles == kernel.rel_quantiles
    assert fast.fine is not None and kernel.fine is not None
    assert fast.fine.start == kernel.fine.start and fast.fine.counts.tolist() == kernel.fine.counts.tolist()


def test_a_run_comparing_only_small_tensors_never_loads_numba(tmp_path):
    """Loading numba's kernel costs a few tenths of a second; an outputs-only run of small outputs
    does without it."""
    import subprocess
    import sys

    from model_builders import conv_relu_model, save

    model = save(conv_relu_model(), tmp_path / "m.onnx")
    code = ("import sys; from trtdiff.cli import main; sys.argv = ['trtdiff', 'run', sys.argv[1], '--emulate', "
            "'fp16', '-q', '--json', sys.argv[2]]\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('numba' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(model), str(tmp_path / "r.json")],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_the_warm_up_loads_every_kernel_a_comparison_calls():
    """`warm_up` (run in the background while the reference runs) must load the compiled kernels
    a comparison then calls, with the argument types it passes: after it, comparing large tensors
    (a first sample with exact quantiles, a later one merged over samples, a NaN, relative
    quantiles, an INT8 hint's order statistics) loads or compiles nothing more."""
    import subprocess
    import sys

    code = """
import numpy as np
from trtdiff.measure import kernel
from trtdiff.measure.accumulate import warm_up
from trtdiff.measure.metrics import measure
from trtdiff.measure.quantiles import ErrorDistribution
kernels = [getattr(kernel, n) for n in ("accumulate_finite", "accumulate", "count_window", "count_buckets", "select")]
warm_up()
before = [len(k.signatures) for k in kernels]
ref = np.random.default_rng(0).standard_normal(300_000).astype(np.float32)
for target in (ref.astype(np.float16), ref.astype(np.float16).astype(np.float32)):
    measure(ref, target, 1e-3, 1e-3, rel_quantiles=(0.5,))
    measure(ref, target, 1e-3, 1e-3, fine=True, exact_quantiles=False)
with_nan = ref.copy(); with_nan[7] = np.nan
measure(ref, with_nan, 1e-3, 1e-3)
ErrorDistribution(np.abs(ref)).quantiles((0.5, 0.999))
print(before, [len(k.signatures) for k in kernels])
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = done.stdout.strip().split("] [")
    assert before.strip("[") == after.strip("]") and "0" not in before, done.stdout


def test_quantiles_are_numpys_to_the_last_bit():
    """The bucket search finds numpy's order statistics and interpolates as numpy does (from the
    upper end past the middle), so a quantile equals np.quantile on the float64 values exactly."""
    rng = np.random.default_rng(0)
    qs = (0.1, 0.3, 0.5, 0.6, 0.75, 0.9, 0.99, 0.999)
    for size in [*rng.integers(2, 10, 200), 1000, 20_000]:
        values = np.abs(rng.standard_cauchy(int(size))).astype(np.float32)
        values[rng.random(values.size) < 0.1] = 0
        assert ErrorDistribution(values).quantiles(qs) == np.quantile(values.astype(np.float64), qs).tolist()
