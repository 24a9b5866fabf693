"""Ops of the helper layers keras.applications models define: weighted_sum (Eltwise SUM with
coefficients) and channel_scale (Scale by a per-channel array)."""
from .. import layout
from ..layout import FLAT_CHW
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, register


def _weighted_sum_check(n, ins, arrays):
    coeffs = n.numbers("coefficients")
    if len(coeffs) != len(ins):
        n.fail("attrs.coefficients", "%d coefficients for %d inputs" % (len(coeffs), len(ins)))


@register("weighted_sum", flat_ok=True, composition="Eltwise SUM with coefficients",
          check=_weighted_sum_check, inputs="many")
def weighted_sum(node, ins, arrays, names, target):
    shapes = set(tuple(r.shape) for r in ins)
    if len(shapes) != 1:
        raise Unsupported("inputs of different shapes %r (Eltwise does not broadcast)" % sorted(shapes))
    layer = CaffeLayer(names.layer, "Eltwise", [r.blob for r in ins], [names.top],
                       {"eltwise_param": {"operation": "SUM",
                                          "coeff": [float(c) for c in node["attrs"]["coefficients"]]}})
    return Lowering([layer], [TensorRef(names.top, ins[0].shape, ins[0].layout)])


def _channel_scale_check(n, ins, arrays):
    channels = ins[0].shape[-1] if ins[0].shape else None
    n.array(arrays, "scale", 1, [channels])


@register("channel_scale", composition="Scale (per channel, no bias)", check=_channel_scale_check)
def channel_scale(node, ins, arrays, names, target):
    src = ins[0]
    if src.layout.kind == FLAT_CHW:
        raise Unsupported("per-channel scaling of a flattened tensor")
    channels = src.shape[-1]
    layer = CaffeLayer(names.layer, "Scale", [src.blob], [names.top],
                       {"scale_param": {"axis": 1, "num_axes": 1, "bias_term": False}},
                       [layout.channel_vector(arrays["scale"], channels)])
    return Lowering([layer], [TensorRef(names.top, src.shape, src.layout)])
