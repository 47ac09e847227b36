"""Read a profile's pieces back from JSON: tensor rows (the flat layout of `--json` results and of
a baseline's profile: identity, status, verdict, tolerances and every ErrorMetrics field) and the
tolerances, each field checked by its declared type through the same reader as results
(`trtdiff.result.tensor_from_dict`, `trtdiff.typed`). Fields added after a file was written take
their defaults; fields this version does not know are ignored."""

from __future__ import annotations

from trtdiff.baseline.fields import Fields
from trtdiff.result import Tolerances, TensorResult, tensor_from_dict
from trtdiff.typed import decode_dataclass


def tensor_from_row(row: Fields) -> TensorResult:
    return tensor_from_dict(row.data, row.source.document, row.where)


def tolerances_from(fields: Fields) -> Tolerances:
    tolerances: Tolerances = decode_dataclass(Tolerances, fields.data, fields.source.document, fields.where)
    return tolerances
