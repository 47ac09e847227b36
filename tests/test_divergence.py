"""The first divergence that means something (issue 15, acceptance 2): the first tensor whose SNR
falls below --divergence-snr, or that holds NaN/Inf where the reference is finite, next to the
tolerance-based first failure; and what the terminal and report lead with."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_builders import REPO
from trtdiff.measure.divergence import divergence_reason, diverges, first_significant_divergence
from trtdiff.measure.metrics import compute_metrics
from trtdiff.result import (
    Comparison,
    Offender,
    RunSettings,
    TensorResult,
    Tolerances,
    comparison_from_json,
    comparison_to_json,
)
from trtdiff.summary import divergence_summary, named_offenders

DEMO = REPO / "fixtures" / "demo_convnet.onnx"
RNG = np.random.default_rng(0)
VALUES = RNG.normal(0, 1, 4096).astype(np.float32)


def _tensor(name: str, index: int, ref: np.ndarray, target: np.ndarray, rtol: float = 1e-3) -> TensorResult:
    metrics, passed = compute_metrics(ref, target, 1e-3, rtol)
    return TensorResult(name, f"{name}_node", "Mul", index, ref.shape, "float32", passed=passed,
                        atol=1e-3, rtol=rtol, metrics=metrics)


def _scaled(index: int) -> TensorResult:
    """Values ~1e4 rounded to FP16: errors ~1, far above atol 1e-3 (rtol 0), SNR ~74 dB."""
    return _tensor("scaled", index, VALUES * 1e4, _fp16(VALUES * 1e4), rtol=0.0)


def _fp16(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float16).astype(np.float32)


def _comparison(*tensors: TensorResult, snr: float = 40.0) -> Comparison:
    settings = RunSettings("ref", "target", Tolerances(1e-3, 1e-3, "elementwise", 1e-6), divergence_snr_db=snr)
    failing = [t for t in tensors if t.passed is False]
    return Comparison("m.onnx", not failing, settings, tensors, (tensors[-1].name,),
                      first_divergence=min(failing, key=lambda t: t.index).name if failing else None,
                      significant_divergence=first_significant_divergence(tensors, snr))


def test_a_scaled_tensor_fails_the_absolute_atol_but_does_not_diverge():
    tensor = _scaled(0)
    assert tensor.passed is False
    assert 70 < tensor.metrics.snr_db < 80 and not diverges(tensor.metrics, 40.0)
    assert "not below the 40 dB" in divergence_reason(tensor.metrics, 40.0)


def test_an_overflow_diverges_though_its_finite_elements_look_fine():
    ref = VALUES.copy()
    ref[:10] = 1e5  # past FP16's 65504
    with np.errstate(over="ignore"):
        tensor = _tensor("overflow", 0, ref, _fp16(ref))
    assert tensor.metrics.snr_db > 60  # over the elements finite on both sides
    assert diverges(tensor.metrics, 40.0)
    assert divergence_reason(tensor.metrics, 40.0).startswith("10 of 4,096 values are NaN/Inf")


def test_first_significant_divergence_is_the_first_in_topological_order_below_the_threshold():
    noisy = VALUES + RNG.normal(0, 0.05, VALUES.size).astype(np.float32)  # SNR ~26 dB
    later = _tensor("later_noisy", 5, VALUES, noisy)
    early_scaled = _scaled(1)
    earlier_noisy = _tensor("noisy", 3, VALUES, noisy)
    tensors = (later, early_scaled, earlier_noisy)  # listed out of order on purpose
    assert first_significant_divergence(tensors, 40.0) == "noisy"
    assert first_significant_divergence(tensors, 20.0) is None
    assert first_significant_divergence(tensors, 80.0) == "scaled"  # fp16 rounding: ~74 dB


def test_summary_leads_with_the_significant_divergence_and_says_why():
    scaled = _scaled(1)
    noisy = _tensor("noisy", 2, VALUES, VALUES + RNG.normal(0, 0.05, VALUES.size).astype(np.float32))
    summary = divergence_summary(_comparison(scaled, noisy))
    assert summary.lead.name == "noisy" and summary.significant
    assert "below the 40 dB" in summary.why and "first outside tolerance" not in summary.why
    assert summary.other.name == "scaled"
    assert summary.other_why.startswith("first outside tolerance, but SNR")


def test_summary_when_both_agree_or_only_tolerance_fails():
    noisy = _tensor("noisy", 2, VALUES, VALUES + RNG.normal(0, 0.05, VALUES.size).astype(np.float32))
    same = divergence_summary(_comparison(noisy))
    assert same.lead.name == "noisy" and same.other is None and same.why.endswith("first outside tolerance")
    scaled = _scaled(1)
    only = divergence_summary(_comparison(scaled))
    assert only.lead.name == "scaled" and not only.significant and "not below" in only.why
    exact = _tensor("exact", 0, VALUES, VALUES)
    assert divergence_summary(_comparison(exact)) is None


def test_named_offenders_need_a_score_near_the_top():
    ranked = tuple(Offender(rank, f"n{rank}", f"t{rank}", "Conv", rank, score)
                   for rank, score in enumerate([0.2, 0.05, 0.0019, 0.0, 0.0], start=1))
    base = _comparison(_tensor("t", 0, VALUES, VALUES))
    named = named_offenders(Comparison(**{**base.__dict__, "offenders": ranked}))
    assert [o.node for o in named] == ["n1", "n2"]  # 0.0019 < 1 % of 0.2; zeros never
    with_inf = (Offender(1, "boom", "b", "Exp", 0, float("inf")),) + ranked
    assert [o.node for o in named_offenders(Comparison(**{**base.__dict__, "offenders": with_inf}))] == ["boom"]


def test_significant_divergence_round_trips_through_json():
    noisy = _tensor("noisy", 2, VALUES, VALUES + RNG.normal(0, 0.05, VALUES.size).astype(np.float32))
    comparison = _comparison(noisy, snr=33.0)
    back = comparison_from_json(comparison_to_json(comparison))
    assert back.significant_divergence == "noisy" and back.settings.divergence_snr_db == 33.0


@pytest.mark.parametrize(("threshold", "expected"), [(40.0, "head_out"), (63.0, "block_relu")])
def test_demo_names_the_overflow_not_the_scale_only_mul(cli_run, tmp_path, threshold, expected):
    out = tmp_path / "r.json"
    result = cli_run("run", DEMO, "--fp16", "--mark-all", "--json", out, "--divergence-snr", threshold)
    assert result.exit_code == 1, result.output
    data = json.loads(out.read_text())
    assert data["first_divergence"] == "amplified"  # the scaled Mul fails only the absolute atol
    assert data["significant_divergence"] == expected
    assert data["settings"]["divergence_snr_db"] == threshold
    assert f"First divergence: '{expected}'" in result.stdout
