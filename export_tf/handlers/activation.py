"""Activations. Keras: Activation (every named Keras activation the importer lowers), ReLU (slope, max
value, threshold), LeakyReLU, ThresholdedReLU (Keras 2), ELU, PReLU (any shared_axes), Softmax (any axes
but the batch), and the `activation` argument of other layers (activation_attr). TF ops: Relu, Relu6,
LeakyRelu, Elu, Selu, Sigmoid, Tanh, Softplus, Softsign, Exp, Softmax.

The canonical attributes of each activation, every constant written out, are declared once here (FIXED)
and written by both readers."""
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
        if keras2_config(config):
            return {"function": "hard_sigmoid", "slope": 0.2, "offset": 0.5}
        return {"function": "hard_sigmoid", "slope": 1.0 / 6.0, "offset": 0.5}
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
