"""Checks several families share."""
from ..registry import Unsupported

# Keras activation names (Keras 3 and Keras 2 / tf_keras) the importer lowers; 'linear' means none.
# Each maps to the canonical manifest attributes with every constant written out.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_FIXED = {
    "relu": {"function": "relu"},
    "relu6": {"function": "relu6"},
    "leaky_relu": {"function": "relu", "negative_slope": 0.2, "max_value": None},
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
}
# Registered functions (a Keras 3 config names them 'package>name') known to be one of the above.
_REGISTERED = {
    "keras_hub>gelu_approximate": {"function": "gelu", "approximate": True},   # KerasHub's GPT-2, ...
    "keras_nlp>gelu_approximate": {"function": "gelu", "approximate": True},
}
_FIXED.update(_REGISTERED)
ACTIVATIONS = ("linear", "hard_sigmoid") + tuple(sorted(_FIXED))


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
    return dict(_FIXED[value])


def channels_last(view):
    fmt = view.config.get("data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        raise Unsupported("data_format=%r (only channels_last models are supported)" % fmt)


def pair(value):
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return [int(value), int(value)]


def spatial_input(view):
    if len(view.input_shape) != 3:
        raise Unsupported("expects an image tensor (H, W, C), found shape %r" % (view.input_shape,))
    return view.input_shape
