"""Sequences (TF (N, L, C), Caffe (N, C, 1, L): a one-row image). conv1d, depthwise_conv1d and
separable_conv1d are Convolutions with a 1xK window (exact padding from common.zero_pad); max_pool1d,
avg_pool1d and global_pool1d are pool.py's 2-D lowerings with a 1xK window; pad1d, crop1d, upsample1d,
repeat_vector, and embedding (Caffe Embed, then a transpose onto the channel axis)."""
import numpy as np

from .. import layout
from ..layout import IMAGE, SEQUENCE, VECTOR, Layout
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, register
from ..padding import symmetric
from .conv import activate
from .common import crop_axis, identity_layer, zero_pad
from .pool import _pool, global_pool2d
from .reshape import transpose_blob


def as_image(ref):
    """The one-row image view (1, L, C) of a SEQUENCE ref (the same Caffe blob)."""
    if ref.layout.kind != SEQUENCE:
        raise Unsupported("expects a sequence input (L, C), found a %s tensor" % ref.layout.kind)
    return TensorRef(ref.blob, layout.as_hwc(ref.shape, ref.layout), Layout(IMAGE))


def as_sequence(ref):
    """A one-row IMAGE ref (1, L, C) back as the SEQUENCE (L, C) it holds."""
    return TensorRef(ref.blob, ref.shape[1:], Layout(SEQUENCE))


def _node_2d(node, attrs_2d):
    return {"name": node["name"], "op": node["op"], "source_type": node["source_type"],
            "inputs": node["inputs"], "outputs": node["outputs"], "attrs": attrs_2d}


def _window_attrs(node, dilated):
    attrs = node["attrs"]
    out = {"kernel_size": [1, attrs["kernel_size"][0]], "strides": [1, attrs["strides"][0]],
           "pads": [0, 0] + list(attrs["pads"])}
    if dilated:
        out["dilation"] = [1, attrs["dilation"][0]]
        out["activation"] = attrs["activation"]
    return out


def _sliding(node, ins, names, name, top, weight, bias, out_channels, groups):
    """One Convolution with a 1xK window sliding along the sequence, with TF's strides, dilation and pads
    (causal or SAME with the extra cell after: an exact zero padding first). Returns (layers, out TF shape,
    note or None)."""
    src = as_image(ins[0])
    _, length, channels = src.shape
    if channels % groups:
        raise Unsupported("%d input channels are not divisible by groups %d" % (channels, groups))
    attrs = _window_attrs(node, dilated=True)
    k, stride, dilation = attrs["kernel_size"][1], attrs["strides"][1], attrs["dilation"][1]
    before, after = node["attrs"]["pads"]
    layers, bottom, note = [], src.blob, None
    pad = symmetric(attrs["pads"])
    if pad is None:
        more, ref = zero_pad(names.sub("pad"), bottom, names.sub("pad"), src.shape, attrs["pads"])
        layers += more
        bottom, pad = ref.blob, (0, 0)
        note = "asymmetric (causal or SAME) padding as identity depthwise Convolution + Slice"
    param = {"num_output": out_channels, "bias_term": bias is not None, "kernel_h": 1, "kernel_w": k,
             "stride_h": 1, "stride_w": stride, "pad_h": 0, "pad_w": pad[1], "group": groups}
    if dilation != 1:
        param["dilation"] = [1, dilation]
    layers.append(CaffeLayer(name, "Convolution", [bottom], [top], {"convolution_param": param},
                             [weight] + ([bias] if bias is not None else [])))
    out_length = (length + before + after - (k - 1) * dilation - 1) // stride + 1
    return layers, [out_length, out_channels], note


@register("conv1d", composition="Convolution with a 1xK window (+ padding for causal/asymmetric SAME)")
def conv1d(node, ins, arrays, names, target):
    kernel = arrays["kernel"]
    top, act_layers = activate(node["attrs"], names, target)
    layers, shape, note = _sliding(node, ins, names, names.layer, top, layout.conv1d_kernel(kernel),
                                   arrays.get("bias"), int(kernel.shape[2]), node["attrs"]["groups"])
    return Lowering(layers + act_layers, [TensorRef(names.top, shape, Layout(SEQUENCE))], note)


