"""Pooling on images (H, W, C): max_pool2d, avg_pool2d (TF's divisor: real cells only), global_pool2d."""
from . import declare
from .fields import Bool, Enum
from .rules import window_attrs, windows


def _pool(ctx):
    h, w, c = ctx.rank(0, 3)
    ctx.output(windows(ctx, (h, w)) + [c])


def _global(ctx):
    c = ctx.rank(0, 3)[2]
    ctx.output([1, 1, c] if ctx.attrs["keepdims"] else [c])


declare("max_pool2d", "pool", attrs=window_attrs(2, dilated=False), rule=_pool, doc="max pooling")
declare("avg_pool2d", "pool", attrs=window_attrs(2, dilated=False), rule=_pool,
        doc="average pooling over the real (unpadded) cells of each window")
declare("global_pool2d", "pool", attrs={"mode": Enum("avg", "max"), "keepdims": Bool(default=False)},
        rule=_global, doc="global pooling over H and W")
