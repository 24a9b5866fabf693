"""Graph handlers for elementwise arithmetic, merges and shape changes.

An op between the model's data and a constant that broadcasts along the channels (or a scalar) is a
``rescale`` (x * scale + offset): Mul, RealDiv, Add, AddV2, BiasAdd, Sub, Neg, and a Mul followed by
an add of a constant become one node. Minimum / Maximum with a scalar constant become activations.
Ops between two data tensors map to the Keras merges (add, subtract, multiply, maximum, minimum,
concat).
"""
import numpy as np

from ..registry import Unsupported
from .lower import Lowered, channel_vector, op


def _split(view):
    """(data tensor, its input index, static value) for an op between data and a constant, else None."""
    ins = view.inputs
    if len(ins) != 2:
        return None
    data = [i for i, t in enumerate(ins) if view.graph.is_data(t)]
    if len(data) != 1:
        return None
    index = data[0]
    return ins[index], index, np.asarray(view.values[ins[1 - index]])


def _vector(view, tensor, value):
    shape = view.shape(tensor)
    vec = channel_vector(value, shape[-1], len(shape) + 1)
    if vec is None:
        raise Unsupported("a constant of shape %r: only scalars and per-channel vectors (broadcasting along "
                          "the last axis of %r) are supported" % (value.shape, shape))
    if view.shape(view.output) != shape:
        raise Unsupported("the constant broadcasts the tensor from %r to %r" % (shape, view.shape(view.output)))
    return vec


def _rescale(scale, offset, src, output=None, absorbed=()):
    def short(v):
        v = np.asarray(v, dtype=np.float32)
        return [float(v[0])] if np.all(v == v[0]) else [float(x) for x in v]
    return Lowered("rescale", {"scale": short(scale), "offset": short(offset)}, inputs=[src], output=output,
                   absorbed=absorbed)


_MERGES = {"Add": "add", "AddV2": "add", "Sub": "subtract", "Mul": "multiply", "Maximum": "maximum",
           "Minimum": "minimum"}


def _merge(view):
    ins = view.inputs
    out = view.output_shape
    for t in ins:
        s = view.shape(t)
        if len(s) != len(out) or any(d not in (1, o) for d, o in zip(s, out)):
            raise Unsupported("inputs of shapes %r do not broadcast to %r along axes of size 1"
                              % ([view.shape(t) for t in ins], out))
    return Lowered(_MERGES[view.type], {}, inputs=list(ins))


@op("Add", "AddV2", "BiasAdd")
def add(view):
    if view.type == "BiasAdd" and view.attr("data_format", "NHWC") not in ("NHWC", "", None):
        raise Unsupported("data_format=%s (only NHWC graphs are supported)" % view.attr("data_format"))
    split = _split(view)
    if split is None:
        if view.type == "BiasAdd":
            raise Unsupported("a bias that depends on the model's inputs")
        return _merge(view)
    src, _, value = split
    vec = _vector(view, src, value)
    return _rescale(np.ones_like(vec), vec, src)


@op("Sub")
def sub(view):
    split = _split(view)
    if split is None:
        return _merge(view)
    src, index, value = split
    vec = _vector(view, src, value)
    if index == 0:                       # x - c
        return _rescale(np.ones_like(vec), -vec, src)
    return _rescale(-np.ones_like(vec), vec, src)     # c - x


@op("Mul", "RealDiv")
def mul(view):
    split = _split(view)
    if split is None:
        if view.type == "RealDiv":
            raise Unsupported("dividing by a tensor that depends on the model's inputs")
        return _merge(view)
    src, index, value = split
    if view.type == "RealDiv":
        if index != 0:
            raise Unsupported("dividing a constant by the model's data")
        value = np.float32(1.0) / np.asarray(value, dtype=np.float32)
    vec = _vector(view, src, value)
    fused = view.absorb_channel_add(view.output, len(vec))
    if fused is None:
        return _rescale(vec, np.zeros_like(vec), src)
    offset, out, consumer = fused
    return _rescale(vec, offset, src, output=out, absorbed=[consumer])


@op("Neg")
def neg(view):
    src = view.data_input(0)
    return _rescale([-1.0], [0.0], src)


