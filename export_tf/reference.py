"""Run the flattened graph node by node in TensorFlow to get every tensor's value.

This gives the per-layer reference activations and the concrete shape of every tensor, and it
checks the flattening itself: the final values must equal the model's own outputs.
"""
import numpy as np

from shared.errors import ModelLoadError, UsageError

from . import domains


def _map_structure(layer, func, structure):
    if type(layer).__module__.startswith("tf_keras"):
        import tensorflow as tf
        return tf.nest.map_structure(func, structure)
    import keras
    return keras.tree.map_structure(func, structure)


def _as_tensor(layer):
    """How a tensor's value is passed to the layer: numpy for Keras 3; a TF tensor for tf_keras, whose
    recurrent layers refuse numpy initial states ("Expected a symbolic tensor instance")."""
    if type(layer).__module__.startswith("tf_keras"):
        import tensorflow as tf
        return tf.convert_to_tensor
    return lambda value: value


def is_integer_input(sym):
    """Whether a model input is declared with an integer dtype (e.g. the indices an Embedding reads)."""
    return "int" in str(getattr(sym, "dtype", "")).lower()


def input_domain(graph, tensor, sym):
    """What values the model input expects (export_tf/domains.py: ids, pixels or real)."""
    return domains.keras_domain(graph, tensor, is_integer_input(sym))


def stateful_layers(graph):
    """The names of the nodes whose layer keeps a state between calls (Keras' stateful=True, also a
    Bidirectional's). Their handlers refuse them; until then the reference run must still get through
    them: at the batch the model declares (a stateful layer's state has that batch), and without the
    check against the model's own outputs (each call starts from the state the last one left)."""
    return [node.name for node in graph.nodes if getattr(node.layer, "stateful", False) is True]


def declared_batch(graph, default):
    """The batch size the model's inputs declare (Input(batch_size=...)), else default."""
    for _, _, sym in graph.inputs:
        shape = getattr(sym, "shape", None)
        if shape is not None and len(shape) and isinstance(shape[0], int):
            return shape[0]
    return default


def make_inputs(graph, batch, seed, input_shape=None, provided=None):
    """Reference inputs by input name, and each input's Domain by input name: the user's values, or
    seeded values drawn from each input's domain (export_tf/domains.py: ids in [0, input_dim) for an
    input that reaches an Embedding, 0..255 for a Rescaling front end written for 8-bit images, else
    standard normal), as float32 (Caffe blobs are float)."""
    rng = np.random.default_rng(seed)
    inputs, found = {}, {}
    for index, (name, tensor, sym) in enumerate(graph.inputs):
        shape = list(sym.shape[1:])
        if input_shape is not None and len(graph.inputs) == 1:
            if len(input_shape) != len(shape):
                raise UsageError("--input-shape %s has rank %d; input %r has rank %d"
                                 % (",".join(map(str, input_shape)), len(input_shape), name, len(shape)))
            shape = list(input_shape)
        domain = found[name] = input_domain(graph, tensor, sym)
        if provided is not None:
            key = name if name in provided else (index if index in provided else None)
            if key is None:
                raise UsageError("reference inputs have no array for input %r" % name)
            value = np.asarray(provided[key], dtype=np.float32)
            if any(d is not None and d != v for d, v in zip(shape, value.shape[1:])) or \
                    value.ndim != len(shape) + 1:
                raise UsageError("reference input for %r has shape %r, expected (N, %s)"
                                 % (name, value.shape, ", ".join(str(d) for d in shape)))
            domains.check_given(name, domain, value)
            inputs[name] = value
            continue
        if any(d is None for d in shape):
            raise UsageError("input %r has unknown dimensions %r; give them with --input-shape H,W,C"
                             % (name, tuple(shape)))
        inputs[name] = domains.draw(domain, [batch] + shape, rng)
    return inputs, found


def evaluate(graph, inputs):
    """Return {tensor id: numpy value} for every tensor of the graph."""
    values = dict((tid, inputs[name]) for name, tid, _ in graph.inputs)
    for node in graph.nodes:
        as_tensor = _as_tensor(node.layer)

        def fill(x, node=node, as_tensor=as_tensor):
            key = node.input_keys.get(id(x))
            return as_tensor(values[key]) if key is not None else x
        args = _map_structure(node.layer, fill, list(node.call_args))
        kwargs = _map_structure(node.layer, fill, dict(node.call_kwargs))
        kwargs.pop("training", None)
        try:
            out = node.layer(*args, training=False, **kwargs)
        except TypeError:
            out = node.layer(*args, **kwargs)
        outs = out if isinstance(out, (list, tuple)) else [out]
        if len(outs) != len(node.outputs):
            raise ModelLoadError("layer %r returned %d outputs, expected %d"
                                 % (node.name, len(outs), len(node.outputs)))
        for tid, value in zip(node.outputs, outs):
            values[tid] = np.asarray(value, dtype=np.float32)
    return values


def _model_outputs(model, graph, inputs):
    feed = [inputs[name] for name, _, _ in graph.inputs]
    out = model(feed if len(feed) > 1 else feed[0], training=False)
    if isinstance(out, dict):
        return [np.asarray(v, dtype=np.float32) for v in out.values()]
    return [np.asarray(v, dtype=np.float32) for v in (out if isinstance(out, (list, tuple)) else [out])]


