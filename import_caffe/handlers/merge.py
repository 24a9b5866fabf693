"""Merges: add (Eltwise SUM), concat (Concat on the mapped axis)."""
from .. import layout
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, register


@register("add", flat_ok=True, composition="Eltwise SUM")
def add(node, ins, arrays, names, target):
    shapes = set(tuple(r.shape) for r in ins)
    if len(shapes) != 1:
        raise Unsupported("inputs of different shapes %r (Eltwise does not broadcast)" % sorted(shapes))
    layer = CaffeLayer(names.layer, "Eltwise", [r.blob for r in ins], [names.top],
                       {"eltwise_param": {"operation": "SUM"}})
    return Lowering([layer], [TensorRef(names.top, ins[0].shape, ins[0].layout)])


@register("concat", composition="Concat")
def concat(node, ins, arrays, names, target):
    axis = node["attrs"]["axis"]
    kinds = set(r.layout.kind for r in ins)
    if len(kinds) != 1:
        raise Unsupported("inputs of different ranks")
    lay = ins[0].layout
    caffe_axis = layout.caffe_axis(axis, lay)
    shape = list(ins[0].shape)
    shape[axis - 1] = sum(r.shape[axis - 1] for r in ins)
    layer = CaffeLayer(names.layer, "Concat", [r.blob for r in ins], [names.top],
                       {"concat_param": {"axis": caffe_axis}})
    return Lowering([layer], [TensorRef(names.top, shape, lay)])
