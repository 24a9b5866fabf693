"""Keras 3's Attention with a causal mask and AdditiveAttention recognised in a graph (a SavedModel's ops), for
export_tf/handlers/reshape.py: one attention node, as the Keras reader writes.

Attention (dot scores), from the Transpose of its key: BatchMatMulV2(query, Transpose(key, [0, 2, 1])), its
scale (a Mul by a scalar), the causal mask SelectV2(constant not-allowed, scores - 1e9 or more, scores),
Softmax, BatchMatMulV2(weights, value). Without the mask it stays two dot nodes and a softmax.
AdditiveAttention, from the ExpandDims of its query or key: Sum(scale * Tanh(ExpandDims(query, -2) +
ExpandDims(key, -3)), -1) (scale 1.0 without use_scale), an optional causal mask, Softmax and the weighted
sum. Exact or nothing: any other op on the way (a mask given as a tensor, the scores as an output) and the
pattern is not matched."""
import numpy as np

from ..node import make_node
from .dense import consumer
from .mha_graph import MASKED_AT_MOST, mask_attrs, producer

_MATMULS = ("BatchMatMulV2", "BatchMatMul")


def _resolved(view, node):
    return [view.graph.resolve(t) for t in node.inputs]


def _plain_matmul(node):
    return node is not None and node.op in _MATMULS and \
        not any(node.attr[k].b for k in ("adj_x", "adj_y") if k in node.attr)


def _constant(view, tensor):
    return None if view.graph.is_data(tensor) else np.asarray(view.values[tensor])


def _causal_mask(view, scores, members):
    """(the tensor after, causal) of Keras' causal mask reading `scores` (where(constant not-allowed, scores - 1e9
    or more, scores), not-allowed exactly j > i), or (scores, False) when no SelectV2 or Sub reads them; None
    if one does but is not that mask."""
    users = [view.graph.nodes[u[0]] for u in view.graph.consumers.get(scores, [])]
    if not any(u.op in ("Sub", "SelectV2", "Select") for u in users):
        return scores, False
    subs = [u for u in users if u.op == "Sub"]
    selects = [u for u in users if u.op in ("SelectV2", "Select")]
    if len(users) != 2 or len(subs) != 1 or len(selects) != 1 or scores in view.model_outputs:
        return None
    sub, select = subs[0], selects[0]
    ins = _resolved(view, sub)
    amount = None if ins[0] != scores else _constant(view, ins[1])
    if amount is None or amount.size != 1 or not -float(amount.reshape(-1)[0]) <= MASKED_AT_MOST or \
            consumer(view, sub.name + ":0", ("SelectV2", "Select"), 1) is None:
        return None
    cond, picked, other = _resolved(view, select)
    masked = _constant(view, cond)
    if other != scores or picked != sub.name + ":0" or masked is None or masked.dtype != bool or \
            mask_attrs(~masked, view.shape(scores)) != (True, 0):
        return None
    members += [sub.name, select.name]
    return select.name + ":0", True


def _weighted_sum(view, scores, members):
    """(causal, value tensor, output tensor) of the mask, Softmax and BatchMatMulV2(weights, value) after
    `scores`; None if they are not those."""
    found = _causal_mask(view, scores, members)
    if found is None:
        return None
    after, causal = found
    softmax = consumer(view, after, ("Softmax",))
    product = None if softmax is None else consumer(view, softmax.name + ":0", _MATMULS, 0)
    if not _plain_matmul(product):
        return None
    value = _resolved(view, product)[1]
    if not view.graph.is_data(value) or len(view.shape(value)) != 2:
        return None
    members += [softmax.name, product.name]
    return causal, value, product.name + ":0"


def _inputs(query, value, key):
    if query == value == key:
        return [query]
    return [query, value] if key == value else [query, value, key]


