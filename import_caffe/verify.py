"""Parity: compare Caffe's blobs with TF's reference values, tensor by tensor, in network order.
The same code serves the user's report and the test suite."""
import numpy as np

from . import tolerances

OK, INACCURATE, FAILED, NOT_COMPARED = "ok", "inaccurate", "failed", "not compared"


def compare(tf_value, caffe_value, tolerance):
    """Metrics for one tensor: max_abs, max_rel (relative to max |tf|), argmax agreement, status."""
    row = {"max_abs": None, "max_rel": None, "scale": None, "tolerance": tolerance.rel}
    if caffe_value is None or tuple(tf_value.shape) != tuple(caffe_value.shape):
        row["status"] = FAILED
        row["error"] = "shape %r vs TF %r" % (None if caffe_value is None else tuple(caffe_value.shape),
                                               tuple(tf_value.shape))
        return row
    max_abs, scale = _max_abs_diff(caffe_value, tf_value)
    if max_abs is None:
        row["status"] = FAILED
        row["error"] = "Caffe produced NaN or Inf"
        return row
    row.update(max_abs=max_abs, scale=scale, max_rel=max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else None))
    limit = max(tolerance.rel * scale, tolerances.ABS_FLOOR if scale == 0 else 0.0)
    row["status"] = OK if max_abs <= limit else INACCURATE
    if tf_value.ndim == 2 and tf_value.shape[1] > 1:
        # Caffe's pick agrees when TF holds it as large as its own pick within the tolerance: entries TF
        # itself ties (a saturated activation) may flip by round-off, which is no error
        rows = np.arange(tf_value.shape[0])
        tf_pick, caffe_pick = np.argmax(tf_value, axis=1), np.argmax(caffe_value, axis=1)
        gap = tf_value[rows, tf_pick].astype(np.float64) - tf_value[rows, caffe_pick].astype(np.float64)
        agree = (tf_pick == caffe_pick) | (gap <= limit)
        row["argmax_agree"] = int(agree.sum())
        row["argmax_total"] = int(agree.size)
        if not agree.all():
            row["status"] = INACCURATE
    return row


def max_abs_diff(a, b):
    """max |a - b| over two arrays of one shape (views in any layout), None if either holds NaN or Inf."""
    return _max_abs_diff(a, b)[0] if np.isfinite(b).all() else None


def _max_abs_diff(caffe_value, tf_value):
    """(max |caffe - tf|, max |tf|) over the tensor; max |caffe - tf| is None when Caffe's values hold NaN
    or Inf (TF's are finite: the bundle is checked for that). One pass in float32 through a small
    buffer, block by block, so a transposed view (Caffe's blob seen in TF's layout) is never copied
    whole; a float32 difference is exact to within half an ulp of the difference, far below any
    tolerance. Where float32 overflows (|values| near 3e38) the exact float64 path decides."""
    if not tf_value.size:
        return 0.0, 0.0
    buf = np.empty(min(tf_value.size, _CHUNK), dtype=np.float32)
    worst = scale = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for block in _blocks(tf_value.shape):
            a, b = caffe_value[block], tf_value[block]
            part = buf[:a.size].reshape(a.shape)
            scale = max(scale, float(b.max()), -float(b.min()))
            np.subtract(a, b, out=part, dtype=np.float32)
            np.abs(part, out=part)
            most = float(part.max())       # NaN if any is NaN
            if not most < float("inf"):    # NaN or Inf
                break
            worst = max(worst, most)
        else:
            return worst, scale
    scale = float(np.abs(tf_value).max())
    if not np.isfinite(caffe_value).all():
        return None, scale
    return float(np.abs(caffe_value.astype(np.float64) - tf_value.astype(np.float64)).max()), scale


_CHUNK = 1 << 18


def _blocks(shape):
    """Index tuples that cover an array of `shape` in blocks of at most _CHUNK elements (or one row of
    the last axis, if that is longer): whole trailing axes, a range of the axis before them."""
    k, inner = len(shape), 1
    while k > 0 and inner * shape[k - 1] <= _CHUNK:
        k -= 1
        inner *= shape[k]
    if k == 0:
        yield ()
        return
    step = max(1, _CHUNK // inner)
    for lead in np.ndindex(*shape[:k - 1]):
        for i in range(0, shape[k - 1], step):
            yield lead + (slice(i, i + step),)
