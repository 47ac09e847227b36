"""Synthetic profiles and comparisons for the regression-gate tests: a chain of tensors whose error
is given per tensor, so that a test states exactly which one grew."""

from __future__ import annotations

import math

from trtdiff.baseline.profile import Profile, profile_from_comparison
from trtdiff.environment import collect
from trtdiff.result import HISTOGRAM_LABELS, Comparison, ErrorMetrics, RunSettings, TensorResult, Tolerances

ATOL = 1e-3


def metrics(max_abs: float, *, nonfinite: int = 0, size: int = 1000) -> ErrorMetrics:
    """Metrics consistent with one max abs error (the other statistics scale with it)."""
    histogram = [0] * len(HISTOGRAM_LABELS)
    histogram[-1] = nonfinite
    histogram[0] = size - nonfinite
    signal = 10.0
    max_abs = float(max_abs)
    snr = math.inf if max_abs == 0 else (-math.inf if math.isinf(max_abs) else 20 * math.log10(signal / max_abs))
    return ErrorMetrics(size=size, max_abs=max_abs, mean_abs=max_abs / 4, median_abs=max_abs / 5,
                        p99_abs=max_abs / 2, max_rel=max_abs / 2, mean_rel=max_abs / 8,
                        cosine=max(-1.0, 1.0 - (max_abs / signal) ** 2) if max_abs < math.inf else -1.0, snr_db=snr,
                        mismatches=int(max_abs > ATOL) * 10, nan_ref=0, nan_target=nonfinite, inf_ref=0,
                        inf_target=0, ref_max_abs=signal, histogram=tuple(histogram))


def tensor(name: str, index: int, max_abs: float, *, output: bool = False, nonfinite: int = 0,
           atol: float = ATOL) -> TensorResult:
    passed = max_abs <= atol and nonfinite == 0
    return TensorResult(name=name, node=f"node_{name}", op_type="Conv", index=index, shape=(1, 1000),
                        dtype="float32", is_output=output, passed=passed, atol=atol, rtol=ATOL,
                        metrics=metrics(max_abs, nonfinite=nonfinite))


def comparison(errors: dict[str, float], outputs: tuple[str, ...] = ("out",), *, check: str = "elementwise",
               nonfinite: dict[str, int] | None = None, model: str = "model.onnx") -> Comparison:
    """A comparison of a chain: `errors` maps tensor name -> max abs error, in topological order."""
    nonfinite = nonfinite or {}
    tensors = tuple(tensor(name, i, error, output=name in outputs, nonfinite=nonfinite.get(name, 0))
                    for i, (name, error) in enumerate(errors.items()))
    settings = RunSettings(reference="onnxruntime fp32", target="fp16 emulated",
                           tolerances=Tolerances(ATOL, ATOL, check, 1e-6))
    passed = all(t.passed for t in tensors if t.is_output)
    return Comparison(model=model, passed=passed, settings=settings, tensors=tensors, outputs=outputs,
                      environment=collect())


def profile(errors: dict[str, float], outputs: tuple[str, ...] = ("out",), **kwargs: object) -> Profile:
    return profile_from_comparison(comparison(errors, outputs, **kwargs))  # type: ignore[arg-type]


def chain(n: int, error: float = 1e-4, **changed: float) -> dict[str, float]:
    """n tensors t0..t{n-2} and the output 'out', each with `error` unless named in `changed`."""
    names = [f"t{i}" for i in range(n - 1)] + ["out"]
    return {name: changed.get(name, error) for name in names}