@register("depthwise_conv1d", composition="Convolution with a 1xK window (group = channels)")
def depthwise_conv1d(node, ins, arrays, names, target):
    kernel = arrays["kernel"]                        # (k, in, multiplier)
    top, act_layers = activate(node["attrs"], names, target)
    layers, shape, note = _sliding(node, ins, names, names.layer, top, layout.depthwise1d_kernel(kernel),
                                   arrays.get("bias"), int(kernel.shape[1] * kernel.shape[2]), int(kernel.shape[1]))
    return Lowering(layers + act_layers, [TensorRef(names.top, shape, Layout(SEQUENCE))], note)


@register("separable_conv1d", composition="Convolution with a 1xK window (group = channels) + 1x1 Convolution")
def separable_conv1d(node, ins, arrays, names, target):
    """The depthwise step (no bias), then the pointwise 1x1 Convolution with the bias and the activation."""
    kernel, point = arrays["depthwise_kernel"], arrays["pointwise_kernel"]     # (k, in, mult), (1, in*mult, out)
    layers, shape, note = _sliding(node, ins, names, names.sub("depthwise"), names.sub("depthwise"),
                                   layout.depthwise1d_kernel(kernel), None, int(kernel.shape[1] * kernel.shape[2]),
                                   int(kernel.shape[1]))
    top, act_layers = activate(node["attrs"], names, target)
    bias = arrays.get("bias")
    layers.append(CaffeLayer(names.layer, "Convolution", [names.sub("depthwise")], [top], {"convolution_param": {
        "num_output": int(point.shape[2]), "kernel_size": [1], "bias_term": bias is not None}},
        [layout.conv1d_kernel(point)] + ([bias] if bias is not None else [])))
    return Lowering(layers + act_layers, [TensorRef(names.top, [shape[0], int(point.shape[2])], Layout(SEQUENCE))],
                    note)


def _pool1d(node, ins, names, mode):
    lowering = _pool(_node_2d(node, _window_attrs(node, dilated=False)), [as_image(ins[0])], names, mode)
    lowering.outputs = [as_sequence(r) for r in lowering.outputs]
    return lowering


@register("max_pool1d", composition="Pooling MAX with a 1xK window (+ Slice)")
def max_pool1d(node, ins, arrays, names, target):
    return _pool1d(node, ins, names, "MAX")


@register("avg_pool1d", composition="Pooling AVE with a 1xK window (+ Slice, + Scale divisor correction)")
def avg_pool1d(node, ins, arrays, names, target):
    return _pool1d(node, ins, names, "AVE")


@register("global_pool1d", composition="Pooling global_pooling (+ Flatten)")
def global_pool1d(node, ins, arrays, names, target):
    lowering = global_pool2d(node, [as_image(ins[0])], arrays, names, target)
    lowering.outputs = [as_sequence(r) if r.layout.kind == IMAGE else r for r in lowering.outputs]
    return lowering


