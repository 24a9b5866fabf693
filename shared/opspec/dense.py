"""Dense: a matrix on the last axis of a vector, a sequence or an image."""
from . import Array, declare
from .activation import ACTIVATION
from .fields import Bool, Int
from .rules import has_bias


def _dense(ctx):
    shape = ctx.ins[0]
    units = ctx.attrs["units"]
    ctx.array("kernel", [shape[-1] if shape else None, units])
    ctx.array("bias", [units])
    ctx.output(list(shape[:-1]) + [units])


declare("dense", "dense", attrs={"units": Int(1), "use_bias": Bool(default=True), "activation": ACTIVATION},
        arrays={"kernel": Array(2, doc="(in, units)"), "bias": Array(1, when=has_bias, doc="(units,)")},
        rule=_dense, doc="x @ kernel + bias on the last axis, then the fused activation")
