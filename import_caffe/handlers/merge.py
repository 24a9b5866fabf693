"""Merges: add (Eltwise SUM), subtract (SUM with coefficients 1, -1), multiply (PROD), average (SUM then
Power 1/n, as Keras sums then divides), maximum (MAX), minimum (-max(-a, -b), exact), and concat
(Concat on the mapped axis).

Eltwise does not broadcast. An input of size 1 along some axes is either a per-channel gate — TF
(1, 1, C) times (H, W, C), as in squeeze-and-excitation blocks — which Caffe's Scale (multiply) or Bias
(add) with a second bottom applies along axis 0 once the gate is flattened to (N, C); or it is repeated
to the full shape with Tile first. Both are exact.
"""
from .. import layout
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, register


def _same_shapes(node, ins):
    return len(set(tuple(r.shape) for r in ins)) == 1


def _out_shape(ins):
    ranks = set(len(r.shape) for r in ins)
    kinds = set(r.layout.kind for r in ins)
    if len(ranks) != 1 or len(kinds) != 1:
        raise Unsupported("inputs of shapes %r do not broadcast" % [tuple(r.shape) for r in ins])
    shape = [max(dims) for dims in zip(*[r.shape for r in ins])]
    for r in ins:
        if any(d not in (1, o) for d, o in zip(r.shape, shape)):
            raise Unsupported("inputs of shapes %r do not broadcast" % [tuple(r.shape) for r in ins])
    return shape


def _gate(ins, shape):
    """(full, gate) when one of two inputs is a per-channel gate of the other's (C, H, W) blob."""
    if len(ins) != 2 or ins[0].layout.kind == layout.VECTOR or ins[0].layout.kind == layout.FLAT_CHW:
        return None
    for full, gate in ((ins[0], ins[1]), (ins[1], ins[0])):
        if list(full.shape) == shape and list(gate.shape) != shape and \
                all(d == 1 for d in gate.shape[:-1]) and gate.shape[-1] == shape[-1]:
            return full, gate
    return None


def _tile(ref, shape, names, role):
    """Layers repeating `ref` along its axes of size 1 up to the TF `shape`; returns (layers, blob)."""
    have = layout.caffe_shape(ref.shape, ref.layout)
    want = layout.caffe_shape(shape, ref.layout)
    layers, blob = [], ref.blob
    for axis, (h, w) in enumerate(zip(have, want)):
        if h != w:
            top = names.sub("%s_tile%d" % (role, axis + 1))
            layers.append(CaffeLayer(top, "Tile", [blob], [top], {"tile_param": {"axis": axis + 1, "tiles": w}}))
            blob = top
    return layers, blob


def _elementwise(node, ins, names, operation, coeff=None, scale=None, negate=False, gate_type=None):
    shape = _out_shape(ins)
    lay = ins[0].layout if _same_shapes(node, ins) else layout.Layout(ins[0].layout.kind)
    out = [TensorRef(names.top, shape, lay)]
    gated = _gate(ins, shape) if gate_type else None
    if gated:
        full, gate = gated
        flat = names.sub("gate")
        layers = [CaffeLayer(flat, "Flatten", [gate.blob], [flat]),
                  CaffeLayer(names.layer, gate_type, [full.blob, flat], [names.top],
                             {gate_type.lower() + "_param": {"axis": 0}})]
        return Lowering(layers, out, note="per-channel gate as Flatten + %s (axis 0)" % gate_type)
    layers, bottoms = [], []
    for i, ref in enumerate(ins):
        more, blob = _tile(ref, shape, names, "in%d" % i)
        layers += more
        if negate:
            neg = names.sub("neg%d" % i)
            layers.append(CaffeLayer(neg, "Power", [blob], [neg], {"power_param": {"scale": -1.0}}))
            blob = neg
        bottoms.append(blob)
    param = {"operation": operation}
    if coeff is not None:
        param["coeff"] = coeff
    last = scale is None and not negate
    top = names.top if last else names.sub(operation.lower())
    layers.append(CaffeLayer(names.layer if last else top, "Eltwise", bottoms, [top], {"eltwise_param": param}))
    if not last:
        factor = -1.0 if negate else scale
        layers.append(CaffeLayer(names.layer, "Power", [top], [names.top], {"power_param": {"scale": factor}}))
    note = "broadcast with Tile" if any(l.type == "Tile" for l in layers) else None
    return Lowering(layers, out, note=note)


@register("add", flat_ok=_same_shapes, composition="Eltwise SUM (Bias for a per-channel term, Tile to broadcast)")
def add(node, ins, arrays, names, target):
    return _elementwise(node, ins, names, "SUM", gate_type="Bias")


@register("multiply", flat_ok=_same_shapes,
          composition="Eltwise PROD (Scale for a per-channel gate, Tile to broadcast)")
def multiply(node, ins, arrays, names, target):
    return _elementwise(node, ins, names, "PROD", gate_type="Scale")


@register("subtract", flat_ok=_same_shapes,
          composition="Eltwise SUM with coefficients 1, -1 (Tile to broadcast)")
def subtract(node, ins, arrays, names, target):
    return _elementwise(node, ins, names, "SUM", coeff=[1.0, -1.0])


@register("average", flat_ok=_same_shapes,
          composition="Eltwise SUM + Power (scale 1/n) (Tile to broadcast)")
def average(node, ins, arrays, names, target):
    return _elementwise(node, ins, names, "SUM", scale=1.0 / len(ins))


@register("maximum", flat_ok=_same_shapes,
          composition="Eltwise MAX (Tile to broadcast)")
def maximum(node, ins, arrays, names, target):
    return _elementwise(node, ins, names, "MAX")


@register("minimum", flat_ok=_same_shapes,
          composition="Power (scale -1) + Eltwise MAX + Power (scale -1) (Tile to broadcast)")
def minimum(node, ins, arrays, names, target):
    return _elementwise(node, ins, names, "MAX", negate=True)


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

