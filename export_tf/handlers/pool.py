"""Pooling. Keras: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D. TF ops:
MaxPool, AvgPool, and Mean / Max over the spatial axes of an image or the steps of a sequence (global pooling;
a Mean that starts LayerNormalization's arithmetic is that layer norm, norm.py)."""
import numpy as np

from ..node import Unsupported, make_node
from ..padding import resolve_pads
from ..registry import register, tf_op
from .norm import graph_layer_norm
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
    return make_node(op, attrs)


@register("MaxPooling2D", ops=("max_pool2d",))
def max_pool2d(view):
    return _pool(view, "max_pool2d")


@register("AveragePooling2D", ops=("avg_pool2d",))
def avg_pool2d(view):
    return _pool(view, "avg_pool2d")


def _global(view, mode):
    channels_last(view)
    spatial_input(view)
    return make_node("global_pool2d", {"mode": mode, "keepdims": bool(view.config.get("keepdims", False))})


@register("GlobalAveragePooling2D", ops=("global_pool2d",))
def global_avg_pool2d(view):
    return _global(view, "avg")


@register("GlobalMaxPooling2D", ops=("global_pool2d",))
def global_max_pool2d(view):
    return _global(view, "max")


@tf_op("MaxPool", "AvgPool")
def tf_pool(view):
    view.require_nhwc()
    src = view.data_input(0)
    h, w, _ = view.image(src)
    kernel = view.spatial("ksize")
    strides = view.spatial("strides")
    padding, pads = view.window_padding((h, w), kernel, strides)
    op = "max_pool2d" if view.type == "MaxPool" else "avg_pool2d"
    return make_node(op, {"kernel_size": kernel, "strides": strides, "padding": padding, "pads": pads}, inputs=[src])


@tf_op("Mean", "Max")
def tf_reduce_spatial(view):
    """Mean / Max over the spatial axes (1, 2) of an image, or the steps (1) of a sequence: global pooling;
    a Mean that starts Keras' LayerNormalization arithmetic: that layer norm (norm.py)."""
    src = view.data_input(0)
    norm = graph_layer_norm(view) if view.type == "Mean" else None
    if norm is not None:
        return norm
    keep = bool(view.attr("keep_dims", False))
    if len(view.shape(src)) == 2:
        steps = sorted(set(int(a) % 3 for a in np.asarray(view.static(1)).reshape(-1)))
        if steps != [1]:
            raise Unsupported("reduction over axes %r of a sequence (only the steps, axis 1; over the channels only "
                              "as the start of LayerNormalization's arithmetic)" % (steps,))
        return make_node("global_pool1d", {"mode": "avg" if view.type == "Mean" else "max", "keepdims": keep},
                         inputs=[src])
    view.image(src)
    axes = sorted(set(int(a) % 4 for a in np.asarray(view.static(1)).reshape(-1)))
    if axes != [1, 2]:
        raise Unsupported("reduction over axes %r (only the spatial axes 1 and 2 of an image)" % (axes,))
    return make_node("global_pool2d", {"mode": "avg" if view.type == "Mean" else "max", "keepdims": keep},
                     inputs=[src])
