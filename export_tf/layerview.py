"""What a Keras handler sees of one layer call: plain values only (config, weights, concrete shapes,
constant operands), never a TF object. The graph reader's counterpart is graphdef/view.py's OpView."""
import numpy as np

from .node import Unsupported

TENSOR = "<tensor>"


class TensorArg(object):
    """A graph tensor among a call's arguments: `index` is its place in the layer's inputs."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __eq__(self, other):
        return isinstance(other, TensorArg) and other.index == self.index

    def __hash__(self):
        return hash(self.index)

    def __repr__(self):
        return "TensorArg(%d)" % self.index


class LayerView(object):
    def __init__(self, name, class_name, config, weights, input_shapes, output_shapes, operands=None,
                 arguments=None, keras2=False):
        self.name = name
        # the call's positional arguments: TENSOR for a graph tensor, else the constant itself
        # (a Python number or numpy array), as in `x + 3.0` or `x * (1 / 6)`
        self.operands = list(operands or [])
        # the call's arguments by the name of the layer's call() parameter, as given (positionally or by
        # keyword): a graph tensor as TensorArg(its index among input_shapes), lists of them as lists, other
        # values as they are (use_causal_mask=True). Parameters left out are not there.
        self.arguments = dict(arguments or {})
        self.keras2 = keras2                # the layer is Keras 2's (tf_keras), not Keras 3's
        self.class_name = class_name
        self.config = config
        self.weights = weights              # role -> numpy array (TF layout)
        self.input_shapes = input_shapes    # [tuple] without the batch dimension
        self.output_shapes = output_shapes

    @property
    def input_shape(self):
        return self.input_shapes[0]

    @property
    def output_shape(self):
        return self.output_shapes[0]

    def weight(self, role):
        if role not in self.weights:
            raise Unsupported("expected a weight named %r, found %s" % (role, sorted(self.weights)))
        return self.weights[role]


def layer_view(gnode, values):
    """The LayerView of one flattened-graph node (export_tf/graph.py) given every tensor's value."""
    layer = gnode.layer
    config = layer.get_config() if hasattr(layer, "get_config") else {}
    shapes_in = [tuple(values[t].shape[1:]) for t in gnode.inputs]
    shapes_out = [tuple(values[t].shape[1:]) for t in gnode.outputs]
    return LayerView(gnode.name, gnode.class_name, config, _weights(layer), shapes_in, shapes_out, _operands(gnode),
                     _arguments(gnode), type(layer).__module__.startswith("tf_keras"))


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


def _arguments(gnode):
    """The call's arguments bound to the names of the layer's call() parameters (see LayerView.arguments);
    {} where they cannot be bound."""
    import inspect
    call = getattr(gnode.layer, "call", None)
    try:
        bound = inspect.signature(call).bind_partial(*gnode.call_args, **gnode.call_kwargs)
    except (TypeError, ValueError):
        return {}
    index = {}
    for i, tid in enumerate(gnode.inputs):
        index.setdefault(tid, i)

    def plain(value):
        key = gnode.input_keys.get(id(value))
        if key is not None:
            return TensorArg(index[key])
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value
    return dict((name, plain(value)) for name, value in bound.arguments.items())


def _role(var):
    return var.name.split("/")[-1].split(":")[0]


def _weights(layer):
    out = {}
    for side in ("forward", "backward"):         # a Bidirectional wrapper: both layers' roles, kept apart
        inner = getattr(layer, side + "_layer", None)
        for var in getattr(inner, "weights", ()):
            out["%s/%s" % (side, _role(var))] = _weight_array(var)
    if out:
        return out
    variables = list(getattr(layer, "weights", ()))      # a keras.ops operation has none
    roles = [_role(var) for var in variables]
    if len(set(roles)) < len(roles):             # sublayers' weights (MultiHeadAttention's query/kernel, ...)
        roles = [_sublayer_role(layer, var) for var in variables]
    for role, var in zip(roles, variables):
        out[role] = _weight_array(var)
    return out


def _sublayer_role(layer, var):
    """A weight's path below its layer, "query/kernel" (Keras 3's var.path "mha/query/kernel", tf_keras'
    var.name "mha/query/kernel:0")."""
    path = (getattr(var, "path", None) or var.name).split(":")[0]
    parts = path.split("/")
    if layer.name in parts:
        parts = parts[len(parts) - 1 - parts[::-1].index(layer.name) + 1:]
    return "/".join(parts[-2:])


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
