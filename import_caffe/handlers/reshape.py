"""Shape changes: flatten, reshape, pad2d (ZeroPadding2D), and moving values between TF's HWC order and
Caffe's CHW order."""
from .. import layout
from ..layout import FLAT_CHW, IMAGE, SEQUENCE, VECTOR, Layout
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
    if src.layout.kind in (IMAGE, SEQUENCE):
        h, w, c = layout.as_hwc(src.shape, src.layout)
        lay = Layout(VECTOR) if (h * w == 1 or c == 1) else Layout(FLAT_CHW, (h, w, c))
    else:
        lay = src.layout
    layer = CaffeLayer(names.layer, "Flatten", [src.blob], [names.top], {"flatten_param": {"axis": 1}})
    return Lowering([layer], [TensorRef(names.top, [size], lay)],
                    "Caffe flattens in CHW order; consumers are permuted to match" if lay.kind == FLAT_CHW else None)


def _reshape_flat_ok(node, ins):
    target = node["attrs"]["target_shape"]
    return len(target) == 1 or (ins[0].layout.kind == FLAT_CHW and tuple(target) == ins[0].layout.hwc)


def _in_tf_order(shape, lay):
    """Whether a blob in layout `lay` holds a tensor of TF shape `shape` in TF's memory order (its
    axes, ignoring those of size 1, are stored in TF's order)."""
    if lay.kind == VECTOR:
        return True
    if lay.kind == FLAT_CHW:
        return _in_tf_order(lay.hwc, Layout(IMAGE))
    axes = [a for a in layout.tf_axes_in_caffe_order(lay) if shape[a] > 1]
    return axes == sorted(axes)


def _blob_dims(shape, lay):
    """The blob's dimensions (without batch) in the order of layout.tf_axes_in_caffe_order."""
    return [shape[a] for a in layout.tf_axes_in_caffe_order(lay)]


@register("reshape", flat_ok=_reshape_flat_ok,
          composition="Reshape / Flatten (+ Slice and Concat when values move between axes)")
def reshape(node, ins, arrays, names, target):
    src = ins[0]
    shape = [int(d) for d in node["attrs"]["target_shape"]]
    if len(shape) == 1:   # Reshape((-1,)) is a Flatten
        return flatten(node, ins, arrays, names, target)
    if len(shape) not in (2, 3):
        raise Unsupported("target shape %r: only (C,), (L, C) and (H, W, C) tensors are supported" % (shape,))
    lay = layout.layout_for_shape(shape)
    dims = [0] + layout.caffe_shape(shape, lay)
    src_shape = list(src.layout.hwc) if src.layout.kind == FLAT_CHW else src.shape
    src_lay = Layout(IMAGE) if src.layout.kind == FLAT_CHW else src.layout
    same_channels = src_lay.kind != VECTOR and src_shape[-1] == shape[-1]
    if same_channels or (_in_tf_order(src_shape, src_lay) and _in_tf_order(shape, lay)):
        layer = CaffeLayer(names.layer, "Reshape", [src.blob], [names.top], {"reshape_param": {"shape": {"dim": dims}}})
        return Lowering([layer], [TensorRef(names.top, shape, lay)])
    layers, blob = [], src.blob
    if not _in_tf_order(src_shape, src_lay):
        order = layout.tf_axes_in_caffe_order(src_lay)      # blob axis i holds TF axis order[i]
        perm = [order.index(a) for a in range(len(order))]
        layers, blob = transpose_blob(names.sub("tf_order"), blob, _blob_dims(src_shape, src_lay), perm,
                                      names.sub("tf_order"))
    if _in_tf_order(shape, lay):
        layers.append(CaffeLayer(names.layer, "Reshape", [blob], [names.top], {"reshape_param": {"shape": {"dim": dims}}}))
    else:
        more, blob = transpose_blob(names.sub("caffe_order"), blob, shape, list(layout.tf_axes_in_caffe_order(lay)),
                                    names.sub("caffe_order"))
        layers += more
        layers.append(CaffeLayer(names.layer, "Reshape", [blob], [names.top], {"reshape_param": {"shape": {"dim": dims}}}))
    return Lowering(layers, [TensorRef(names.top, shape, lay)], "values moved between axes with Slice + Concat")


