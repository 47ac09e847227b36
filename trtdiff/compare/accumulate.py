"""Running float64 sums over a tensor pair, chunk by chunk, with buffers reused across chunks so
the work stays in cache and allocates nothing per chunk."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trtdiff.compare.quantiles import BUCKET_SHIFT, FINE_BUCKETS

CHUNK = 1 << 18  # 2 MiB float64 buffers (in L3): numpy calls long enough that threads comparing
# different tensors in parallel rarely wait on the GIL; allocated once per tensor


@dataclass
class Accumulator:
    size: int
    keep_rel: bool
    filled: int = 0
    sum_abs: float = 0.0
    sum_rel: float = 0.0
    max_abs: float = 0.0
    max_rel: float = 0.0
    ref_sq: float = 0.0
    tgt_sq: float = 0.0
    err_sq: float = 0.0
    ref_max_abs: float = 0.0
    mismatches: int = 0
    zeros: int = 0  # errors exactly 0
    nonfinite_disagreements: int = 0
    nan_ref: int = 0
    nan_target: int = 0
    inf_ref: int = 0
    inf_target: int = 0
    bucket_counts: np.ndarray = field(init=False, repr=False)
    abs_errors: np.ndarray = field(init=False, repr=False)
    rel_errors: np.ndarray | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.abs_errors = np.empty(self.size, dtype=np.float32)
        self.bucket_counts = np.zeros(FINE_BUCKETS, dtype=np.int64)
        self.rel_errors = np.empty(self.size, dtype=np.float32) if self.keep_rel else None

    @property
    def dot(self) -> float:
        """sum(r * t), from |t - r|^2 = |t|^2 + |r|^2 - 2 r.t (one dot product fewer per chunk)."""
        return 0.5 * (self.ref_sq + self.tgt_sq - self.err_sq)

    @classmethod
    def run(cls, ref: np.ndarray, target: np.ndarray, atol: float, rtol: float,
            rel_floor: float, keep_rel: bool) -> Accumulator:
        acc = cls(ref.size, keep_rel)
        buffers = _Buffers.allocate(min(CHUNK, max(ref.size, 1)))
        for start in range(0, ref.size, CHUNK):
            stop = min(start + CHUNK, ref.size)
            acc._add(buffers.view(stop - start), ref[start:stop], target[start:stop], atol, rtol, rel_floor)
        return acc

    def finite_abs_errors(self) -> np.ndarray:
        return self.abs_errors[: self.filled]

    def finite_rel_errors(self) -> np.ndarray | None:
        return None if self.rel_errors is None else self.rel_errors[: self.filled]

    def _add(self, buf: _Buffers, ref: np.ndarray, target: np.ndarray,
             atol: float, rtol: float, rel_floor: float) -> None:
        r, t, err, tmp = buf.r, buf.t, buf.err, buf.tmp
        np.copyto(r, ref, casting="unsafe")
        np.copyto(t, target, casting="unsafe")
        np.subtract(t, r, out=err)
        np.abs(err, out=err)
        total = float(err.sum())
        if not np.isfinite(total):
            r, t, err = self._split_nonfinite(r, t, err)
            tmp = tmp[: err.size]
            total = float(err.sum())
        n = err.size
        if n == 0:
            return
        stored = self.abs_errors[self.filled:self.filled + n]
        stored[...] = err
        buckets = np.right_shift(stored.view(np.int32), BUCKET_SHIFT, out=buf.buckets[:n])
        self.bucket_counts += np.bincount(buckets, minlength=FINE_BUCKETS)
        chunk_max = float(err.max())
        self.zeros += n - int(np.count_nonzero(err))
        self.sum_abs += total
        self.max_abs = max(self.max_abs, chunk_max)
        # sums of squares through a reused buffer: np.dot would go through (threaded) BLAS
        self.ref_sq += float(np.multiply(r, r, out=tmp).sum())
        self.tgt_sq += float(np.multiply(t, t, out=tmp).sum())
        self.err_sq += float(np.multiply(err, err, out=tmp).sum())  # sum r*t = (ref_sq + tgt_sq - err_sq) / 2
        np.abs(r, out=tmp)
        self.ref_max_abs = max(self.ref_max_abs, float(tmp.max()))
        if chunk_max > atol:  # otherwise no element can exceed atol + rtol*|r|
            np.multiply(tmp, rtol, out=t)  # t is no longer needed: reuse it for the allowance
            t += atol
            self.mismatches += int(np.count_nonzero(np.greater(err, t, out=buf.flags[:n])))
        np.maximum(tmp, rel_floor, out=tmp)
        np.divide(err, tmp, out=tmp)
        self.sum_rel += float(tmp.sum())
        self.max_rel = max(self.max_rel, float(tmp.max()))
        if self.rel_errors is not None:
            self.rel_errors[self.filled:self.filled + n] = tmp
        self.filled += n

    def _split_nonfinite(self, r: np.ndarray, t: np.ndarray,
                         err: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Count NaN/Inf on each side and return only the elements finite on both."""
        finite_r = np.isfinite(r)
        finite_t = np.isfinite(t)
        nan_r = np.isnan(r)
        nan_t = np.isnan(t)
        both = finite_r & finite_t
        self.nan_ref += int(nan_r.sum())
        self.nan_target += int(nan_t.sum())
        self.inf_ref += int((~finite_r & ~nan_r).sum())
        self.inf_target += int((~finite_t & ~nan_t).sum())
        same = (nan_r & nan_t) | (~finite_r & ~finite_t & (r == t))
        disagree = int((~both & ~same).sum())
        self.mismatches += disagree
        self.nonfinite_disagreements += disagree
        if finite_r.any():
            self.ref_max_abs = max(self.ref_max_abs, float(np.abs(r[finite_r]).max()))
        return r[both], t[both], err[both]


@dataclass(frozen=True)
class _Buffers:
    """Reusable float64 work arrays of one chunk's size (and views of them for a shorter chunk)."""

    r: np.ndarray
    t: np.ndarray
    err: np.ndarray
    tmp: np.ndarray
    flags: np.ndarray
    buckets: np.ndarray

    @classmethod
    def allocate(cls, size: int) -> _Buffers:
        return cls(np.empty(size), np.empty(size), np.empty(size), np.empty(size), np.empty(size, dtype=bool),
                   np.empty(size, dtype=np.int32))

    def view(self, n: int) -> _Buffers:
        return _Buffers(self.r[:n], self.t[:n], self.err[:n], self.tmp[:n], self.flags[:n], self.buckets[:n])
