"""The export orchestrator: model file -> graph -> reference run -> handlers -> validated bundle."""

import numpy as np

from shared import progress
from shared.bundle import read_bundle, write_bundle
from shared.errors import UnsupportedError, UsageError
from shared.keys import array_key as _array_key
from shared.unsupported import format_unsupported

from . import __version__
from .graph import flatten_model
from .loader import load_model
from .reference import check_against_model, evaluate, make_inputs, needs_preactivation, preactivation
from .registry import TENSOR, LayerView, Unsupported, handler_for, supported_classes

INPUT_CLASSES = ("InputLayer",)


def _operands(gnode):
    """The call's positional arguments: TENSOR for a graph tensor, else the constant as numpy."""
    out = []
    for arg in list(gnode.call_args):
        if id(arg) in gnode.input_keys:
            out.append(TENSOR)
        elif isinstance(arg, (int, float, np.ndarray, np.number)) and not isinstance(arg, bool):
            out.append(np.asarray(arg))
        else:
            out.append(arg)
    return out


def _weights(layer):
    out = {}
    for var in getattr(layer, "weights", ()):     # a keras.ops operation has none
        role = var.name.split("/")[-1].split(":")[0]
        out[role] = _weight_array(var)
    return out


def _weight_array(var):
    """A weight's float32 values without a second copy of them: a read of a TF resource variable shares
    the variable's buffer (the view is made read-only, so nothing can write through it). Anything else
    (another dtype, another kind of variable) is copied out as numpy() gives it."""
    resource = getattr(var, "value", var)        # Keras 3 wraps a tf.Variable; tf_keras' weights are one
    read = getattr(resource, "read_value", None)
    if callable(read):
        try:
            arr = np.asarray(read())
        except Exception:
            arr = None
        if isinstance(arr, np.ndarray) and arr.dtype == np.float32:
            arr = arr.view()
            arr.flags.writeable = False
            return arr
    return np.asarray(var.numpy() if hasattr(var, "numpy") else var, dtype=np.float32)


def _versions():
    import keras
    import tensorflow as tf
    return tf.__version__, keras.__version__


