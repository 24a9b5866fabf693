"""Activations. Keras: Activation (every named Keras activation the importer lowers), ReLU (slope, max
value, threshold), LeakyReLU, ThresholdedReLU (Keras 2), ELU, PReLU (any shared_axes), Softmax (any axes
but the batch), and the `activation` argument of other layers (activation_attr). TF ops: Relu, Relu6,
LeakyRelu, Elu, Selu, Sigmoid, Tanh, Softplus, Softsign, Exp, Softmax, and tf.nn.gelu's arithmetic (graph_gelu:
from its first op, a Mul, Neg or Pow; Erfc and Pow only there), and Transpose -> Softmax -> Transpose, a softmax
over another axis (graph_softmax_over_axis, from reshape.py's Transpose).

The canonical attributes of each activation, every constant written out, are declared once here (FIXED)
and written by both readers."""
import numpy as np

from shared.opspec.activation import SELU_ALPHA, SELU_SCALE

from ..node import Unsupported, make_node
from ..registry import register, tf_op


def relu_attrs(negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras' relu family: x above threshold, negative_slope * (x - threshold) below, capped at max_value."""
    return {"function": "relu", "negative_slope": float(negative_slope),
            "max_value": None if max_value is None else float(max_value), "threshold": float(threshold)}


# Keras activation names (Keras 3 and Keras 2 / tf_keras) the importer lowers; 'linear' means none.
FIXED = {
    "relu": relu_attrs(),
    "relu6": {"function": "relu6"},
    "leaky_relu": relu_attrs(negative_slope=0.2),
    "sigmoid": {"function": "sigmoid"},
    "tanh": {"function": "tanh"},
    "softmax": {"function": "softmax", "axis": -1},
    "elu": {"function": "elu", "alpha": 1.0},
    "selu": {"function": "selu", "alpha": SELU_ALPHA, "scale": SELU_SCALE},
    "softplus": {"function": "softplus"},
    "softsign": {"function": "softsign"},
    "silu": {"function": "silu"},
    "swish": {"function": "silu"},
    "gelu": {"function": "gelu", "approximate": False},   # Keras' default: the exact erf form
    "exponential": {"function": "exponential"},
    "hard_silu": {"function": "hard_silu", "slope": 1.0 / 6.0, "offset": 0.5},
    "hard_swish": {"function": "hard_silu", "slope": 1.0 / 6.0, "offset": 0.5},
    "mish": {"function": "mish"},
    "hard_tanh": {"function": "clip", "min": -1.0, "max": 1.0},
    "log_sigmoid": {"function": "log_sigmoid"},
    "tanh_shrink": {"function": "tanh_shrink"},
    "celu": {"function": "celu", "alpha": 1.0},
    "sparse_sigmoid": {"function": "hard_sigmoid", "slope": 0.5, "offset": 0.5},
    "hard_shrink": {"function": "hard_shrink", "threshold": 0.5},
    "soft_shrink": {"function": "soft_shrink", "threshold": 0.5},
    "sparse_plus": {"function": "sparse_plus"},
    "squareplus": {"function": "squareplus", "b": 4.0},
    # registered functions (a Keras 3 config names them 'package>name') known to be one of the above
    "keras_hub>gelu_approximate": {"function": "gelu", "approximate": True},   # KerasHub's GPT-2, ...
    "keras_nlp>gelu_approximate": {"function": "gelu", "approximate": True},
}
ACTIVATIONS = ("linear", "hard_sigmoid") + tuple(sorted(FIXED))
# hard_sigmoid, the one name whose meaning depends on the Keras that wrote the model
KERAS2_HARD_SIGMOID = {"function": "hard_sigmoid", "slope": 0.2, "offset": 0.5}         # clip(0.2 x + 0.5, 0, 1)
KERAS3_HARD_SIGMOID = {"function": "hard_sigmoid", "slope": 1.0 / 6.0, "offset": 0.5}   # relu6(x + 3) / 6


def keras2_config(config):
    """Whether a layer config was written by Keras 2 (tf_keras): its dtype is a plain string or a Keras 2
    'Policy', where Keras 3 writes a DTypePolicy object. Only hard_sigmoid differs between the two."""
    dtype = (config or {}).get("dtype")
    if isinstance(dtype, str):
        return True
    return isinstance(dtype, dict) and dtype.get("class_name") == "Policy"


def activation_attr(value, config=None):
    """Canonical activation attributes for a Keras `activation` config value (None for linear).
    config: the layer's config, which tells Keras 2 models (hard_sigmoid = clip(0.2 x + 0.5, 0, 1))
    from Keras 3 ones (relu6(x + 3) / 6); without it Keras 3 is assumed."""
    if isinstance(value, dict):
        config = value.get("config")
        if value.get("class_name") == "function" and isinstance(config, str):
            value = config          # a registered function: 'package>name'
        else:
            value = (config if isinstance(config, dict) else {}).get("name", value.get("class_name"))
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unsupported("activation %r is not a named Keras activation" % (value,))
    if value not in ACTIVATIONS:
        raise Unsupported("activation '%s' (supported: %s)" % (value, ", ".join(ACTIVATIONS)))
    if value == "linear":
        return None
    if value == "hard_sigmoid":
        return dict(KERAS2_HARD_SIGMOID if keras2_config(config) else KERAS3_HARD_SIGMOID)
    return dict(FIXED[value])


@register("Activation", ops=("activation", "identity"))
def activation(view):
    attr = activation_attr(view.config.get("activation"), view.config)
    if attr is None:
        return make_node("identity", {})
    return make_node("activation", attr)


@register("ReLU", ops=("activation",))
def relu(view):
    return make_node("activation", relu_attrs(view.config.get("negative_slope", 0.0) or 0.0,
                                              view.config.get("max_value"), view.config.get("threshold", 0.0) or 0.0))


@register("LeakyReLU", ops=("activation",))
def leaky_relu(view):
    return make_node("activation", relu_attrs(view.config.get("negative_slope", view.config.get("alpha", 0.3))))


@register("ThresholdedReLU", ops=("activation",))
def thresholded_relu(view):
    """Keras 2 (tf_keras): x where x > theta, else 0."""
    return make_node("activation", relu_attrs(threshold=view.config.get("theta", 1.0)))


@register("ELU", ops=("activation",))
def elu(view):
    return make_node("activation", {"function": "elu", "alpha": float(view.config.get("alpha", 1.0))})


@register("PReLU", ops=("prelu",))
def prelu(view):
    """relu(x) - alpha * relu(-x); alpha has the input's shape with 1 along the shared axes."""
    alpha = view.weight("alpha")
    shape = tuple(view.input_shape)
    if alpha.ndim != len(shape) or any(a not in (1, s) for a, s in zip(alpha.shape, shape)):
        raise Unsupported("alpha of shape %r does not broadcast to the input's %r" % (alpha.shape, shape))
    return make_node("prelu", {}, {"alpha": alpha})


@register("Softmax", ops=("activation",))
def softmax(view):
    axis = view.config.get("axis", -1)
    rank = len(view.input_shape) + 1
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if not axes or not all(isinstance(a, int) and -rank <= a < rank for a in axes):
        raise Unsupported("axis=%r" % (axis,))
    axes = sorted(set(a % rank for a in axes))
    if 0 in axes:
        raise Unsupported("axis=%r includes the batch axis" % (axis,))
    if axes == [rank - 1]:
        return make_node("activation", FIXED["softmax"])
    return make_node("activation", {"function": "softmax", "axis": axes[0] if len(axes) == 1 else axes})


# TF activation ops and the Keras activation each one is (TF's Softmax is over the last axis, Elu's alpha 1)
TF_ACTIVATIONS = {"Relu": "relu", "Relu6": "relu6", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softplus",
                  "Softsign": "softsign", "Exp": "exponential", "Selu": "selu", "Elu": "elu", "Softmax": "softmax"}


@tf_op(*sorted(TF_ACTIVATIONS))
def tf_activation(view):
    return make_node("activation", FIXED[TF_ACTIVATIONS[view.type]], inputs=[view.data_input(0)])


@tf_op("LeakyRelu")
def tf_leaky_relu(view):
    return make_node("activation", relu_attrs(view.attr("alpha", 0.2)), inputs=[view.data_input(0)])


# --------------------------------------------------------------------- GELU from its TF ops
# tf.nn.gelu (Keras' gelu on the TF backend) writes arithmetic, no Gelu op: exact, 0.5 x erfc(-x / sqrt 2);
# approximate, 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). Patterns: (op, operands...), "x" the
# input, a float a scalar constant; Mul and Add operands in either order.
GELU_PATTERNS = (
    (False, ("Mul", ("Mul", 0.5, "x"), ("Erfc", ("Mul", ("Neg", "x"), 0.7071067811865476)))),
    (True, ("Mul", ("Mul", 0.5, "x"), ("AddV2", 1.0, ("Tanh", ("Mul", 0.7978845608028654, (
        "AddV2", "x", ("Mul", 0.044715, ("Pow", "x", 3.0)))))))),
)
_COMMUTATIVE = ("Mul", "Add", "AddV2")


def _match(view, tensor, pattern, src, members):
    """Whether `tensor` computes `pattern` of `src`; the ops matched are added to members."""
    graph = view.graph
    if pattern == "x":
        return tensor == src
    if isinstance(pattern, float):
        if graph.is_data(tensor):
            return False
        value = view.values[tensor]
        return value.size == 1 and abs(float(value.reshape(-1)[0]) - pattern) <= 1e-6 * abs(pattern)
    node = graph.nodes.get(tensor[:-2]) if tensor.endswith(":0") and graph.is_data(tensor) else None
    kinds = ("Add", "AddV2") if pattern[0] == "AddV2" else (pattern[0],)
    if node is None or node.op not in kinds or len(node.inputs) != len(pattern) - 1:
        return False
    ins = [graph.resolve(t) for t in node.inputs]
    orders = [ins, ins[::-1]] if pattern[0] in _COMMUTATIVE else [ins]
    for order in orders:
        found = list(members)
        if all(_match(view, t, p, src, found) for t, p in zip(order, pattern[1:])):
            members[:] = found + [node.name]
            return True
    return False


def graph_gelu(view, src):
    """The gelu activation node (absorbing the rest) if `view`'s op, reading `src`, is the first op of
    tf.nn.gelu's arithmetic (exact or approximate), else None."""
    tensor = view.output
    for _ in range(7):
        for approximate, pattern in GELU_PATTERNS:
            members = []
            if _match(view, tensor, pattern, src, members) and view.name in members and \
                    _internal(view, members, tensor):
                return make_node("activation", {"function": "gelu", "approximate": approximate}, inputs=[src],
                                 output=tensor, absorbed=[m for m in members if m != view.name])
        found = view.single_consumer(tensor)
        if found is None:
            return None
        tensor = found[0].name + ":0"
    return None


def _internal(view, members, out):
    """Every matched op but the last is read by matched ops only, and none is a model output."""
    inside = set(members)
    for name in members:
        t = name + ":0"
        if t == out:
            continue
        if t in view.model_outputs or any(user not in inside for user, _ in view.graph.consumers.get(t, [])):
            return False
    return True


@tf_op("Erfc", "Pow")
def tf_gelu_part(view):
    """Erfc and Pow are converted as parts of GELU only."""
    node = graph_gelu(view, view.inputs[0])
    if node is None:
        raise Unsupported("%s is converted only as part of tf.nn.gelu's arithmetic (exact: 0.5 x erfc(-x / "
                          "sqrt 2); approximate: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))))" % view.type)
    return node


def graph_softmax_over_axis(view, src, perm):
    """tf.nn.softmax over an axis other than the last: a Transpose (`view`, by `perm`) bringing the axis last,
    Softmax, and the inverse Transpose. The softmax activation over that axis, or None."""
    softmax = view.single_consumer(view.output)
    if softmax is None or softmax[0].op != "Softmax":
        return None
    back = view.single_consumer(softmax[0].name + ":0")
    if back is None or back[0].op != "Transpose":
        return None
    back_perm = view.values[view.graph.resolve(back[0].inputs[1])]
    if view.graph.is_data(view.graph.resolve(back[0].inputs[1])) or \
            [perm[int(p) % len(perm)] for p in np.asarray(back_perm).reshape(-1)] != list(range(len(perm))):
        return None
    axis = int(perm[-1]) if perm[-1] != len(perm) - 1 else -1
    return make_node("activation", {"function": "softmax", "axis": axis}, inputs=[src],
                     output=back[0].name + ":0", absorbed=[softmax[0].name, back[0].name])
