"""Convolutions. Keras: Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose. TF ops: Conv2D,
DepthwiseConv2dNative, Conv2DBackpropInput (tf.nn.conv2d_transpose), each with a following bias add
absorbed."""
import numpy as np

from ..node import Unsupported
from ..padding import resolve_pads
from ..registry import register, tf_op
from .activation import activation_attr
from .common import absorbing_bias, channels_last, layer_node, pair, spatial_input


def _window_settings(view):
    """strides, dilation and padding of a 2-D convolution (one of strides / dilation is 1, as Keras
    requires; valid or same padding)."""
    strides = pair(view.config.get("strides", 1))
    dilation = pair(view.config.get("dilation_rate", 1))
    if strides != [1, 1] and dilation != [1, 1]:
        raise Unsupported("strides %r together with dilation %r" % (strides, dilation))
    padding = view.config.get("padding", "valid")
    if padding not in ("valid", "same"):
        raise Unsupported("padding=%r" % padding)
    return strides, dilation, padding


def _conv_attrs(view, kernel_hw):
    channels_last(view)
    h, w, _ = spatial_input(view)
    strides, dilation, padding = _window_settings(view)
    return {
        "kernel_size": list(kernel_hw),
        "strides": strides,
        "dilation": dilation,
        "padding": padding,
        "pads": resolve_pads(padding, (h, w), kernel_hw, strides, dilation),
        "use_bias": bool(view.config.get("use_bias", True)),
        "activation": activation_attr(view.config.get("activation", "linear"), view.config),
    }


@register("Conv2D", ops=("conv2d",))
def conv2d(view):
    kernel = view.weight("kernel")                  # (kh, kw, in / groups, out)
    attrs = _conv_attrs(view, kernel.shape[:2])
    attrs["groups"] = int(view.config.get("groups", 1) or 1)
    attrs["filters"] = int(kernel.shape[3])
    arrays = {"kernel": kernel}
    return layer_node(view, "conv2d", attrs, arrays)


@register("DepthwiseConv2D", ops=("depthwise_conv2d",))
def depthwise_conv2d(view):
    role = "kernel" if "kernel" in view.weights else "depthwise_kernel"
    kernel = view.weight(role)                      # (kh, kw, in, multiplier)
    attrs = _conv_attrs(view, kernel.shape[:2])
    attrs["depth_multiplier"] = int(kernel.shape[3])
    arrays = {"kernel": kernel}
    return layer_node(view, "depthwise_conv2d", attrs, arrays)


@register("SeparableConv2D", ops=("separable_conv2d",))
def separable_conv2d(view):
    """A depthwise convolution (strides, dilation and padding apply to it) then a 1x1 convolution."""
    depthwise = view.weight("depthwise_kernel")     # (kh, kw, in, multiplier)
    pointwise = view.weight("pointwise_kernel")     # (1, 1, in * multiplier, filters)
    attrs = _conv_attrs(view, depthwise.shape[:2])
    attrs["depth_multiplier"] = int(depthwise.shape[3])
    attrs["filters"] = int(pointwise.shape[3])
    arrays = {"depthwise_kernel": depthwise, "pointwise_kernel": pointwise}
    return layer_node(view, "separable_conv2d", attrs, arrays)


def transpose_offset(padding, size, out, kernel, stride, dilation=1):
    """Where TF's Conv2DTranspose output starts inside the full transposed convolution (length
    (size - 1) * stride + (kernel - 1) * dilation + 1, input cell i feeding cells i * stride + k * dilation):
    TF computes the gradient of a forward convolution from `out` cells to `size` cells, so it drops the
    forward convolution's leading pad, total // 2 with the extra cell after (bottom/right)."""
    if padding == "valid":
        return 0
    return max((size - 1) * stride + (kernel - 1) * dilation + 1 - out, 0) // 2


