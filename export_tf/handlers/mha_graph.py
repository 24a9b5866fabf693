"""Keras' MultiHeadAttention recognised in a graph (a SavedModel's ops), for export_tf/handlers/attention.py:
three projections (EinsumDense: a matmul by the kernel and a reshape to (heads, dim), or an einsum
abc,cde->abde; a bias add), the scores einsum BTNH,BSNH->BNTS, its scale 1 / sqrt(key_dim) (after it, or on
the query before it), a causal or sliding-window mask (SelectV2 of a constant mask), Softmax over the key
steps, the weighted-sum einsum BNTS,BSNH->BTNH and the output projection (a reshape and a matmul, or an
einsum abcd,cde->abe; a bias add). Exact or nothing: any other op on the way (a mask given as a tensor, a
gate, the scores as an output, another scale) and the pattern is not matched."""
import numpy as np

from ..node import Unsupported, make_node
from .dense import consumer

_ADDS = ("Add", "AddV2", "BiasAdd")
_MATMULS = ("BatchMatMulV2", "BatchMatMul", "MatMul")


class _Projection(object):
    """One EinsumDense of MultiHeadAttention: src (N, L, C) -> out (N, L, heads, dim)."""

    def __init__(self, src, kernel, bias, out, members):
        self.src, self.kernel, self.bias, self.out, self.members = src, kernel, bias, out, members


def producer(view, tensor):
    """The op writing `tensor` when it is that op's first output, else None."""
    return view.graph.nodes.get(tensor.rsplit(":", 1)[0]) if tensor.endswith(":0") else None


def _data_and_constant(view, node):
    """(data input, index, constant value) of a binary op with exactly one constant operand, else None."""
    if len(node.inputs) != 2:
        return None
    ins = [view.graph.resolve(t) for t in node.inputs]
    data = [view.graph.is_data(t) for t in ins]
    if data.count(True) != 1:
        return None
    i = data.index(True)
    return ins[i], i, np.asarray(view.values[ins[1 - i]], np.float32)


def _broadcast(value, shape):
    """`value` as an array of `shape` if it broadcasts to (1, 1) + shape (a bias of the projection), else None."""
    full = (1, 1) + tuple(shape)
    try:
        if np.broadcast_shapes(value.shape, full) != full:
            return None
    except ValueError:
        return None
    return np.ascontiguousarray(np.broadcast_to(value, full).reshape(shape), dtype=np.float32)


def _add_bias(view, tensor, shape, members):
    """The tensor after a following add of a constant broadcasting to `shape` (and that bias), or the tensor
    and None."""
    add = consumer(view, tensor, _ADDS)
    split = None if add is None else _data_and_constant(view, add)
    bias = None if split is None or (add.op == "BiasAdd" and split[1] != 0) else _broadcast(split[2], shape)
    if bias is None:
        return tensor, None
    members.append(add.name)
    return add.name + ":0", bias


def _projection(view, node):
    """The projection `node` (a matmul of a sequence by a constant then a reshape to heads, or an einsum
    abc,cde->abde) starts, or None."""
    split = _data_and_constant(view, node)
    if split is None or split[1] != 0 or len(view.shape(split[0])) != 2:
        return None
    src, _, kernel = split
    steps, channels = view.shape(src)
    members = [node.name]
    out = node.name + ":0"
    if node.op == "Einsum":
        eq = (node.attr["equation"].s.decode() if "equation" in node.attr else "").split("->")
        ins = eq[0].split(",") if len(eq) == 2 else []
        if len(ins) != 2 or len(ins[0]) != 3 or len(ins[1]) != 3 or ins[1][0] != ins[0][2] or \
                eq[1] != ins[0][:2] + ins[1][1:] or kernel.ndim != 3 or len(set(eq[1] + ins[0])) != 5:
            return None
    elif node.op in _MATMULS:
        if any(node.attr[k].b for k in ("adj_x", "adj_y", "transpose_a", "transpose_b") if k in node.attr):
            return None
        kernel = kernel.reshape(kernel.shape[-2:]) if kernel.ndim == 3 and kernel.shape[0] == 1 else kernel
        reshape = consumer(view, out, ("Reshape",))
        if reshape is None or kernel.ndim != 2:
            return None
        out = reshape.name + ":0"
        members.append(reshape.name)
        shape = view.shape(out)
        if len(shape) != 3 or shape[0] != steps or shape[1] * shape[2] != kernel.shape[1]:
            return None
        kernel = kernel.reshape(kernel.shape[0], shape[1], shape[2])
    else:
        return None
    if kernel.shape[0] != channels or view.shape(out) != (steps,) + kernel.shape[1:]:
        return None
    out, bias = _add_bias(view, out, kernel.shape[1:], members)
    return _Projection(src, np.ascontiguousarray(kernel, dtype=np.float32), bias, out, members)


