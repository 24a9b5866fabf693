"""Sequences (L, C): conv1d, depthwise_conv1d, separable_conv1d, 1-D pooling, embedding, pad1d, crop1d,
repeat_vector, upsample1d. Kernels are in TF layout."""
from . import Array, declare
from .fields import MAX_WINDOW, Bool, Enum, Int, Ints
from .rules import conv_attrs, has_bias, window_attrs, windows


def _sequence(ctx):
    return ctx.rank(0, 2)


def _conv1d(ctx):
    length, c = _sequence(ctx)
    groups, filters = ctx.attrs["groups"], ctx.attrs["filters"]
    if c % groups or filters % groups:
        ctx.fail("attrs.groups", "%d input and %d output channels are not both divisible by groups %d"
                 % (c, filters, groups))
    out = windows(ctx, (length,))
    ctx.array("kernel", [ctx.attrs["kernel_size"][0], c // groups, filters])
    ctx.array("bias", [filters])
    ctx.output(out + [filters])


def _depthwise1d(ctx):
    length, c = _sequence(ctx)
    mult = ctx.attrs["depth_multiplier"]
    out = windows(ctx, (length,))
    ctx.array("kernel", [ctx.attrs["kernel_size"][0], c, mult])
    ctx.array("bias", [c * mult])
    ctx.output(out + [c * mult])


def _separable1d(ctx):
    length, c = _sequence(ctx)
    mult = ctx.attrs["depth_multiplier"]
    out = windows(ctx, (length,))
    ctx.array("depthwise_kernel", [ctx.attrs["kernel_size"][0], c, mult])
    filters = ctx.array("pointwise_kernel", [1, c * mult, None])[2]
    ctx.array("bias", [filters])
    ctx.output(out + [filters])


def _pool1d(ctx):
    length, c = _sequence(ctx)
    ctx.output(windows(ctx, (length,)) + [c])


def _global1d(ctx):
    c = _sequence(ctx)[1]
    ctx.output([1, c] if ctx.attrs["keepdims"] else [c])


def _embedding(ctx):
    length = ctx.rank(0, 1)[0]
    ctx.array("embeddings", [ctx.attrs["input_dim"], ctx.attrs["output_dim"]])
    ctx.output([length, ctx.attrs["output_dim"]])


def _pad1d(ctx):
    length, c = _sequence(ctx)
    ctx.output([length + sum(ctx.attrs["pads"]), c])


def _crop1d(ctx):
    length, c = _sequence(ctx)
    before, after = ctx.attrs["cropping"]
    if before + after >= length:
        ctx.fail("attrs.cropping", "%r leaves nothing of a sequence of %d" % ([before, after], length))
    ctx.output([length - before - after, c])


def _repeat(ctx):
    ctx.output([ctx.attrs["n"], ctx.rank(0, 1)[0]])


def _upsample1d(ctx):
    length, c = _sequence(ctx)
    ctx.output([length * ctx.attrs["size"], c])


_MULT = Int(1, MAX_WINDOW, doc="output channels per input channel")
_BIAS = Array(1, when=has_bias, doc="(out channels,)")
declare("conv1d", "sequence", attrs=dict(conv_attrs(1), filters=Int(1), groups=Int(1, MAX_WINDOW, default=1)),
        arrays={"kernel": Array(3, doc="(k, in / groups, filters)"), "bias": _BIAS}, rule=_conv1d,
        doc="1-D convolution (causal padding is pads [(k - 1) * dilation, 0])")
declare("depthwise_conv1d", "sequence", attrs=dict(conv_attrs(1), depth_multiplier=_MULT),
        arrays={"kernel": Array(3, doc="(k, in, multiplier)"), "bias": _BIAS}, rule=_depthwise1d,
        doc="depthwise 1-D convolution")
declare("separable_conv1d", "sequence", attrs=dict(conv_attrs(1), depth_multiplier=_MULT),
        arrays={"depthwise_kernel": Array(3, doc="(k, in, multiplier)"),
                "pointwise_kernel": Array(3, doc="(1, in * multiplier, filters)"), "bias": _BIAS},
        rule=_separable1d, doc="depthwise 1-D convolution then a pointwise one")
declare("max_pool1d", "sequence", attrs=window_attrs(1, dilated=False), rule=_pool1d, doc="1-D max pooling")
declare("avg_pool1d", "sequence", attrs=window_attrs(1, dilated=False), rule=_pool1d,
        doc="1-D average pooling over the real (unpadded) cells")
declare("global_pool1d", "sequence", attrs={"mode": Enum("avg", "max"), "keepdims": Bool(default=False)},
        rule=_global1d, doc="global pooling over the steps")
declare("embedding", "sequence", attrs={"input_dim": Int(1), "output_dim": Int(1), "mask_zero": Bool(default=False)},
        arrays={"embeddings": Array(2, doc="(input_dim, output_dim)")}, rule=_embedding,
        doc="ids (L,) -> vectors (L, output_dim); ids must lie in [0, input_dim)")
declare("pad1d", "sequence", attrs={"pads": Ints(2, 0, doc="zero steps before and after")}, rule=_pad1d,
        doc="zero padding of the steps")
declare("crop1d", "sequence", attrs={"cropping": Ints(2, 0, MAX_WINDOW * MAX_WINDOW, doc="steps cut before and after")},
        rule=_crop1d, doc="cropping of the steps")
declare("repeat_vector", "sequence", attrs={"n": Int(1, MAX_WINDOW)}, rule=_repeat, doc="(C,) -> (n, C)")
declare("upsample1d", "sequence", attrs={"size": Int(1, MAX_WINDOW)}, rule=_upsample1d,
        doc="each step repeated `size` times")