@register("Conv2DTranspose", ops=("conv2d_transpose",))
def conv2d_transpose(view):
    kernel = view.weight("kernel")                  # (kh, kw, out, in)
    channels_last(view)
    h, w, _ = spatial_input(view)
    out_h, out_w, _ = view.output_shape
    strides, dilation, padding = _window_settings(view)
    output_padding = view.config.get("output_padding")
    kh, kw = int(kernel.shape[0]), int(kernel.shape[1])
    attrs = {
        "kernel_size": [kh, kw],
        "strides": strides,
        "padding": padding,
        "output_padding": None if output_padding is None else pair(output_padding),
        "dilation": dilation,
        "offset": [transpose_offset(padding, h, out_h, kh, strides[0], dilation[0]),
                   transpose_offset(padding, w, out_w, kw, strides[1], dilation[1])],
        "output_size": [int(out_h), int(out_w)],
        "filters": int(kernel.shape[2]),
        "use_bias": bool(view.config.get("use_bias", True)),
        "activation": activation_attr(view.config.get("activation", "linear"), view.config),
    }
    arrays = {"kernel": kernel}
    return layer_node(view, "conv2d_transpose", attrs, arrays)


@tf_op("Conv2D", "DepthwiseConv2dNative")
def tf_conv2d(view):
    view.require_nhwc()
    src = view.data_input(0)
    h, w, c = view.image(src)
    kernel = view.static(1).astype(np.float32, copy=False)
    if kernel.ndim != 4:
        raise Unsupported("filter of shape %r" % (kernel.shape,))
    strides = view.spatial("strides")
    dilation = view.spatial("dilations")
    if strides != [1, 1] and dilation != [1, 1]:
        raise Unsupported("strides %r together with dilations %r" % (strides, dilation))
    kernel_hw = [int(kernel.shape[0]), int(kernel.shape[1])]
    padding, pads = view.window_padding((h, w), kernel_hw, strides, dilation)
    attrs = {"kernel_size": kernel_hw, "strides": strides, "dilation": dilation, "padding": padding,
             "pads": pads, "use_bias": False, "activation": None}
    if view.type == "Conv2D":
        if c % kernel.shape[2]:
            raise Unsupported("%d input channels are not a multiple of the filter's %d" % (c, kernel.shape[2]))
        attrs["groups"] = int(c // kernel.shape[2])
        attrs["filters"] = int(kernel.shape[3])
        return absorbing_bias(view, "conv2d", attrs, {"kernel": kernel}, int(kernel.shape[3]), src)
    if kernel.shape[2] != c:
        raise Unsupported("depthwise filter for %d channels, the input has %d" % (kernel.shape[2], c))
    attrs["depth_multiplier"] = int(kernel.shape[3])
    return absorbing_bias(view, "depthwise_conv2d", attrs, {"kernel": kernel}, int(c * kernel.shape[3]), src)


@tf_op("Conv2DBackpropInput")
def tf_conv2d_backprop_input(view):
    """tf.nn.conv2d_transpose: the gradient of a convolution from the data input's size to input_sizes."""
    view.require_nhwc()
    src = view.data_input(2)
    h, w, c = view.image(src)
    kernel = view.static(1).astype(np.float32, copy=False)  # (kh, kw, out channels, in channels)
    if kernel.ndim != 4 or kernel.shape[3] != c:
        raise Unsupported("filter of shape %r for an input of %d channels" % (kernel.shape, c))
    if view.spatial("dilations") != [1, 1]:
        raise Unsupported("dilations %r" % (view.attr("dilations"),))
    strides = view.spatial("strides")
    out_h, out_w, filters = view.output_shape
    kernel_hw = [int(kernel.shape[0]), int(kernel.shape[1])]
    padding = view.attr("padding")
    if padding == "EXPLICIT":
        pads = view.explicit_pads()
        offset = [pads[0], pads[2]]
    elif padding in ("SAME", "VALID"):
        offset = [transpose_offset(padding.lower(), size, out, k, s)
                  for size, out, k, s in zip((h, w), (out_h, out_w), kernel_hw, strides)]
    else:
        raise Unsupported("padding=%r" % padding)
    attrs = {"kernel_size": kernel_hw, "strides": strides, "padding": "same" if padding == "SAME" else "valid",
             "output_padding": None, "dilation": [1, 1], "offset": offset, "output_size": [int(out_h), int(out_w)],
             "filters": int(filters), "use_bias": False, "activation": None}
    return absorbing_bias(view, "conv2d_transpose", attrs, {"kernel": kernel}, int(filters), src)
