"""Helper layers that keras.applications models define themselves: CustomScaleLayer
(InceptionResNetV2's scaled residual sum), LayerScale and StochasticDepth (ConvNeXt)."""
from ..node import Unsupported, make_node
from ..registry import register


@register("CustomScaleLayer", ops=("weighted_sum",))
def custom_scale(view):
    """inputs[0] + inputs[1] * scale."""
    if len(view.input_shapes) != 2:
        raise Unsupported("expected two inputs, found %d" % len(view.input_shapes))
    if tuple(view.input_shapes[0]) != tuple(view.input_shapes[1]):
        raise Unsupported("inputs of different shapes %r" % (view.input_shapes,))
    return make_node("weighted_sum", {"coefficients": [1.0, float(view.config["scale"])]})


@register("LayerScale", ops=("channel_scale",))
def layer_scale(view):
    """x * gamma, gamma one value per channel (the last axis)."""
    if len(view.weights) != 1:
        raise Unsupported("expected one weight (gamma), found %s" % sorted(view.weights))
    gamma = next(iter(view.weights.values()))
    if gamma.ndim != 1 or gamma.shape[0] != view.input_shape[-1]:
        raise Unsupported("gamma of shape %r for an input of shape %r" % (gamma.shape, view.input_shape))
    return make_node("channel_scale", {}, {"scale": gamma})


@register("StochasticDepth", ops=("identity",))
def stochastic_depth(view):
    """Drops residual paths in training only; the identity at inference."""
    return make_node("identity", {})
