"""Layout of the arrays the comparison kernel fills: shared by the kernel (compiled by numba)
and the Accumulator that reads them, without importing numba."""

# float64 running values, index into `sums`
SUM_ABS, SUM_REL, MAX_ABS, MAX_REL, REF_SQ, TGT_SQ, ERR_SQ, REF_MAX = range(8)
N_SUMS = 8
MAXIMA = (MAX_ABS, MAX_REL, REF_MAX)  # merged by taking the larger; the other sums add
# int64 counters, index into `counts`
FILLED, MISMATCHES, ZEROS, DISAGREE, NAN_REF, NAN_TGT, INF_REF, INF_TGT = range(8)
N_COUNTS = 8
