"""Spatial resizing of images (H, W, C): upsample2d by whole factors, crop2d."""
from . import declare
from .fields import MAX_WINDOW, Enum, Ints


def _upsample(ctx):
    h, w, c = ctx.rank(0, 3)
    size = ctx.attrs["size"]
    ctx.output([h * size[0], w * size[1], c])


def _crop(ctx):
    h, w, c = ctx.rank(0, 3)
    top, bottom, left, right = ctx.attrs["crops"]
    if top + bottom >= h or left + right >= w:
        ctx.fail("attrs.crops", "%r crops the whole %dx%d input" % (ctx.attrs["crops"], h, w))
    ctx.output([h - top - bottom, w - left - right, c])


declare("upsample2d", "resize", attrs={"size": Ints(2, 1, MAX_WINDOW, doc="whole factors (H, W)"),
                                       "interpolation": Enum("nearest", "bilinear")},
        rule=_upsample, doc="upsampling by whole factors, TF's half-pixel centres")
declare("crop2d", "resize", attrs={"crops": Ints(4, 0, MAX_WINDOW * MAX_WINDOW, doc="top, bottom, left, right")},
        rule=_crop, doc="cropping of rows and columns")
