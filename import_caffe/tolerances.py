"""Parity tolerances: one table, a reason per entry. Differences are measured relative to the largest
magnitude of the TF tensor (max |caffe - tf| / max |tf|); an all-zero tensor must match to 1e-6."""
import collections

Tolerance = collections.namedtuple("Tolerance", "rel reason")

DEFAULT = Tolerance(1e-4, "float32 round-off: Caffe and TF sum convolutions and matrix products in "
                          "different orders")
TOLERANCES = {
    # op name -> Tolerance, for ops whose Caffe lowering is an approximation (none yet: every
    # lowering in this table's absence is exact up to round-off).
}
ABS_FLOOR = 1e-6


def for_op(op):
    return TOLERANCES.get(op, DEFAULT)
