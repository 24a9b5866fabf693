"""The import orchestrator: bundle -> plan -> prototxt + weights -> Caffe run -> parity report.

Output files appear under their final names only when the whole conversion and its verification
succeeded; everything is staged in a hidden folder inside the output folder first.
"""
import json
import os
import re
import shutil

from shared import progress
from shared.bundle import read_bundle
from shared.errors import ParityError, UsageError

from . import __version__, caffe_stage, layout, netbuild, report_html, tolerances, verify
from . import staging as staging_dir
from .plan import Names
from .planner import plan_net
from .registry import Target


def caffe_layer_types():
    """The layer types the Caffe here registers (caffe.layer_type_list())."""
    from shared.errors import ConversionError
    try:
        types = caffe_stage.layer_types()
    except ImportError as exc:
        raise ConversionError("pycaffe cannot be imported here (%s); run the import where Caffe is (make import "
                              "does)" % exc)
    if not types:
        raise ConversionError("the Caffe here lists no layer types")
    return types


def detect_target(requested="auto"):
    """The Target to generate for: `auto` matches what the Caffe here offers; a named target (see
    registry.TARGETS) is refused if the Caffe here lacks its layers, since it verifies the result."""
    types = caffe_layer_types()
    if requested in (None, "auto"):
        return Target.from_layer_types(types)
    try:
        target = Target.named(requested)
    except ValueError as exc:
        raise UsageError("--target: %s" % exc)
    missing = target.missing_in(types)
    if missing:
        raise UsageError("--target %s uses Caffe layers %s, which the Caffe here lacks, so the result could not "
                         "be verified; use --target auto" % (requested, ", ".join(missing)))
    return target


def _approximations(manifest, rows):
    """Each approximate lowering with the error measured against TF on its node's outputs (and the error
    already in its input, 0 for a model input, so the approximation's own share shows)."""
    from .handlers.activation import approximations
    out = []
    for node in manifest["nodes"]:
        for method in approximations(node):
            mine = [r for r in rows if r["layer"] == node["name"] and r["tensor"] in node["outputs"]]
            abs_err = [r["max_abs"] for r in mine if r.get("max_abs") is not None]
            rel_err = [r["max_rel"] for r in mine if r.get("max_rel") is not None]
            feeding = [r["max_abs"] for r in rows if r["tensor"] in node["inputs"] and r.get("max_abs") is not None]
            out.append({"layer": node["name"], "type": node["source_type"], "method": method,
                        "max_abs": max(abs_err) if abs_err else None, "max_rel": max(rel_err) if rel_err else None,
                        "input_max_abs": max(feeding) if feeding else 0.0})
    return out


# how a user feeds each kind of input: TF (N,H,W,C) -> NCHW, TF (N,L,C) -> (N,C,1,L), TF (N,C) -> NC
_LAYOUT_NAMES = {layout.IMAGE: "NCHW", layout.SEQUENCE: "NC1L (TF's (N, L, C) as (N, C, 1, L))"}


def input_layout_name(ref_layout):
    """How a user feeds an input of this layout to the Caffe net (shown in the reports)."""
    return _LAYOUT_NAMES.get(ref_layout.kind, "NC")


def reference_feed(bundle, plan, blob_of_input=None):
    """TF's reference values by tensor (outputs and activations) and the reference inputs in Caffe
    layout, keyed by the Caffe input blob (the TF input name, or blob_of_input(name))."""
    manifest = bundle.manifest
    ref_values = {}
    for part in ("outputs", "activations"):
        ref_values.update(bundle.reference(part))
    inputs = {}
    for entry in manifest["inputs"]:
        value = bundle.arrays[manifest["reference"]["inputs"][entry["tensor"]]]
        blob = entry["name"] if blob_of_input is None else blob_of_input(entry["name"])
        inputs[blob] = layout.activation_to_caffe(value, plan.refs[entry["tensor"]].layout)
    return ref_values, inputs


def file_stem(model_name):
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", model_name).lstrip(".")
    return stem or "model"


def _preact_blob(node):
    return Names(node).sub("preact")


