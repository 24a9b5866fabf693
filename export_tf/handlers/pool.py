"""Pooling: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D."""
from ..padding import resolve_pads
from ..registry import Node, Unsupported, register
from .common import channels_last, pair, spatial_input


def _pool(view, op):
    channels_last(view)
    h, w, _ = spatial_input(view)
    kernel = pair(view.config.get("pool_size", 2))
    strides = view.config.get("strides")
    strides = kernel if strides is None else pair(strides)
    padding = view.config.get("padding", "valid")
    if padding not in ("valid", "same"):
        raise Unsupported("padding=%r" % padding)
    attrs = {"kernel_size": kernel, "strides": strides, "padding": padding,
             "pads": resolve_pads(padding, (h, w), kernel, strides)}
    return Node(op, attrs)


@register("MaxPooling2D", ops=('max_pool2d',))
def max_pool2d(view):
    return _pool(view, "max_pool2d")


@register("AveragePooling2D", ops=('avg_pool2d',))
def avg_pool2d(view):
    return _pool(view, "avg_pool2d")


def _global(view, mode):
    channels_last(view)
    spatial_input(view)
    return Node("global_pool2d", {"mode": mode, "keepdims": bool(view.config.get("keepdims", False))})


@register("GlobalAveragePooling2D", ops=('global_pool2d',))
def global_avg_pool2d(view):
    return _global(view, "avg")


@register("GlobalMaxPooling2D", ops=('global_pool2d',))
def global_max_pool2d(view):
    return _global(view, "max")
