"""Lowerings several families share: exact padding and cropping with stock Caffe layers."""
import numpy as np

from ..layout import IMAGE, Layout
from ..plan import CaffeLayer, TensorRef


def crop_axis(name, bottom, top, axis, start, length, full):
    """Keep [start, start + length) of `axis` with Slice, sending the rest to Silence.
    Returns (layers, blob) — no layers when nothing is cropped."""
    if start == 0 and length == full:
        return [], bottom
    points = [p for p in (start, start + length) if 0 < p < full]
    tops = []
    keep = None
    edges = [0] + points + [full]
    for i in range(len(edges) - 1):
        if edges[i] == start:
            keep = i
            tops.append(top)
        else:
            tops.append("%s_discard%d" % (top, i))
    layers = [CaffeLayer(name, "Slice", [bottom], tops, {"slice_param": {"axis": axis, "slice_point": points}})]
    layers[0].axis_size = full      # for runtime_lowering, which may turn the crop into a Convolution
    discard = [t for i, t in enumerate(tops) if i != keep]
    layers.append(CaffeLayer(name + "_silence", "Silence", discard, []))
    return layers, top


def crop_hw(name, bottom, top, in_hw, start_hw, out_hw):
    """Crop an NCHW blob to rows/cols [start, start + out) along H and W (exact, Slice + Silence)."""
    layers = []
    h_top = top if out_hw[1] == in_hw[1] and start_hw[1] == 0 else name + "/crop_h"
    more, blob = crop_axis(name + "/crop_h", bottom, h_top, 2, start_hw[0], out_hw[0], in_hw[0])
    layers += more
    more, blob = crop_axis(name + "/crop_w", blob, top, 3, start_hw[1], out_hw[1], in_hw[1])
    layers += more
    return layers, blob


def identity_layer(name, bottom, top):
    """An exact copy (Power with power 1, scale 1, shift 0), for a blob that needs its own name."""
    return CaffeLayer(name, "Power", [bottom], [top], {"power_param": {"power": 1.0, "scale": 1.0, "shift": 0.0}})


def zero_pad(name, bottom, top, hwc, pads):
    """Zero-pad an image by [top, bottom, left, right], asymmetric allowed, exactly: an identity
    depthwise 1x1 Convolution pads symmetrically by the larger side, Slice drops the surplus.
    Returns (layers, TensorRef)."""
    h, w, c = hwc
    t, b, l, r = pads
    ph, pw = max(t, b), max(l, r)
    out_hw = (h + t + b, w + l + r)
    shape = [out_hw[0], out_hw[1], c]
    if ph == 0 and pw == 0:
        return [identity_layer(name, bottom, top)], TensorRef(top, shape, Layout(IMAGE))
    symmetric = (t == b and l == r)
    conv_top = top if symmetric else name + "/padded"
    conv = CaffeLayer(name, "Convolution", [bottom], [conv_top], {"convolution_param": {
        "num_output": c, "group": c, "kernel_h": 1, "kernel_w": 1, "pad_h": ph, "pad_w": pw,
        "bias_term": False}}, [np.ones((c, 1, 1, 1), dtype=np.float32)])
    layers = [conv]
    if not symmetric:
        more, _ = crop_hw(name, conv_top, top, (h + 2 * ph, w + 2 * pw), (ph - t, pw - l), out_hw)
        layers += more
    return layers, TensorRef(top, shape, Layout(IMAGE))
