"""Attention: products of two activations over sequences (L, C) and vectors (C,), each a matrix product
per sample. dot (Keras Dot), attention (Keras Attention, Luong, with a dot or concat score, and
AdditiveAttention, Bahdanau), multi_head_attention (Keras MultiHeadAttention over sequences).

An attention node reads its query, then its value, then its key: one input is self-attention (value and
key are the query), two are query and value (the key is the value), three are query, value and key."""
from . import Array, declare
from .fields import Bool, Enum, Int, Ints, Number, element_count


def _dot(ctx):
    shapes = [ctx.rank(0, 1, 2), ctx.rank(1, 1, 2)]
    axes = ctx.attrs["axes"]
    for i, (shape, axis) in enumerate(zip(shapes, axes)):
        if axis > len(shape):
            ctx.fail("attrs.axes", "axis %d of input %d, a tensor of rank %d (counted with the batch axis)"
                     % (axis, i, len(shape) + 1))
    if shapes[0][axes[0] - 1] != shapes[1][axes[1] - 1]:
        ctx.fail("inputs", "inputs of shapes %r contract axes %r of different sizes" % (ctx.ins, axes))
    out = [d for i, d in enumerate(shapes[0]) if i != axes[0] - 1] + \
        [d for i, d in enumerate(shapes[1]) if i != axes[1] - 1]
    ctx.output(out or [1])


def _dot_held(attrs, ins):
    """Every product term (K * A * B) in about three blobs (tiles and terms), plus copies of the inputs."""
    k = ins[0][attrs["axes"][0] - 1]
    return 3 * element_count(ins[0]) * element_count(ins[1]) // k + 2 * (element_count(ins[0]) + element_count(ins[1]))


def _shapes(ins):
    query = ins[0]
    value = ins[1] if len(ins) > 1 else query
    return query, value, (ins[2] if len(ins) > 2 else value)


def _attention_held(attrs, ins):
    """Scores: the query tiled, the terms, a scale and a tanh of them (d * Lk * Lq each); the weighted sum:
    the weights tiled and the terms (dv * Lk * Lq each); the scores themselves."""
    query, value, key = _shapes(ins)
    steps = query[0] * key[0]
    return steps * (4 * query[1] + 2 * value[1] + 4)


def _mha_held(attrs, ins):
    """As _attention_held per head, plus the projections."""
    query, value, key = _shapes(ins)
    heads, kd, vd = attrs["num_heads"], attrs["key_dim"], attrs["value_dim"]
    steps = query[0] * key[0]
    return heads * (steps * (2 * kd + 2 * vd + 4) + (query[0] + key[0]) * kd + (key[0] + 3 * query[0]) * vd)


def _roles(ctx):
    """(query, value, key) shapes, each a sequence; value and key of one length."""
    for i in range(len(ctx.ins)):
        ctx.rank(i, 2)
    query, value, key = _shapes(ctx.ins)
    if value[0] != key[0]:
        ctx.fail("inputs", "value and key of different lengths (%d and %d)" % (value[0], key[0]))
    return query, value, key


def _attention(ctx):
    query, value, key = _roles(ctx)
    score = ctx.attrs["score"]
    if query[1] != key[1]:
        ctx.fail("inputs", "query and key of different widths (%d and %d)" % (query[1], key[1]))
    ctx.array("scale", [query[1] if score == "additive" else 1])
    ctx.array("concat_score_weight", [1])
    ctx.output([query[0], value[1]])
    if ctx.attrs["return_scores"]:
        ctx.output([query[0], key[0]], 1)


def _mha(ctx):
    query, value, key = _roles(ctx)
    a = ctx.attrs
    heads, kd, vd, out = a["num_heads"], a["key_dim"], a["value_dim"], a["output_dim"]
    for role, width, dim in (("query", query[1], kd), ("key", key[1], kd), ("value", value[1], vd),
                             ("gate", query[1], vd)):
        ctx.array(role + "_kernel", [width, heads, dim])
        ctx.array(role + "_bias", [heads, dim])
    ctx.array("output_kernel", [heads, vd, out])
    ctx.array("output_bias", [out])
    ctx.output([query[0], out])
    if a["return_scores"]:
        ctx.output([heads, query[0], key[0]], 1)