def build_manifest(model, graph, source, inputs, values, activations=True):
    """Run every handler; return (manifest without the arrays table, arrays). Collects unsupported."""
    unsupported = []
    arrays = {}
    taken = set()
    nodes = []
    tensors = {}
    preacts = {}
    for name, tid, _ in graph.inputs:
        tensors[tid] = {"shape": list(values[tid].shape[1:]), "dtype": "float32"}
    for gnode in graph.nodes:
        for tid in gnode.outputs:
            tensors[tid] = {"shape": list(values[tid].shape[1:]), "dtype": "float32"}
        kind = gnode.class_name
        shapes_in = [tuple(values[t].shape[1:]) for t in gnode.inputs]
        shapes_out = [tuple(values[t].shape[1:]) for t in gnode.outputs]
        bad_rank = [s for s in shapes_in + shapes_out if len(s) not in (1, 2, 3)]
        handler = handler_for(kind)
        if handler is None:
            unsupported.append((kind, gnode.name, ""))
            continue
        if bad_rank:
            unsupported.append((kind, gnode.name, "tensor of shape %r: only (C,), (L, C) and (H, W, C) tensors "
                                "are supported" % (bad_rank[0],)))
            continue
        config = gnode.layer.get_config() if hasattr(gnode.layer, "get_config") else {}
        view = LayerView(gnode.name, kind, config, _weights(gnode.layer), shapes_in, shapes_out,
                         _operands(gnode))
        try:
            result = handler(view)
        except Unsupported as exc:
            unsupported.append((kind, gnode.name, str(exc)))
            continue
        keys = {}
        for role, value in result.arrays.items():
            key = _array_key("w", "%s/%s" % (gnode.name, role), taken)
            arrays[key] = value
            keys[role] = key
        if activations and needs_preactivation(result.attrs.get("activation")):
            preacts[gnode.name] = preactivation(gnode, values)
        nodes.append({"name": gnode.name, "op": result.op, "source_type": kind, "inputs": list(gnode.inputs),
                      "outputs": list(gnode.outputs), "attrs": result.attrs, "arrays": keys})
    if unsupported:
        raise UnsupportedError(format_unsupported(source["path"], unsupported, supported_classes()))

    batch = next(iter(inputs.values())).shape[0]
    reference = {"batch": int(batch), "inputs": {}, "outputs": {}, "activations": {}, "preactivations": {}}
    for name, tid, _ in graph.inputs:
        reference["inputs"][tid] = _array_key("ref/in", tid, taken)
        arrays[reference["inputs"][tid]] = values[tid]
    output_ids = set(tid for _, tid in graph.outputs)
    for name, tid in graph.outputs:
        reference["outputs"][tid] = _array_key("ref/out", tid, taken)
        arrays[reference["outputs"][tid]] = values[tid]
    if activations:
        for node in nodes:
            for tid in node["outputs"]:
                if tid not in output_ids:
                    reference["activations"][tid] = _array_key("ref/act", tid, taken)
                    arrays[reference["activations"][tid]] = values[tid]
        for name, value in preacts.items():
            reference["preactivations"][name] = _array_key("ref/preact", name, taken)
            arrays[reference["preactivations"][name]] = value
    tf_version, keras_version = _versions()
    manifest = {
        "producer": {"name": "tf2caffe.export_tf", "version": __version__, "tensorflow": tf_version,
                     "keras": keras_version},
        "source": source,
        "model_name": graph.name,
        "inputs": [{"name": name, "tensor": tid, "shape": tensors[tid]["shape"], "dtype": "float32"}
                   for name, tid, _ in graph.inputs],
        "outputs": [{"name": name, "tensor": tid, "shape": tensors[tid]["shape"], "dtype": "float32"}
                    for name, tid in graph.outputs],
        "tensors": tensors,
        "nodes": nodes,
        "reference": reference,
    }
    return manifest, arrays


def export(model_path, bundle_path, batch=2, seed=0, input_shape=None, reference_inputs=None,
           activations=True, log=None, plugins=(), inputs=None, outputs=None, signature=None):
    """Export a model file to a bundle. Returns the written manifest. A SavedModel, frozen graph or TF1
    checkpoint goes through the graph front end (export_tf/graphdef); inputs ([InputSpec]), outputs
    ([tensor name]) and signature apply to those only."""
    from .graphdef import detect_format
    fmt, resolved = detect_format(model_path)
    if fmt != "keras":
        from .graphdef import export_graph
        return export_graph(fmt, resolved, bundle_path, batch=batch, seed=seed, input_shape=input_shape,
                            reference_inputs=reference_inputs, activations=activations, log=log,
                            inputs=inputs, outputs=outputs, signature=signature)
    if inputs or outputs or signature:
        raise UsageError("--inputs, --outputs and --signature apply to SavedModels, frozen graphs and TF1 "
                         "checkpoints, not to Keras files")
    log = log or (lambda msg: None)
    log("loading %s" % model_path)
    from .plugins import activate, custom_objects
    activate(plugins)
    with progress.phase("loading the model"):
        model, source = load_model(model_path, custom_objects())
    graph = flatten_model(model)
    inputs = make_inputs(graph, batch, seed, input_shape, reference_inputs)
    log("running %d layers in TensorFlow on %d reference input(s)" % (len(graph.nodes),
                                                                      next(iter(inputs.values())).shape[0]))
    with progress.phase("running every layer in TensorFlow"):
        values = evaluate(graph, inputs)
    with progress.phase("checking the layers against the whole model"):
        check_against_model(model, graph, inputs, values)
    with progress.phase("lowering the layers"):
        manifest, arrays = build_manifest(model, graph, source, inputs, values, activations)
    log("writing %s" % bundle_path)
    write_bundle(bundle_path, manifest, arrays)
    # write_bundle verified every byte it wrote before renaming the file into place; this reads the
    # final file's manifest back through the reader's validation
    return read_bundle(bundle_path, arrays=False).manifest
