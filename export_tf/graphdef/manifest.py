"""Lowered graph + reference values -> the bundle manifest and arrays (the schema of shared/schema.py,
the same as the Keras path writes)."""
import numpy as np

from shared.keys import array_key as _array_key

from .names import NameTable, clean_name, op_name


def build_manifest(graph, lowered, values, loaded, model_name, versions, activations=True):
    """Returns (manifest without the arrays table, arrays)."""
    names = NameTable()
    # inputs first: their names are the user-facing ones (signature arguments or placeholder names)
    inputs = [(names.tensor(spec.tensor, loaded.input_names.get(spec.tensor)), spec.tensor)
              for spec in graph.inputs]
    tensor_ids = dict((tf_t, tid) for tid, tf_t in inputs)

    def tid_of(tensor):
        tensor = graph.resolve(tensor)
        if tensor not in tensor_ids:
            tensor_ids[tensor] = names.tensor(tensor)
        return tensor_ids[tensor]

    arrays, taken = {}, set()
    tensors = {}
    for tid, tf_t in inputs:
        tensors[tid] = {"shape": list(values[tf_t].shape[1:]), "dtype": "float32"}
    nodes = []
    for node, result in lowered:
        name = names.get(node.name)
        outs = [tid_of(result.output)]
        tensors[outs[0]] = {"shape": list(values[result.output].shape[1:]), "dtype": "float32"}
        keys = {}
        for role, value in result.arrays.items():
            keys[role] = _array_key("w", "%s/%s" % (name, role), taken)
            arrays[keys[role]] = np.ascontiguousarray(value, dtype=np.float32)
        nodes.append({"name": name, "op": result.op, "source_type": node.op,
                      "inputs": [tid_of(t) for t in result.inputs], "outputs": outs,
                      "attrs": result.attrs, "arrays": keys})

    batch = values[graph.inputs[0].tensor].shape[0]
    reference = {"batch": int(batch), "inputs": {}, "outputs": {}, "activations": {}, "preactivations": {}}
    for tid, tf_t in inputs:
        reference["inputs"][tid] = _array_key("ref/in", tid, taken)
        arrays[reference["inputs"][tid]] = values[tf_t].astype(np.float32)
    outputs = []
    for t in graph.outputs:
        tid = tid_of(t)
        # the signature's output name, else the op the user asked for (an Identity resolves to its input)
        label = loaded.output_names.get(t) or (op_name(t) if t.endswith(":0") else t)
        outputs.append((tid if clean_name(label) == tid else names.unique(label), tid))
        if tid not in reference["outputs"]:
            reference["outputs"][tid] = _array_key("ref/out", tid, taken)
            arrays[reference["outputs"][tid]] = values[graph.resolve(t)].astype(np.float32)
    tf_of = dict((tid, t) for t, tid in tensor_ids.items())
    out_ids = set(tid for _, tid in outputs)
    if activations:
        for node in nodes:
            tid = node["outputs"][0]
            if tid not in out_ids:
                reference["activations"][tid] = _array_key("ref/act", tid, taken)
                arrays[reference["activations"][tid]] = values[tf_of[tid]].astype(np.float32)
    tf_version, keras_version = versions
    manifest = {
        "producer": {"name": "tf2caffe.export_tf", "version": _version(), "tensorflow": tf_version,
                     "keras": keras_version},
        "source": loaded.source,
        "model_name": model_name,
        "inputs": [{"name": tid, "tensor": tid, "shape": tensors[tid]["shape"], "dtype": "float32"}
                   for tid, _ in inputs],
        "outputs": [{"name": name, "tensor": tid, "shape": tensors[tid]["shape"], "dtype": "float32"}
                    for name, tid in outputs],
        "tensors": tensors,
        "nodes": nodes,
        "reference": reference,
    }
    return manifest, arrays


def _version():
    from .. import __version__
    return __version__
