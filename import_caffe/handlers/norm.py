"""Normalisation: batch_norm -> BatchNorm (use_global_stats, eps) + Scale (gamma, beta); layer_norm (a
composition, see its docstring); normalize (Keras's preprocessing Normalization) -> Bias + Scale."""
import numpy as np

from ..layout import FLAT_CHW, IMAGE, SEQUENCE, VECTOR
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, malformed, register


@register("batch_norm", composition="BatchNorm + Scale")
def batch_norm(node, ins, arrays, names, target):
    src = ins[0]
    attrs = node["attrs"]
    if src.layout.kind == FLAT_CHW:
        raise Unsupported("normalising a flattened tensor")
    channels = src.shape[-1]
    mean = np.asarray(arrays["moving_mean"], dtype=np.float32)
    var = np.asarray(arrays["moving_variance"], dtype=np.float32)
    if (var < 0).any():
        raise malformed(node, "arrays.moving_variance", "negative variance")
    gamma = arrays.get("gamma")
    beta = arrays.get("beta")
    has_affine = gamma is not None or beta is not None
    bn_top = names.sub("normalized") if has_affine else names.top
    layers = [CaffeLayer(names.layer, "BatchNorm", [src.blob], [bn_top],
                         {"batch_norm_param": {"use_global_stats": True, "eps": float(attrs["epsilon"])}},
                         [mean, var, np.ones(1, dtype=np.float32)])]
    if has_affine:
        scale = gamma if gamma is not None else np.ones(channels, dtype=np.float32)
        if beta is None:
            layers.append(CaffeLayer(names.sub("scale"), "Scale", [bn_top], [names.top],
                                     {"scale_param": {"axis": 1, "num_axes": 1, "bias_term": False}}, [scale]))
        else:
            layers.append(CaffeLayer(names.sub("scale"), "Scale", [bn_top], [names.top],
                                     {"scale_param": {"axis": 1, "num_axes": 1, "bias_term": True}},
                                     [scale, beta]))
    return Lowering(layers, [TensorRef(names.top, src.shape, src.layout)])


def _mean_over_channels(name, bottom, top, channels):
    """(N, C, H, W) -> (N, 1, H, W): the mean over channels at each position, a 1x1 Convolution with
    weights 1/C."""
    return CaffeLayer(name, "Convolution", [bottom], [top], {"convolution_param": {
        "num_output": 1, "kernel_size": [1], "bias_term": False}},
        [np.full((1, channels, 1, 1), 1.0 / channels, dtype=np.float32)])


def _tile(name, bottom, top, channels):
    return CaffeLayer(name, "Tile", [bottom], [top], {"tile_param": {"axis": 1, "tiles": channels}})


def _affine(name, bottom, top, gamma, beta):
    """gamma * x + beta per channel (axis 1): Scale (with its bias term) or Bias alone."""
    if gamma is not None:
        blobs = [gamma] + ([beta] if beta is not None else [])
        return CaffeLayer(name, "Scale", [bottom], [top], {"scale_param": {
            "axis": 1, "num_axes": 1, "bias_term": beta is not None}}, blobs)
    return CaffeLayer(name, "Bias", [bottom], [top], {"bias_param": {"axis": 1, "num_axes": 1}}, [beta])


@register("layer_norm",
          composition="1x1 Convolution (mean over channels) + Tile + Eltwise + Power + Scale")
