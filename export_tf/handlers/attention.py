"""Attention (TF (N, L, C) sequences and (N, C) vectors): Dot, Attention (Luong: dot or concat score),
AdditiveAttention (Bahdanau), MultiHeadAttention.

Inference only: dropout does nothing. A node reads query, value, key in that order whatever the call's
style (keyword arguments list a layer's inputs sorted by name), each tensor once: one input is
self-attention, two are query and value (the key is the value). Causal masks (use_causal_mask) and
MultiHeadAttention's sliding_window are constant and converted; masks given as tensors (mask,
attention_mask, query_mask, value_mask, key_mask) are refused by name, as is MultiHeadAttention over
other axes than the sequence's or with an output of more than one dimension."""
import numpy as np

from ..layerview import TensorArg
from ..node import Unsupported, make_node
from ..registry import register, tf_op
from .dense import sequence_dense
from .mha_graph import PATTERNS, graph_multi_head_attention, is_einsum

_MASKS = ("mask", "query_mask", "value_mask", "key_mask", "attention_mask")


def _rank_check(shapes, what):
    for shape in shapes:
        if len(shape) not in (1, 2):
            raise Unsupported("%s of a tensor of shape %r: only vectors (C,) and sequences (L, C)" % (what, shape))


@register("Dot", ops=("dot",))
def dot(view):
    shapes = view.input_shapes
    if len(shapes) != 2:
        raise Unsupported("%d inputs (Dot takes two)" % len(shapes))
    _rank_check(shapes, "a product")
    axes = view.config.get("axes", -1)
    axes = list(axes) if isinstance(axes, (list, tuple)) else [axes, axes]
    axes = [int(a) % (len(s) + 1) if int(a) < 0 else int(a) for a, s in zip(axes, shapes)]
    if not all(1 <= a <= len(s) for a, s in zip(axes, shapes)):
        raise Unsupported("axes=%r" % (view.config.get("axes"),))
    # Keras 3: x * min(rsqrt(sum x^2), 1 / epsilon()); Keras 2 (tf_keras' l2_normalize): x * rsqrt(max(sum x^2,
    # 1e-12)), the same with epsilon 1e-6
    if view.keras2:
        epsilon = 1e-6
    else:
        from keras import config
        epsilon = float(config.epsilon())
    return make_node("dot", {"axes": axes, "normalize": bool(view.config.get("normalize", False)),
                             "epsilon": epsilon})


def _refuse_masks(view):
    for name in _MASKS:
        given = view.arguments.get(name)
        if given is not None and not (isinstance(given, list) and all(m is None for m in given)):
            raise Unsupported("%s given (Caffe has no masks; causal masks are converted)" % name)


def _select(query, value, key):
    """The node's inputs (indices of the layer's inputs): [query], [query, value] or all three."""
    for role, arg in (("query", query), ("value", value), ("key", key)):
        if not isinstance(arg, TensorArg):
            raise Unsupported("the %s is not a tensor of the model (%r)" % (role, arg))
    if value == query and key == query:
        return [query.index]
    if key == value:
        return [query.index, value.index]
    return [query.index, value.index, key.index]


def _sequences(view, select):
    for i in select:
        if len(view.input_shapes[i]) != 2:
            raise Unsupported("an input of shape %r: attention reads sequences (L, C)" % (view.input_shapes[i],))


def _common(view):
    _refuse_masks(view)
    causal = view.arguments.get("use_causal_mask", False) or view.config.get("causal", False)   # tf_keras: both
    return {"causal": bool(causal),
            "return_scores": bool(view.arguments.get("return_attention_scores", False))}


def _luong_inputs(view):
    inputs = view.arguments.get("inputs")
    if not isinstance(inputs, list) or not 2 <= len(inputs) <= 3:
        raise Unsupported("called on %r (expected [query, value] or [query, value, key])" % (inputs,))
    select = _select(inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else inputs[1])
    _sequences(view, select)
    return select


def _scalar(view, role):
    return np.asarray(view.weight(role), np.float32).reshape(1)


