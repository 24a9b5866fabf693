"""Spatial resizing: UpSampling2D (nearest, bilinear), Resizing by whole factors, and Cropping2D."""
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


@register("Resizing", ops=('upsample2d',))
def resizing(view):
    """keras.layers.Resizing by whole factors is UpSampling2D: the same tf.image.resize (half-pixel
    centres); for nearest, floor((o + 0.5) / s) = o // s."""
    channels_last(view)
    h, w, _ = spatial_input(view)
    out_h, out_w = int(view.config["height"]), int(view.config["width"])
    interpolation = view.config.get("interpolation", "bilinear")
    if interpolation not in INTERPOLATIONS:
        raise Unsupported("interpolation=%r (supported exactly: %s)" % (interpolation, ", ".join(INTERPOLATIONS)))
    if out_h % h or out_w % w:
        raise Unsupported("resizing %dx%d to %dx%d: only whole upscaling factors are supported"
                          % (h, w, out_h, out_w))
    size = [out_h // h, out_w // w]
    if (view.config.get("crop_to_aspect_ratio") or view.config.get("pad_to_aspect_ratio")) and size[0] != size[1]:
        raise Unsupported("crop_to_aspect_ratio / pad_to_aspect_ratio with a changed aspect ratio")
    if view.config.get("antialias") and size != [1, 1]:
        raise Unsupported("antialias=True (TF then resizes with ScaleAndTranslate; not verified)")
    return Node("upsample2d", {"size": size, "interpolation": interpolation})
