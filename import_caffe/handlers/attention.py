"""Attention over sequences (TF (N, L, C), Caffe (N, C, 1, L)) and vectors: dot (Keras Dot), attention (Keras
Attention: Luong's dot or concat score; AdditiveAttention: Bahdanau's), multi_head_attention.

Every product of two activations is one matrix product per sample, built exactly from Tile, Scale / Bias
with a second bottom, Eltwise PROD, Convolution and Reduction (handlers/attention_ops.py): 4 to 7 layers
whatever the lengths. Attention is scores (4 layers; concat and additive scores add TanH, and Power for a
scale), an optional mask (Bias: -1e9 where a query step may not look, so its softmax weight is exactly 0),
Softmax over the key steps (axis 2 of the (heads, key steps, query steps) scores), and the weighted sum of
the values (3-5 layers). A MultiHeadAttention adds its projections (1x1 Convolutions) and does every head at
once (grouped Convolutions sum each head's terms). The note of each node gives its Caffe layer count."""
import math

import numpy as np

from ..layout import IMAGE, SEQUENCE, VECTOR, Layout
from ..plan import Lowering, TensorRef
from ..registry import Unsupported, register
from .attention_ops import Blob, Ops, l2_normalize, last_axis, mask_bias, scores, weighted
from .reshape import transpose_blob


def _operand(ref, axis, what):
    """(Blob, k-major?) of a Dot input whose TF axis `axis` (counted with the batch) is contracted: a
    sequence (L, C) is (C, 1, L), k-major when C is contracted; a vector is either (None)."""
    if ref.layout.kind == VECTOR:
        return Blob(ref.blob, [ref.shape[0]]), None
    if ref.layout.kind != SEQUENCE:
        raise Unsupported("%s: a %s tensor (only sequences (L, C) and vectors (C,))" % (what, ref.layout.kind))
    length, channels = ref.shape
    return Blob(ref.blob, [channels, 1, length]), axis == 2


def _transposed(ops, role, x):
    """A free-major sequence blob (A, 1, K) as the k-major (K, 1, A): Slice + Concat (+ Reshape)."""
    top = ops.names.sub(role)
    layers, top = transpose_blob(top, x.name, x.dims, [2, 1, 0], top)
    ops.layers += layers
    return Blob(top, [x.dims[2], 1, x.dims[0]])


@register("dot", composition="Tile + Scale + Convolution, or Tile + Eltwise PROD + Reduction SUM (an exact product "
                             "per sample); normalize: Power / Reduction SUMSQ + Power -0.5 + Clip + Scale")
