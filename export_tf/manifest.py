"""The one manifest writer of both readers: placed nodes + reference values -> the bundle's manifest (the
schema of shared/schema.py, without the arrays table, which shared.bundle adds) and its arrays."""
import numpy as np

from shared.bundle import read_bundle, write_bundle
from shared.keys import array_key
from shared.messages import clip
from shared.schema import MAX_NAME_LENGTH


def _float32(value):
    """The array as C-contiguous float32, without a copy when it is one already (weights are views of
    TF's own buffers)."""
    if isinstance(value, np.ndarray) and value.dtype == np.float32 and value.flags.c_contiguous:
        return value
    return np.ascontiguousarray(value, dtype=np.float32)


def _versions():
    import keras
    import tensorflow as tf
    return tf.__version__, keras.__version__


def build_manifest(model_name, source, inputs, outputs, nodes, values, preactivations=None, activations=True,
                   made=None):
    """The model's name and its file's name, which the user's file system chose, are written escaped and
    bounded as the schema requires of text a bundle shows (a newline in a file name is legal).
    inputs, outputs: [(name, tensor id)]; nodes: placed Nodes in topological order; values: tensor id
    -> reference value (batch first) for every input and every node output; preactivations: node name ->
    the node's output before its fused activation. activations=False stores the outputs' values only.
    made: how the reference inputs were made ({"inputs_made", "seed", "input_domains"}: shared/schema.py).
    Returns (manifest, arrays)."""
    from . import __version__
    arrays, taken = {}, set()
    tensors = {}
    for _, tid in inputs:
        tensors[tid] = {"shape": list(values[tid].shape[1:]), "dtype": "float32"}
    records = []
    for node in nodes:
        for tid in node.outputs:
            tensors[tid] = {"shape": list(values[tid].shape[1:]), "dtype": "float32"}
        keys = {}
        for role, value in node.arrays.items():
            keys[role] = array_key("w", "%s/%s" % (node.name, role), taken)
            arrays[keys[role]] = _float32(value)
        records.append({"name": node.name, "op": node.op, "source_type": node.source_type,
                        "inputs": list(node.inputs), "outputs": list(node.outputs), "attrs": node.attrs,
                        "arrays": keys})

    reference = {"batch": int(values[inputs[0][1]].shape[0]), "inputs": {}, "outputs": {}, "activations": {},
                 "preactivations": {}}

    def store(section, prefix, name, value):
        reference[section][name] = array_key(prefix, name, taken)
        arrays[reference[section][name]] = _float32(value)

    for _, tid in inputs:
        store("inputs", "ref/in", tid, values[tid])
    for _, tid in outputs:
        if tid not in reference["outputs"]:
            store("outputs", "ref/out", tid, values[tid])
    if activations:
        output_ids = set(tid for _, tid in outputs)
        for node in nodes:
            for tid in node.outputs:
                if tid not in output_ids:
                    store("activations", "ref/act", tid, values[tid])
        for name, value in (preactivations or {}).items():
            store("preactivations", "ref/preact", name, value)
    reference.update(made or {})
    tf_version, keras_version = _versions()
    manifest = {
        "producer": {"name": "tf2caffe.export_tf", "version": __version__, "tensorflow": tf_version,
                     "keras": keras_version},
        "source": dict(source, path=clip(source["path"], MAX_NAME_LENGTH)),
        "model_name": clip(model_name, MAX_NAME_LENGTH),
        "inputs": [{"name": name, "tensor": tid, "shape": tensors[tid]["shape"], "dtype": "float32"}
                   for name, tid in inputs],
        "outputs": [{"name": name, "tensor": tid, "shape": tensors[tid]["shape"], "dtype": "float32"}
                    for name, tid in outputs],
        "tensors": tensors,
        "nodes": records,
        "reference": reference,
    }
    return manifest, arrays


def write(bundle_path, manifest, arrays, log):
    """Write the bundle; return its manifest as read back. write_bundle verified every byte it wrote
    before renaming the file into place; this reads the final file's manifest back through the reader's
    validation."""
    log("writing %s" % bundle_path)
    write_bundle(bundle_path, manifest, arrays)
    return read_bundle(bundle_path, arrays=False).manifest