def _refuse_mask(model, layer_name, reason):
    from shared.errors import UnsupportedError
    from shared.unsupported import format_unsupported
    from .registry import supported_classes
    raise UnsupportedError(format_unsupported(model.name, [("Embedding", layer_name, reason)], supported_classes()))


def _check_masks(model, graph, inputs):
    """Caffe has no masks. An Embedding with mask_zero=True is converted only if its mask changes no
    output. Keras 3 writes a used mask into the graph (a NotEqual node reading the Embedding's input):
    that is refused by name. Keras 2 (tf_keras) passes masks implicitly, and the node-by-node evaluation
    passes none: the model runs on the reference inputs with index 0 written over the second half of
    every id input and must match the mask-free evaluation."""
    masking = [node for node in graph.nodes
               if type(node.layer).__name__ == "Embedding" and getattr(node.layer, "mask_zero", False)]
    if not masking:
        return
    for emb in masking:
        users = [node.name for node in graph.nodes
                 if node is not emb and type(node.layer).__name__ == "NotEqual" and emb.inputs[0] in node.inputs]
        if users:
            _refuse_mask(model, emb.name, "mask_zero=True and a layer downstream uses the mask (Keras computes it "
                         "as %s); Caffe has no masks" % users[0])
    probe = {}
    for name, tensor, sym in graph.inputs:
        value = np.array(inputs[name], dtype=np.float32, copy=True)
        if input_domain(graph, tensor, sym).kind == domains.IDS and value.ndim >= 2:
            value[:, value.shape[1] // 2:] = 0.0
        probe[name] = value
    values = evaluate(graph, probe)
    for (name, tid), expected in zip(graph.outputs, _model_outputs(model, graph, probe)):
        got = values[tid]
        scale = max(float(np.abs(expected).max()), 1e-30)
        if got.shape != expected.shape or float(np.abs(got - expected).max()) > 1e-5 * scale:
            _refuse_mask(model, masking[0].name, "mask_zero=True and the mask changes output %r (a layer "
                         "downstream uses it); Caffe has no masks" % name)


def check_against_model(model, graph, inputs, values):
    """The node-by-node evaluation must reproduce the model's own outputs (guards the flattening)."""
    _check_masks(model, graph, inputs)
    feed = [inputs[name] for name, _, _ in graph.inputs]
    out = model(feed if len(feed) > 1 else feed[0], training=False)
    outs = out if isinstance(out, (list, tuple)) else [out]
    if isinstance(out, dict):
        outs = list(out.values())
    for (name, tid), expected in zip(graph.outputs, outs):
        expected = np.asarray(expected, dtype=np.float32)
        got = values[tid]
        scale = max(float(np.abs(expected).max()), 1e-30)
        if got.shape != expected.shape or float(np.abs(got - expected).max()) > 1e-5 * scale:
            raise ModelLoadError("internal check failed: the flattened graph does not reproduce the "
                                 "model's output %r; please report this model" % name)
        values[tid] = expected


# Fused activations whose own output shows any error of the layer before them: each passes its input on
# with a slope of about 1 or more over an unbounded part of its range (where a wrong value of the layer
# shows as much in the activation's output as before it), does not normalise across values, and what it
# flattens (relu's negatives, elu's saturated tail, ...) reaches no later layer either. Their output is
# compared anyway, so storing and comparing the layer's values before them too adds nothing.
# Every other activation gets them stored (needs_preactivation): softmax (shift invariant and
# normalising), sigmoid, tanh, softsign, hard_sigmoid, clip/hard_tanh, relu6 or a relu with a max_value
# (saturating: errors of saturated values vanish on the reference inputs, yet show on others),
# exponential (squashes every negative value towards 0), and any activation not named here.
SHOWS_LAYER_ERRORS = frozenset((
    "relu",             # also leaky and thresholded; with a max_value it clips (see needs_preactivation)
    "elu", "selu", "celu", "gelu", "silu", "mish", "hard_silu",
    "softplus", "sparse_plus", "squareplus", "log_sigmoid",        # log_sigmoid(x) = -softplus(-x)
    "tanh_shrink", "soft_shrink", "hard_shrink",
))


def needs_preactivation(activation):
    """Whether a node with this fused activation (its manifest attrs["activation"]: canonical
    attributes, None for linear) gets its output before the activation stored in the bundle, for the
    report to compare the layer itself (logits, not only a softmax): see SHOWS_LAYER_ERRORS."""
    if not isinstance(activation, dict):
        return False
    function = activation.get("function")
    if function == "relu" and activation.get("max_value") is not None:
        return True
    return function not in SHOWS_LAYER_ERRORS


def preactivation(gnode, values):
    """The layer's output before its fused activation, computed by TF itself (the activation is
    swapped for linear for one call). Lets the report compare logits, not only a softmax; stored only
    where needs_preactivation says the activation can hide an error of the layer."""
    layer = gnode.layer
    if type(layer).__module__.startswith("tf_keras"):
        import tf_keras as k
    else:
        import keras as k
    owner = layer if hasattr(layer, "activation") else layer.layer     # a wrapper (TimeDistributed): its layer's
    saved = owner.activation
    owner.activation = k.activations.get("linear")
    try:
        out = layer(values[gnode.inputs[0]], training=False)
    finally:
        owner.activation = saved
    return np.asarray(out, dtype=np.float32)
