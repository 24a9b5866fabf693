"""Convolutions: Conv2D, DepthwiseConv2D."""
from ..padding import resolve_pads
from ..registry import Node, Unsupported, register
from .common import activation_attr, channels_last, pair, spatial_input


def _conv_attrs(view, kernel_hw):
    channels_last(view)
    h, w, _ = spatial_input(view)
    strides = pair(view.config.get("strides", 1))
    dilation = pair(view.config.get("dilation_rate", 1))
    if strides != [1, 1] and dilation != [1, 1]:
        raise Unsupported("strides %r together with dilation %r" % (strides, dilation))
    padding = view.config.get("padding", "valid")
    if padding not in ("valid", "same"):
        raise Unsupported("padding=%r" % padding)
    return {
        "kernel_size": list(kernel_hw),
        "strides": strides,
        "dilation": dilation,
        "padding": padding,
        "pads": resolve_pads(padding, (h, w), kernel_hw, strides, dilation),
        "use_bias": bool(view.config.get("use_bias", True)),
        "activation": activation_attr(view.config.get("activation", "linear")),
    }


@register("Conv2D", ops=('conv2d',))
def conv2d(view):
    kernel = view.weight("kernel")                  # (kh, kw, in / groups, out)
    attrs = _conv_attrs(view, kernel.shape[:2])
    attrs["groups"] = int(view.config.get("groups", 1) or 1)
    attrs["filters"] = int(kernel.shape[3])
    arrays = {"kernel": kernel}
    if attrs["use_bias"]:
        arrays["bias"] = view.weight("bias")
    return Node("conv2d", attrs, arrays)


@register("DepthwiseConv2D", ops=('depthwise_conv2d',))
def depthwise_conv2d(view):
    role = "kernel" if "kernel" in view.weights else "depthwise_kernel"
    kernel = view.weight(role)                      # (kh, kw, in, multiplier)
    attrs = _conv_attrs(view, kernel.shape[:2])
    attrs["depth_multiplier"] = int(kernel.shape[3])
    arrays = {"kernel": kernel}
    if attrs["use_bias"]:
        arrays["bias"] = view.weight("bias")
    return Node("depthwise_conv2d", attrs, arrays)
