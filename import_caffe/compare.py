"""The compare stage of the import pipeline: each TF tensor that has a reference value against the Caffe
blob that holds it, in network order (one row each, with verify.compare's metrics); TF's and Caffe's
accuracy on labelled reference inputs; and each approximate lowering with the error it measured.

It runs where Caffe's blobs are (the Caffe child: see caffe_stage.run's `examine`). Where a tensor lives
in the net is the net source's answer (see pipeline.NetSource), so the generated net and your prototxt
are compared by this one code."""
from shared.errors import UsageError

from . import layout, tolerances, verify

NO_REFERENCE = "no TF reference"


def _in_tf_layout(value, ref):
    return None if value is None else layout.activation_view_in_tf(value, ref.layout, ref.shape)


def rows(manifest, plan, net, ref_values, preacts, blobs):
    """One row per TF tensor, in network order, a fused activation's input (preacts: node name -> TF's
    value before the activation) first. ref_values: tensor -> TF's value; blobs: Caffe blob -> array."""
    out = []
    output_tensors = set(o["tensor"] for o in manifest["outputs"])
    for node in manifest["nodes"]:
        tol = tolerances.for_op(node["op"])
        blob = net.preactivation_blob(node) if node["name"] in preacts else None
        if blob is not None:
            ref = plan.refs[node["outputs"][0]]
            row = {"layer": node["name"], "type": node["source_type"] + " (before activation)", "op": node["op"],
                   "tensor": blob, "caffe_layers": [node["name"]], "shape": ref.shape, "output": False, "blob": blob,
                   "before_activation": True}
            row.update(verify.compare(preacts[node["name"]], _in_tf_layout(blobs.get(blob), ref), tol))
            out.append(row)
        for tensor in node["outputs"]:
            row = {"layer": node["name"], "type": node["source_type"], "op": node["op"], "tensor": tensor,
                   "caffe_layers": net.caffe_layers(node), "shape": manifest["tensors"][tensor]["shape"],
                   "output": tensor in output_tensors}
            blob, why = net.locate(tensor)
            if why is None and tensor in ref_values:
                caffe = _in_tf_layout(blobs.get(blob), plan.refs[tensor])
                row.update(verify.compare(ref_values[tensor], caffe, tol))
                row["blob"] = blob
            else:
                row.update({"status": verify.NOT_COMPARED, "max_abs": None, "max_rel": None,
                            "note": why or NO_REFERENCE})
            note = net.note(node)
            if note:
                row["note"] = note
            out.append(row)
    return out


def accuracy(manifest, plan, net, ref_values, blobs, labels):
    """TF's and Caffe's accuracy on labelled reference inputs, and on how many inputs they agree (for
    each output of shape (N, classes))."""
    out = []
    for entry in manifest["outputs"]:
        tf_value = ref_values[entry["tensor"]]
        if tf_value.ndim != 2:
            continue
        if labels.shape[0] != tf_value.shape[0]:
            raise UsageError("%d labels for %d reference inputs" % (labels.shape[0], tf_value.shape[0]))
        blob, _ = net.locate(entry["tensor"])
        caffe = _in_tf_layout(blobs[blob], plan.refs[entry["tensor"]])
        tf_pred, caffe_pred = tf_value.argmax(axis=1), caffe.argmax(axis=1)
        out.append({"output": entry["name"], "inputs": int(labels.shape[0]),
                    "tf_accuracy": float((tf_pred == labels).mean()),
                    "caffe_accuracy": float((caffe_pred == labels).mean()),
                    "agree": int((tf_pred == caffe_pred).sum())})
    return out


def approximations(manifest, rows_):
    """Each approximate lowering with the error measured against TF on its node's outputs (and the error
    already in its input, 0 for a model input, so the approximation's own share shows)."""
    from .handlers.activation import approximations as methods_of
    out = []
    for node in manifest["nodes"]:
        for method in methods_of(node):
            mine = [r for r in rows_ if r["layer"] == node["name"] and r["tensor"] in node["outputs"]]
            abs_err = [r["max_abs"] for r in mine if r.get("max_abs") is not None]
            rel_err = [r["max_rel"] for r in mine if r.get("max_rel") is not None]
            feeding = [r["max_abs"] for r in rows_ if r["tensor"] in node["inputs"] and r.get("max_abs") is not None]
            out.append({"layer": node["name"], "type": node["source_type"], "method": method,
                        "max_abs": max(abs_err) if abs_err else None, "max_rel": max(rel_err) if rel_err else None,
                        "input_max_abs": max(feeding) if feeding else 0.0})
    return out