@register("Attention", ops=("attention",))
def attention(view):
    select = _luong_inputs(view)
    attrs = _common(view)
    score = view.config.get("score_mode", "dot")
    if score not in ("dot", "concat"):
        raise Unsupported("score_mode=%r" % score)
    attrs.update(score=score, use_scale=bool(view.config.get("use_scale", False)))
    arrays = {}
    if attrs["use_scale"]:
        arrays["scale"] = _scalar(view, "scale")
    if score == "concat":
        arrays["concat_score_weight"] = _scalar(view, "concat_score_weight")
    return make_node("attention", attrs, arrays, select=select)


@register("AdditiveAttention", ops=("attention",))
def additive_attention(view):
    select = _luong_inputs(view)
    attrs = _common(view)
    attrs.update(score="additive", use_scale=bool(view.config.get("use_scale", True)))
    arrays = {"scale": np.asarray(view.weight("scale"), np.float32)} if attrs["use_scale"] else {}
    return make_node("attention", attrs, arrays, select=select)


def _attention_axes(config):
    axes = config.get("attention_axes")
    if axes is None:
        return
    axes = [axes] if isinstance(axes, int) else list(axes)
    if [a + 3 if a < 0 else a for a in axes] != [1]:
        raise Unsupported("attention_axes=%r (attention over the sequence axis only)" % (config.get("attention_axes"),))


@register("MultiHeadAttention", ops=("multi_head_attention",))
def multi_head_attention(view):
    args, config = view.arguments, view.config
    query = args.get("query")
    value = args.get("value")
    select = _select(query, value, args.get("key") if args.get("key") is not None else value)
    _sequences(view, select)
    attrs = _common(view)
    _attention_axes(config)
    heads, key_dim = int(config["num_heads"]), int(config["key_dim"])
    value_dim = int(config.get("value_dim") or key_dim)
    shape = config.get("output_shape")
    if shape is None:
        out = view.input_shapes[query.index][-1]
    else:
        shape = [shape] if isinstance(shape, int) else list(shape)
        if len(shape) != 1:
            raise Unsupported("output_shape=%r (an output (L, C) only)" % (config.get("output_shape"),))
        out = int(shape[0])
    use_bias = bool(config.get("use_bias", True))
    gated = bool(config.get("use_gate", False))
    attrs.update(num_heads=heads, key_dim=key_dim, value_dim=value_dim, output_dim=out, use_bias=use_bias,
                 gated=gated, sliding_window=int(config.get("sliding_window") or 0))
    arrays = {}
    for role, keras in (("query", "query"), ("key", "key"), ("value", "value"), ("output", "attention_output")) + \
            ((("gate", "gate"),) if gated else ()):
        arrays[role + "_kernel"] = view.weight(keras + "/kernel")
        if use_bias:
            arrays[role + "_bias"] = view.weight(keras + "/bias")
    return make_node("multi_head_attention", attrs, arrays, select=select)


# ------------------------------------------------------------------------------------------ TF ops
# Products in a graph: BatchMatMulV2 and Einsum of two activations are the dot op; of an activation by a
# constant matrix, a dense layer; the ops of Keras' MultiHeadAttention (three projections, the scores
# einsum, its scale, Softmax, the weighted-sum einsum and the output projection) are recognised as one
# multi_head_attention node from whichever projection comes first. An einsum that is none of these is
# refused with its equation.

def _letters(view):
    """An Einsum's equation as ([operand letters], output letters); None if it has an ellipsis or not two
    operands."""
    equation = (view.attr("equation") or "").replace(" ", "")
    if "..." in equation or "->" not in equation:
        return None
    ins, out = equation.split("->")
    ins = ins.split(",")
    return (ins, out) if len(ins) == 2 else None


def _dot_axes(a, b, out):
    """The dot op's axes for an einsum of two activations a, b (letters with the batch first) that contracts
    one axis of each and keeps the rest in order (a's, then b's); None otherwise."""
    if len(set(a)) != len(a) or len(set(b)) != len(b) or a[0] != b[0] or out[:1] != a[0]:
        return None
    shared = [c for c in a[1:] if c in b[1:]]
    if len(shared) != 1 or shared[0] in out:
        return None
    k = shared[0]
    if out != a[0] + a[1:].replace(k, "") + b[1:].replace(k, ""):
        return None
    return [a.index(k), b.index(k)]