@op("Maximum", "Minimum")
def max_min(view):
    split = _split(view)
    if split is None:
        return _merge(view)
    src, _, value = split
    value = np.asarray(value, dtype=np.float32)
    if value.size != 1 or view.shape(view.output) != view.shape(src):
        raise Unsupported("%s with a constant of shape %r (only a scalar constant)" % (view.type, value.shape))
    c = float(value.reshape(-1)[0])
    if view.type == "Maximum":
        if c != 0.0:
            raise Unsupported("maximum with %r (only 0, which is a ReLU)" % c)
        return Lowered("activation", {"function": "relu", "negative_slope": 0.0, "max_value": None},
                       inputs=[src])
    # min(x, c): a ReLU of slope 1 passes x unchanged, its max_value clips at c
    return Lowered("activation", {"function": "relu", "negative_slope": 1.0, "max_value": c}, inputs=[src])


@op("AddN")
def add_n(view):
    ins = view.inputs
    if not all(view.graph.is_data(t) for t in ins):
        raise Unsupported("adding constants (fold them into a bias)")
    if len(set(view.shape(t) for t in ins)) != 1:
        raise Unsupported("inputs of different shapes")
    return Lowered("add", {}, inputs=list(ins))


@op("ConcatV2", "Concat")
def concat(view):
    ins = view.inputs
    axis_index = len(ins) - 1 if view.type == "ConcatV2" else 0
    parts = [t for i, t in enumerate(ins) if i != axis_index]
    if not all(view.graph.is_data(t) for t in parts):
        raise Unsupported("concatenating a constant with the model's data")
    rank = len(view.output_shape) + 1
    axis = int(np.asarray(view.static(axis_index)).reshape(-1)[0]) % rank
    if axis == 0:
        raise Unsupported("concatenation along the batch axis")
    return Lowered("concat", {"axis": axis}, inputs=parts)


def _repeat(view, src):
    """ExpandDims -> Tile -> Reshape repeating each row (or column) s times, which is how Keras 3 writes
    UpSampling2D's nearest mode (ops.repeat): an upsample2d of (s, 1) or (1, s). None if not that."""
    shape = view.shape(src)
    found = view.single_consumer(view.output)
    if len(shape) != 3 or found is None or found[0].op != "Tile":
        return None
    tile = found[0]
    follow = view.single_consumer(tile.name + ":0")
    if follow is None or follow[0].op != "Reshape" or view.graph.is_data(view.graph.resolve(tile.inputs[1])):
        return None
    axis = int(np.asarray(view.static(1)).reshape(-1)[0]) % 5          # the new axis, with the batch
    multiples = [int(m) for m in np.asarray(view.values[view.graph.resolve(tile.inputs[1])]).reshape(-1)]
    if axis not in (2, 3) or len(multiples) != 5 or \
            any(m != 1 for i, m in enumerate(multiples) if i != axis):
        return None
    size = [1, 1]
    size[axis - 2] = multiples[axis]
    expected = list(shape)
    expected[axis - 2] *= multiples[axis]
    out = follow[0].name + ":0"
    if list(view.shape(out)) != expected:
        return None
    return Lowered("upsample2d", {"size": size, "interpolation": "nearest"}, inputs=[src], output=out,
                   absorbed=[tile.name, follow[0].name])


@op("Reshape", "Squeeze", "ExpandDims")
def reshape(view):
    src = view.data_input(0)
    if view.type == "ExpandDims":
        repeat = _repeat(view, src)
        if repeat is not None:
            return repeat
    shape_in, shape_out = view.shape(src), view.output_shape
    if len(shape_out) == 1:
        if len(shape_in) == 1:
            return Lowered("identity", {}, inputs=[src])
        # (H, W, C) -> (H*W*C,): the flatten the importer permutes for the next dense layer
        return Lowered("flatten", {}, inputs=[src])
    if tuple(shape_out) == tuple(shape_in):
        return Lowered("identity", {}, inputs=[src])
    return Lowered("reshape", {"target_shape": [int(d) for d in shape_out]}, inputs=[src])


