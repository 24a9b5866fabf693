"""Shape changes: flatten, reshape, pad2d (ZeroPadding2D), and restoring HWC order."""
from ..layout import FLAT_CHW, IMAGE, VECTOR, Layout
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, register
from .common import zero_pad

MAX_REORDER_CELLS = 4096


@register("flatten", flat_ok=True, composition="Flatten")
def flatten(node, ins, arrays, names, target):
    src = ins[0]
    size = 1
    for d in src.shape:
        size *= d
    if src.layout.kind == IMAGE:
        h, w, c = src.shape
        lay = Layout(VECTOR) if (h * w == 1 or c == 1) else Layout(FLAT_CHW, (h, w, c))
    else:
        lay = src.layout
    layer = CaffeLayer(names.layer, "Flatten", [src.blob], [names.top], {"flatten_param": {"axis": 1}})
    return Lowering([layer], [TensorRef(names.top, [size], lay)],
                    "Caffe flattens in CHW order; consumers are permuted to match" if lay.kind == FLAT_CHW else None)


def _reshape_flat_ok(node, ins):
    target = node["attrs"]["target_shape"]
    return len(target) == 1 or (ins[0].layout.kind == FLAT_CHW and tuple(target) == ins[0].layout.hwc)


@register("reshape", flat_ok=_reshape_flat_ok, composition="Reshape / Flatten")
def reshape(node, ins, arrays, names, target):
    src = ins[0]
    shape = [int(d) for d in node["attrs"]["target_shape"]]
    size = 1
    for d in src.shape:
        size *= d
    if len(shape) == 1:
        if src.layout.kind == IMAGE:
            h, w, c = src.shape
            lay = Layout(VECTOR) if (h * w == 1 or c == 1) else Layout(FLAT_CHW, (h, w, c))
        else:
            lay = src.layout
        layer = CaffeLayer(names.layer, "Flatten", [src.blob], [names.top], {"flatten_param": {"axis": 1}})
        return Lowering([layer], [TensorRef(names.top, shape, lay)])
    if len(shape) != 3:
        raise Unsupported("target shape %r: only (C,) and (H, W, C) tensors are supported" % (shape,))
    h, w, c = shape
    same_order = (
        (src.layout.kind == VECTOR and (h * w == 1 or c == 1)) or
        (src.layout.kind == IMAGE and (src.shape[2] == c or (src.shape[0] * src.shape[1] == 1 and h * w == 1))) or
        (src.layout.kind == FLAT_CHW and tuple(shape) == src.layout.hwc)
    )
    if not same_order:
        raise Unsupported("reshape %r -> %r moves values across the channel axis, which needs a "
                          "transpose stock Caffe does not have" % (tuple(src.shape), tuple(shape)))
    layer = CaffeLayer(names.layer, "Reshape", [src.blob], [names.top],
                       {"reshape_param": {"shape": {"dim": [0, c, h, w]}}})
    return Lowering([layer], [TensorRef(names.top, shape, Layout(IMAGE))])


@register("pad2d", composition="identity depthwise Convolution (pad) + Slice for asymmetric sides")
def pad2d(node, ins, arrays, names, target):
    src = ins[0]
    if src.layout.kind != IMAGE:
        raise Unsupported("expects an image input, found a %s tensor" % src.layout.kind)
    layers, ref = zero_pad(names.layer, src.blob, names.top, src.shape, node["attrs"]["pads"])
    return Lowering(layers, [ref], "identity depthwise Convolution pads, Slice trims asymmetric sides")


def restore_hwc(name, src, top):
    """Layers turning a FLAT_CHW blob into HWC order (a VECTOR) exactly: Reshape to (C, H, W), Slice
    into H*W cells of (C, 1, 1), Concat them in (h, w) order, Flatten."""
    h, w, c = src.layout.hwc
    if h * w > MAX_REORDER_CELLS:
        raise Unsupported("restoring HWC order of a %dx%d map needs %d slices (limit %d)"
                          % (h, w, h * w, MAX_REORDER_CELLS))
    image = name + "/chw"
    layers = [CaffeLayer(name + "/chw", "Reshape", [src.blob], [image],
                         {"reshape_param": {"shape": {"dim": [0, c, h, w]}}})]
    rows = [image]
    if h > 1:
        rows = ["%s/row%d" % (name, i) for i in range(h)]
        layers.append(CaffeLayer(name + "/rows", "Slice", [image], rows,
                                 {"slice_param": {"axis": 2, "slice_point": list(range(1, h))}}))
    cells = []
    for i, row in enumerate(rows):
        if w > 1:
            cols = ["%s/cell%d_%d" % (name, i, j) for j in range(w)]
            layers.append(CaffeLayer("%s/cols%d" % (name, i), "Slice", [row], cols,
                                     {"slice_param": {"axis": 3, "slice_point": list(range(1, w))}}))
            cells += cols
        else:
            cells.append(row)
    layers.append(CaffeLayer(name + "/hwc", "Concat", cells, [name + "/hwc"], {"concat_param": {"axis": 1}}))
    layers.append(CaffeLayer(name, "Flatten", [name + "/hwc"], [top], {"flatten_param": {"axis": 1}}))
    return layers, TensorRef(top, src.shape, Layout(VECTOR))
