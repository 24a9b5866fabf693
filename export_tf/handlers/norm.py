"""Normalisation: BatchNormalization (inference form)."""
from ..registry import Node, Unsupported, register


@register("BatchNormalization", ops=('batch_norm',))
def batch_norm(view):
    axis = view.config.get("axis", -1)
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise Unsupported("axis=%r (only the channel axis is supported)" % (axis,))
        axis = axis[0]
    rank = len(view.input_shape) + 1
    if axis not in (-1, rank - 1):
        raise Unsupported("axis=%r (only the last, channel, axis is supported)" % (axis,))
    if view.config.get("renorm"):
        raise Unsupported("renorm=True")
    center = bool(view.config.get("center", True))
    scale = bool(view.config.get("scale", True))
    arrays = {"moving_mean": view.weight("moving_mean"), "moving_variance": view.weight("moving_variance")}
    if scale:
        arrays["gamma"] = view.weight("gamma")
    if center:
        arrays["beta"] = view.weight("beta")
    attrs = {"epsilon": float(view.config.get("epsilon", 1e-3)), "center": center, "scale": scale}
    return Node("batch_norm", attrs, arrays)
