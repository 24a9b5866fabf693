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
    if not np.isfinite(caffe_value).all():
        row["status"] = FAILED
        row["error"] = "Caffe produced NaN or Inf"
        return row
    diff = np.abs(caffe_value.astype(np.float64) - tf_value.astype(np.float64))
    scale = float(np.abs(tf_value).max()) if tf_value.size else 0.0
    max_abs = float(diff.max()) if diff.size else 0.0
    row.update(max_abs=max_abs, scale=scale, max_rel=max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else None))
    limit = max(tolerance.rel * scale, tolerances.ABS_FLOOR if scale == 0 else 0.0)
    row["status"] = OK if max_abs <= limit else INACCURATE
    if tf_value.ndim == 2 and tf_value.shape[1] > 1:
        agree = np.argmax(tf_value, axis=1) == np.argmax(caffe_value, axis=1)
        row["argmax_agree"] = int(agree.sum())
        row["argmax_total"] = int(agree.size)
        if not agree.all():
            row["status"] = INACCURATE
    return row


def summarize(rows, output_rows):
    worst = [r for r in rows if r["status"] in (INACCURATE, FAILED)]
    status = OK if not worst and all(r["status"] == OK for r in output_rows) else \
        (FAILED if any(r["status"] == FAILED for r in worst) else INACCURATE)
    first = worst[0]["layer"] if worst else None
    max_rel = max([r["max_rel"] or 0.0 for r in output_rows] or [0.0])
    return {"status": status, "first_divergence": first, "outputs_max_rel": max_rel,
            "layers_compared": sum(1 for r in rows if r["status"] != NOT_COMPARED)}
