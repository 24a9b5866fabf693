"""Shape changes. Keras: Flatten, Reshape, Permute, ZeroPadding2D. TF ops: Reshape, Squeeze, ExpandDims
(and the ExpandDims -> Tile -> Reshape that repeats rows, see resize.py; the Reshape -> MatMul -> Reshape of
tf.tensordot on a sequence, a dense: see dense.py; the Reshape -> FusedBatchNormV3 -> Reshape of tf_keras'
layer norm: see norm.py), Pad / PadV2 (zeros, H and W only), Transpose keeping the batch first (and
Transpose -> Softmax -> Transpose, a softmax over that axis: see activation.py; the Transpose of Keras' causal
Attention's key and the ExpandDims of AdditiveAttention: see attention_graph.py)."""
import numpy as np

from ..node import Unsupported, make_node
from ..registry import register, tf_op
from .activation import graph_softmax_over_axis
from .attention_graph import graph_additive_attention, graph_dot_attention
from .common import channels_last, spatial_input
from .dense import tensordot_dense
from .norm import graph_fused_layer_norm
from .resize import tf_repeat


@register("Flatten", ops=("flatten",))
def flatten(view):
    channels_last(view)
    return make_node("flatten", {})


@register("Reshape", ops=("reshape",))
def reshape(view):
    return make_node("reshape", {"target_shape": [int(d) for d in view.output_shape]})


@register("Permute", ops=("permute",))
def permute(view):
    dims = [int(d) for d in view.config["dims"]]
    if sorted(dims) != list(range(1, len(view.input_shape) + 1)):
        raise Unsupported("dims=%r is not a permutation of the axes 1..%d" % (dims, len(view.input_shape)))
    return make_node("permute", {"dims": dims})


@register("ZeroPadding2D", ops=("pad2d",))
def zero_padding2d(view):
    channels_last(view)
    spatial_input(view)
    pad = view.config.get("padding", 1)
    if isinstance(pad, int):
        pads = [pad, pad, pad, pad]
    else:
        (top, bottom), (left, right) = [(p, p) if isinstance(p, int) else tuple(p) for p in pad]
        pads = [top, bottom, left, right]
    if any(p < 0 for p in pads):
        raise Unsupported("negative padding %r" % (pads,))
    return make_node("pad2d", {"pads": [int(p) for p in pads]})


@tf_op("Reshape", "Squeeze", "ExpandDims")
def tf_reshape(view):
    src = view.data_input(0)
    found = (tensordot_dense(view, src) or graph_fused_layer_norm(view, src)) if view.type == "Reshape" else None
    if found is not None:
        return found
    if view.type == "ExpandDims":
        repeat = tf_repeat(view, src) or graph_additive_attention(view)
        if repeat is not None:
            return repeat
    shape_in, shape_out = view.shape(src), view.output_shape
    if len(shape_out) == 1 and len(shape_in) != 1:
        # (H, W, C) -> (H*W*C,): the flatten the importer permutes for the next dense layer
        return make_node("flatten", {}, inputs=[src])
    if tuple(shape_out) == tuple(shape_in):
        return make_node("identity", {}, inputs=[src])
    return make_node("reshape", {"target_shape": [int(d) for d in shape_out]}, inputs=[src])


@tf_op("Pad", "PadV2")
def tf_pad(view):
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
    return make_node("pad2d", {"pads": pads}, inputs=[src])


@tf_op("Transpose")
def tf_transpose(view):
    """A transpose that keeps the batch first is Keras' Permute (dims counted from 1, without the batch)."""
    src = view.data_input(0)
    perm = [int(p) for p in np.asarray(view.static(1)).reshape(-1)]
    rank = len(view.shape(src)) + 1
    perm = [p % rank for p in perm]
    if sorted(perm) != list(range(rank)) or perm[0] != 0:
        raise Unsupported("permutation %r moves the batch axis" % (perm,))
    if perm == list(range(rank)):
        return tensordot_dense(view, src) or make_node("identity", {}, inputs=[src])
    found = graph_softmax_over_axis(view, src, perm) or graph_dot_attention(view, src, perm)
    if found is not None:
        return found
    return make_node("permute", {"dims": perm[1:]}, inputs=[src])
