"""Exact substitutions for a runtime's target (registry.RUNTIME_TARGETS): a node's lowering rewritten,
after its handler, so that it uses only the layers that runtime loads with Caffe's semantics.

* Bias (one bottom, a learned blob)  ->  Scale with weights 1 and that bias (x * 1 + b is exactly x + b).
* Slice whose discarded tops go to Silence (the exact crops of handlers/common.py and resize.py)  ->  per
  kept top, a depthwise Convolution (group = C, no bias) whose kernel is one-hot at the crop's start: the
  output is the kept rows/columns exactly (one product by 1, the rest by 0, for finite inputs), and no
  helper blob is left over for the runtime to list as an output.
* A Convolution over a 1x1 map keeps only the tap that meets data (OpenCV 4.11 gets 3x3 pad 1 wrong there).
* A layer named like a Convolution's top is renamed (OpenCV names Convolution layers after their top).
Where the target refuses them (MNN):
* Scale / Bias with a second bottom, a per-channel (N, C) gate on an (N, C, H, W) map  ->  the gate
  Reshaped to (N, C, 1, 1), spread over (H, W) by a depthwise Deconvolution with an all-ones H x W kernel
  (each output is one product by 1), then Eltwise PROD / SUM: the same single operation per element.
* Scale whose learned blob covers the trailing axes from axis 1 or 2 (the average pooling divisor)  ->
  Reshape to (-1, M, 1, 1), Scale on axis 1, Reshape back: the same products.
* Eltwise SUM with coefficients  ->  each bottom whose coefficient is not 1 through Power{scale: coeff},
  then a plain SUM (exact for 1 and -1; otherwise coeff * x is rounded before the sum, one rounding
  apart from Caffe's fused axpy).
Each of these is applied only where Target.refusal refuses the layer as it is."""
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
    for ref in ins:
        if ref.layout.kind in (IMAGE, SEQUENCE):
            sizes.setdefault(ref.blob, tuple(caffe_shape(ref.shape, ref.layout)[1:]))
    silence_refused = target.refusal(CaffeLayer("silence", "Silence", ["x"], []))
    out, dropped = [], set()
    for layer in layers:
        if layer.type == "Bias" and len(layer.bottoms) == 1 and len(layer.blobs) == 1 and target.refusal(layer):
            layer = _bias_as_scale(layer)
        if layer.type in ("Scale", "Bias") and len(layer.bottoms) == 2 and target.refusal(layer):
            out += _spread_gate(layer, channels, sizes)
        elif layer.type == "Scale" and len(layer.blobs) >= 1 and target.refusal(layer):
            out += _scale_on_channels(layer, channels)
        elif layer.type == "Eltwise" and layer.params.get("eltwise_param", {}).get("coeff") and target.refusal(layer):
            out += _coeff_as_power(layer)
        elif (silence_refused and layer.type == "Slice" and getattr(layer, "axis_size", None)
              and layer.params["slice_param"]["axis"] in (2, 3) and channels.get(layer.bottoms[0])
              and any(t in silenced for t in layer.tops)):
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


def _spread_gate(layer, channels, sizes):
    """Scale / Bias (axis 0) of an (N, C, H, W) map by an (N, C) gate as Reshape + all-ones depthwise
    Deconvolution + Eltwise; unchanged (and so refused) where C, H or W is unknown."""
    x, gate = layer.bottoms
    c, hw = channels.get(x), sizes.get(x)
    if not c or not hw or layer.params.get(layer.type.lower() + "_param", {}).get("axis", 1) != 0:
        return [layer]
    shaped, spread = layer.name + "/gate4d", layer.name + "/spread"
    return [CaffeLayer(shaped, "Reshape", [gate], [shaped], {"reshape_param": {"shape": {"dim": [0, -1, 1, 1]}}}),
            CaffeLayer(spread, "Deconvolution", [shaped], [spread], {"convolution_param": {
                "num_output": c, "group": c, "kernel_h": hw[0], "kernel_w": hw[1], "bias_term": False}},
                [np.ones((c, 1, hw[0], hw[1]), dtype=np.float32)]),
            CaffeLayer(layer.name, "Eltwise", [x, spread], layer.tops, {"eltwise_param": {
                "operation": "PROD" if layer.type == "Scale" else "SUM"}})]


def _scale_on_channels(layer, channels):
    """A Scale whose learned blob covers the trailing axes of a 4-D blob from axis 1 or 2 as Reshape to
    (-1, M, 1, 1) + Scale on axis 1 + Reshape back; unchanged (and so refused) otherwise."""
    param = dict(layer.params.get("scale_param", {}))
    axis, blob = param.get("axis", 1), np.asarray(layer.blobs[0])
    c = channels.get(layer.bottoms[0])
    if not c or axis not in (1, 2) or param.get("num_axes", 1) != blob.ndim or axis + blob.ndim != 4:
        return [layer]
    back = list(blob.shape) if axis == 1 else [c] + list(blob.shape)
    flat, scaled = layer.name + "/flat", layer.name + "/scaled"
    param.update({"axis": 1, "num_axes": 1})
    blobs = [blob.reshape(-1)] + [np.asarray(b).reshape(-1) for b in layer.blobs[1:]]
    return [CaffeLayer(flat, "Reshape", layer.bottoms, [flat],
                       {"reshape_param": {"shape": {"dim": [-1, blob.size, 1, 1]}}}),
            CaffeLayer(scaled, "Scale", [flat], [scaled], {"scale_param": param}, blobs),
            CaffeLayer(layer.name, "Reshape", [scaled], layer.tops, {"reshape_param": {"shape": {"dim": [-1] + back}}})]


def _coeff_as_power(layer):
    """Eltwise SUM with coefficients as Power{scale: coeff} on each bottom whose coefficient is not 1, then
    a plain SUM."""
    param = layer.params["eltwise_param"]
    bottoms, out = [], []
    for i, (bottom, coeff) in enumerate(zip(layer.bottoms, param["coeff"])):
        if float(coeff) != 1.0:
            scaled = "%s/coeff%d" % (layer.name, i)
            out.append(CaffeLayer(scaled, "Power", [bottom], [scaled], {"power_param": {"scale": float(coeff)}}))
            bottom = scaled
        bottoms.append(bottom)
    return out + [CaffeLayer(layer.name, "Eltwise", bottoms, layer.tops, {"eltwise_param": {"operation": "SUM"}})]


def _distinct_from_conv_tops(layers):
    """OpenCV's Caffe importer names a Convolution / Deconvolution layer after its top, so another layer
    named like such a top ("pool" before the crop convolution writing "pool") would be added twice:
    that other layer gets "/op" appended."""
    tops = set(l.tops[0] for l in layers if l.type in ("Convolution", "Deconvolution") and l.tops)
    for layer in layers:
        if layer.type not in ("Convolution", "Deconvolution") and layer.name in tops:
            layer.name += "/op"
    return layers
