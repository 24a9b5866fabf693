"""Core layers: Dropout (an identity at inference), Rescaling."""
import numpy as np

from ..registry import Node, Unsupported, register


@register("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianDropout", "GaussianNoise", "AlphaDropout", "Identity",
          ops=("identity",))
def identity(view):
    return Node("identity", {})


@register("Rescaling", ops=('rescale',))
def rescaling(view):
    channels = view.input_shape[-1]
    values = {}
    for key, default in (("scale", 1.0), ("offset", 0.0)):
        value = np.asarray(view.config.get(key, default), dtype=np.float64).reshape(-1)
        if value.size not in (1, channels):
            raise Unsupported("%s of %d values for %d channels" % (key, value.size, channels))
        values[key] = [float(v) for v in value]
    return Node("rescale", values)
