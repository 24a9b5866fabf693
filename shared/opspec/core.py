"""Core: identity (Dropout and the like at inference), rescale (x * scale + offset, per channel or scalar)."""
from . import declare
from .fields import Numbers


def _same(ctx):
    ctx.output(ctx.ins[0])


def _rescale(ctx):
    channels = ctx.ins[0][-1] if ctx.ins[0] else 1
    for key in ("scale", "offset"):
        if len(ctx.attrs[key]) not in (1, channels):
            ctx.fail("attrs." + key, "%d values for %d channels (expected 1 or %d)"
                     % (len(ctx.attrs[key]), channels, channels))
    ctx.output(ctx.ins[0])


declare("identity", "core", rule=_same, doc="the input unchanged")
declare("rescale", "core", attrs={"scale": Numbers(doc="one value, or one per channel"),
                                  "offset": Numbers(doc="one value, or one per channel")},
        rule=_rescale, doc="x * scale + offset")
