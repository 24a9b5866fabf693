"""Flatten a Keras functional graph (Keras 3 or Keras 2 / tf_keras) into a topological node list.

Nested models (a model used as a layer) are inlined: their layers become nodes named
``<outer model layer>/<inner layer>``. A layer called more than once gives one node per call
(``name``, ``name_1``, ...). Tensor ids are the producing node's name (``name:i`` for i > 0), except
that model inputs and outputs carry the model's input and output names.
"""
import sys

from shared.errors import ModelLoadError
from shared.keys import unique


class GraphNode(object):
    """One call of one layer: the layer object, its resolved input tensor ids and its output ids."""

    def __init__(self, name, layer, inputs, outputs, call_args, call_kwargs, input_keys):
        self.name = name
        self.layer = layer
        self.inputs = inputs          # tensor ids
        self.outputs = outputs        # tensor ids
        self.call_args = call_args    # the call's (args, kwargs) structure, with symbolic tensors
        self.call_kwargs = call_kwargs
        self.input_keys = input_keys  # id(symbolic input tensor) -> tensor id

    @property
    def class_name(self):
        """The layer's class name; a Keras 3 operation applied to symbolic tensors (`x + 3.0` makes
        keras.ops' Add) is named "ops.<class>" so it never meets the layer of the same name."""
        name = type(self.layer).__name__
        return "ops." + name if _is_operation(self.layer) else name


def _is_operation(obj):
    try:
        import keras
    except ImportError:
        return False
    operation = getattr(keras, "Operation", None)
    return operation is not None and isinstance(obj, operation) and not isinstance(obj, keras.layers.Layer)


class Graph(object):
    def __init__(self, name, inputs, outputs, nodes):
        self.name = name
        self.inputs = inputs      # [(input name, tensor id, symbolic tensor)]
        self.outputs = outputs    # [(output name, tensor id)]
        self.nodes = nodes        # [GraphNode] in topological order


def _history(tensor):
    hist = getattr(tensor, "_keras_history", None)
    if hist is None:
        raise ModelLoadError("tensor %r has no Keras history: is this a functional or Sequential model?"
                             % (getattr(tensor, "name", tensor),))
    return hist[0], hist[1], hist[2]


def _node_args(node):
    if hasattr(node, "arguments"):                    # Keras 3
        return node.arguments.args, node.arguments.kwargs, _flat(node.input_tensors)
    return node.call_args, node.call_kwargs, _flat(node.keras_inputs)   # Keras 2 (tf_keras)


def _flat(value):
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def _node_outputs(node):
    return _flat(node.output_tensors if hasattr(node, "output_tensors") else node.outputs)


def _is_model(layer):
    return hasattr(layer, "layers") and hasattr(layer, "inputs") and hasattr(layer, "outputs") \
        and type(layer).__name__ in ("Functional", "Model", "Sequential")


def _model_inputs(model):
    inputs = model.inputs
    if not inputs:
        raise ModelLoadError("model %r is not built (no inputs); build or call it on an input first"
                             % model.name)
    return list(inputs)


class _Walker(object):
    def __init__(self):
        self.nodes = []
        self.node_names = set()
        self.tensor_ids = {}   # id(symbolic tensor) -> tensor id

    def unique(self, name):
        return unique(name, self.node_names)

    def walk(self, model, prefix):
        for tensor in model.outputs:
            self.resolve(tensor, prefix)
        return [self.tensor_ids[id(t)] for t in model.outputs]

    def resolve(self, tensor, prefix):
        key = id(tensor)
        if key in self.tensor_ids:
            return self.tensor_ids[key]
        layer, node_index, tensor_index = _history(tensor)
        node = layer._inbound_nodes[node_index]
        args, kwargs, inputs = _node_args(node)
        if getattr(node, "is_input", False) or not inputs:
            raise ModelLoadError("tensor %r is not connected to the model's inputs" % (tensor.name,))
        input_ids = [self.resolve(t, prefix) for t in inputs]
        if _is_model(layer):
            inner_inputs = _model_inputs(layer)
            if len(inner_inputs) != len(input_ids):
                raise ModelLoadError("nested model %r takes %d inputs, called with %d"
                                     % (layer.name, len(inner_inputs), len(input_ids)))
            before = set(self.tensor_ids)
            for inner, outer in zip(inner_inputs, input_ids):
                self.tensor_ids[id(inner)] = outer
            inner_out = self.walk(layer, prefix + layer.name + "/")
            # forget every tensor of this call inside the inner model: it may be called again, on
            # other inputs, and its symbolic tensors are the same objects then
            for inner_key in set(self.tensor_ids) - before:
                del self.tensor_ids[inner_key]
            for sym, tid in zip(_node_outputs(node), inner_out):
                self.tensor_ids[id(sym)] = tid
            return self.tensor_ids[key]
        name = self.unique(prefix + layer.name)
        outs = _node_outputs(node)
        out_ids = [name if i == 0 else "%s:%d" % (name, i) for i in range(len(outs))]
        for sym, tid in zip(outs, out_ids):
            self.tensor_ids[id(sym)] = tid
        input_keys = dict((id(t), tid) for t, tid in zip(inputs, input_ids))
        self.nodes.append(GraphNode(name, layer, input_ids, out_ids, args, kwargs, input_keys))
        return self.tensor_ids[key]


def flatten_model(model):
    """Return the model's Graph. Raises ModelLoadError for models without a functional graph."""
    if not _is_model(model):
        raise ModelLoadError("expected a functional or Sequential Keras model, found %s; subclassed "
                             "models have no graph to convert" % type(model).__name__)
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 50000))
    try:
        walker = _Walker()
        inputs = []
        for tensor in _model_inputs(model):
            layer = _history(tensor)[0]
            walker.tensor_ids[id(tensor)] = layer.name
            walker.node_names.add(layer.name)
            inputs.append((layer.name, layer.name, tensor))
        out_ids = walker.walk(model, "")
    finally:
        sys.setrecursionlimit(old_limit)
    names = list(getattr(model, "output_names", None) or [])
    if len(names) != len(out_ids):
        names = list(out_ids)
    seen = set()
    for i, name in enumerate(names):   # a layer called twice gives two outputs the same name
        if name in seen:
            names[i] = out_ids[i]
        seen.add(names[i])
    outputs = list(zip(names, out_ids))
    _rename_outputs(walker.nodes, outputs, set(i[1] for i in inputs))
    outputs = [(name, name) for name, _ in outputs]
    return Graph(model.name, inputs, outputs, walker.nodes)


def _rename_outputs(nodes, outputs, input_ids):
    """Give each output tensor the model's output name, so the Caffe blob carries it."""
    taken = set(input_ids)
    for node in nodes:
        taken.update(node.outputs)
    rename = {}
    for name, tid in outputs:
        if name == tid:
            continue
        if name in taken or tid in input_ids or tid in rename:
            raise ModelLoadError("output name %r clashes with another tensor; rename the output layer"
                                 % name)
        rename[tid] = name
        taken.add(name)
    for node in nodes:
        node.inputs = [rename.get(t, t) for t in node.inputs]
        node.outputs = [rename.get(t, t) for t in node.outputs]
        node.input_keys = dict((k, rename.get(v, v)) for k, v in node.input_keys.items())
