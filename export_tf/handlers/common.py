"""Checks several families share: Keras layer settings, and the graph handlers' bias absorption."""
from ..node import Unsupported, make_node


def channels_last(view):
    fmt = view.config.get("data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        raise Unsupported("data_format=%r (only channels_last models are supported)" % fmt)


def pair(value):
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return [int(value), int(value)]


def spatial_input(view):
    if len(view.input_shape) != 3:
        raise Unsupported("expects an image tensor (H, W, C), found shape %r" % (view.input_shape,))
    return view.input_shape


def layer_node(view, op, attrs, arrays):
    """A Keras layer's node with the layer's bias among its arrays when attrs["use_bias"]."""
    if attrs["use_bias"]:
        arrays["bias"] = view.weight("bias")
    return make_node(op, attrs, arrays)


def absorbing_bias(view, op, attrs, arrays, channels, src):
    """A graph handler's node reading `src`, with the op's following per-channel bias add absorbed into it
    (use_bias and the bias array) when there is one."""
    fused = view.absorb_channel_add(view.output, channels)
    attrs["use_bias"] = fused is not None
    if fused is None:
        return make_node(op, attrs, arrays, inputs=[src])
    bias, out, consumer = fused
    arrays["bias"] = bias
    return make_node(op, attrs, arrays, inputs=[src], output=out, absorbed=[consumer])
