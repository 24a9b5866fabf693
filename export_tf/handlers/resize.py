"""Spatial resizing: UpSampling2D (nearest, bilinear) and Cropping2D."""
from ..registry import Node, Unsupported, register
from .common import channels_last, pair, spatial_input

INTERPOLATIONS = ("nearest", "bilinear")


@register("UpSampling2D", ops=('upsample2d',))
def upsampling2d(view):
    channels_last(view)
    spatial_input(view)
    size = pair(view.config.get("size", 2))
    if any(s < 1 for s in size):
        raise Unsupported("size %r" % (size,))
    interpolation = view.config.get("interpolation", "nearest")
    if interpolation not in INTERPOLATIONS:
        why = ""
        if interpolation in ("bicubic", "lanczos3", "lanczos5"):
            why = ("; TF renormalises %s weights at the borders, which a fixed Caffe kernel does not "
                   "reproduce and no exact composition is implemented" % interpolation)
        raise Unsupported("interpolation=%r (supported exactly: %s%s)"
                          % (interpolation, ", ".join(INTERPOLATIONS), why))
    return Node("upsample2d", {"size": size, "interpolation": interpolation})


@register("Cropping2D", ops=('crop2d',))
def cropping2d(view):
    channels_last(view)
    spatial_input(view)
    crop = view.config.get("cropping", ((0, 0), (0, 0)))
    if isinstance(crop, int):
        crops = [crop] * 4
    else:
        (top, bottom), (left, right) = [pair(c) for c in crop]
        crops = [top, bottom, left, right]
    if any(c < 0 for c in crops):
        raise Unsupported("negative cropping %r" % (crops,))
    return Node("crop2d", {"crops": [int(c) for c in crops]})
