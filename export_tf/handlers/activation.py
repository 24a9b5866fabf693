"""Activations: Activation (every named Keras activation the importer lowers), ReLU (slope, max value,
threshold), LeakyReLU, ThresholdedReLU (Keras 2), ELU, PReLU (any shared_axes), Softmax (any axes but the
batch)."""
from ..registry import Node, Unsupported, register
from .common import activation_attr


def _identity():
    return Node("identity", {})


@register("Activation", ops=('activation', 'identity'))
def activation(view):
    attr = activation_attr(view.config.get("activation"), view.config)
    if attr is None:
        return _identity()
    return Node("activation", attr)


@register("ReLU", ops=('activation',))
def relu(view):
    max_value = view.config.get("max_value")
    return Node("activation", {
        "function": "relu",
        "negative_slope": float(view.config.get("negative_slope", 0.0) or 0.0),
        "max_value": None if max_value is None else float(max_value),
        "threshold": float(view.config.get("threshold", 0.0) or 0.0),
    })


@register("LeakyReLU", ops=('activation',))
def leaky_relu(view):
    slope = view.config.get("negative_slope", view.config.get("alpha", 0.3))
    return Node("activation", {"function": "relu", "negative_slope": float(slope), "max_value": None})


@register("ThresholdedReLU", ops=('activation',))
def thresholded_relu(view):
    """Keras 2 (tf_keras): x where x > theta, else 0."""
    return Node("activation", {"function": "relu", "negative_slope": 0.0, "max_value": None,
                               "threshold": float(view.config.get("theta", 1.0))})


@register("ELU", ops=('activation',))
def elu(view):
    return Node("activation", {"function": "elu", "alpha": float(view.config.get("alpha", 1.0))})


@register("PReLU", ops=('prelu',))
def prelu(view):
    """relu(x) - alpha * relu(-x); alpha has the input's shape with 1 along the shared axes."""
    alpha = view.weight("alpha")
    shape = tuple(view.input_shape)
    if alpha.ndim != len(shape) or any(a not in (1, s) for a, s in zip(alpha.shape, shape)):
        raise Unsupported("alpha of shape %r does not broadcast to the input's %r" % (alpha.shape, shape))
    return Node("prelu", {}, {"alpha": alpha})


@register("Softmax", ops=('activation',))
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
        return Node("activation", {"function": "softmax", "axis": -1})
    return Node("activation", {"function": "softmax", "axis": axes[0] if len(axes) == 1 else axes})
