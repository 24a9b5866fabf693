"""Ops of the helper layers keras.applications models define: weighted_sum (CustomScaleLayer's
residual sum) and channel_scale (LayerScale)."""
from . import Array, declare
from .fields import Numbers


def _weighted_sum(ctx):
    if len(ctx.attrs["coefficients"]) != len(ctx.ins):
        ctx.fail("attrs.coefficients", "%d coefficients for %d inputs" % (len(ctx.attrs["coefficients"]), len(ctx.ins)))
    if len(set(ctx.ins)) != 1:
        ctx.fail("inputs", "inputs of different shapes %r (the sum does not broadcast)" % (sorted(set(ctx.ins)),))
    ctx.output(ctx.ins[0])


def _channel_scale(ctx):
    ctx.array("scale", [ctx.ins[0][-1] if ctx.ins[0] else None])
    ctx.output(ctx.ins[0])


declare("weighted_sum", "applications", inputs=(2, None), attrs={"coefficients": Numbers(doc="one per input")},
        rule=_weighted_sum, doc="sum of the inputs, each times its coefficient")
declare("channel_scale", "applications", arrays={"scale": Array(1, doc="(channels,)")}, rule=_channel_scale,
        doc="x times a per-channel vector")