def _dot_node(inputs, axes):
    return make_node("dot", {"axes": axes, "normalize": False, "epsilon": 1e-7}, inputs=inputs)


@tf_op("BatchMatMulV2", "BatchMatMul")
def tf_batch_matmul(view):
    """x @ y of two sequences (N, A, K) @ (N, K, B) (adj_x / adj_y transpose them): a dot; a sequence by a
    constant matrix: a dense layer, or a projection of MultiHeadAttention."""
    a, b = view.inputs[:2]
    if view.graph.is_data(a) and view.graph.is_data(b):
        shapes = [view.shape(a), view.shape(b)]
        if [len(s) for s in shapes] != [2, 2]:
            raise Unsupported("a product of tensors of shapes %r (only sequences (L, C))" % (shapes,))
        return _dot_node([a, b], [1 if view.attr("adj_x", False) else 2, 2 if view.attr("adj_y", False) else 1])
    mha = graph_multi_head_attention(view)
    if mha is not None:
        return mha
    return _times_constant(view, a, view.static(1), view.attr("adj_y", False))


def _times_constant(view, src, kernel, transposed):
    if view.attr("adj_x", False) or not view.graph.is_data(src):
        raise Unsupported("a constant times the model's data (only the data times a constant matrix)")
    kernel = np.asarray(kernel, np.float32)
    kernel = kernel.reshape(kernel.shape[-2:]) if kernel.ndim == 3 and kernel.shape[0] == 1 else kernel
    if kernel.ndim != 2:
        raise Unsupported("a tensor of shape %r times a constant of shape %r" % (view.shape(src), kernel.shape))
    kernel = np.ascontiguousarray(kernel.T if transposed else kernel)
    if kernel.shape[0] != view.shape(src)[-1]:
        raise Unsupported("a tensor of shape %r times a %r matrix" % (view.shape(src), kernel.shape))
    return sequence_dense(view, src, kernel, view.output, [])


@tf_op("Einsum")
def tf_einsum(view):
    equation = view.attr("equation")
    parsed = _letters(view)
    ins = view.inputs
    data = [view.graph.is_data(t) for t in ins]
    if parsed is not None and all(data):
        (a, b), out = parsed
        axes = _dot_axes(a, b, out)
        order = [0, 1]
        if axes is None:
            axes, order = _dot_axes(b, a, out), [1, 0]
        if axes is not None and all(len(view.shape(ins[i])) in (1, 2) for i in order):
            return _dot_node([ins[i] for i in order], axes)
    if parsed is not None and data == [True, False]:
        mha = graph_multi_head_attention(view)
        if mha is not None:
            return mha
        (a, b), out = parsed
        if len(b) == 2 and b[0] == a[-1] and b[1] not in a and out == a[:-1] + b[1] and len(set(a)) == len(a):
            return _times_constant(view, ins[0], view.static(1), False)
    if any(is_einsum(view.node, *pattern) for pattern in PATTERNS):
        raise Unsupported("einsum %r: MultiHeadAttention's, but the ops around it are not its plain pattern "
                          "(three projections, the scores scaled by 1 / sqrt(key_dim), a constant causal or "
                          "sliding-window mask, Softmax, the output projection); a mask given as a tensor, a gate "
                          "or the scores as an output are not converted from a graph"
                          % (equation,))
    raise Unsupported("einsum %r is not recognised: only a product of two activations contracting one axis "
                      "of each, an activation times a constant matrix on its last axis, and the einsums of "
                      "Keras' MultiHeadAttention (with its projections, scale and softmax) are converted"
                      % (equation,))



@tf_op("Sum")
def tf_sum(view):
    """A Sum converts only inside AdditiveAttention's scores (attention_graph.py absorbs it from its ExpandDims)."""
    raise Unsupported("a sum over an axis converts only inside Keras 3's AdditiveAttention (sum(scale * tanh(query + "
                      "key)) over the channels, an optional causal mask, Softmax, the weighted sum of the value); a "
                      "mask given as a tensor, the scores as an output and Attention's concat scores are not "
                      "converted from a graph")
