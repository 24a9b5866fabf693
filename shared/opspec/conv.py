"""Convolutions on images (H, W, C): conv2d, depthwise_conv2d, separable_conv2d, conv2d_transpose.
Kernels are in TF layout."""
from . import Array, declare
from .fields import MAX_WINDOW, Int, Ints
from .rules import conv_attrs, has_bias, windows


def _conv2d(ctx):
    h, w, c = ctx.rank(0, 3)
    groups, filters = ctx.attrs["groups"], ctx.attrs["filters"]
    if c % groups or filters % groups:
        ctx.fail("attrs.groups", "%d input and %d output channels are not both divisible by groups %d"
                 % (c, filters, groups))
    out_hw = windows(ctx, (h, w))
    ctx.array("kernel", list(ctx.attrs["kernel_size"]) + [c // groups, filters])
    ctx.array("bias", [filters])
    ctx.output(out_hw + [filters])


def _depthwise(ctx):
    h, w, c = ctx.rank(0, 3)
    mult = ctx.attrs["depth_multiplier"]
    out_hw = windows(ctx, (h, w))
    ctx.array("kernel", list(ctx.attrs["kernel_size"]) + [c, mult])
    ctx.array("bias", [c * mult])
    ctx.output(out_hw + [c * mult])


def _separable(ctx):
    h, w, c = ctx.rank(0, 3)
    mult, filters = ctx.attrs["depth_multiplier"], ctx.attrs["filters"]
    out_hw = windows(ctx, (h, w))
    ctx.array("depthwise_kernel", list(ctx.attrs["kernel_size"]) + [c, mult])
    ctx.array("pointwise_kernel", [1, 1, c * mult, filters])
    ctx.array("bias", [filters])
    ctx.output(out_hw + [filters])


def _transpose(ctx):
    h, w, c = ctx.rank(0, 3)
    attrs = ctx.attrs
    filters = attrs["filters"]
    ctx.array("kernel", list(attrs["kernel_size"]) + [filters, c])
    ctx.array("bias", [filters])
    for axis, size in enumerate((h, w)):
        kernel = (attrs["kernel_size"][axis] - 1) * attrs["dilation"][axis] + 1
        stride, offset, out = attrs["strides"][axis], attrs["offset"][axis], attrs["output_size"][axis]
        full = (size - 1) * stride + kernel
        # TF's output starts inside the first kernel window and outgrows the full transposed
        # convolution by less than a stride
        if offset >= kernel or offset + out >= full + stride:
            ctx.fail("attrs.offset", "cells %d..%d of %s do not lie within a transposed convolution of %d cells "
                     "(input %d, dilated kernel %d, stride %d)" % (offset, offset + out, "HW"[axis], full, size,
                                                                  kernel, stride))
    ctx.output(list(attrs["output_size"]) + [filters])


_FILTERS = Int(1, doc="output channels")
_MULT = Int(1, MAX_WINDOW, doc="output channels per input channel")
_BIAS = Array(1, when=has_bias, doc="(out channels,)")

declare("conv2d", "conv", attrs=dict(conv_attrs(2), filters=_FILTERS, groups=Int(1, MAX_WINDOW, default=1)),
        arrays={"kernel": Array(4, doc="(kh, kw, in / groups, filters)"), "bias": _BIAS}, rule=_conv2d,
        doc="2-D convolution (grouped when groups > 1)")
declare("depthwise_conv2d", "conv", attrs=dict(conv_attrs(2), depth_multiplier=_MULT),
        arrays={"kernel": Array(4, doc="(kh, kw, in, multiplier)"), "bias": _BIAS}, rule=_depthwise,
        doc="depthwise 2-D convolution: output channel c * multiplier + m reads input channel c")
declare("separable_conv2d", "conv", attrs=dict(conv_attrs(2), depth_multiplier=_MULT, filters=_FILTERS),
        arrays={"depthwise_kernel": Array(4, doc="(kh, kw, in, multiplier)"),
                "pointwise_kernel": Array(4, doc="(1, 1, in * multiplier, filters)"), "bias": _BIAS},
        rule=_separable, doc="a depthwise convolution (with the window settings) then a 1x1 convolution")
_transpose_attrs = conv_attrs(2)
del _transpose_attrs["pads"]
_transpose_attrs.update(
    filters=_FILTERS,
    output_padding=Ints(2, 0, nullable=True, default=None, doc="Keras' output_padding (informative)"),
    offset=Ints(2, 0, doc="where TF's output starts inside the full transposed convolution, per axis"),
    output_size=Ints(2, 1, MAX_WINDOW * MAX_WINDOW, doc="TF's output height and width"))
declare("conv2d_transpose", "conv", attrs=_transpose_attrs,
        arrays={"kernel": Array(4, doc="(kh, kw, filters, in)"), "bias": _BIAS}, rule=_transpose,
        doc="transposed convolution: cells [offset, offset + output_size) of the full one")
