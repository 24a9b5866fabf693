"""Exact substitutions for a runtime's target (registry.RUNTIME_TARGETS): a node's lowering rewritten,
after its handler, so that it uses only the layers that runtime loads with Caffe's semantics.

* Bias (one bottom, a learned blob)  ->  Scale with weights 1 and that bias (x * 1 + b is exactly x + b).
* Slice whose discarded tops go to Silence (the exact crops of handlers/common.py and resize.py)  ->  per
  kept top, a depthwise Convolution (group = C, no bias) whose kernel is one-hot at the crop's start: the
  output is the kept rows/columns exactly (one product by 1, the rest by 0, for finite inputs), and no
  helper blob is left over for the runtime to list as an output.
* A Convolution over a 1x1 map keeps only the tap that meets data (OpenCV 4.11 gets 3x3 pad 1 wrong there).
* A layer named like a Convolution's top is renamed (OpenCV names Convolution layers after their top).
What cannot be substituted stays, and the target then refuses it by name (Target.refusal)."""
import numpy as np

from .layout import IMAGE, SEQUENCE, caffe_shape
from .plan import CaffeLayer

# layers whose top has the channel count of their first bottom
_SAME_CHANNELS = frozenset(("AbsVal", "BNLL", "BatchNorm", "Dropout", "ELU", "Eltwise", "Exp", "Log", "LRN", "MVN",
                            "PReLU", "Pooling", "Power", "ReLU", "Scale", "Sigmoid", "Softmax", "Split", "Swish",
                            "TanH", "Bias", "Clip", "Crop"))


def _channels(layers, ins):
    """blob -> channel count of the 4-D blobs whose channels are known: the node's image and sequence
    inputs, what convolutions make and what keeps its bottom's channels."""
    known = {}
    for ref in ins:
        if ref.layout.kind in (IMAGE, SEQUENCE):
            known[ref.blob] = caffe_shape(ref.shape, ref.layout)[0]
    for layer in layers:
        c = None
        if layer.type in ("Convolution", "Deconvolution"):
            c = layer.params["convolution_param"]["num_output"]
        elif layer.type in _SAME_CHANNELS or (layer.type == "Slice" and layer.params["slice_param"]["axis"] in (2, 3)):
            c = known.get(layer.bottoms[0]) if layer.bottoms else None
        for top in layer.tops:
            if c is None:
                known.pop(top, None)
            else:
                known[top] = c
    return known


def _bias_as_scale(layer):
    param = dict(layer.params.get("bias_param", {}))
    bias = layer.blobs[0]
    return CaffeLayer(layer.name, "Scale", layer.bottoms, layer.tops, {"scale_param": {
        "axis": param.get("axis", 1), "num_axes": param.get("num_axes", 1), "bias_term": True}},
        [np.ones(bias.shape, dtype=np.float32), bias])


def _crop_convs(layer, channels):
    """The one-hot depthwise convolutions replacing a cropping Slice, one per top it keeps."""
    axis, size = layer.params["slice_param"]["axis"], layer.axis_size
    edges = [0] + list(layer.params["slice_param"].get("slice_point", [])) + [size]
    out = []
    for i, top in enumerate(layer.tops):
        if top in layer.silenced:
            continue
        lo, hi = edges[i], edges[i + 1]
        k = size - (hi - lo) + 1
        kernel = [k, 1] if axis == 2 else [1, k]
        weight = np.zeros([channels, 1] + kernel, dtype=np.float32)
        weight[(slice(None), 0) + ((lo, 0) if axis == 2 else (0, lo))] = 1.0
        name = layer.name if len(out) == 0 else "%s/%d" % (layer.name, i)
        out.append(CaffeLayer(name, "Convolution", layer.bottoms, [top], {"convolution_param": {
            "num_output": channels, "group": channels, "kernel_h": kernel[0], "kernel_w": kernel[1],
            "bias_term": False}}, [weight]))
    return out


def _single_tap(layer, hw):
    """OpenCV 4.11 computes a 3x3, pad-1 depthwise Convolution on a 1x1 map wrongly (up to 2x off; 5x5 pad 2
    and 2x2 maps are right). Where an axis of the input and of the output has size 1, only the tap at
    pad / dilation ever meets data (the others meet padding zeros): the kernel shrinks to that tap, pad 0,
    exactly the same sums."""
    p = layer.params["convolution_param"]
    if "kernel_h" not in p or not layer.blobs:
        return layer
    dil = p.get("dilation", 1)
    dil = (dil[0] if dil else 1) if isinstance(dil, (list, tuple)) else dil
    weight, shrunk = layer.blobs[0], False
    for axis, key in ((0, "h"), (1, "w")):
        k, pad, stride = p["kernel_" + key], p.get("pad_" + key, 0), p.get("stride_" + key, 1)
        out = (hw[axis] + 2 * pad - dil * (k - 1) - 1) // stride + 1
        if hw[axis] == 1 and out == 1 and k > 1 and pad % dil == 0 and pad // dil < k:
            tap, shrunk = pad // dil, True
            weight = np.asarray(weight)      # a lazy transposition (layout.Rearranged) is copied here
            weight = weight[:, :, tap:tap + 1, :] if axis == 0 else weight[:, :, :, tap:tap + 1]
            p["kernel_" + key], p["pad_" + key] = 1, 0
    if shrunk:
        layer.blobs = [np.ascontiguousarray(weight)] + layer.blobs[1:]
    return layer


def adapt(layers, ins, target):
    """The node's layers for `target`: unchanged unless it is a runtime's target."""
    if not target.runtime:
        return layers
    silenced = {}
    for layer in layers:
        if layer.type == "Silence":
            for b in layer.bottoms:
                silenced[b] = layer
    channels = _channels(layers, ins)
    sizes = dict((r.blob, r.shape[:2]) for r in ins if r.layout.kind == IMAGE)
    for layer in layers:
        if layer.type == "Convolution" and layer.bottoms[0] in sizes:
            _single_tap(layer, sizes[layer.bottoms[0]])
    out, dropped = [], set()
    for layer in layers:
        if layer.type == "Bias" and len(layer.bottoms) == 1 and len(layer.blobs) == 1 and target.refusal(layer):
            out.append(_bias_as_scale(layer))
        elif (layer.type == "Slice" and getattr(layer, "axis_size", None) and layer.params["slice_param"]["axis"] in (2, 3)
              and channels.get(layer.bottoms[0]) and any(t in silenced for t in layer.tops)):
            layer.silenced = set(t for t in layer.tops if t in silenced)
            out += _crop_convs(layer, channels[layer.bottoms[0]])
            dropped |= layer.silenced
        else:
            out.append(layer)
    result = []
    for layer in out:
        if layer.type == "Silence":
            left = [b for b in layer.bottoms if b not in dropped]
            if not left:
                continue
            layer = CaffeLayer(layer.name, "Silence", left, [])
        result.append(layer)
    return _distinct_from_conv_tops(result)


def _distinct_from_conv_tops(layers):
    """OpenCV's Caffe importer names a Convolution / Deconvolution layer after its top, so another layer
    named like such a top ("pool" before the crop convolution writing "pool") would be added twice:
    that other layer gets "/op" appended."""
    tops = set(l.tops[0] for l in layers if l.type in ("Convolution", "Deconvolution") and l.tops)
    for layer in layers:
        if layer.type not in ("Convolution", "Deconvolution") and layer.name in tops:
            layer.name += "/op"
    return layers
