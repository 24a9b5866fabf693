"""Core layers. Keras: Dropout and the other layers that are the identity at inference, Rescaling. TF ops:
Select / SelectV2 with a constant condition (a dropout's mask at rate 0)."""
import numpy as np

from ..node import Unsupported, make_node
from ..registry import register, tf_op


@register("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianDropout", "GaussianNoise", "AlphaDropout",
          "Identity", ops=("identity",))
def identity(view):
    return make_node("identity", {})


@register("Rescaling", ops=("rescale",))
def rescaling(view):
    channels = view.input_shape[-1]
    values = {}
    for key, default in (("scale", 1.0), ("offset", 0.0)):
        value = np.asarray(view.config.get(key, default), dtype=np.float64).reshape(-1)
        if value.size not in (1, channels):
            raise Unsupported("%s of %d values for %d channels" % (key, value.size, channels))
        values[key] = [float(v) for v in value]
    return make_node("rescale", values)


@tf_op("Select", "SelectV2")
def tf_select(view):
    """where(condition, a, b) with a constant condition that picks one side everywhere (the mask of a
    dropout at rate 0) is that side."""
    cond = view.static(0)
    if cond.size and np.all(cond):
        index = 1
    elif cond.size and not np.any(cond):
        index = 2
    else:
        raise Unsupported("a condition that picks from both sides")
    src = view.inputs[index]
    if not view.graph.is_data(src) or view.shape(src) != view.output_shape:
        raise Unsupported("the side picked is a constant or is broadcast")
    return make_node("identity", {}, inputs=[src])