def _rows(manifest, plan, ref_values, caffe_blobs, preacts):
    """One row per compared TF tensor, in network order (a fused activation's input first)."""
    rows = []
    output_tensors = dict((o["tensor"], o["name"]) for o in manifest["outputs"])
    for node in manifest["nodes"]:
        tol = tolerances.for_op(node["op"])
        if node["name"] in preacts and node["name"] in plan.node_layers:
            ref = plan.refs[node["outputs"][0]]
            caffe = caffe_blobs.get(_preact_blob(node))
            if caffe is not None:
                caffe = layout.activation_view_in_tf(caffe, ref.layout, ref.shape)
            row = {"layer": node["name"], "type": node["source_type"] + " (before activation)", "op": node["op"],
                   "tensor": _preact_blob(node), "caffe_layers": [node["name"]], "shape": ref.shape,
                   "output": False, "blob": _preact_blob(node)}
            row.update(verify.compare(preacts[node["name"]], caffe, tol))
            rows.append(row)
        for tensor in node["outputs"]:
            row = {"layer": node["name"], "type": node["source_type"], "op": node["op"], "tensor": tensor,
                   "caffe_layers": plan.node_layers.get(node["name"], []),
                   "shape": manifest["tensors"][tensor]["shape"], "output": tensor in output_tensors}
            if tensor in ref_values:
                ref = plan.refs[tensor]
                caffe = caffe_blobs.get(ref.blob)
                if caffe is not None:
                    caffe = layout.activation_view_in_tf(caffe, ref.layout, ref.shape)
                row.update(verify.compare(ref_values[tensor], caffe, tol))
                row["blob"] = ref.blob
            else:
                row.update({"status": verify.NOT_COMPARED, "max_abs": None, "max_rel": None})
            if node["name"] in plan.notes:
                row["note"] = plan.notes[node["name"]]
            rows.append(row)
    return rows


def _accuracy(manifest, plan, ref_values, blobs, labels):
    """TF's and Caffe's accuracy on labelled reference inputs, and on how many inputs they agree."""
    out = []
    for entry in manifest["outputs"]:
        tf_value = ref_values[entry["tensor"]]
        if tf_value.ndim != 2:
            continue
        if labels.shape[0] != tf_value.shape[0]:
            raise UsageError("%d labels for %d reference inputs" % (labels.shape[0], tf_value.shape[0]))
        ref = plan.refs[entry["tensor"]]
        caffe = layout.activation_view_in_tf(blobs[ref.blob], ref.layout, ref.shape)
        tf_pred, caffe_pred = tf_value.argmax(axis=1), caffe.argmax(axis=1)
        out.append({"output": entry["name"], "inputs": int(labels.shape[0]),
                    "tf_accuracy": float((tf_pred == labels).mean()),
                    "caffe_accuracy": float((caffe_pred == labels).mean()),
                    "agree": int((tf_pred == caffe_pred).sum())})
    return out