@register("embedding", composition="Embed (+ Slice and Concat to put the vectors on the channel axis)")
def embedding(node, ins, arrays, names, target):
    """Caffe's Embed reads float indices (N, L) and writes (N, L, D); the SEQUENCE layout is (N, D, 1, L),
    so the two axes are swapped exactly (Slice + Concat) unless one has size 1. Indices must be integral
    and in [0, input_dim): Caffe does not check them (TF refuses out-of-range ones)."""
    src = ins[0]
    if src.layout.kind != VECTOR:
        raise Unsupported("expects a sequence of indices (L,), found a %s tensor" % src.layout.kind)
    length = src.shape[0]
    vocab, dim = node["attrs"]["input_dim"], node["attrs"]["output_dim"]
    embedded = names.sub("embedded")
    layers = [CaffeLayer(names.layer, "Embed", [src.blob], [embedded], {"embed_param": {
        "num_output": dim, "input_dim": vocab, "bias_term": False}}, [layout.embedding_matrix(arrays["embeddings"])])]
    blob = embedded
    if length > 1 and dim > 1:
        more, blob = transpose_blob(names.sub("transpose"), embedded, [length, dim], [1, 0], names.sub("transpose"))
        layers += more
    layers.append(CaffeLayer(names.sub("sequence"), "Reshape", [blob], [names.top],
                             {"reshape_param": {"shape": {"dim": [0, dim, 1, length]}}}))
    return Lowering(layers, [TensorRef(names.top, [length, dim], Layout(SEQUENCE))],
                    "Embed writes (L, D): Slice + Concat put D on the channel axis" if len(layers) > 2 else None)


@register("pad1d", composition="identity depthwise Convolution (pad) + Slice for asymmetric sides")
def pad1d(node, ins, arrays, names, target):
    src = as_image(ins[0])
    before, after = node["attrs"]["pads"]
    layers, ref = zero_pad(names.layer, src.blob, names.top, src.shape, [0, 0, before, after])
    return Lowering(layers, [as_sequence(ref)])


@register("crop1d", composition="Slice (+ Silence for the cropped ends)")
def crop1d(node, ins, arrays, names, target):
    src = ins[0]
    if src.layout.kind != SEQUENCE:
        raise Unsupported("expects a sequence input (L, C), found a %s tensor" % src.layout.kind)
    length, channels = src.shape
    before, after = node["attrs"]["cropping"]
    if before + after >= length:
        raise Unsupported("cropping %r leaves nothing of a sequence of %d" % ([before, after], length))
    layers, blob = crop_axis(names.layer, src.blob, names.top, 3, before, length - before - after, length)
    if not layers:
        layers = [identity_layer(names.layer, src.blob, names.top)]
    return Lowering(layers, [TensorRef(names.top, [length - before - after, channels], Layout(SEQUENCE))])


@register("repeat_vector", composition="Reshape + Tile")
def repeat_vector(node, ins, arrays, names, target):
    """(C,) -> (n, C): the vector as (N, C, 1, 1), tiled n times along the sequence axis."""
    src = ins[0]
    if src.layout.kind != VECTOR:
        raise Unsupported("expects a vector (C,), found a %s tensor" % src.layout.kind)
    channels, n = src.shape[0], node["attrs"]["n"]
    layers = [CaffeLayer(names.sub("column"), "Reshape", [src.blob], [names.sub("column")],
                         {"reshape_param": {"shape": {"dim": [0, channels, 1, 1]}}}),
              CaffeLayer(names.layer, "Tile", [names.sub("column")], [names.top], {"tile_param": {"axis": 3, "tiles": n}})]
    return Lowering(layers, [TensorRef(names.top, [n, channels], Layout(SEQUENCE))])


@register("upsample1d", composition="Deconvolution (group = channels, ones kernel, stride = size)")
def upsample1d(node, ins, arrays, names, target):
    """Nearest upsampling along the sequence: each step repeated `size` times. A Deconvolution with a 1 x size
    kernel of ones, stride size and one group per channel writes x * 1 into every cell of its window:
    exact."""
    src = ins[0]
    if src.layout.kind != SEQUENCE:
        raise Unsupported("expects a sequence input (L, C), found a %s tensor" % src.layout.kind)
    length, channels = src.shape
    size = node["attrs"]["size"]
    layer = CaffeLayer(names.layer, "Deconvolution", [src.blob], [names.top], {"convolution_param": {
        "num_output": channels, "group": channels, "kernel_h": 1, "kernel_w": size, "stride_h": 1, "stride_w": size,
        "bias_term": False}}, [np.ones((channels, 1, 1, size), dtype=np.float32)])
    return Lowering([layer], [TensorRef(names.top, [length * size, channels], Layout(SEQUENCE))])
