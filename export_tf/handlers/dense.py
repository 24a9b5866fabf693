"""Dense, and TimeDistributed(Dense) (the same kernel on the last axis)."""
from ..registry import LayerView, Node, Unsupported, register
from .common import activation_attr


@register("Dense", ops=('dense',))
def dense(view):
    use_bias = bool(view.config.get("use_bias", True))
    arrays = {"kernel": view.weight("kernel")}     # (in, out)
    if use_bias:
        arrays["bias"] = view.weight("bias")
    attrs = {
        "units": int(arrays["kernel"].shape[1]),
        "use_bias": use_bias,
        "activation": activation_attr(view.config.get("activation", "linear"), view.config),
    }
    return Node("dense", attrs, arrays)


@register("TimeDistributed", ops=("dense",))
def time_distributed(view):
    """TimeDistributed applies its layer to every step of axis 1; for a Dense that is Dense itself, which
    already acts on the last axis. Other wrapped layers are refused."""
    inner = view.config.get("layer") or {}
    if inner.get("class_name") != "Dense":
        raise Unsupported("wrapping %s (only Dense is supported)" % inner.get("class_name"))
    return dense(LayerView(view.name, "Dense", inner.get("config", {}), view.weights, view.input_shapes,
                           view.output_shapes))
