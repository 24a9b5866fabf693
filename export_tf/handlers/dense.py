"""Dense layers. Keras: Dense, and TimeDistributed over Dense or another per-step layer
(the same kernel on the last axis). TF op:
MatMul of the model's data by a constant matrix, with a following bias add absorbed."""
import numpy as np

from ..layerview import LayerView
from ..node import Unsupported, make_node
from ..registry import register, tf_op
from .activation import activation_attr
from .common import absorbing_bias, layer_node


@register("Dense", ops=("dense",))
def dense(view):
    kernel = view.weight("kernel")     # (in, out)
    attrs = {
        "units": int(kernel.shape[1]),
        "use_bias": bool(view.config.get("use_bias", True)),
        "activation": activation_attr(view.config.get("activation", "linear"), view.config),
    }
    return layer_node(view, "dense", attrs, {"kernel": kernel})


# Layers that act on each step's channels alone: TimeDistributed over one is the layer on the sequence.
PER_STEP = ("Activation", "Dense", "Dropout", "ELU", "LeakyReLU", "ReLU")


@register("TimeDistributed", ops=("activation", "dense", "identity"))
def time_distributed(view):
    """TimeDistributed applies its layer to every step of axis 1; for a layer acting on the last axis
    alone (Dense, an activation, Dropout) that is the layer itself. Other wrapped layers are refused."""
    from ..registry import handler_for
    inner = view.config.get("layer") or {}
    kind = inner.get("class_name")
    if kind not in PER_STEP:
        raise Unsupported("wrapping %s (supported: %s)" % (kind, ", ".join(PER_STEP)))
    return handler_for(kind)(LayerView(view.name, kind, inner.get("config", {}), view.weights, view.input_shapes,
                                       view.output_shapes))


@tf_op("MatMul")
def tf_matmul(view):
    if view.attr("transpose_a", False):
        raise Unsupported("transpose_a=True")
    src = view.data_input(0)
    kernel = view.static(1).astype(np.float32, copy=False)
    if view.attr("transpose_b", False):
        kernel = np.ascontiguousarray(kernel.T)
    shape = view.shape(src)         # (C,), or (T, C): the steps a TimeDistributed merged into rows (timesteps.py)
    if len(shape) not in (1, 2) or kernel.ndim != 2 or kernel.shape[0] != shape[-1]:
        raise Unsupported("a (N, %s) input times a %r matrix" % (", ".join(map(str, shape)), kernel.shape))
    attrs = {"units": int(kernel.shape[1]), "use_bias": False, "activation": None}
    return absorbing_bias(view, "dense", attrs, {"kernel": kernel}, int(kernel.shape[1]), src)


def constant_input(view, node, index):
    """The folded value of `node`'s input `index` when it is a constant, else None."""
    t = view.graph.resolve(node.inputs[index])
    return None if view.graph.is_data(t) else np.asarray(view.values[t])


def consumer(view, tensor, op_types, index=None):
    """The single DATA op reading `tensor` (see OpView.single_consumer) if it is one of `op_types` and
    reads it as input `index` (any, if None), else None."""
    found = view.single_consumer(tensor)
    if found is None or found[0].op not in op_types or (index is not None and found[1] != index):
        return None
    return found[0]


def _flag(node, key):
    return key in node.attr and bool(node.attr[key].b)


def _matmul_kernel(view, node):
    """A MatMul's constant right operand as an (in, out) float32 matrix, else None."""
    if _flag(node, "transpose_a") or _flag(node, "adj_x"):
        return None
    kernel = constant_input(view, node, 1)
    if kernel is None or kernel.ndim != 2:
        return None
    kernel = kernel.astype(np.float32)
    if _flag(node, "transpose_b") or _flag(node, "adj_y"):
        kernel = kernel.T
    return np.ascontiguousarray(kernel)


def sequence_dense(view, src, kernel, out, absorbed):
    """A dense node on the last axis of `src` writing `out` (with a following per-channel bias add
    absorbed too)."""
    units = int(kernel.shape[1])
    fused = view.absorb_channel_add(out, units)
    attrs = {"units": units, "use_bias": fused is not None, "activation": None}
    arrays = {"kernel": kernel}
    if fused is not None:
        arrays["bias"], out, name = fused
        absorbed = list(absorbed) + [name]
    return make_node("dense", attrs, arrays, inputs=[src], output=out, absorbed=absorbed)


def tensordot_dense(view, src):
    """tf.tensordot(x, kernel, [[rank - 1], [0]]) of a sequence x (N, L, C) by a constant matrix, as Keras'
    Dense writes it on sequences: [an identity Transpose ->] Reshape to (N*L, C) -> MatMul -> Reshape to
    (N, L, units). `view` is the op that starts it (the Transpose or the first Reshape), `src` x. Returns
    the dense node absorbing the rest (and a following bias add), or None if the op starts no such chain."""
    shape = view.shape(src)
    if len(shape) != 2:
        return None
    batch, absorbed, flat = view.values[src].shape[0], [], view.output
    if view.type == "Transpose":
        reshape = consumer(view, flat, ("Reshape",))
        if reshape is None:
            return None
        absorbed.append(reshape.name)
        flat = reshape.name + ":0"
    # the rows (N*L, C), or as export_tf/graphdef/timesteps.py leaves them when it folds the chain: (N, L, C)
    if view.values[flat].shape not in ((batch * shape[0], shape[1]), (batch,) + shape):
        return None
    matmul = consumer(view, flat, ("MatMul",), 0)
    kernel = None if matmul is None else _matmul_kernel(view, matmul)
    if kernel is None or kernel.shape[0] != shape[1]:
        return None
    back = consumer(view, matmul.name + ":0", ("Reshape",))
    if back is None or view.values[back.name + ":0"].shape != (batch, shape[0], kernel.shape[1]):
        return None
    return sequence_dense(view, src, kernel, back.name + ":0", absorbed + [matmul.name, back.name])
