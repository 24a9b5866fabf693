"""Graph handlers for the layer-like TF ops: convolutions, MatMul, batch norm, pooling, activations,
resizing. Each returns the manifest node the matching Keras layer's handler would write."""
import numpy as np

from ..padding import resolve_pads
from ..registry import Unsupported
from .lower import Lowered, op


def _nhwc(view):
    fmt = view.attr("data_format", "NHWC")
    if fmt not in ("NHWC", None, ""):
        raise Unsupported("data_format=%s (only NHWC graphs are supported)" % fmt)


def _image(view, tensor):
    shape = view.shape(tensor)
    if len(shape) != 3:
        raise Unsupported("expects an image tensor (N, H, W, C), found %s of shape %r" % (tensor, shape))
    return shape


def _spatial(view, key, default=1):
    """A 4-element NHWC attribute (strides, dilations, ksize) as [h, w]; the N and C entries must be 1."""
    value = view.attr(key, [default] * 4)
    if len(value) != 4 or value[0] != 1 or value[3] != 1:
        raise Unsupported("%s=%r (only the spatial entries may differ from 1)" % (key, value))
    return [int(value[1]), int(value[2])]


def _padding(view, in_hw, kernel, strides, dilation=(1, 1)):
    padding = view.attr("padding")
    if padding == "SAME":
        return "same", resolve_pads("same", in_hw, kernel, strides, dilation)
    if padding == "VALID":
        return "valid", [0, 0, 0, 0]
    if padding == "EXPLICIT":
        explicit = view.attr("explicit_paddings", [])
        if len(explicit) != 8 or any(explicit[i] for i in (0, 1, 6, 7)):
            raise Unsupported("explicit_paddings=%r (only H and W may be padded)" % (explicit,))
        pads = [int(p) for p in explicit[2:6]]
        for axis in range(2):
            k_eff = (kernel[axis] - 1) * dilation[axis] + 1
            if max(pads[2 * axis], pads[2 * axis + 1]) >= k_eff:
                raise Unsupported("explicit padding %r by a whole window of %d or more" % (pads, k_eff))
        return "valid", pads
    raise Unsupported("padding=%r" % padding)


def _with_bias(view, node_op, attrs, arrays, channels):
    """Absorb a following per-channel bias add into the node."""
    fused = view.absorb_channel_add(view.output, channels)
    if fused is None:
        attrs["use_bias"] = False
        return Lowered(node_op, attrs, arrays, inputs=[view.data_input(0)])
    bias, out, consumer = fused
    attrs["use_bias"] = True
    arrays["bias"] = bias
    return Lowered(node_op, attrs, arrays, inputs=[view.data_input(0)], output=out, absorbed=[consumer])