def _projection_into(view, tensor):
    """The projection whose output is `tensor`, walking back over its bias add and reshape."""
    node = producer(view, tensor)
    for _ in range(3):
        if node is None:
            return None
        if node.op in ("Einsum",) + _MATMULS:
            found = _projection(view, node)
            return found if found is not None and found.out == tensor else None
        data = [t for t in (view.graph.resolve(i) for i in node.inputs) if view.graph.is_data(t)]
        node = producer(view, data[0]) if len(data) == 1 else None
    return None


def is_einsum(node, operands, output):
    """Whether `node` is an Einsum whose equation has the letter pattern operands -> output (the letters'
    roles, any letters)."""
    if node is None or node.op != "Einsum":
        return False
    eq = node.attr["equation"].s.decode().replace(" ", "")
    pattern = ",".join(operands) + "->" + output
    if len(eq) != len(pattern):
        return False
    rename = {}
    for got, want in zip(eq, pattern):
        if (got in ",->") != (want in ",->") or rename.setdefault(want, got) != got:
            return False
    return len(set(rename.values())) == len(rename)


# the scores einsum, query first (Keras 3) or key first (Keras 2), and the weighted sum
SCORES, KEY_FIRST, CONTEXT = (("btnh", "bsnh"), "bnts"), (("bsnh", "btnh"), "bnts"), (("bnts", "bsnh"), "btnh")
PATTERNS = (SCORES, KEY_FIRST, CONTEXT)


def _is_scores(node):
    return is_einsum(node, *SCORES) or is_einsum(node, *KEY_FIRST)


def _feeds(view, tensor, node):
    """Whether `node` is the one op reading `tensor` (and it is no model output)."""
    found = view.single_consumer(tensor)
    return found is not None and found[0].name == node.name


def _scalar_mul(view, tensor):
    """(the Mul reading `tensor`, its scalar constant) if `tensor`'s single consumer multiplies it by one."""
    mul = consumer(view, tensor, ("Mul",))
    split = None if mul is None else _data_and_constant(view, mul)
    if split is None or split[2].size != 1:
        return None, None
    return mul, float(split[2].reshape(-1)[0])


def _scores_einsum(view, start):
    """The scores einsum from the output of the projection `start` (the query or key one, feeding it,
    through the query's scale; or the value one, feeding the weighted sum, back through the softmax)."""
    node = consumer(view, start.out, ("Einsum", "Mul"))
    if node is not None and node.op == "Mul":
        node = consumer(view, node.name + ":0", ("Einsum",))
    if _is_scores(node):
        return node
    if not is_einsum(node, *CONTEXT) or view.graph.resolve(node.inputs[1]) != start.out:
        return None
    back = producer(view, view.graph.resolve(node.inputs[0]))
    if back is None or back.op != "Softmax":
        return None
    back = producer(view, view.graph.resolve(back.inputs[0]))
    if back is not None and back.op == "Mul":        # the scale
        split = _data_and_constant(view, back)
        back = None if split is None else producer(view, split[0])
    return back if _is_scores(back) else None


