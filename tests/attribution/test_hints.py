"""Each cause hint fires on the fixture that plants it, names the node, and carries its numbers."""

from __future__ import annotations

import numpy as np
import pytest
from attribution_helpers import attributed, build, hints_of, save

from trtdiff.attribution.hints import LIMITS, local_hints, relative_rms
from trtdiff.measure.metrics import compute_metrics


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hints")
    fp16 = {name: attributed(save(build.BUILDERS[name](), tmp / f"{name}.onnx"), fp16=True)
            for name in ("overflow", "underflow", "nan_origin", "cancellation")}
    fp16["quantization"] = attributed(save(build.quantization(), tmp / "q.onnx"), int8=True)
    return fp16


def test_overflow_hint_names_node_and_values_past_65504(runs):
    (hint,) = hints_of(runs["overflow"], "square", "overflow")
    assert hint.node == "square" and "65504" in hint.message and "square" in hint.message
    assert hint.figures["type_max"] == 65504.0
    assert hint.figures["ref_max_abs"] > 9e5  # (1000 x)^2 for x close to 1
    assert hint.figures["beyond_count"] > 0 and hint.figures["inf_count"] == hint.figures["beyond_count"]
    # the node after it receives the infs: no overflow of its own
    assert not hints_of(runs["overflow"], "normalize", "overflow")


def test_underflow_hint_gives_subnormal_and_flushed_shares(runs):
    (hint,) = hints_of(runs["underflow"], "shrink", "underflow")
    assert hint.figures["flushed_share"] == pytest.approx(1.0)
    assert hint.figures["subnormal_share"] == pytest.approx(1.0)
    assert hint.figures["smallest_normal"] == pytest.approx(6.103515625e-05)
    assert "100.0%" in hint.message and "'shrink'" in hint.message
    assert not hints_of(runs["underflow"], "expand", "underflow")


def test_nan_origin_hint_at_the_division(runs):
    comparison = runs["nan_origin"]
    hints = hints_of(comparison, "ratio", "nan_origin")
    assert hints and hints[0].figures["nan_count"] == 256 and hints[0].figures["nan_share"] == 1.0
    assert all(not hints_of(comparison, n, "nan_origin") for n in ("num", "den", "offset", "y"))


def test_cancellation_hint_gives_magnitude_ratio_and_error(runs):
    (hint,) = hints_of(runs["cancellation"], "centered", "cancellation")
    assert hint.figures["input_rms"] > 1000 and hint.figures["output_rms"] < 0.5
    assert hint.figures["ratio"] > 1000
    assert hint.figures["local_relative_rms"] > 0.1
    assert "'shifted'" in hint.message  # the large input it cancels


def test_quantization_hint_gives_outlier_ratio_and_step(runs):
    hints = [h for h in hints_of(runs["quantization"], "proj", "quantization") if "'spike'" in h.message]
    (hint,) = hints
    assert hint.figures["max_abs"] > 1900  # the planted outlier
    assert hint.figures["outlier_ratio"] > 100
    assert hint.figures["step"] == pytest.approx(hint.figures["max_abs"] / 127, rel=0.01)
    assert hint.figures["zero_share"] > 0.9
    assert not hints_of(runs["quantization"], "embed", "quantization")


def test_cumulative_nan_origin_when_nan_appears_only_in_the_target_run(tmp_path):
    """demo_convnet: infs from head_conv turn into NaN at fc (inf - inf) in the target run; fc
    itself, fed the reference's inputs, is fine: the hint is from the cumulative run."""
    from attribution_helpers import ROOT

    comparison = attributed(str(ROOT / "fixtures/demo_convnet.onnx"), fp16=True)
    (hint,) = hints_of(comparison, "fc", "nan_origin")
    assert "target run" in hint.message and hint.figures["nan_count"] == 10
    assert comparison.offenders[0].node == "head_conv"


def test_no_hints_for_plain_rounding():
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 1, 4096).astype(np.float32)
    local = ref.astype(np.float16).astype(np.float32)
    metrics, passed = compute_metrics(ref, local, 1e-3, 1e-3)
    assert relative_rms(metrics) < 2 * LIMITS["fp16"].unit_roundoff
    assert local_hints("n", "Add", "fp16", ref, local, metrics, True, False, {"a": ref}, []) == []


@pytest.mark.parametrize("size", [1, 2, 999, 1000, 4097])
def test_scale_fit_reads_the_quantized_tensor_as_numpy_does(size):
    """The p99.9, median, max and zero share of a quantized tensor's nonzero finite |x|: numpy's
    own quantiles to the last bit (found by the bucket search, not a partition; the median within
    an ulp of np.median's mean of the two middle values)."""
    from trtdiff.attribution.facts import Quantizer
    from trtdiff.attribution.hints import ScaleFit

    rng = np.random.default_rng(size)
    values = (rng.standard_cauchy(size) * 0.1).astype(np.float32)
    values[: size // 10] = 0
    if size > 3:
        values[1], values[2] = np.nan, -np.inf
    fit = ScaleFit.of(Quantizer("x", 0.05), values)
    magnitude = np.abs(values.astype(np.float64))
    magnitude = magnitude[np.isfinite(magnitude) & (magnitude != 0)]
    assert fit.p999 == np.quantile(magnitude, 0.999) and fit.amax == magnitude.max()
    assert fit.median == pytest.approx(np.median(magnitude), rel=1e-15, abs=0)
    assert fit.zero == np.count_nonzero(magnitude < 0.025) / magnitude.size
    assert ScaleFit.of(Quantizer("x", 0.05), np.zeros(4, np.float32)) is None


def test_scale_fit_counts_values_below_half_a_step_as_float64_does():
    """float32 values are compared with half the step (a float64) without a float64 copy: the
    bound is the least float32 not below it, so values on either side of it count as before."""
    from trtdiff.attribution.facts import Quantizer
    from trtdiff.attribution.hints import ScaleFit

    for step in (0.1, 0.7, 2.0 ** -7, 1e-3):  # half of 0.7 rounds down in float32, of 0.1 up
        half = np.float32(step / 2)
        near = [np.nextafter(half, np.float32(0)), half, np.nextafter(half, np.float32(1)), np.float32(1)]
        values = np.array(near, np.float32)
        fit = ScaleFit.of(Quantizer("x", step), values)
        assert fit.zero * values.size == np.count_nonzero(values.astype(np.float64) < step / 2), step
        assert ScaleFit.of(Quantizer("x", step), values.astype(np.float16)).zero * 4 == \
            np.count_nonzero(values.astype(np.float16).astype(np.float64) < step / 2)


def test_scale_fits_work_out_each_quantizer_once(monkeypatch):
    from trtdiff.attribution import hints
    from trtdiff.attribution.facts import Quantizer

    calls = []
    real = hints.ScaleFit.of.__func__

    def counted(cls, q, values):
        calls.append(q)
        return real(cls, q, values)

    monkeypatch.setattr(hints.ScaleFit, "of", classmethod(counted))
    fits, values = hints.ScaleFits(), np.linspace(-1, 1, 101, dtype=np.float32)
    first = fits.of(Quantizer("a", 0.01), values)
    assert fits.of(Quantizer("a", 0.01), values) is first and fits.of(Quantizer("a", 0.02), values) is not None
    assert calls == [Quantizer("a", 0.01), Quantizer("a", 0.02)]
