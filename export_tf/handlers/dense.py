"""Dense."""
from ..registry import Node, register
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
        "activation": activation_attr(view.config.get("activation", "linear")),
    }
    return Node("dense", attrs, arrays)