def _output_projection(view, tensor, members):
    """(kernel (heads, value_dim, out), output tensor) of the projection of the weighted sum `tensor`."""
    heads, dim = view.shape(tensor)[1:]
    node = consumer(view, tensor, ("Einsum", "Reshape"))
    if node is None:
        return None, None
    members.append(node.name)
    if node.op == "Reshape":
        if view.shape(node.name + ":0") != view.shape(tensor)[:1] + (heads * dim,):
            return None, None
        node = consumer(view, node.name + ":0", _MATMULS, 0)
        split = None if node is None else _data_and_constant(view, node)
        if split is None or split[1] != 0 or any(node.attr[k].b for k in ("adj_x", "adj_y", "transpose_a",
                                                                           "transpose_b") if k in node.attr):
            return None, None
        members.append(node.name)
        kernel = split[2]
        kernel = kernel.reshape(kernel.shape[-2:]) if kernel.ndim == 3 and kernel.shape[0] == 1 else kernel
        if kernel.ndim != 2 or kernel.shape[0] != heads * dim:
            return None, None
        kernel = kernel.reshape(heads, dim, kernel.shape[1])
    else:
        split = _data_and_constant(view, node)
        if split is None or split[1] != 0 or not is_einsum(node, ("abcd", "cde"), "abe"):
            return None, None
        kernel = split[2]
        if kernel.shape[:2] != (heads, dim):
            return None, None
    return np.ascontiguousarray(kernel, dtype=np.float32), node.name + ":0"


def graph_multi_head_attention(view):
    """The multi_head_attention node of the MultiHeadAttention whose projection `view`'s op is (the first
    of its ops in the graph's order), absorbing the others; None if the op is no such projection. A
    pattern that is MultiHeadAttention's but for its scale is refused (Unsupported)."""
    start = _projection(view, view.node)
    scores = None if start is None else _scores_einsum(view, start)
    if scores is None:
        return None
    members = [scores.name]
    query_in, key_in = [view.graph.resolve(t) for t in scores.inputs][::-1 if is_einsum(scores, *KEY_FIRST) else 1]
    pre_mul, pre_scale = None, None
    node = producer(view, query_in)
    if node is not None and node.op == "Mul" and _data_and_constant(view, node) is not None:
        pre_mul, pre_scale = node, _data_and_constant(view, node)[2]
        query_in = _data_and_constant(view, node)[0]
        members.append(node.name)
    query, key = _projection_into(view, query_in), _projection_into(view, key_in)
    if query is None or key is None or not _feeds(view, key.out, scores) or \
            not _feeds(view, query.out, pre_mul or scores) or (pre_mul and not _feeds(view, pre_mul.name + ":0", scores)):
        return None
    post_mul, post_scale = _scalar_mul(view, scores.name + ":0")
    after = scores if post_mul is None else post_mul
    if post_mul is not None:
        members.append(post_mul.name)
    steps = view.shape(scores.name + ":0")[1:]
    select = consumer(view, after.name + ":0", ("SelectV2", "Select"))
    mask = (False, 0) if select is None else _constant_mask(view, select, after.name + ":0", steps)
    if mask is None:
        return None
    if select is not None:
        members.append(select.name)
        after = select
    softmax = consumer(view, after.name + ":0", ("Softmax",))
    context = None if softmax is None else consumer(view, softmax.name + ":0", ("Einsum",), 0)
    if not is_einsum(context, *CONTEXT):
        return None
    members += [softmax.name, context.name]
    value = _projection_into(view, view.graph.resolve(context.inputs[1]))
    if value is None or not _feeds(view, value.out, context):
        return None
    out_kernel, out = _output_projection(view, context.name + ":0", members)
    if out_kernel is None:
        return None
    heads, key_dim = query.kernel.shape[1:]
    value_dim = value.kernel.shape[2]
    if key.kernel.shape[1:] != (heads, key_dim) or value.kernel.shape[1] != heads or \
            out_kernel.shape[:2] != (heads, value_dim):
        return None
    _check_scale(view, [s for s in (pre_scale, post_scale) if s is not None], key_dim, scores.name)
    return _node(view, query, key, value, out_kernel, out, members, mask)


