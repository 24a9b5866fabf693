"""Spatial resizing: upsample2d (UpSampling2D nearest and bilinear, as fixed-kernel depthwise
Deconvolutions) and crop2d (Cropping2D, as Slice)."""
import numpy as np

from ..layout import IMAGE, Layout
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, register
from .common import crop_hw, identity_layer

MAX_KERNEL_VALUES = 1 << 26     # fixed Deconvolution kernel values (all channels) one upsampling may write


def _image_input(src):
    if src.layout.kind != IMAGE:
        raise Unsupported("expects an image input, found a %s tensor" % src.layout.kind)
    return src.shape


def bilinear_taps(scale):
    """TF's half-pixel bilinear upsampling by an integer `scale` along one axis, as a transposed
    convolution: output cell o reads source coordinate (o + 0.5) / scale - 0.5, so input cell j weighs
    max(0, 1 - |(o + 0.5) / scale - 0.5 - j|). With stride `scale` and pad p = scale // 2, output cell
    o = j * scale + k - p gets tap k. Returns (taps, p); 2 * scale - scale % 2 taps, the rest are zero."""
    pad = scale // 2
    taps = [max(0.0, 1.0 - abs((k - pad + 0.5) / scale - 0.5)) for k in range(2 * scale - scale % 2)]
    return np.array(taps, dtype=np.float64), pad


def _replicate_edges(name, bottom, axis, size):
    """Layers extending an NCHW blob by a copy of its first and last row (axis 2) or column (axis 3):
    Slice the edges off, Concat [first, blob, last]. TF clamps source coordinates to the image, which
    is this edge replication."""
    if size == 1:
        first = last = bottom
        layers = []
    else:
        points = [1, size - 1] if size > 2 else [1]
        first, last = name + "/first", name + "/last"
        tops = [first, name + "/middle", last] if size > 2 else [first, last]
        layers = [CaffeLayer(name + "/edges", "Slice", [bottom], tops,
                             {"slice_param": {"axis": axis, "slice_point": points}})]
        layers[0].axis_size = size      # for runtime_lowering
        if size > 2:
            layers.append(CaffeLayer(name + "/silence", "Silence", [name + "/middle"], []))
    layers.append(CaffeLayer(name, "Concat", [first, bottom, last], [name], {"concat_param": {"axis": axis}}))
    return layers, name


def _deconv(name, bottom, top, channels, kernel_hw, stride_hw, pad_hw, taps):
    """A depthwise Deconvolution (group = channels) with the fixed (kh, kw) kernel `taps`, no bias."""
    weight = np.broadcast_to(taps.astype(np.float32), (channels, 1) + tuple(kernel_hw))
    return CaffeLayer(name, "Deconvolution", [bottom], [top], {"convolution_param": {
        "num_output": channels, "group": channels, "bias_term": False, "kernel_h": kernel_hw[0],
        "kernel_w": kernel_hw[1], "stride_h": stride_hw[0], "stride_w": stride_hw[1], "pad_h": pad_hw[0],
        "pad_w": pad_hw[1]}}, [np.ascontiguousarray(weight)])


def _upsample_deconv(name, bottom, top, hwc, steps, interpolation):
    """The Deconvolution (after edge replication for bilinear) upsampling by `steps`. Returns
    (layers, note)."""
    h, w, c = hwc
    if interpolation == "nearest":
        taps, pads, layers = [np.ones(s) for s in steps], [0, 0], []
        note = "nearest: depthwise Deconvolution with a (%d, %d) kernel of ones" % tuple(steps)
    else:
        taps, pads, layers, blob = [], [], [], bottom
        for axis, (scale, length) in enumerate(zip(steps, (h, w))):
            if scale == 1:
                taps.append(np.ones(1))
                pads.append(0)
                continue
            more, blob = _replicate_edges(name + "/edge_" + "hw"[axis], blob, axis + 2, length)
            layers += more
            axis_taps, pad = bilinear_taps(scale)
            taps.append(axis_taps)
            pads.append(scale + pad)
        bottom = blob
        note = ("bilinear (half-pixel centres): edges replicated with Slice + Concat, then a depthwise "
                "Deconvolution with the fixed %dx%d bilinear kernel" % (len(taps[0]), len(taps[1])))
    kernel = np.outer(taps[0], taps[1])
    if kernel.size * c > MAX_KERNEL_VALUES:
        raise Unsupported("upsampling %d channels by %r needs a %dx%d kernel per channel (limit %d values)"
                          % (c, steps, kernel.shape[0], kernel.shape[1], MAX_KERNEL_VALUES))
    layers.append(_deconv(name, bottom, top, c, kernel.shape, steps, pads, kernel))
    return layers, note


