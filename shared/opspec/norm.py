"""Normalisation: batch_norm (inference form), layer_norm (over the channels), normalize (Keras'
preprocessing Normalization), lrn (TF's local response normalisation across channels). Statistics and
affine vectors are per channel (the last axis)."""
from . import Array, declare
from .fields import Bool, Int, Number


def _per_channel(*roles):
    def rule(ctx):
        channels = ctx.ins[0][-1] if ctx.ins[0] else None
        for role in roles:
            ctx.array(role, [channels])
        ctx.output(ctx.ins[0])
    return rule


def _scaled(attrs):
    return attrs["scale"]


def _centered(attrs):
    return attrs["center"]


_AFFINE = {"epsilon": Number(lo=0), "center": Bool(default=True, doc="whether a beta array is carried"),
           "scale": Bool(default=True, doc="whether a gamma array is carried")}
_GAMMA = Array(1, when=_scaled, doc="(channels,)")
_BETA = Array(1, when=_centered, doc="(channels,)")

declare("batch_norm", "norm", attrs=_AFFINE,
        arrays={"moving_mean": Array(1, doc="(channels,)"), "moving_variance": Array(1, doc="(channels,)"),
                "gamma": _GAMMA, "beta": _BETA},
        rule=_per_channel("moving_mean", "moving_variance", "gamma", "beta"),
        doc="gamma * (x - mean) / sqrt(variance + epsilon) + beta")
declare("layer_norm", "norm", attrs=_AFFINE, arrays={"gamma": _GAMMA, "beta": _BETA},
        rule=_per_channel("gamma", "beta"), doc="normalisation over the last (channel) axis of each position")
declare("normalize", "norm", attrs={"epsilon": Number(lo=0), "invert": Bool(default=False)},
        arrays={"mean": Array(1, doc="(channels,)"), "variance": Array(1, doc="(channels,)")},
        rule=_per_channel("mean", "variance"),
        doc="(x - mean) / max(sqrt(variance), epsilon); with invert, mean + x * that divisor")


def _image_same_shape(ctx):
    ctx.output(ctx.rank(0, 3))


declare("lrn", "norm", attrs={"depth_radius": Int(0, 65536, doc="half-width of the channel window"),
                              "bias": Number(doc="k, added to the scaled sum of squares"),
                              "alpha": Number(doc="scale of the sum of squares (TF's: not divided by the window)"),
                              "beta": Number(doc="exponent")},
        rule=_image_same_shape,
        doc="local response normalisation across channels: x / (bias + alpha * sum of x^2 over channels "
            "c - depth_radius .. c + depth_radius)^beta")
