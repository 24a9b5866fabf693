"""Normalisation: batch_norm -> BatchNorm (use_global_stats, eps) + Scale (gamma, beta)."""
import numpy as np

from ..layout import FLAT_CHW
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, register


@register("batch_norm", composition="BatchNorm + Scale")
def batch_norm(node, ins, arrays, names, target):
    src = ins[0]
    attrs = node["attrs"]
    if src.layout.kind == FLAT_CHW:
        raise Unsupported("normalising a flattened tensor")
    channels = src.shape[-1]
    mean = np.asarray(arrays["moving_mean"], dtype=np.float32)
    var = np.asarray(arrays["moving_variance"], dtype=np.float32)
    if mean.shape != (channels,) or var.shape != (channels,):
        raise Unsupported("statistics of shape %r for %d channels" % (mean.shape, channels))
    if (var < 0).any():
        raise Unsupported("negative moving_variance")
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