@register("upsample2d",
          composition="nearest: Deconvolution (group = channels, ones kernel); "
                      "bilinear: Slice + Concat (edge rows/columns) + Deconvolution (group = channels, "
                      "bilinear kernel); Tile for a one-cell axis")
def upsample2d(node, ins, arrays, names, target):
    """nearest: a (sh, sw) kernel of ones with stride (sh, sw) writes each input cell into its own
    block, one product by 1 per output cell (exact). bilinear: see bilinear_taps; the edge rows and
    columns are replicated first, and Deconvolution's pad of scale + scale // 2 drops exactly the
    cells the replicas produce (both ends), so no crop follows; equal to TF up to float round-off
    (TF interpolates in two lerps, Caffe sums the weighted taps). An axis of one cell is copied
    whatever the interpolation (DeepLab's image-pooling branch): Tile, after the Deconvolution."""
    src = ins[0]
    h, w, c = _image_input(src)
    size = node["attrs"]["size"]
    out_shape = [h * size[0], w * size[1], c]
    tiled = [axis for axis, length in enumerate((h, w)) if length == 1 and size[axis] > 1]
    steps = [1 if axis in tiled else size[axis] for axis in range(2)]
    layers, notes, blob = [], [], src.blob
    if steps != [1, 1]:
        top = names.sub("upsampled") if tiled else names.top
        layers, note = _upsample_deconv(names.layer, blob, top, (h, w, c), steps,
                                        node["attrs"]["interpolation"])
        notes.append(note)
        blob = top
    for i, axis in enumerate(tiled):
        top = names.top if i == len(tiled) - 1 else names.sub("tiled_" + "hw"[axis])
        name = names.layer if not layers else names.sub("tile_" + "hw"[axis])
        layers.append(CaffeLayer(name, "Tile", [blob], [top], {"tile_param": {"axis": axis + 2,
                                                                               "tiles": size[axis]}}))
        blob = top
    if tiled:
        which = "H and W axes" if len(tiled) == 2 else "HW"[tiled[0]] + " axis"
        notes.append("Tile copies the one-cell " + which)
    if not layers:
        layers = [identity_layer(names.layer, src.blob, names.top)]
    return Lowering(layers, [TensorRef(names.top, out_shape, Layout(IMAGE))], "; ".join(notes) or None)


@register("crop2d", composition="Slice (+ Silence for the cropped parts)")
def crop2d(node, ins, arrays, names, target):
    src = ins[0]
    h, w, c = _image_input(src)
    top, bottom, left, right = node["attrs"]["crops"]
    out_hw = (h - top - bottom, w - left - right)
    if out_hw == (h, w):
        return Lowering([identity_layer(names.layer, src.blob, names.top)],
                        [TensorRef(names.top, [h, w, c], Layout(IMAGE))])
    layers, _ = crop_hw(names.layer, src.blob, names.top, (h, w), (top, left), out_hw)
    return Lowering(layers, [TensorRef(names.top, [out_hw[0], out_hw[1], c], Layout(IMAGE))],
                    "Slice keeps rows %d..%d and columns %d..%d" % (top, top + out_hw[0] - 1, left,
                                                                   left + out_hw[1] - 1))