def dot(node, ins, arrays, names, target):
    attrs = node["attrs"]
    ops = Ops(names, target)
    (x, xk), (y, yk) = [_operand(ref, axis, "input %d" % i) for i, (ref, axis) in enumerate(zip(ins, attrs["axes"]))]
    if attrs["normalize"]:
        x = l2_normalize(ops, "x_normalized", x, xk, attrs["epsilon"])
        y = l2_normalize(ops, "y_normalized", y, yk, attrs["epsilon"])
    # the product, held [b][a] per sample (a: the first input's free axis, b: the second's)
    if xk is False and yk:
        x, xk = _transposed(ops, "x_transposed", x), True
    if xk is None and yk:
        out = scores(ops, "product", y, x, 1, 1.0)          # a vector is either order: nothing tiled
    elif xk and yk is not False:
        out = scores(ops, "product", x, y, 1, 1.0)
    elif xk:
        out = weighted(ops, "product", ops.view("x_view", x, [1, x.dims[0], x.size // x.dims[0]]), y, 1)
    else:
        out = last_axis(ops, "product", x, y)
    free = [ref.shape[2 - axis] for ref, axis in zip(ins, attrs["axes"]) if ref.layout.kind == SEQUENCE]
    if len(free) == 2:
        ops.finish(out, [free[1], 1, free[0]], names)
        ref = TensorRef(names.top, free, Layout(SEQUENCE))
    else:
        ops.finish(out, [free[0] if free else 1], names)
        ref = TensorRef(names.top, [free[0] if free else 1], Layout(VECTOR))
    return Lowering(ops.layers, [ref], _note(node, ops, "an exact product per sample"))


def _sequences(ins):
    """(query, value, key) Blobs (C, 1, L): one input is all three, two are query and value (= key)."""
    for i, ref in enumerate(ins):
        if ref.layout.kind != SEQUENCE:
            raise Unsupported("input %d: a %s tensor (attention reads sequences (L, C))" % (i, ref.layout.kind))
    blobs = [Blob(ref.blob, [ref.shape[1], 1, ref.shape[0]]) for ref in ins]
    query = blobs[0]
    value = blobs[1] if len(blobs) > 1 else query
    return query, value, (blobs[2] if len(blobs) > 2 else value)


def _attend(ops, node, s, value, heads, lq, lk, window=0):
    """Mask, Softmax over the key steps, and the weighted sum of the values: (weights, output)."""
    try:
        s = mask_bias(ops, "mask", s, lq, lk, node["attrs"]["causal"], window)
    except ValueError as exc:
        raise Unsupported("%s: TF's softmax over no visible key is not reproduced exactly" % exc)
    w = ops.layer("weights", "Softmax", s, {"softmax_param": {"axis": 2}})
    return w, weighted(ops, "heads", w, value, heads)


def _note(node, ops, what):
    return "%s: %s, %d Caffe layers" % (node["source_type"], what, len(ops.layers))


@register("attention", composition="Tile + Scale / Bias + (TanH) + Convolution (scores), Bias (mask), Softmax, "
                                   "Tile + Scale + Convolution (weighted sum)")
def attention(node, ins, arrays, names, target):
    attrs = node["attrs"]
    ops = Ops(names, target)
    query, value, key = _sequences(ins)
    lq, lk = query.dims[2], key.dims[2]
    scale = arrays.get("scale")
    score = attrs["score"]
    if score == "dot":
        s = scores(ops, "scores", query, key, 1, 1.0 if scale is None else float(scale.reshape(-1)[0]))
    else:
        def between(p):
            if score == "concat" and scale is not None:
                p = ops.power("scaled", p, scale=float(scale.reshape(-1)[0]))
            return Blob(ops.activate("tanh", {"function": "tanh"}, p.name), p.dims)
        if score == "concat":
            weight = float(np.asarray(arrays["concat_score_weight"]).reshape(-1)[0])
        else:
            weight = 1.0 if scale is None else np.asarray(scale, np.float32)
        s = scores(ops, "scores", query, key, 1, weight, "Bias", between)
    w, out = _attend(ops, node, s, value, 1, lq, lk)
    outs = [TensorRef(names.top, [lq, value.dims[0]], Layout(SEQUENCE))]
    if attrs["return_scores"]:
        ops.finish(w, [lk, 1, lq], names, 1)            # (1, K, Q) viewed as the sequence (Q, K): a Reshape
        outs.append(TensorRef(names.outputs[1], [lq, lk], Layout(SEQUENCE)))
    ops.finish(out, [value.dims[0], 1, lq], names)
    return Lowering(ops.layers, outs, _note(node, ops, "%s scores, an exact product per sample" % score))


def _projection(ops, role, x, arrays, name, heads, dim):
    kernel = np.asarray(arrays[name + "_kernel"], np.float32)
    bias = arrays.get(name + "_bias")
    return ops.dense(role, x, kernel.reshape(kernel.shape[0], heads * dim),
                     None if bias is None else np.asarray(bias, np.float32).reshape(-1))


@register("multi_head_attention",
          composition="1x1 Convolution (projections), Tile + Scale + grouped Convolution (scores of every head), "
                      "Bias (mask), Softmax, Tile + Scale + depthwise Convolution (weighted sums)")
def multi_head_attention(node, ins, arrays, names, target):
    attrs = node["attrs"]
    ops = Ops(names, target)
    heads, kd, vd = attrs["num_heads"], attrs["key_dim"], attrs["value_dim"]
    query, value, key = _sequences(ins)
    lq, lk = query.dims[2], key.dims[2]
    q = _projection(ops, "query", query, arrays, "query", heads, kd)
    k = _projection(ops, "key", key, arrays, "key", heads, kd)
    v = _projection(ops, "value", value, arrays, "value", heads, vd)
    s = scores(ops, "scores", q, k, heads, np.float32(1.0 / math.sqrt(float(kd))))
    w, out = _attend(ops, node, s, v, heads, lq, lk, attrs["sliding_window"])
    outs = [TensorRef(names.top, [lq, attrs["output_dim"]], Layout(SEQUENCE))]
    if attrs["return_scores"]:
        # TF's (heads, Q, K) is an image, Caffe (K, heads, Q): the weights (heads, K, Q) transposed
        if heads == 1:
            ops.finish(w, [lk, 1, lq], names, 1)
        else:
            layers, _ = transpose_blob(names.sub("scores_out"), w.name, w.dims, [1, 0, 2], names.outputs[1])
            ops.layers += layers
        outs.append(TensorRef(names.outputs[1], [heads, lq, lk], Layout(IMAGE)))
    if attrs["gated"]:
        gate = _projection(ops, "gate", query, arrays, "gate", heads, vd)
        gate = Blob(ops.activate("gate_sigmoid", {"function": "sigmoid"}, gate.name), gate.dims)
        out = ops.prod("gated", [out, gate])
    kernel = np.asarray(arrays["output_kernel"], np.float32)
    bias = arrays.get("output_bias")
    y = ops.dense("output", out, kernel.reshape(heads * vd, kernel.shape[2]),
                  None if bias is None else np.asarray(bias, np.float32))
    ops.finish(y, [attrs["output_dim"], 1, lq], names)
    return Lowering(ops.layers, outs, _note(node, ops, "%d heads at once, exact products per sample" % heads))
