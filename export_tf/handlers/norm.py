"""Normalisation. Keras: BatchNormalization (inference form), LayerNormalization, Normalization
(preprocessing). TF ops: FusedBatchNorm, FusedBatchNormV2, FusedBatchNormV3 (inference form), LRN, and
LayerNormalization's arithmetic (Mean, SquaredDifference, Rsqrt, ...; graph_layer_norm, from pool.py's Mean)."""
import numpy as np

from ..node import Unsupported, make_node
from ..graphdef.view import channel_vector
from ..registry import register, tf_op


@register("BatchNormalization", ops=("batch_norm",))
def batch_norm(view):
    axis = view.config.get("axis", -1)
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise Unsupported("axis=%r (only the channel axis is supported)" % (axis,))
        axis = axis[0]
    rank = len(view.input_shape) + 1
    if axis not in (-1, rank - 1):
        raise Unsupported("axis=%r (only the last, channel, axis is supported)" % (axis,))
    if view.config.get("renorm"):
        raise Unsupported("renorm=True")
    center = bool(view.config.get("center", True))
    scale = bool(view.config.get("scale", True))
    arrays = {"moving_mean": view.weight("moving_mean"), "moving_variance": view.weight("moving_variance")}
    if scale:
        arrays["gamma"] = view.weight("gamma")
    if center:
        arrays["beta"] = view.weight("beta")
    attrs = {"epsilon": float(view.config.get("epsilon", 1e-3)), "center": center, "scale": scale}
    return make_node("batch_norm", attrs, arrays)


def _last_axis_only(view, axis):
    """True if Keras `axis` (an int or a one-element list) is the last axis of the layer's input."""
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            return False
        axis = axis[0]
    rank = len(view.input_shape) + 1
    return axis in (-1, rank - 1)


@register("LayerNormalization", ops=("layer_norm",))
def layer_norm(view):
    axis = view.config.get("axis", -1)
    if not _last_axis_only(view, axis):
        raise Unsupported("axis=%r (only the last, channel, axis is supported)" % (axis,))
    if view.config.get("rms_scaling"):
        raise Unsupported("rms_scaling=True (deprecated in Keras)")
    center = bool(view.config.get("center", True))
    scale = bool(view.config.get("scale", True))
    arrays = {}
    if scale:
        arrays["gamma"] = view.weight("gamma")
    if center:
        arrays["beta"] = view.weight("beta")
    return make_node("layer_norm", {"epsilon": float(view.config.get("epsilon", 1e-3)), "center": center,
                               "scale": scale}, arrays)


@register("Normalization", ops=("normalize",))
def normalization(view):
    """The preprocessing layer: (x - mean) / max(sqrt(variance), epsilon) with Keras's global epsilon
    (invert=True: mean + x * max(sqrt(variance), epsilon)), statistics per channel or one for all."""
    import keras
    axis = view.config.get("axis", -1)
    if isinstance(axis, (list, tuple)) and not axis:
        axis = None                      # Keras stores axis=None as ()
    channels = view.input_shape[-1]
    if axis is not None and not _last_axis_only(view, axis):
        raise Unsupported("axis=%r (only the last, channel, axis or None is supported)" % (axis,))
    stats = {}
    for role in ("mean", "variance"):
        value = view.config.get(role)
        if value is None:
            value = view.weight(role)
        value = np.asarray(value, dtype=np.float32)
        if value.size not in (1, channels):
            raise Unsupported("%s of shape %r for %d channels" % (role, value.shape, channels))
        stats[role] = np.ascontiguousarray(np.broadcast_to(value.reshape(-1), (channels,)), dtype=np.float32)
    return make_node("normalize", {"epsilon": float(keras.config.epsilon()),
                                   "invert": bool(view.config.get("invert", False))}, stats)


