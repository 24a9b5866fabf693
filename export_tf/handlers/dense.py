"""Dense layers. Keras: Dense, and TimeDistributed(Dense) (the same kernel on the last axis). TF op:
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


@register("TimeDistributed", ops=("dense",))
def time_distributed(view):
    """TimeDistributed applies its layer to every step of axis 1; for a Dense that is Dense itself, which
    already acts on the last axis. Other wrapped layers are refused."""
    inner = view.config.get("layer") or {}
    if inner.get("class_name") != "Dense":
        raise Unsupported("wrapping %s (only Dense is supported)" % inner.get("class_name"))
    return dense(LayerView(view.name, "Dense", inner.get("config", {}), view.weights, view.input_shapes,
                           view.output_shapes))


@tf_op("MatMul")
def tf_matmul(view):
    if view.attr("transpose_a", False):
        raise Unsupported("transpose_a=True")
    src = view.data_input(0)
    kernel = view.static(1).astype(np.float32)
    if view.attr("transpose_b", False):
        kernel = np.ascontiguousarray(kernel.T)
    shape = view.shape(src)
    if len(shape) != 1 or kernel.ndim != 2 or kernel.shape[0] != shape[0]:
        raise Unsupported("a (N, %s) input times a %r matrix" % (", ".join(map(str, shape)), kernel.shape))
    attrs = {"units": int(kernel.shape[1]), "use_bias": False, "activation": None}
    return absorbing_bias(view, "dense", attrs, {"kernel": kernel}, int(kernel.shape[1]), src)
