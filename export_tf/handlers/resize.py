"""Spatial resizing and cropping. Keras: UpSampling2D (nearest, bilinear), Resizing by whole factors,
Cropping2D. TF ops: ResizeNearestNeighbor, ResizeBilinear (integer factors), the ExpandDims -> Tile ->
Reshape with which Keras 3 writes UpSampling2D's nearest mode, StridedSlice and Slice that crop H and W."""
import numpy as np

from ..node import Unsupported, make_node
from ..registry import register, tf_op
from .common import channels_last, pair, spatial_input

INTERPOLATIONS = ("nearest", "bilinear")


@register("UpSampling2D", ops=("upsample2d",))
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
    return make_node("upsample2d", {"size": size, "interpolation": interpolation})


@register("Cropping2D", ops=("crop2d",))
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
    return make_node("crop2d", {"crops": [int(c) for c in crops]})


@register("Resizing", ops=("upsample2d",))
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
    return make_node("upsample2d", {"size": size, "interpolation": interpolation})


def _tf_resize(view, interpolation):
    src = view.data_input(0)
    h, w, c = view.image(src)
    out_h, out_w, _ = view.output_shape
    if view.attr("align_corners", False) and (h, w) != (out_h, out_w):
        raise Unsupported("align_corners=True")
    if out_h % h or out_w % w:
        raise Unsupported("resizing %dx%d to %dx%d (only integer upscaling factors)" % (h, w, out_h, out_w))
    if interpolation == "bilinear" and not view.attr("half_pixel_centers", False):
        raise Unsupported("half_pixel_centers=False (legacy bilinear resizing)")
    return make_node("upsample2d", {"size": [out_h // h, out_w // w], "interpolation": interpolation},
                     inputs=[src])


@tf_op("ResizeNearestNeighbor")
def tf_resize_nearest(view):
    """For an integer factor s both of TF's conventions read source cell floor(o / s)."""
    return _tf_resize(view, "nearest")


@tf_op("ResizeBilinear")
def tf_resize_bilinear(view):
    return _tf_resize(view, "bilinear")


def tf_repeat(view, src):
    """ExpandDims -> Tile -> Reshape repeating each row (or column) s times, which is how Keras 3 writes
    UpSampling2D's nearest mode (ops.repeat): an upsample2d of (s, 1) or (1, s). None if not that."""
    shape = view.shape(src)
    found = view.single_consumer(view.output)
    if len(shape) != 3 or found is None or found[0].op != "Tile":
        return None
    tile = found[0]
    follow = view.single_consumer(tile.name + ":0")
    if follow is None or follow[0].op != "Reshape" or view.graph.is_data(view.graph.resolve(tile.inputs[1])):
        return None
    axis = int(np.asarray(view.static(1)).reshape(-1)[0]) % 5          # the new axis, with the batch
    multiples = [int(m) for m in np.asarray(view.values[view.graph.resolve(tile.inputs[1])]).reshape(-1)]
    if axis not in (2, 3) or len(multiples) != 5 or \
            any(m != 1 for i, m in enumerate(multiples) if i != axis):
        return None
    size = [1, 1]
    size[axis - 2] = multiples[axis]
    expected = list(shape)
    expected[axis - 2] *= multiples[axis]
    out = follow[0].name + ":0"
    if list(view.shape(out)) != expected:
        return None
    return make_node("upsample2d", {"size": size, "interpolation": "nearest"}, inputs=[src], output=out,
                     absorbed=[tile.name, follow[0].name])


def _tf_crop(view, src, begin):
    shape = view.shape(src)
    if len(shape) != 3:
        raise Unsupported("slicing a tensor of shape %r (only spatial crops of images)" % (shape,))
    out = view.output_shape
    if len(out) != 3 or out[2] != shape[2] or begin[0] != 0 or begin[3] != 0:
        raise Unsupported("a slice of %r to %r that is not a crop of H and W" % (shape, out))
    crops = [begin[1], shape[0] - begin[1] - out[0], begin[2], shape[1] - begin[2] - out[1]]
    if any(c < 0 for c in crops):
        raise Unsupported("slice begin %r of %r to %r" % (begin, shape, out))
    return make_node("crop2d", {"crops": [int(c) for c in crops]}, inputs=[src])


@tf_op("StridedSlice")
def tf_strided_slice(view):
    """x[:, top:-bottom, left:-right, :] is a Cropping2D."""
    src = view.data_input(0)
    for mask in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask"):
        if view.attr(mask, 0):
            raise Unsupported("%s=%d" % (mask, view.attr(mask, 0)))
    begin, strides = [np.asarray(view.static(i)).reshape(-1).astype(np.int64) for i in (1, 3)]
    if len(begin) != 4 or any(s != 1 for s in strides):
        raise Unsupported("strides %r (only a crop with stride 1 of all four axes)" % (strides.tolist(),))
    dims = (view.values[src].shape[0],) + tuple(view.shape(src))
    starts = [0 if view.attr("begin_mask", 0) >> i & 1 else int(b) % dims[i] if b < 0 else min(int(b), dims[i])
              for i, b in enumerate(begin)]
    return _tf_crop(view, src, starts)


@tf_op("Slice")
def tf_slice(view):
    src = view.data_input(0)
    begin = [int(b) for b in np.asarray(view.static(1)).reshape(-1)]
    if len(begin) != 4:
        raise Unsupported("begin %r" % (begin,))
    return _tf_crop(view, src, begin)