@op("Conv2D", "DepthwiseConv2dNative")
def conv2d(view):
    _nhwc(view)
    src = view.data_input(0)
    h, w, c = _image(view, src)
    kernel = view.static(1).astype(np.float32)
    if kernel.ndim != 4:
        raise Unsupported("filter of shape %r" % (kernel.shape,))
    strides = _spatial(view, "strides")
    dilation = _spatial(view, "dilations")
    if strides != [1, 1] and dilation != [1, 1]:
        raise Unsupported("strides %r together with dilations %r" % (strides, dilation))
    kernel_hw = [int(kernel.shape[0]), int(kernel.shape[1])]
    padding, pads = _padding(view, (h, w), kernel_hw, strides, dilation)
    attrs = {"kernel_size": kernel_hw, "strides": strides, "dilation": dilation, "padding": padding,
             "pads": pads, "use_bias": False, "activation": None}
    if view.type == "Conv2D":
        if c % kernel.shape[2]:
            raise Unsupported("%d input channels are not a multiple of the filter's %d" % (c, kernel.shape[2]))
        attrs["groups"] = int(c // kernel.shape[2])
        attrs["filters"] = int(kernel.shape[3])
        return _with_bias(view, "conv2d", attrs, {"kernel": kernel}, int(kernel.shape[3]))
    if kernel.shape[2] != c:
        raise Unsupported("depthwise filter for %d channels, the input has %d" % (kernel.shape[2], c))
    attrs["depth_multiplier"] = int(kernel.shape[3])
    return _with_bias(view, "depthwise_conv2d", attrs, {"kernel": kernel}, int(c * kernel.shape[3]))


@op("Conv2DBackpropInput")
def conv2d_backprop_input(view):
    """tf.nn.conv2d_transpose: the gradient of a convolution from the data input's size to input_sizes."""
    _nhwc(view)
    src = view.data_input(2)
    h, w, c = _image(view, src)
    kernel = view.static(1).astype(np.float32)          # (kh, kw, out channels, in channels)
    if kernel.ndim != 4 or kernel.shape[3] != c:
        raise Unsupported("filter of shape %r for an input of %d channels" % (kernel.shape, c))
    if _spatial(view, "dilations") != [1, 1]:
        raise Unsupported("dilations %r" % (view.attr("dilations"),))
    strides = _spatial(view, "strides")
    out_h, out_w, filters = view.output_shape
    kernel_hw = [int(kernel.shape[0]), int(kernel.shape[1])]
    padding = view.attr("padding")
    offset = []
    for axis, (size, out) in enumerate(((h, out_h), (w, out_w))):
        if padding == "SAME":
            offset.append(max((size - 1) * strides[axis] + kernel_hw[axis] - out, 0) // 2)
        elif padding == "VALID":
            offset.append(0)
        elif padding == "EXPLICIT":
            explicit = view.attr("explicit_paddings", [])
            if len(explicit) != 8:
                raise Unsupported("explicit_paddings=%r" % (explicit,))
            offset.append(int(explicit[2 + 2 * axis]))
        else:
            raise Unsupported("padding=%r" % padding)
    attrs = {"kernel_size": kernel_hw, "strides": strides, "padding": "same" if padding == "SAME" else "valid",
             "output_padding": None, "dilation": [1, 1], "offset": offset, "output_size": [int(out_h), int(out_w)],
             "filters": int(filters), "use_bias": False, "activation": None}
    fused = view.absorb_channel_add(view.output, int(filters))
    if fused is None:
        return Lowered("conv2d_transpose", attrs, {"kernel": kernel}, inputs=[src])
    bias, out, consumer = fused
    attrs["use_bias"] = True
    return Lowered("conv2d_transpose", attrs, {"kernel": kernel, "bias": bias}, inputs=[src], output=out,
                   absorbed=[consumer])


@op("MatMul")
def matmul(view):
    if view.attr("transpose_a", False):
        raise Unsupported("transpose_a=True")
    src = view.data_input(0)
    kernel = view.static(1).astype(np.float32)
    if view.attr("transpose_b", False):
        kernel = np.ascontiguousarray(kernel.T)
    shape = view.shape(src)
    if len(shape) != 1 or kernel.ndim != 2 or kernel.shape[0] != shape[0]:
        raise Unsupported("a (N, %s) input times a %r matrix" % (", ".join(map(str, shape)), kernel.shape))
    attrs = {"units": int(kernel.shape[1]), "use_bias": False, "activation": None}
    return _with_bias(view, "dense", attrs, {"kernel": kernel}, int(kernel.shape[1]))


@op("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def fused_batch_norm(view):
    _nhwc(view)
    if view.attr("is_training", True):
        raise Unsupported("is_training=True: the batch's own statistics are used; export the graph built "
                          "with training=False")
    src = view.data_input(0)
    channels = view.shape(src)[-1]
    arrays = {}
    for index, role in ((1, "gamma"), (2, "beta"), (3, "moving_mean"), (4, "moving_variance")):
        value = view.static(index).astype(np.float32).reshape(-1)
        if value.shape != (channels,):
            raise Unsupported("%s of shape %r for %d channels" % (role, value.shape, channels))
        arrays[role] = value
    attrs = {"epsilon": float(view.attr("epsilon", 1e-4)), "center": True, "scale": True}
    return Lowered("batch_norm", attrs, arrays, inputs=[src])


def _pool(view, manifest_op):
    _nhwc(view)
    src = view.data_input(0)
    h, w, c = _image(view, src)
    kernel = _spatial(view, "ksize")
    strides = _spatial(view, "strides")
    padding, pads = _padding(view, (h, w), kernel, strides)
    return Lowered(manifest_op, {"kernel_size": kernel, "strides": strides, "padding": padding, "pads": pads},
                   inputs=[src])


@op("MaxPool")
def max_pool(view):
    return _pool(view, "max_pool2d")


@op("AvgPool")
def avg_pool(view):
    return _pool(view, "avg_pool2d")


@op("Mean", "Max")
def reduce_spatial(view):
    """Mean / Max over the spatial axes (1, 2) of an image: global pooling."""
    src = view.data_input(0)
    _image(view, src)
    axes = sorted(set(int(a) % 4 for a in np.asarray(view.static(1)).reshape(-1)))
    if axes != [1, 2]:
        raise Unsupported("reduction over axes %r (only the spatial axes 1 and 2 of an image)" % (axes,))
    keep = bool(view.attr("keep_dims", False))
    return Lowered("global_pool2d", {"mode": "avg" if view.type == "Mean" else "max", "keepdims": keep},
                   inputs=[src])


def _activation(attrs):
    def handler(view):
        return Lowered("activation", dict(attrs), inputs=[view.data_input(0)])
    return handler


op("Relu")(_activation({"function": "relu", "negative_slope": 0.0, "max_value": None}))
op("Relu6")(_activation({"function": "relu6"}))
op("Sigmoid")(_activation({"function": "sigmoid"}))
op("Tanh")(_activation({"function": "tanh"}))
op("Softplus")(_activation({"function": "softplus"}))
op("Softsign")(_activation({"function": "softsign"}))
op("Exp")(_activation({"function": "exponential"}))
op("Selu")(_activation({"function": "selu", "alpha": 1.6732632423543772848170429916717,
                        "scale": 1.0507009873554804934193349852946}))


@op("LeakyRelu")
def leaky_relu(view):
    return Lowered("activation", {"function": "relu", "negative_slope": float(view.attr("alpha", 0.2)),
                                  "max_value": None}, inputs=[view.data_input(0)])


@op("Elu")
def elu(view):
    return Lowered("activation", {"function": "elu", "alpha": 1.0}, inputs=[view.data_input(0)])


@op("Softmax")
def softmax(view):
    return Lowered("activation", {"function": "softmax", "axis": -1}, inputs=[view.data_input(0)])


def _resize(view, interpolation):
    src = view.data_input(0)
    h, w, c = _image(view, src)
    out_h, out_w, _ = view.output_shape
    if view.attr("align_corners", False) and (h, w) != (out_h, out_w):
        raise Unsupported("align_corners=True")
    if out_h % h or out_w % w:
        raise Unsupported("resizing %dx%d to %dx%d (only integer upscaling factors)" % (h, w, out_h, out_w))
    if interpolation == "bilinear" and not view.attr("half_pixel_centers", False):
        raise Unsupported("half_pixel_centers=False (legacy bilinear resizing)")
    return Lowered("upsample2d", {"size": [out_h // h, out_w // w], "interpolation": interpolation},
                   inputs=[src])


@op("ResizeNearestNeighbor")
def resize_nearest(view):
    """For an integer factor s both of TF's conventions read source cell floor(o / s)."""
    return _resize(view, "nearest")


@op("ResizeBilinear")
def resize_bilinear(view):
    return _resize(view, "bilinear")
