"""The report's data-set section: what the samples were, and per output how they fared (sample
verdicts, the task metric, and the distribution of each sample's own max_abs error)."""

from __future__ import annotations

from typing import Any

from trtdiff.measure.checks import describe_check
from trtdiff import formatting as fmt
from trtdiff.report.sections import decade_bars
from trtdiff.result import Comparison


def samples_view(comparison: Comparison, ids: dict[str, str]) -> dict[str, Any] | None:
    """None for a result from before data sets."""
    samples = comparison.samples
    if samples is None:
        return None
    facts = [("samples", samples.description or fmt.fmt_count(samples.count)),
             ("fingerprint", samples.fingerprint or fmt.MISSING),
             ("reference", samples.reference)]
    if samples.calibration:
        facts.append(("INT8/FP8 calibration", samples.calibration))
    if samples.attribution_sample is not None:
        facts.append(("attribution ran on", f"sample {samples.attribution_sample}"))
    outputs = []
    for tensor in comparison.tensors:
        verdicts = tensor.sample_verdicts
        if verdicts is None:
            continue
        shown = ", ".join(str(i) for i in verdicts.failing) + (", ..." if verdicts.failed > len(verdicts.failing) else "")
        outputs.append({
            "tensor": tensor.name, "anchor": ids.get(tensor.name, ""),
            "verdict": f"{verdicts.failed:,} of {verdicts.count:,} samples fail" + (f" ({shown})" if shown else ""),
            "agreement": f"{fmt.fmt_percent(100 * verdicts.agreement)} pass, at least "
                         f"{fmt.fmt_percent(100 * verdicts.min_agreement)} needed",
            "checks": [describe_check(c.check, c.value) + (" (1 sample fails it)" if c.failed == 1
                                                            else f" ({c.failed:,} samples fail it)")
                       for c in verdicts.checks],
            "worst": "" if tensor.worst_sample is None else f"worst sample {tensor.worst_sample}",
            "bars": decade_bars(verdicts.max_abs_histogram, tensor.atol) if verdicts.max_abs_histogram else [],
        })
    return {"facts": facts, "outputs": outputs}
