"""What a Keras handler sees of one layer call: plain values only (config, weights, concrete shapes,
constant operands), never a TF object. The graph reader's counterpart is graphdef/view.py's OpView."""
import numpy as np

from .node import Unsupported

TENSOR = "<tensor>"


class LayerView(object):
    def __init__(self, name, class_name, config, weights, input_shapes, output_shapes, operands=None):
        self.name = name
        # the call's positional arguments: TENSOR for a graph tensor, else the constant itself
        # (a Python number or numpy array), as in `x + 3.0` or `x * (1 / 6)`
        self.operands = list(operands or [])
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
    return LayerView(gnode.name, gnode.class_name, config, _weights(layer), shapes_in, shapes_out, _operands(gnode))


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
    for side in ("forward", "backward"):         # a Bidirectional wrapper: both layers' roles, kept apart
        inner = getattr(layer, side + "_layer", None)
        for var in getattr(inner, "weights", ()):
            out["%s/%s" % (side, var.name.split("/")[-1].split(":")[0])] = _weight_array(var)
    if out:
        return out
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
