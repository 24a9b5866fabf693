"""Convolutions: conv2d (any kernel, stride, dilation, groups, SAME/VALID), depthwise_conv2d,
separable_conv2d (depthwise then 1x1) and conv2d_transpose (Deconvolution)."""
import numpy as np

from .. import layout
from ..layout import IMAGE, Layout
from ..padding import symmetric
from ..plan import Lowering, TensorRef, CaffeLayer
from ..registry import Unsupported, register
from .activation import lower_activation
from .common import crop_hw, zero_pad

PAD_NOTE = "asymmetric SAME padding as identity depthwise Convolution + Slice"


def _out_hw(in_hw, kernel, strides, dilation, pads):
    out = []
    for i in range(2):
        k_eff = (kernel[i] - 1) * dilation[i] + 1
        out.append((in_hw[i] + pads[2 * i] + pads[2 * i + 1] - k_eff) // strides[i] + 1)
    return out


def _image_input(src):
    if src.layout.kind != IMAGE:
        raise Unsupported("expects an image input, found a %s tensor" % src.layout.kind)
    return src.shape


def _convolution(name, bottom, top, hwc, attrs, out_channels, groups, weight, bias, pad_name):
    """One Caffe Convolution with TF's kernel, strides, dilation and pads (asymmetric pads: an exact
    zero padding first). Returns (layers, (out_h, out_w), note or None)."""
    h, w, c = hwc
    kernel, strides, dilation, pads = attrs["kernel_size"], attrs["strides"], attrs["dilation"], attrs["pads"]
    if c % groups:
        raise Unsupported("%d input channels are not divisible by groups %d" % (c, groups))
    layers, note = [], None
    sym = symmetric(pads)
    if sym is None:
        more, ref = zero_pad(pad_name, bottom, pad_name, (h, w, c), pads)
        layers += more
        bottom, sym, note = ref.blob, (0, 0), PAD_NOTE
    param = {"num_output": out_channels, "bias_term": bias is not None, "kernel_h": kernel[0],
             "kernel_w": kernel[1], "stride_h": strides[0], "stride_w": strides[1], "pad_h": sym[0],
             "pad_w": sym[1], "group": groups}
    if dilation != [1, 1]:
        param["dilation"] = list(dilation)
    blobs = [weight] + ([bias] if bias is not None else [])
    layers.append(CaffeLayer(name, "Convolution", [bottom], [top], {"convolution_param": param}, blobs))
    return layers, _out_hw((h, w), kernel, strides, dilation, pads), note


def activate(attrs, names, target):
    """(blob the layer before the fused activation writes, activation layers)."""
    act = attrs["activation"]
    if not act:
        return names.top, []
    return names.sub("preact"), lower_activation(act, names.sub("preact"), names.top, names.sub(act["function"]),
                                                 target)


def _lower_conv(node, src, names, target, out_channels, groups, weight, bias, note=None):
    """The Lowering of a convolution node (kernel_size, strides, dilation, pads, activation attrs)
    from `src` (also used by the 1-D convolutions in handlers/sequence.py)."""
    attrs = node["attrs"]
    hwc = _image_input(src)
    conv_top, act_layers = activate(attrs, names, target)
    layers, out_hw, pad_note = _convolution(names.layer, src.blob, conv_top, hwc, attrs, out_channels, groups,
                                            weight, bias, names.sub("pad"))
    note = "; ".join(n for n in (note, pad_note) if n) or None
    return Lowering(layers + act_layers, [TensorRef(names.top, [out_hw[0], out_hw[1], out_channels], Layout(IMAGE))],
                    note)


@register("conv2d", composition="Convolution")
def conv2d(node, ins, arrays, names, target):
    kernel = arrays["kernel"]
    weight = layout.conv_kernel(kernel)
    bias = arrays.get("bias")
    return _lower_conv(node, ins[0], names, target, kernel.shape[3], node["attrs"]["groups"], weight, bias)


@register("depthwise_conv2d", composition="Convolution (group = channels)")
def depthwise_conv2d(node, ins, arrays, names, target):
    kernel = arrays["kernel"]
    cin, mult = kernel.shape[2], kernel.shape[3]
    if cin != ins[0].shape[2]:
        raise Unsupported("kernel has %d input channels, the input has %d" % (cin, ins[0].shape[2]))
    return _lower_conv(node, ins[0], names, target, cin * mult, cin, layout.depthwise_kernel(kernel),
                       arrays.get("bias"))


# ----------------------------------------------------------------------------- separable_conv2d

@register("separable_conv2d",
          composition="Convolution (group = channels) + 1x1 Convolution")
def separable_conv2d(node, ins, arrays, names, target):
    """TF's depthwise step (strides, dilation, padding; no bias) writes channel c * multiplier + m from
    input channel c, which is the order of Caffe's grouped Convolution outputs, so the pointwise
    kernel's input rows need no permutation."""
    src = ins[0]
    hwc = _image_input(src)
    depthwise, pointwise = arrays["depthwise_kernel"], arrays["pointwise_kernel"]
    cin, mult = depthwise.shape[2], depthwise.shape[3]
    if cin != hwc[2]:
        raise Unsupported("depthwise kernel has %d input channels, the input has %d" % (cin, hwc[2]))
    attrs = node["attrs"]
    mid = names.sub("depthwise")
    layers, out_hw, note = _convolution(mid, src.blob, mid, hwc, attrs, cin * mult, cin,
                                        layout.depthwise_kernel(depthwise), None, names.sub("pad"))
    conv_top, act_layers = activate(attrs, names, target)
    filters = pointwise.shape[3]
    layers.append(CaffeLayer(names.layer, "Convolution", [mid], [conv_top], {"convolution_param": {
        "num_output": filters, "bias_term": "bias" in arrays, "kernel_size": [1]}},
        [layout.conv_kernel(pointwise)] + ([arrays["bias"]] if "bias" in arrays else [])))
    notes = [note] if note else []
    notes.insert(0, "depthwise Convolution (group %d) then 1x1 Convolution" % cin)
    return Lowering(layers + act_layers, [TensorRef(names.top, [out_hw[0], out_hw[1], filters], Layout(IMAGE))],
                    "; ".join(notes))


# ----------------------------------------------------------------------------- conv2d_transpose

def deconvolution_kernel(kernel):
    """Conv2DTranspose kernel TF (kh, kw, out, in) -> Caffe Deconvolution (in, out, kh, kw): the same axis
    permutation as a Conv2D kernel's, so layout.conv_kernel does it (neither framework flips it:
    both scatter input cell i with kernel tap k onto output cell i * stride + k * dilation - pad)."""
    return layout.conv_kernel(kernel)


@register("conv2d_transpose",
          composition="Deconvolution (+ zero kernel taps, + Slice)")
def conv2d_transpose(node, ins, arrays, names, target):
    """TF's output is cells [offset, offset + output_size) of the full transposed convolution
    ((in - 1) * stride + (kernel - 1) * dilation + 1 cells). Caffe's Deconvolution crops `pad` cells off
    both ends of that, so it pads by the smaller of the two ends and Slice drops the rest. Where TF's
    output outgrows the full one (output_padding, or a stride above the kernel), the extra cells get no
    input (only the bias): zero kernel taps appended after the kernel grow Caffe's output to match."""
    src = ins[0]
    h, w, c = _image_input(src)
    attrs = node["attrs"]
    kernel = arrays["kernel"]
    if kernel.shape[3] != c:
        raise Unsupported("kernel has %d input channels, the input has %d" % (kernel.shape[3], c))
    strides, dilation, offset, out_hw = attrs["strides"], attrs["dilation"], attrs["offset"], attrs["output_size"]
    grow, pads, full = [], [], []
    for axis, size in enumerate((h, w)):
        length = (size - 1) * strides[axis] + (kernel.shape[axis] - 1) * dilation[axis] + 1
        extra = -(-max(0, offset[axis] + out_hw[axis] - length) // dilation[axis])    # taps, ceil
        length += extra * dilation[axis]
        pad = min(offset[axis], length - offset[axis] - out_hw[axis])
        grow.append(extra)
        pads.append(pad)
        full.append(length - 2 * pad)
    if any(grow):
        kernel = np.pad(kernel, [(0, grow[0]), (0, grow[1]), (0, 0), (0, 0)])
    filters = kernel.shape[2]
    bias = arrays.get("bias")
    conv_top, act_layers = activate(attrs, names, target)
    cropped = tuple(full) != tuple(out_hw)
    deconv_top = names.sub("full") if cropped else conv_top
    param = {"num_output": filters, "bias_term": bias is not None, "kernel_h": int(kernel.shape[0]),
             "kernel_w": int(kernel.shape[1]), "stride_h": strides[0], "stride_w": strides[1],
             "pad_h": pads[0], "pad_w": pads[1]}
    if dilation != [1, 1]:
        param["dilation"] = list(dilation)
    layers = [CaffeLayer(names.layer, "Deconvolution", [src.blob], [deconv_top], {"convolution_param": param},
                         [deconvolution_kernel(kernel)] + ([bias] if bias is not None else []))]
    notes = []
    if any(grow):
        notes.append("%s zero kernel taps appended so Deconvolution reaches the cells TF adds past the last "
                     "input cell's reach (output_padding, or a stride above the kernel)" % (grow,))
    if cropped:
        more, _ = crop_hw(names.sub("crop"), deconv_top, conv_top, full,
                          (offset[0] - pads[0], offset[1] - pads[1]), out_hw)
        layers += more
        notes.append("Slice crops Deconvolution's symmetric output to TF's one-sided SAME offsets")
    return Lowering(layers + act_layers, [TensorRef(names.top, [out_hw[0], out_hw[1], filters], Layout(IMAGE))],
                    "; ".join(notes) or None)