def layer_norm(node, ins, arrays, names, target):
    """Keras LayerNormalization over the channel axis: (x - mean_c) / sqrt(var_c + eps) * gamma + beta at
    every position. Caffe's MVN normalises over C*H*W (and adds eps outside the square root), so it is
    composed: mean over channels (1x1 Convolution, weights 1/C), Tile back to C channels, Eltwise SUM
    (x - mean), Power 2, mean over channels again (the variance), Power(eps + var)^-0.5, Tile, Eltwise
    PROD, then Scale/Bias with gamma/beta. A vector is viewed as (N, C, 1, 1)."""
    src = ins[0]
    if src.layout.kind not in (IMAGE, SEQUENCE, VECTOR):
        raise Unsupported("layer normalisation of a %s tensor" % src.layout.kind)
    channels = src.shape[-1]
    gamma, beta = arrays.get("gamma"), arrays.get("beta")
    sub = names.sub
    layers, bottom = [], src.blob
    if src.layout.kind == VECTOR:
        layers.append(CaffeLayer(sub("as_image"), "Reshape", [bottom], [sub("as_image")],
                                 {"reshape_param": {"shape": {"dim": [0, channels, 1, 1]}}}))
        bottom = sub("as_image")
    has_affine = gamma is not None or beta is not None
    vector = src.layout.kind == VECTOR
    normalized = sub("normalized") if (has_affine or vector) else names.top
    layers += [
        _mean_over_channels(sub("mean"), bottom, sub("mean"), channels),
        _tile(sub("mean_tiled"), sub("mean"), sub("mean_tiled"), channels),
        CaffeLayer(sub("centered"), "Eltwise", [bottom, sub("mean_tiled")], [sub("centered")],
                   {"eltwise_param": {"operation": "SUM", "coeff": [1.0, -1.0]}}),
        CaffeLayer(sub("squared"), "Power", [sub("centered")], [sub("squared")],
                   {"power_param": {"power": 2.0, "scale": 1.0, "shift": 0.0}}),
        _mean_over_channels(sub("variance"), sub("squared"), sub("variance"), channels),
        CaffeLayer(sub("rstd"), "Power", [sub("variance")], [sub("rstd")],
                   {"power_param": {"power": -0.5, "scale": 1.0, "shift": float(node["attrs"]["epsilon"])}}),
        _tile(sub("rstd_tiled"), sub("rstd"), sub("rstd_tiled"), channels),
        CaffeLayer(names.layer if not (has_affine or vector) else sub("normalize"), "Eltwise",
                   [sub("centered"), sub("rstd_tiled")], [normalized], {"eltwise_param": {"operation": "PROD"}}),
    ]
    out = normalized
    if has_affine:
        out = sub("affine") if vector else names.top
        layers.append(_affine(names.layer, normalized, out, gamma, beta))
    if vector:
        layers.append(CaffeLayer(sub("flatten"), "Flatten", [out], [names.top], {"flatten_param": {"axis": 1}}))
    return Lowering(layers, [TensorRef(names.top, src.shape, src.layout)],
                    "layer normalisation composed from 1x1 Convolution, Tile, Eltwise and Power")


@register("normalize", composition="Bias (- mean) + Scale (1 / max(sqrt(var), eps))")
def normalize(node, ins, arrays, names, target):
    """Keras Normalization: (x - mean) / max(sqrt(var), eps) as Bias(-mean) then Scale(1 / divisor); with
    invert, mean + x * divisor as Scale(divisor) then Bias(mean). The divisor is computed in float32 as
    TF does."""
    src = ins[0]
    if src.layout.kind == FLAT_CHW:
        raise Unsupported("normalising a flattened tensor")
    mean = np.asarray(arrays["mean"], dtype=np.float32)
    if (np.asarray(arrays["variance"]) < 0).any():
        raise malformed(node, "arrays.variance", "negative variance")
    divisor = np.maximum(np.sqrt(np.asarray(arrays["variance"], dtype=np.float32)),
                         np.float32(node["attrs"]["epsilon"])).astype(np.float32)
    first, second = names.sub("first"), names.top
    if node["attrs"]["invert"]:
        layers = [CaffeLayer(names.layer, "Scale", [src.blob], [first],
                             {"scale_param": {"axis": 1, "num_axes": 1, "bias_term": False}}, [divisor]),
                  CaffeLayer(names.sub("mean"), "Bias", [first], [second],
                             {"bias_param": {"axis": 1, "num_axes": 1}}, [mean])]
    else:
        layers = [CaffeLayer(names.sub("mean"), "Bias", [src.blob], [first],
                             {"bias_param": {"axis": 1, "num_axes": 1}}, [-mean]),
                  CaffeLayer(names.layer, "Scale", [first], [second],
                             {"scale_param": {"axis": 1, "num_axes": 1, "bias_term": False}},
                             [(np.float32(1.0) / divisor).astype(np.float32)])]
    return Lowering(layers, [TensorRef(names.top, src.shape, src.layout)])


@register("lrn", composition="LRN (ACROSS_CHANNELS)")
def lrn(node, ins, arrays, names, target):
    """TF: x / (bias + alpha * sum)^beta over channels c - r .. c + r (zero beyond the ends); Caffe's LRN
    across channels divides its alpha by the window, local_size = 2r + 1, so alpha is multiplied by it."""
    src = ins[0]
    if src.layout.kind != IMAGE:
        raise Unsupported("expects an image input, found a %s tensor" % src.layout.kind)
    attrs = node["attrs"]
    size = 2 * int(attrs["depth_radius"]) + 1
    return Lowering([CaffeLayer(names.layer, "LRN", [src.blob], [names.top], {"lrn_param": {
        "local_size": size, "alpha": float(attrs["alpha"]) * size, "beta": float(attrs["beta"]),
        "k": float(attrs["bias"]), "norm_region": "ACROSS_CHANNELS"}})],
        [TensorRef(names.top, src.shape, src.layout)])