@op("Pad", "PadV2")
def pad(view):
    src = view.data_input(0)
    if len(view.shape(src)) != 3:
        raise Unsupported("padding a tensor of shape %r (only images)" % (view.shape(src),))
    paddings = np.asarray(view.static(1)).astype(np.int64)
    if paddings.shape != (4, 2) or paddings[0].any() or paddings[3].any():
        raise Unsupported("paddings %r (only H and W may be padded)" % (paddings.tolist(),))
    if view.type == "PadV2" and float(np.asarray(view.static(2)).reshape(-1)[0]) != 0.0:
        raise Unsupported("padding with %r (only zeros)" % float(np.asarray(view.static(2)).reshape(-1)[0]))
    if (paddings < 0).any():
        raise Unsupported("negative paddings %r" % (paddings.tolist(),))
    pads = [int(paddings[1, 0]), int(paddings[1, 1]), int(paddings[2, 0]), int(paddings[2, 1])]
    return Lowered("pad2d", {"pads": pads}, inputs=[src])


@op("Transpose")
def transpose(view):
    """A transpose that keeps the batch first is Keras' Permute (dims counted from 1, without the batch)."""
    src = view.data_input(0)
    perm = [int(p) for p in np.asarray(view.static(1)).reshape(-1)]
    rank = len(view.shape(src)) + 1
    perm = [p % rank for p in perm]
    if sorted(perm) != list(range(rank)) or perm[0] != 0:
        raise Unsupported("permutation %r moves the batch axis" % (perm,))
    if perm == list(range(rank)):
        return Lowered("identity", {}, inputs=[src])
    return Lowered("permute", {"dims": perm[1:]}, inputs=[src])


def _crop(view, src, begin, size):
    shape = view.shape(src)
    if len(shape) != 3:
        raise Unsupported("slicing a tensor of shape %r (only spatial crops of images)" % (shape,))
    out = view.output_shape
    if len(out) != 3 or out[2] != shape[2] or begin[0] != 0 or begin[3] != 0:
        raise Unsupported("a slice of %r to %r that is not a crop of H and W" % (shape, out))
    crops = [begin[1], shape[0] - begin[1] - out[0], begin[2], shape[1] - begin[2] - out[1]]
    if any(c < 0 for c in crops) or (size is not None and list(size[1:3]) != list(out[:2])):
        raise Unsupported("slice begin %r of %r to %r" % (begin, shape, out))
    return Lowered("crop2d", {"crops": [int(c) for c in crops]}, inputs=[src])


@op("StridedSlice")
def strided_slice(view):
    """x[:, top:-bottom, left:-right, :] is a Cropping2D."""
    src = view.data_input(0)
    for mask in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask"):
        if view.attr(mask, 0):
            raise Unsupported("%s=%d" % (mask, view.attr(mask, 0)))
    begin, strides = [np.asarray(view.static(i)).reshape(-1).astype(np.int64) for i in (1, 3)]
    if len(begin) != 4 or any(s != 1 for s in strides):
        raise Unsupported("strides %r (only a crop with stride 1 of all four axes)" % (strides.tolist(),))
    dims = (view.values[src].shape[0],) + tuple(view.shape(src))
    starts = [0 if view.attr("begin_mask", 0) >> i & 1 else int(b) % dims[i] if b < 0 else min(int(b), dims[i])
              for i, b in enumerate(begin)]
    return _crop(view, src, starts, None)


@op("Slice")
def slice_op(view):
    src = view.data_input(0)
    begin = [int(b) for b in np.asarray(view.static(1)).reshape(-1)]
    if len(begin) != 4:
        raise Unsupported("begin %r" % (begin,))
    return _crop(view, src, begin, None)


@op("Select", "SelectV2")
def select(view):
    """where(condition, a, b) with a constant condition that picks one side everywhere (the mask of a
    dropout at rate 0) is that side."""
    cond = view.static(0)
    if cond.size and np.all(cond):
        index = 1
    elif cond.size and not np.any(cond):
        index = 2
    else:
        raise Unsupported("a condition that picks from both sides")
    src = view.inputs[index]
    if not view.graph.is_data(src) or view.shape(src) != view.output_shape:
        raise Unsupported("the side picked is a constant or is broadcast")
    return Lowered("identity", {}, inputs=[src])
