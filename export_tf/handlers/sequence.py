"""Sequences (TF (N, L, C)): Conv1D, DepthwiseConv1D, SeparableConv1D, MaxPooling1D, AveragePooling1D, GlobalAveragePooling1D,
GlobalMaxPooling1D, ZeroPadding1D, Cropping1D, UpSampling1D, RepeatVector, Embedding."""
from ..node import Unsupported, make_node
from ..padding import same_pads
from ..registry import register
from .activation import activation_attr
from .common import channels_last, layer_node


def _single(value, what):
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise Unsupported("%s=%r (one value expected)" % (what, value))
        value = value[0]
    return int(value)


def sequence_input(view):
    if len(view.input_shape) != 2:
        raise Unsupported("expects a sequence tensor (L, C), found shape %r" % (view.input_shape,))
    return view.input_shape


def _pads(padding, length, kernel, stride, dilation=1):
    """Explicit [before, after] along the sequence for Keras padding valid / same / causal."""
    if padding == "valid":
        return [0, 0]
    if padding == "same":
        return list(same_pads(length, kernel, stride, dilation))
    if padding == "causal":
        return [(kernel - 1) * dilation, 0]
    raise Unsupported("padding=%r" % padding)


def _conv_attrs(view, k):
    channels_last(view)
    length, _ = sequence_input(view)
    strides = _single(view.config.get("strides", 1), "strides")
    dilation = _single(view.config.get("dilation_rate", 1), "dilation_rate")
    if strides != 1 and dilation != 1:
        raise Unsupported("strides %r together with dilation %r" % (strides, dilation))
    padding = view.config.get("padding", "valid")
    return {
        "kernel_size": [k], "strides": [strides], "dilation": [dilation], "padding": padding,
        "pads": _pads(padding, length, k, strides, dilation),
        "use_bias": bool(view.config.get("use_bias", True)),
        "activation": activation_attr(view.config.get("activation", "linear"), view.config),
    }


@register("Conv1D", ops=("conv1d",))
def conv1d(view):
    kernel = view.weight("kernel")                  # (k, in / groups, out)
    attrs = _conv_attrs(view, int(kernel.shape[0]))
    attrs.update(groups=int(view.config.get("groups", 1) or 1), filters=int(kernel.shape[2]))
    arrays = {"kernel": kernel}
    return layer_node(view, "conv1d", attrs, arrays)


@register("DepthwiseConv1D", ops=("depthwise_conv1d",))
def depthwise_conv1d(view):
    kernel = view.weight("kernel")                  # (k, in, multiplier)
    attrs = _conv_attrs(view, int(kernel.shape[0]))
    attrs["depth_multiplier"] = int(kernel.shape[2])
    arrays = {"kernel": kernel}
    return layer_node(view, "depthwise_conv1d", attrs, arrays)


@register("SeparableConv1D", ops=("separable_conv1d",))
def separable_conv1d(view):
    kernel = view.weight("depthwise_kernel")        # (k, in, multiplier); pointwise (1, in * multiplier, out)
    attrs = _conv_attrs(view, int(kernel.shape[0]))
    attrs["depth_multiplier"] = int(kernel.shape[2])
    arrays = {"depthwise_kernel": kernel, "pointwise_kernel": view.weight("pointwise_kernel")}
    return layer_node(view, "separable_conv1d", attrs, arrays)


def _pool(view, op):
    channels_last(view)
    length, _ = sequence_input(view)
    kernel = _single(view.config.get("pool_size", 2), "pool_size")
    strides = view.config.get("strides")
    strides = kernel if strides is None else _single(strides, "strides")
    padding = view.config.get("padding", "valid")
    if padding not in ("valid", "same"):
        raise Unsupported("padding=%r" % padding)
    return make_node(op, {"kernel_size": [kernel], "strides": [strides], "padding": padding,
                     "pads": _pads(padding, length, kernel, strides)})


@register("MaxPooling1D", ops=("max_pool1d",))
def max_pool1d(view):
    return _pool(view, "max_pool1d")


@register("AveragePooling1D", ops=("avg_pool1d",))
def avg_pool1d(view):
    return _pool(view, "avg_pool1d")


def _global(view, mode):
    channels_last(view)
    sequence_input(view)
    return make_node("global_pool1d", {"mode": mode, "keepdims": bool(view.config.get("keepdims", False))})


@register("GlobalAveragePooling1D", ops=("global_pool1d",))
def global_avg_pool1d(view):
    return _global(view, "avg")


@register("GlobalMaxPooling1D", ops=("global_pool1d",))
def global_max_pool1d(view):
    return _global(view, "max")


@register("Embedding", ops=("embedding",))
def embedding(view):
    """Integer indices (L,) -> vectors (L, D). The indices arrive as a float blob of integral values.
    mask_zero=True is accepted only if the mask changes no output: the exporter's reference check runs
    the model on inputs containing index 0 and compares (export_tf/reference.py)."""
    if len(view.input_shape) != 1:
        raise Unsupported("input of shape %r: only a sequence of indices (L,) is supported" % (view.input_shape,))
    if view.config.get("lora_rank"):
        raise Unsupported("lora_rank=%r (merge the LoRA weights first)" % view.config.get("lora_rank"))
    if view.config.get("quantization_config") or view.config.get("dtype") in ("int8", "float8"):
        raise Unsupported("quantized embeddings")
    matrix = view.weight("embeddings")       # (input_dim, output_dim)
    return make_node("embedding", {"input_dim": int(matrix.shape[0]), "output_dim": int(matrix.shape[1]),
                              "mask_zero": bool(view.config.get("mask_zero", False))}, {"embeddings": matrix})


def _pair_1d(value, what):
    if isinstance(value, int):
        value = (value, value)
    before, after = [int(v) for v in value]
    if before < 0 or after < 0:
        raise Unsupported("negative %s %r" % (what, (before, after)))
    return [before, after]


@register("ZeroPadding1D", ops=("pad1d",))
def zero_padding1d(view):
    channels_last(view)
    sequence_input(view)
    return make_node("pad1d", {"pads": _pair_1d(view.config.get("padding", 1), "padding")})


@register("Cropping1D", ops=("crop1d",))
def cropping1d(view):
    sequence_input(view)
    return make_node("crop1d", {"cropping": _pair_1d(view.config.get("cropping", (1, 1)), "cropping")})


@register("RepeatVector", ops=("repeat_vector",))
def repeat_vector(view):
    if len(view.input_shape) != 1:
        raise Unsupported("expects a vector (C,), found shape %r" % (view.input_shape,))
    return make_node("repeat_vector", {"n": int(view.config["n"])})


@register("UpSampling1D", ops=("upsample1d",))
def upsampling1d(view):
    sequence_input(view)
    return make_node("upsample1d", {"size": _single(view.config.get("size", 2), "size")})
