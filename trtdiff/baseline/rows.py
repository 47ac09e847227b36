"""Read a profile's pieces back from JSON: tensor rows (the flat layout of `--json` results and of
a baseline's profile: identity, status, verdict, tolerances and every ErrorMetrics field) and the
tolerances, each field checked by type (`trtdiff.baseline.fields`). Fields added to ErrorMetrics
after a file was written take their defaults; fields this version does not know are ignored."""

from __future__ import annotations

import dataclasses
from typing import Any

from trtdiff.baseline.fields import Fields
from trtdiff.baseline.profile import REQUIRED_METRIC_FIELDS
from trtdiff.result import CheckSummary, ErrorMetrics, SampleVerdicts, TensorResult, Tolerances

STATUSES = ("compared", "reference_only", "target_only", "shape_mismatch")


def tensor_from_row(row: Fields) -> TensorResult:
    status = row.get("status", (str,))
    if status not in STATUSES:
        row.source.fail(row.at("status"), f"should be one of {', '.join(STATUSES)}", repr(status))
    shape = row.get("shape", (list,), None, optional=True)
    return TensorResult(
        name=row.get("name", (str,)), node=row.get("node", (str,)), op_type=row.get("op_type", (str,)),
        index=row.get("index", (int,)), shape=tuple(shape) if shape is not None else None,
        dtype=row.get("dtype", (str,), ""), status=status,
        target_dtype=row.get("target_dtype", (str,), None, optional=True),
        is_output=row.get("is_output", (bool,)), passed=row.get("passed", (bool,), None, optional=True),
        atol=row.number("atol"), rtol=row.number("rtol"),
        metrics=metrics_from_row(row) if row.data.get("max_abs") is not None else None,
        worst_sample=row.get("worst_sample", (int,), None, optional=True),
        sample_verdicts=verdicts_from(row.sub("sample_verdicts")) if row.data.get("sample_verdicts") else None,
    )


def verdicts_from(fields: Fields) -> SampleVerdicts:
    """How an output's samples fared: counts, the first failing indices, and each check's statistic."""
    def counts(key: str) -> tuple[int, ...]:
        values = fields.get(key, (list,), [])
        if not all(type(v) is int for v in values):
            fields.source.fail(fields.at(key), "should be a list of whole numbers", repr(values)[:40])
        return tuple(values)

    checks = tuple(CheckSummary(check.get("check", (str,)), check.number("value"), check.get("failed", (int,)))
                   for check in fields.items("checks"))
    return SampleVerdicts(count=fields.get("count", (int,)), failed=fields.get("failed", (int,)),
                          failing=counts("failing"), checks=checks,
                          min_agreement=fields.number("min_agreement", 1.0),
                          max_abs_histogram=counts("max_abs_histogram"))


# (name, kind, may be None, required) per ErrorMetrics field; kind: "counts" (the histogram), "float", "int"
_METRIC_SPECS = tuple(
    (f.name, "counts" if str(f.type).startswith("tuple") else "float" if str(f.type).startswith("float") else "int",
     "None" in str(f.type), f.name in REQUIRED_METRIC_FIELDS)
    for f in dataclasses.fields(ErrorMetrics))


def metrics_from_row(row: Fields) -> ErrorMetrics:
    """Every ErrorMetrics field by its declared type."""
    values: dict[str, Any] = {}
    for name, kind, optional, required in _METRIC_SPECS:
        if not required and name not in row.data:
            continue
        if kind == "counts":
            counts = row.get(name, (list,))
            if not all(type(c) is int for c in counts):
                row.source.fail(row.at(name), "should be a list of counts", repr(counts)[:40])
            values[name] = tuple(counts)
        elif kind == "float":
            values[name] = row.number(name, optional=optional)
        else:
            values[name] = row.get(name, (int,), optional=optional)
    return ErrorMetrics(**values)


def tolerances_from(fields: Fields) -> Tolerances:
    tables = {}
    for key in ("per_tensor_atol", "per_tensor_rtol"):
        table = Fields(fields.mapping(key, {}), fields.at(key), fields.source)
        tables[key] = {name: table.number(name) for name in table.data}
    return Tolerances(atol=fields.number("atol"), rtol=fields.number("rtol"), check=fields.get("check", (str,)),
                      rel_floor=fields.number("rel_floor"), **tables, checks=tuple(fields.strings("checks", [])),
                      min_agreement=fields.number("min_agreement", 1.0), topk_axis=fields.get("topk_axis", (int,), -1))
