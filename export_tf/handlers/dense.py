"""Dense layers. Keras: Dense, and TimeDistributed over Dense or another per-step layer
(the same kernel on the last axis). TF op:
MatMul of the model's data by a constant matrix, with a following bias add absorbed."""
import numpy as np

from ..layerview import LayerView
from ..node import Unsupported
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
    shape = view.shape(src)
    if len(shape) != 1 or kernel.ndim != 2 or kernel.shape[0] != shape[0]:
        raise Unsupported("a (N, %s) input times a %r matrix" % (", ".join(map(str, shape)), kernel.shape))
    attrs = {"units": int(kernel.shape[1]), "use_bias": False, "activation": None}
    return absorbing_bias(view, "dense", attrs, {"kernel": kernel}, int(kernel.shape[1]), src)
