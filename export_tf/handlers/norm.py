"""Normalisation. Keras: BatchNormalization (inference form), LayerNormalization, Normalization
(preprocessing). TF ops: FusedBatchNorm, FusedBatchNormV2, FusedBatchNormV3 (inference form)."""
import numpy as np

from ..node import Unsupported, make_node
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