def graph_dot_attention(view, src, perm):
    """The attention node of Keras' Attention with dot scores and a causal mask whose key `view` (a Transpose of
    `src` by `perm`) transposes; None if it is not that pattern (without the mask: two dot nodes, a softmax)."""
    scores = consumer(view, view.output, _MATMULS, 1)
    if perm != [0, 2, 1] or len(view.shape(src)) != 2 or not _plain_matmul(scores):
        return None
    query = _resolved(view, scores)[0]
    if not view.graph.is_data(query) or len(view.shape(query)) != 2:
        return None
    members = [scores.name]
    tensor, scale = scores.name + ":0", None
    mul = consumer(view, tensor, ("Mul",))
    if mul is not None:
        ins = _resolved(view, mul)
        constants = [_constant(view, t) for t in ins]
        if tensor not in ins or sum(c is not None for c in constants) != 1:
            return None
        scale = next(c for c in constants if c is not None)
        if scale.size != 1:
            return None
        members.append(mul.name)
        tensor = mul.name + ":0"
    found = _weighted_sum(view, tensor, members)
    if found is None or not found[0]:
        return None
    _, value, out = found
    arrays = {} if scale is None else {"scale": np.asarray(scale, np.float32).reshape(1)}
    attrs = {"score": "dot", "use_scale": scale is not None, "causal": True, "return_scores": False}
    return make_node("attention", attrs, arrays, inputs=_inputs(query, value, src), output=out, absorbed=members)


def _expanded(view, tensor, axis):
    """The sequence an ExpandDims of `axis` (of the rank-4 result, batch included) makes `tensor` from."""
    node = producer(view, tensor)
    if node is None or node.op != "ExpandDims":
        return None, None
    src, dim = _resolved(view, node)
    dim = _constant(view, dim)
    if dim is None or dim.size != 1 or int(dim.reshape(-1)[0]) % 4 != axis or not view.graph.is_data(src) or \
            len(view.shape(src)) != 2:
        return None, None
    return src, node


def graph_additive_attention(view):
    """The attention node (additive scores) of Keras 3's AdditiveAttention one of whose ExpandDims `view` is;
    None if it is not that pattern."""
    add = consumer(view, view.output, ("AddV2", "Add"))
    if add is None:
        return None
    (query, q_node), (key, k_node) = [_expanded(view, t, axis) for t, axis in zip(_resolved(view, add), (2, 1))]
    if query is None or key is None or view.shape(query)[1] != view.shape(key)[1]:
        return None
    if any(consumer(view, n.name + ":0", ("AddV2", "Add")) is None for n in (q_node, k_node)):
        return None
    tanh = consumer(view, add.name + ":0", ("Tanh",))
    mul = None if tanh is None else consumer(view, tanh.name + ":0", ("Mul",))
    if mul is None:
        return None
    ins = _resolved(view, mul)
    channels = view.shape(query)[1]
    scale = _constant(view, ins[1 - ins.index(tanh.name + ":0")]) if tanh.name + ":0" in ins else None
    if scale is None or scale.size not in (1, channels) or \
            scale.ndim > 1 and scale.shape[:-1] != (1,) * (scale.ndim - 1):
        return None
    total = consumer(view, mul.name + ":0", ("Sum",), 0)
    axis = None if total is None else _constant(view, _resolved(view, total)[1])
    if axis is None or axis.size != 1 or int(axis.reshape(-1)[0]) % 4 != 3 or \
            (("keep_dims" in total.attr) and total.attr["keep_dims"].b):
        return None
    members = [q_node.name, k_node.name, add.name, tanh.name, mul.name, total.name]
    found = _weighted_sum(view, total.name + ":0", members)
    if found is None:
        return None
    causal, value, out = found
    use_scale = not (scale.size == 1 and float(scale.reshape(-1)[0]) == 1.0)
    arrays = {"scale": np.ascontiguousarray(np.broadcast_to(scale.reshape(-1), (channels,)), np.float32)} \
        if use_scale else {}
    attrs = {"score": "additive", "use_scale": use_scale, "causal": causal, "return_scores": False}
    absorbed = [m for m in members if m != view.node.name]
    return make_node("attention", attrs, arrays, inputs=_inputs(query, value, key), output=out, absorbed=absorbed)