@tf_op("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def tf_fused_batch_norm(view):
    view.require_nhwc()
    if view.attr("is_training", True):
        raise Unsupported("is_training=True: the batch's own statistics are used; export the graph built "
                          "with training=False")
    src = view.data_input(0)
    channels = view.shape(src)[-1]
    arrays = {}
    for index, role in ((1, "gamma"), (2, "beta"), (3, "moving_mean"), (4, "moving_variance")):
        value = view.static(index).astype(np.float32).reshape(-1)
        if value.shape != (channels,):
            raise Unsupported("%s of shape %r for %d channels" % (role, value.shape, channels))
        arrays[role] = value
    attrs = {"epsilon": float(view.attr("epsilon", 1e-4)), "center": True, "scale": True}
    return make_node("batch_norm", attrs, arrays, inputs=[src])


@tf_op("LRN")
def tf_lrn(view):
    """tf.nn.local_response_normalization over the channels of an image (its only axis in TF)."""
    src = view.data_input(0)
    view.image(src)
    return make_node("lrn", {"depth_radius": int(view.attr("depth_radius", 5)), "bias": float(view.attr("bias", 1.0)),
                             "alpha": float(view.attr("alpha", 1.0)), "beta": float(view.attr("beta", 0.5))},
                     inputs=[src])


# ------------------------------------------------------------- LayerNormalization from its TF ops

def _users(view, tensor):
    """{op type: node} of the DATA ops reading `tensor` (one each), or None if two share a type or it is a
    model output."""
    users = [view.graph.nodes[name] for name, _ in view.graph.consumers.get(tensor, [])]
    if tensor in view.model_outputs or len(set(u.op for u in users)) != len(users):
        return None
    return dict((u.op, u) for u in users)


def _only(view, tensor, ops):
    """The one op reading `tensor` if it is one of `ops`, else None."""
    users = _users(view, tensor)
    if users is None or len(users) != 1 or list(users)[0] not in ops:
        return None
    return list(users.values())[0]


def _operands(view, node):
    return [view.graph.resolve(t) for t in node.inputs]


def _constant(view, node, channels):
    """The constant operand of a binary op as a (channels,) vector (a scalar repeated), else None."""
    ins = _operands(view, node)
    consts = [t for t in ins if not view.graph.is_data(t)]
    if len(ins) != 2 or len(consts) != 1:
        return None
    return channel_vector(view.values[consts[0]], channels, len(view.shape(ins[0] if ins[1] == consts[0]
                                                                             else ins[1])) + 1)


def _last_axis_mean(view, node, src):
    """Whether `node` is a Mean of `src` over its last axis keeping the dimension."""
    if node is None or node.op != "Mean" or _operands(view, node)[0] != src or not node.attr["keep_dims"].b:
        return False
    axes = np.asarray(view.values[_operands(view, node)[1]]).reshape(-1)
    rank = len(view.shape(src)) + 1
    return [int(a) % rank for a in axes] == [rank - 1]


_ADDS = ("Add", "AddV2")


def graph_layer_norm(view):
    """Keras' LayerNormalization over the last axis as its TF ops write it, from its first Mean:
    mean = Mean(x), var = Mean(SquaredDifference(x, mean)), inv = Rsqrt(var + eps) [* gamma], then
    x * inv + (-mean * inv [+ beta]) (Keras 3) or x * inv + (beta - mean * inv | -(mean * inv))
    (tf.nn.batch_normalization, Keras 2). The layer_norm node absorbing the rest, or None."""
    src = _operands(view, view.node)[0]
    if not _last_axis_mean(view, view.node, src):
        return None
    channels, mean = view.shape(src)[-1], view.output
    users = _users(view, mean)
    if users is None or sorted(users) not in (["Neg", "SquaredDifference"], ["Mul", "SquaredDifference"]):
        return None
    sqd = users["SquaredDifference"]
    if sorted(_operands(view, sqd)) != sorted([src, mean]):
        return None
    var = _only(view, sqd.name + ":0", ("Mean",))
    eps_add = var and _only(view, var.name + ":0", _ADDS)
    eps = eps_add and _constant(view, eps_add, 1)
    rsqrt = eps is not None and _last_axis_mean(view, var, sqd.name + ":0") and \
        _only(view, eps_add.name + ":0", ("Rsqrt",))
    if not rsqrt:
        return None
    members = [sqd.name, var.name, eps_add.name, rsqrt.name]
    inv, gamma = rsqrt, None
    scale = _only(view, rsqrt.name + ":0", ("Mul",))
    if scale is not None:
        gamma = _constant(view, scale, channels)
        if gamma is None:
            return None
        inv = scale
        members.append(scale.name)
    found = _shift(view, users, inv.name + ":0", channels, members)
    if found is None:
        return None
    offset, beta = found
    inv_users = [view.graph.nodes[n] for n, _ in view.graph.consumers.get(inv.name + ":0", [])]
    mul = [u for u in inv_users if u.name not in members]
    if len(inv_users) != 2 or len(mul) != 1 or mul[0].op != "Mul" or inv.name + ":0" in view.model_outputs or \
            sorted(_operands(view, mul[0])) != sorted([src, inv.name + ":0"]):
        return None
    add = _only(view, offset + ":0", _ADDS)
    if add is None or sorted(_operands(view, add)) != sorted([mul[0].name + ":0", offset + ":0"]) or \
            _only(view, mul[0].name + ":0", _ADDS) is None:
        return None
    members += [mul[0].name, add.name]
    arrays = dict((role, value) for role, value in (("gamma", gamma), ("beta", beta)) if value is not None)
    attrs = {"epsilon": float(eps[0]), "center": beta is not None, "scale": gamma is not None}
    return make_node("layer_norm", attrs, arrays, inputs=[src], output=add.name + ":0", absorbed=members)


def _shift(view, mean_users, inv, channels, members):
    """(the op writing the offset -mean * inv [+ beta], beta or None), the ops on the way added to members."""
    if "Neg" in mean_users:                                 # Keras 3: -mean * inv [+ beta]
        neg = mean_users["Neg"]
        shift = _only(view, neg.name + ":0", ("Mul",))
        if shift is None or sorted(_operands(view, shift)) != sorted([neg.name + ":0", inv]):
            return None
        members += [neg.name, shift.name]
        add = _only(view, shift.name + ":0", _ADDS)
        beta = None if add is None else _constant(view, add, channels)
        if beta is None:
            return shift.name, None
        members.append(add.name)
        return add.name, beta
    shift = mean_users["Mul"]                               # tf.nn.batch_normalization: mean * inv
    if sorted(_operands(view, shift)) != sorted([view.output, inv]):
        return None
    members.append(shift.name)
    after = _only(view, shift.name + ":0", ("Sub", "Neg"))
    if after is None or (after.op == "Sub" and _operands(view, after)[1] != shift.name + ":0"):
        return None
    beta = _constant(view, after, channels) if after.op == "Sub" else None
    if after.op == "Sub" and beta is None:
        return None
    members.append(after.name)
    return after.name, beta


def graph_fused_layer_norm(view, src):
    """tf_keras' LayerNormalization with an epsilon of 1.001e-5 or more, from its first Reshape: x reshaped to
    (1, rows, C, 1), FusedBatchNormV3 in training mode over NCHW (ones, zeros), reshaped back [* gamma]
    [+ beta]. The layer_norm node absorbing the rest, or None."""
    shape = (view.values[src].shape[0],) + view.shape(src)
    rows = int(np.prod(shape[:-1]))
    if view.values[view.output].shape != (1, rows, shape[-1], 1):
        return None
    fused = _only(view, view.output, ("FusedBatchNormV3", "FusedBatchNorm", "FusedBatchNormV2"))
    if fused is None or not fused.attr["is_training"].b or fused.attr["data_format"].s != b"NCHW":
        return None
    ins = _operands(view, fused)
    if any(view.graph.is_data(t) for t in ins[1:3]) or not np.all(view.values[ins[1]] == 1) or \
            np.any(view.values[ins[2]]) or any(view.graph.consumers.get("%s:%d" % (fused.name, k)) for k in range(1, 6)):
        return None
    back = _only(view, fused.name + ":0", ("Reshape",))
    if back is None or view.values[back.name + ":0"].shape != shape:
        return None
    members, out, arrays = [fused.name, back.name], back.name + ":0", {}
    for role, ops in (("gamma", ("Mul",)), ("beta", _ADDS)):
        node = _only(view, out, ops)
        value = None if node is None else _constant(view, node, shape[-1])
        if value is not None:
            arrays[role], out = value, node.name + ":0"
            members.append(node.name)
    attrs = {"epsilon": float(fused.attr["epsilon"].f), "center": "beta" in arrays, "scale": "gamma" in arrays}
    return make_node("layer_norm", attrs, arrays, inputs=[src], output=out, absorbed=members)