# a masked score: TF's softmax weight is then exactly 0, as the importer's (its -1e9 bias)
MASKED_AT_MOST = -1e9


def _constant_mask(view, select, scores, steps):
    """(causal, sliding_window) of a SelectV2(mask, scores, a very negative number) whose constant mask, the same
    for every sample and head, is the one the multi_head_attention op makes with them (a query step i sees the
    key steps j <= i if causal, |i - j| < the window if one); None if it is none of those."""
    ins = [view.graph.resolve(t) for t in select.inputs]
    if len(ins) != 3 or ins[1] != scores or any(view.graph.is_data(t) for t in (ins[0], ins[2])):
        return None
    fill, allowed = np.asarray(view.values[ins[2]]), np.asarray(view.values[ins[0]])
    if fill.size != 1 or not float(fill.reshape(-1)[0]) <= MASKED_AT_MOST or allowed.dtype != bool or \
            allowed.shape[-2:] != steps:
        return None
    return mask_attrs(allowed, steps)


def mask_attrs(allowed, steps):
    """(causal, sliding_window) with which the attention ops make the boolean mask `allowed` (True where a query
    step i sees key step j: j <= i if causal, |i - j| < the window if one), the same for every sample and head
    (its last two axes `steps`); None if it is none of those."""
    if allowed.dtype != bool or allowed.shape[-2:] != steps:
        return None
    rows = allowed.reshape((-1,) + steps)
    if not (rows == rows[0]).all():
        return None
    i, j = np.arange(steps[0])[:, None], np.arange(steps[1])[None, :]
    for causal in (False, True):
        for window in range(0, max(steps) + 1):
            made = (j <= i if causal else np.ones(steps, bool)) & (np.abs(i - j) < window if window else True)
            if (made == rows[0]).all():
                return causal, window
    return None


def _check_scale(view, scales, key_dim, where):
    expected = 1.0 / np.sqrt(key_dim)
    if len(scales) != 1 or abs(float(np.asarray(scales[0]).reshape(-1)[0]) - expected) > 1e-6 * expected or \
            np.asarray(scales[0]).size != 1:
        raise Unsupported("the attention scores of %s are scaled by %r, not MultiHeadAttention's 1 / sqrt(%d)"
                          % (where, [np.asarray(s).reshape(-1).tolist() for s in scales], key_dim))


def _node(view, query, key, value, out_kernel, out, members, mask):
    projections = (("query", query), ("key", key), ("value", value))
    arrays = dict((role + "_kernel", p.kernel) for role, p in projections)
    arrays["output_kernel"] = out_kernel
    output_dim = int(out_kernel.shape[2])
    fused = view.absorb_channel_add(out, output_dim)
    if fused is not None:
        arrays["output_bias"], out, name = fused
        members.append(name)
    use_bias = fused is not None or any(p.bias is not None for _, p in projections)
    if use_bias:     # a missing bias is zeros
        for role, p in projections:
            arrays[role + "_bias"] = p.bias if p.bias is not None else np.zeros(p.kernel.shape[1:], np.float32)
        arrays.setdefault("output_bias", np.zeros(output_dim, np.float32))
    for _, p in projections:
        members += p.members
    heads, key_dim = query.kernel.shape[1:]
    attrs = {"num_heads": int(heads), "key_dim": int(key_dim), "value_dim": int(value.kernel.shape[2]),
             "output_dim": output_dim, "use_bias": use_bias, "gated": False, "causal": mask[0], "sliding_window": mask[1],
             "return_scores": False}
    if query.src == value.src == key.src:
        inputs = [query.src]
    elif key.src == value.src:
        inputs = [query.src, value.src]
    else:
        inputs = [query.src, value.src, key.src]
    absorbed = [m for m in members if m != view.node.name]
    return make_node("multi_head_attention", attrs, arrays, inputs=inputs, output=out, absorbed=absorbed)
