"""Ops of the helper layers keras.applications models define: weighted_sum (Eltwise SUM with
coefficients) and channel_scale (Scale by a per-channel array)."""
from .. import layout
from ..layout import FLAT_CHW
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, register


@register("weighted_sum", flat_ok=True, composition="Eltwise SUM with coefficients")
def weighted_sum(node, ins, arrays, names, target):
    shapes = set(tuple(r.shape) for r in ins)
    if len(shapes) != 1:
        raise Unsupported("inputs of different shapes %r (Eltwise does not broadcast)" % sorted(shapes))
    layer = CaffeLayer(names.layer, "Eltwise", [r.blob for r in ins], [names.top],
                       {"eltwise_param": {"operation": "SUM",
                                          "coeff": [float(c) for c in node["attrs"]["coefficients"]]}})
    return Lowering([layer], [TensorRef(names.top, ins[0].shape, ins[0].layout)])


@register("channel_scale", composition="Scale (per channel, no bias)")
def channel_scale(node, ins, arrays, names, target):
    src = ins[0]
    if src.layout.kind == FLAT_CHW:
        raise Unsupported("per-channel scaling of a flattened tensor")
    channels = src.shape[-1]
    layer = CaffeLayer(names.layer, "Scale", [src.blob], [names.top],
                       {"scale_param": {"axis": 1, "num_axes": 1, "bias_term": False}},
                       [layout.channel_vector(arrays["scale"], channels)])
    return Lowering([layer], [TensorRef(names.top, src.shape, src.layout)])