@register("permute", composition="Slice + Concat (+ Reshape): an exact transpose")
def permute(node, ins, arrays, names, target):
    src = ins[0]
    if src.layout.kind not in (IMAGE, SEQUENCE):
        raise Unsupported("permuting a %s tensor" % src.layout.kind)
    p = [d - 1 for d in node["attrs"]["dims"]]       # out TF axis i is in TF axis p[i]
    shape = [src.shape[a] for a in p]
    lay = layout.layout_for_shape(shape)
    src_order = layout.tf_axes_in_caffe_order(src.layout)
    wanted = [p[a] for a in layout.tf_axes_in_caffe_order(lay)]     # in TF axes, in the target blob's order
    perm = [src_order.index(a) for a in wanted]
    dims = [0] + layout.caffe_shape(shape, lay)
    if [src_order[i] for i in perm if src.shape[src_order[i]] > 1] == \
            [a for a in src_order if src.shape[a] > 1]:
        layers, blob = [], src.blob     # only axes of size 1 move: the memory order is unchanged
    else:
        layers, blob = transpose_blob(names.sub("transpose"), src.blob, _blob_dims(src.shape, src.layout), perm,
                                      names.sub("transpose"))
    layers.append(CaffeLayer(names.layer, "Reshape", [blob], [names.top], {"reshape_param": {"shape": {"dim": dims}}}))
    return Lowering(layers, [TensorRef(names.top, shape, lay)],
                    "Caffe has no Permute: an exact transpose with Slice + Concat" if len(layers) > 1 else None)


def _moves(perm, dims):
    """The cheapest sequence of axis moves turning axis order range(r) into perm: [(k, j)], move the axis
    at position k to just before the axis at position j (j = r: to the end). Cost: slices made."""
    start, goal = tuple(range(len(perm))), tuple(perm)
    best = {start: (0, [])}
    frontier = [start]
    while frontier:
        nxt = []
        for order in frontier:
            cost, path = best[order]
            for k in range(len(order)):
                for j in range(len(order) + 1):
                    if j in (k, k + 1):
                        continue
                    moved = list(order)
                    axis = moved.pop(k)
                    moved.insert(j if j < k else j - 1, axis)
                    moved = tuple(moved)
                    c = cost + dims[axis]
                    if moved not in best or best[moved][0] > c:
                        best[moved] = (c, path + [(k, j)])
                        nxt.append(moved)
        frontier = nxt
    return best[goal]


def transpose_blob(name, bottom, dims, perm, top):
    """Layers giving `top` = the blob (N, *dims) with its other axes permuted (output axis i is input axis
    perm[i]), exactly. Each step moves one axis: Slice along it into pieces of size 1 and Concat them
    along the axis it must precede (or a trailing axis of 1) — the concatenation lays the pieces' blocks
    out in the new order — then Reshape. Returns (layers, top)."""
    if len(dims) > 4:
        raise Unsupported("transposing a tensor of rank %d" % len(dims))
    cost, moves = _moves(perm, dims)
    if cost > MAX_REORDER_CELLS:
        raise Unsupported("transposing a %s tensor needs %d slices (limit %d)"
                          % ("x".join(str(d) for d in dims), cost, MAX_REORDER_CELLS))
    order = list(range(len(dims)))
    layers, blob = [], bottom
    for step, (k, j) in enumerate(moves):
        cur = [dims[a] for a in order]
        size = cur[k]
        stem = "%s/move%d" % (name, step)
        view = cur + ([1] if j == len(cur) else [])
        layers.append(CaffeLayer(stem + "/view", "Reshape", [blob], [stem + "/view"],
                                 {"reshape_param": {"shape": {"dim": [0] + view}}}))
        pieces = ["%s/piece%d" % (stem, i) for i in range(size)]
        layers.append(CaffeLayer(stem + "/slice", "Slice", [stem + "/view"], pieces,
                                 {"slice_param": {"axis": k + 1, "slice_point": list(range(1, size))}}))
        layers.append(CaffeLayer(stem + "/concat", "Concat", pieces, [stem + "/concat"],
                                 {"concat_param": {"axis": j + 1}}))
        axis = order.pop(k)
        order.insert(j if j < k else j - 1, axis)
        blob = stem + "/concat"
    out = [dims[a] for a in order]
    layers.append(CaffeLayer(name, "Reshape", [blob], [top], {"reshape_param": {"shape": {"dim": [0] + out}}}))
    return layers, top


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
