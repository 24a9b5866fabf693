"""Core: identity (Dropout and friends at inference), rescale (Rescaling)."""
from .. import layout
from ..layout import FLAT_CHW
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, register


@register("identity", flat_ok=True, composition="(none: the input blob is reused)")
def identity(node, ins, arrays, names, target):
    src = ins[0]
    return Lowering([], [TensorRef(src.blob, src.shape, src.layout)], "no Caffe layer: identity at inference")


def _rescale_flat_ok(node, ins):
    return len(node["attrs"]["scale"]) == 1 and len(node["attrs"]["offset"]) == 1


@register("rescale", flat_ok=_rescale_flat_ok, composition="Power (scalar) or Scale (per channel)")
def rescale(node, ins, arrays, names, target):
    src = ins[0]
    scale, offset = node["attrs"]["scale"], node["attrs"]["offset"]
    if len(scale) == 1 and len(offset) == 1:
        layer = CaffeLayer(names.layer, "Power", [src.blob], [names.top],
                           {"power_param": {"power": 1.0, "scale": float(scale[0]), "shift": float(offset[0])}})
    else:
        if src.layout.kind == FLAT_CHW:
            raise Unsupported("per-channel rescaling of a flattened tensor")
        channels = src.shape[-1]
        layer = CaffeLayer(names.layer, "Scale", [src.blob], [names.top],
                           {"scale_param": {"axis": 1, "num_axes": 1, "bias_term": True}},
                           [layout.channel_vector(scale, channels), layout.channel_vector(offset, channels)])
    return Lowering([layer], [TensorRef(names.top, src.shape, src.layout)])
