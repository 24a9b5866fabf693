"""Activations: Activation, ReLU, LeakyReLU, Softmax."""
from ..registry import Node, Unsupported, register
from .common import activation_attr


def _identity():
    return Node("identity", {})


@register("Activation", ops=('activation', 'identity'))
def activation(view):
    attr = activation_attr(view.config.get("activation"))
    if attr is None:
        return _identity()
    if attr["function"] == "softmax":
        attr["axis"] = -1
    return Node("activation", attr)


@register("ReLU", ops=('activation',))
def relu(view):
    threshold = float(view.config.get("threshold", 0.0) or 0.0)
    if threshold != 0.0:
        raise Unsupported("threshold=%r (only 0 is supported)" % threshold)
    max_value = view.config.get("max_value")
    return Node("activation", {
        "function": "relu",
        "negative_slope": float(view.config.get("negative_slope", 0.0) or 0.0),
        "max_value": None if max_value is None else float(max_value),
    })


@register("LeakyReLU", ops=('activation',))
def leaky_relu(view):
    slope = view.config.get("negative_slope", view.config.get("alpha", 0.3))
    return Node("activation", {"function": "relu", "negative_slope": float(slope), "max_value": None})


@register("Softmax", ops=('activation',))
def softmax(view):
    axis = view.config.get("axis", -1)
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise Unsupported("axis=%r (one axis only)" % (axis,))
        axis = axis[0]
    rank = len(view.input_shape) + 1
    if axis not in (-1, rank - 1):
        raise Unsupported("axis=%r (only the last axis is supported)" % (axis,))
    return Node("activation", {"function": "softmax", "axis": -1})
