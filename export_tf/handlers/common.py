"""Checks several families share."""
from ..registry import Unsupported

# Keras activation names the importer lowers exactly; 'linear' means none.
ACTIVATIONS = ("linear", "relu", "relu6", "sigmoid", "tanh", "softmax")


def activation_attr(value):
    """Canonical activation attribute for a Keras `activation` config value (None for linear)."""
    if isinstance(value, dict):
        value = value.get("config", {}).get("name", value.get("class_name"))
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unsupported("activation %r is not a named Keras activation" % (value,))
    if value not in ACTIVATIONS:
        raise Unsupported("activation '%s' (supported: %s)" % (value, ", ".join(ACTIVATIONS)))
    if value == "linear":
        return None
    return {"function": value}


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
