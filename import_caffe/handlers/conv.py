"""Convolutions: conv2d (any kernel, stride, dilation, groups, SAME/VALID) and depthwise_conv2d."""
from .. import layout
from ..layout import IMAGE, Layout
from ..padding import symmetric
from ..plan import Lowering, TensorRef, CaffeLayer
from ..registry import Unsupported, register
from .activation import lower_activation
from .common import zero_pad


def _out_hw(in_hw, kernel, strides, dilation, pads):
    out = []
    for i in range(2):
        k_eff = (kernel[i] - 1) * dilation[i] + 1
        out.append((in_hw[i] + pads[2 * i] + pads[2 * i + 1] - k_eff) // strides[i] + 1)
    return out


def _lower_conv(node, src, names, target, out_channels, groups, weight, bias, note):
    attrs = node["attrs"]
    if src.layout.kind != IMAGE:
        raise Unsupported("expects an image input, found a %s tensor" % src.layout.kind)
    h, w, c = src.shape
    kernel, strides, dilation, pads = attrs["kernel_size"], attrs["strides"], attrs["dilation"], attrs["pads"]
    if c % groups:
        raise Unsupported("%d input channels are not divisible by groups %d" % (c, groups))
    layers = []
    bottom = src.blob
    sym = symmetric(pads)
    if sym is None:
        more, ref = zero_pad(names.sub("pad"), bottom, names.sub("pad"), (h, w, c), pads)
        layers += more
        bottom, sym = ref.blob, (0, 0)
        note = (note + "; " if note else "") + "asymmetric SAME padding as identity depthwise Convolution + Slice"
    act = attrs.get("activation")
    conv_top = names.sub("preact") if act else names.top
    param = {"num_output": out_channels, "bias_term": bias is not None, "kernel_h": kernel[0],
             "kernel_w": kernel[1], "stride_h": strides[0], "stride_w": strides[1], "pad_h": sym[0],
             "pad_w": sym[1], "group": groups}
    if dilation != [1, 1]:
        param["dilation"] = list(dilation)
    blobs = [weight] + ([bias] if bias is not None else [])
    layers.append(CaffeLayer(names.layer, "Convolution", [bottom], [conv_top], {"convolution_param": param}, blobs))
    if act:
        layers += lower_activation(act, conv_top, names.top, names.sub(act["function"]), target)
    out_hw = _out_hw((h, w), kernel, strides, dilation, pads)
    return Lowering(layers, [TensorRef(names.top, [out_hw[0], out_hw[1], out_channels], Layout(IMAGE))], note)


@register("conv2d", composition="Convolution")
def conv2d(node, ins, arrays, names, target):
    kernel = arrays["kernel"]
    weight = layout.conv_kernel(kernel)
    bias = arrays.get("bias")
    return _lower_conv(node, ins[0], names, target, kernel.shape[3], node["attrs"].get("groups", 1), weight,
                       bias, None)


@register("depthwise_conv2d", composition="Convolution (group = channels)")
def depthwise_conv2d(node, ins, arrays, names, target):
    kernel = arrays["kernel"]
    cin, mult = kernel.shape[2], kernel.shape[3]
    if cin != ins[0].shape[2]:
        raise Unsupported("kernel has %d input channels, the input has %d" % (cin, ins[0].shape[2]))
    return _lower_conv(node, ins[0], names, target, cin * mult, cin, layout.depthwise_kernel(kernel),
                       arrays.get("bias"), None)