def _scaled(attrs):
    return attrs["use_scale"]


def _concat(attrs):
    return attrs["score"] == "concat"


def _bias(attrs):
    return attrs["use_bias"]


def _gated(attrs):
    return attrs["gated"]


def _gate_bias(attrs):
    return attrs["gated"] and attrs["use_bias"]


_CAUSAL = Bool(default=False, doc="query step i attends to key steps j <= i only")
_SCORES = Bool(default=False, doc="the attention weights (after the softmax) are a second output")

declare("dot", "attention", inputs=2, rule=_dot, held=_dot_held, attrs={
    "axes": Ints(2, 1, 2, doc="the contracted axis of each input, counted with the batch axis"),
    "normalize": Bool(default=False, doc="each input is L2-normalised along its contracted axis first"),
    "epsilon": Number(lo=0, default=1e-7, doc="with normalize: x * min(1 / |x|, 1 / epsilon)"),
}, doc="the product of two tensors contracting one axis of each (Keras batch_dot); a (1,) vector when "
       "nothing else is left")
declare("attention", "attention", inputs=(1, 3), rule=_attention, held=_attention_held, attrs={
    "score": Enum("dot", "concat", "additive",
                  doc="dot: q.k (Luong), concat: w * sum tanh(scale (q + k)) (Luong), additive: "
                      "sum scale * tanh(q + k) (Bahdanau)"),
    "use_scale": Bool(default=False, doc="whether a scale array is carried"),
    "causal": _CAUSAL,
    "return_scores": _SCORES,
}, arrays={
    "scale": Array(1, when=_scaled, doc="(1,) for dot and concat scores, (channels,) for additive ones"),
    "concat_score_weight": Array(1, when=_concat, doc="(1,)"),
}, doc="softmax(score(query, key)) over the key steps, times value; inputs query[, value[, key]]")
declare("multi_head_attention", "attention", inputs=(1, 3), rule=_mha, held=_mha_held, attrs={
    "num_heads": Int(1, 4096),
    "key_dim": Int(1, 1 << 16),
    "value_dim": Int(1, 1 << 16),
    "output_dim": Int(1, 1 << 16, doc="the output projection's width (Keras output_shape, default: the query's)"),
    "use_bias": Bool(default=True, doc="whether the bias arrays are carried"),
    "gated": Bool(default=False, doc="Keras use_gate: the heads' output times sigmoid(a projection of the query)"),
    "causal": _CAUSAL,
    "sliding_window": Int(0, 1 << 30, default=0, doc="if not 0, query step i attends to key steps |i - j| < it"),
    "return_scores": _SCORES,
}, arrays={
    "query_kernel": Array(3, doc="(query channels, num_heads, key_dim)"),
    "query_bias": Array(2, when=_bias, doc="(num_heads, key_dim)"),
    "key_kernel": Array(3, doc="(key channels, num_heads, key_dim)"),
    "key_bias": Array(2, when=_bias, doc="(num_heads, key_dim)"),
    "value_kernel": Array(3, doc="(value channels, num_heads, value_dim)"),
    "value_bias": Array(2, when=_bias, doc="(num_heads, value_dim)"),
    "output_kernel": Array(3, doc="(num_heads, value_dim, output_dim)"),
    "output_bias": Array(1, when=_bias, doc="(output_dim,)"),
    "gate_kernel": Array(3, when=_gated, doc="(query channels, num_heads, value_dim)"),
    "gate_bias": Array(2, when=_gate_bias, doc="(num_heads, value_dim)"),
}, doc="scaled dot-product attention of num_heads projections, concatenated and projected; with "
       "return_scores the weights (num_heads, query steps, key steps) follow")