def convert(bundle_path, out_dir, log=None, labels=None, plugins=(), target="auto"):
    """Convert; returns the report dict. Raises a Tf2CaffeError subclass on any failure."""
    log = log or (lambda msg: None)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError("%s: exists and is not a folder" % out_dir)
    log("reading %s" % bundle_path)
    from .plugins import activate
    activate(plugins)
    bundle = read_bundle(bundle_path)
    manifest = bundle.manifest
    if labels is not None and labels.shape[0] != manifest["reference"]["batch"]:
        raise UsageError("%d labels for %d reference inputs" % (labels.shape[0], manifest["reference"]["batch"]))
    target = detect_target(target)
    log("target %s" % target.describe())
    with progress.phase("planning the Caffe net"):   # each weight array is released once lowered
        plan = plan_net(manifest, bundle.take_node_arrays, target, where=bundle_path)
    os.makedirs(out_dir, exist_ok=True)
    stem = file_stem(manifest["model_name"])
    weight_bytes = netbuild.weight_bytes(plan)
    hdf5 = weight_bytes > caffe_stage.hdf5_threshold()
    weights_name = stem + (".caffemodel.h5" if hdf5 else ".caffemodel")
    if hdf5:
        log("weights are %.2f GB, over %s: writing them in Caffe's HDF5 format (%s), which Caffe reads "
            "like a .caffemodel" % (weight_bytes / 1e9, "protobuf's 2 GB limit" if weight_bytes >
                                    caffe_stage.HDF5_THRESHOLD_BYTES else "TF2CAFFE_HDF5_THRESHOLD", weights_name))
        renamed = netbuild.hdf5_names(plan)
        if renamed:
            log("in the HDF5 format a layer name cannot hold '/': %d helper layer(s) use '.' instead"
                % len(renamed))
    text = netbuild.prototxt(plan)
    staging = staging_dir.make(out_dir)
    try:
        proto_path = os.path.join(staging, stem + ".prototxt")
        with open(proto_path, "w") as f:
            f.write(text)
        weights_path = os.path.join(staging, weights_name)
        ref = manifest["reference"]
        ref_values, inputs = reference_feed(bundle, plan)
        preacts = {}
        for node_name, key in ref.get("preactivations", {}).items():
            preacts[node_name] = bundle.arrays[key]
        nodes = dict((n["name"], n) for n in manifest["nodes"])
        wanted = sorted(set(plan.refs[t].blob for t in ref_values) | set(_preact_blob(nodes[n]) for n in preacts))
        log("writing the weights (%.0f MB), loading the Caffe net (%d layers) from its files, running %d "
            "reference input(s)" % (weight_bytes / 1e6, len(plan.layers), ref["batch"]))

        def examine(blobs):     # in the Caffe child, where the blobs are: only the rows come back
            with progress.phase("comparing every layer with TF"):
                rows = _rows(manifest, plan, ref_values, blobs, preacts)
            accuracy = _accuracy(manifest, plan, ref_values, blobs, labels) if labels is not None else None
            return {"rows": rows, "accuracy": accuracy}
        examined = caffe_stage.run(plan, proto_path, weights_path, inputs, wanted, staging, release_blobs=True,
                                   examine=examine)
        rows, accuracy = examined["rows"], examined["accuracy"]
        output_rows = [r for r in rows if r["output"]]
        summary = verify.summarize(rows, output_rows)
        report = {
            "tool": "tf2caffe.import_caffe %s" % __version__, "bundle": os.path.abspath(bundle_path),
            "model": manifest["model_name"], "source": manifest["source"], "producer": manifest["producer"],
            "target": target.name, "batch": ref["batch"], "summary": summary,
            "target_detail": {"name": target.name, "source": target.source, "optional_layers": target.layers()},
            "approximations": _approximations(manifest, rows),
            "inputs": [{"name": n, "caffe_shape": ["N"] + layout.caffe_shape(r.shape, r.layout),
                        "tf_shape": ["N"] + r.shape, "layout": input_layout_name(r.layout)}
                       for n, r in plan.inputs],
            "outputs": output_rows, "layers": rows, "notes": plan.notes,
            "tolerances": {"default": {"rel": tolerances.DEFAULT.rel, "reason": tolerances.DEFAULT.reason}},
            "accuracy": accuracy,
            "files": {"prototxt": stem + ".prototxt", "weights": weights_name},
        }
        for entry in report["inputs"]:
            value = inputs.get(entry["name"])
            if value is not None and value.size:
                entry["reference_range"] = {"min": float(value.min()), "mean": float(value.mean()),
                                            "max": float(value.max())}
        ok = summary["status"] == verify.OK
        if not ok:
            report["files"] = {}
        with open(os.path.join(staging, "report.json"), "w") as f:
            json.dump(report, f, indent=1)
        report_html.write(report, os.path.join(staging, "report.html"))
        finals = ([stem + ".prototxt", weights_name] if ok else []) + ["report.html", "report.json"]  # report last: it
        # vouches for the files next to it, so a run killed between these renames never leaves a new report
        for name in finals:
            os.replace(os.path.join(staging, name), os.path.join(out_dir, name))
        if not ok:
            raise ParityError("parity check failed for %s: first diverging layer %s; see %s"
                              % (manifest["model_name"], summary["first_divergence"],
                                 os.path.join(out_dir, "report.json")), report)
        return report
    finally:
        shutil.rmtree(staging, ignore_errors=True)
