"""Shape changes: flatten, reshape, pad2d (ZeroPadding2D), and moving values between TF's HWC order and
Caffe's CHW order."""
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


@register("reshape", flat_ok=_reshape_flat_ok,
          composition="Reshape / Flatten (+ Slice and Concat when values move across channels)")
def reshape(node, ins, arrays, names, target):
    src = ins[0]
    shape = [int(d) for d in node["attrs"]["target_shape"]]
    size = 1
    for d in src.shape:
        size *= d
    if len(shape) == 1:   # Reshape((-1,)) is a Flatten
        return flatten(node, ins, arrays, names, target)
    if len(shape) != 3:
        raise Unsupported("target shape %r: only (C,) and (H, W, C) tensors are supported" % (shape,))
    h, w, c = shape
    same_order = (
        (src.layout.kind == VECTOR and (h * w == 1 or c == 1)) or
        (src.layout.kind == IMAGE and (src.shape[2] == c or (src.shape[0] * src.shape[1] == 1 and h * w == 1))) or
        (src.layout.kind == FLAT_CHW and tuple(shape) == src.layout.hwc)
    )
    if not same_order:
        layers = []
        if src.layout.kind == IMAGE and src.shape[0] * src.shape[1] > 1 and src.shape[2] > 1:
            # the image's values in TF's HWC order first (for one cell or one channel CHW is HWC)
            layers, src = restore_hwc(names.sub("hwc_order"), TensorRef(src.blob, [size], Layout(FLAT_CHW, src.shape)),
                                      names.sub("hwc_order"))
        more, ref = hwc_to_image(names.layer, src, names.top, (h, w, c))
        return Lowering(layers + more, [ref], "values moved across the channel axis with Slice + Concat")
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


def hwc_to_image(name, src, top, hwc):
    """Layers turning a VECTOR blob in TF's HWC order into the (N, C, H, W) image exactly: Reshape to
    (N, H*W, C, 1), Slice into H*W cells of (N, 1, C, 1), Concat them along axis 3 into (N, 1, C, H*W)
    (cell k becomes column k), Reshape to (N, C, H, W). One cell or one channel needs the Reshape only."""
    h, w, c = hwc
    cells = h * w
    layers, blob = [], src.blob
    if cells > 1 and c > 1:
        if cells > MAX_REORDER_CELLS:
            raise Unsupported("reshaping into a %dx%d map needs %d slices (limit %d)"
                              % (h, w, cells, MAX_REORDER_CELLS))
        parts = ["%s/cell%d" % (name, k) for k in range(cells)]
        blob = name + "/chw"
        layers = [CaffeLayer(name + "/cells", "Reshape", [src.blob], [name + "/cells"],
                             {"reshape_param": {"shape": {"dim": [0, cells, c, 1]}}}),
                  CaffeLayer(name + "/split", "Slice", [name + "/cells"], parts,
                             {"slice_param": {"axis": 1, "slice_point": list(range(1, cells))}}),
                  CaffeLayer(name + "/chw", "Concat", parts, [blob], {"concat_param": {"axis": 3}})]
    layers.append(CaffeLayer(name, "Reshape", [blob], [top], {"reshape_param": {"shape": {"dim": [0, c, h, w]}}}))
    return layers, TensorRef(top, [h, w, c], Layout(IMAGE))
