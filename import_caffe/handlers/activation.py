"""Activations: relu (with negative slope and max value), relu6, sigmoid, tanh, softmax."""
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, register

FLT_MAX = 3.4028234663852886e38


def _clip(name, bottom, top, lo, hi, target):
    if target.has_clip:
        return [CaffeLayer(name, "Clip", [bottom], [top], {"clip_param": {"min": lo, "max": hi}})]
    raise Unsupported("max_value needs Caffe's Clip layer, which target %s lacks" % target.name)


def lower_activation(attrs, bottom, top, name, target):
    """Caffe layers computing the activation `attrs` from blob bottom into blob top."""
    fn = attrs["function"]
    if fn == "relu":
        slope = float(attrs.get("negative_slope") or 0.0)
        max_value = attrs.get("max_value")
        if max_value is None:
            return [CaffeLayer(name, "ReLU", [bottom], [top], {"relu_param": {"negative_slope": slope}})]
        if slope == 0.0:
            return _clip(name, bottom, top, 0.0, float(max_value), target)
        mid = name + "_leaky"
        return [CaffeLayer(mid, "ReLU", [bottom], [mid], {"relu_param": {"negative_slope": slope}})] + \
            _clip(name, mid, top, -FLT_MAX, float(max_value), target)
    if fn == "relu6":
        return _clip(name, bottom, top, 0.0, 6.0, target)
    if fn == "sigmoid":
        return [CaffeLayer(name, "Sigmoid", [bottom], [top])]
    if fn == "tanh":
        return [CaffeLayer(name, "TanH", [bottom], [top])]
    if fn == "softmax":
        if attrs.get("axis", -1) != -1:
            raise Unsupported("softmax over axis %r" % attrs.get("axis"))
        return [CaffeLayer(name, "Softmax", [bottom], [top], {"softmax_param": {"axis": 1}})]
    raise Unsupported("activation function %r" % fn)


@register("activation", flat_ok=True, composition="ReLU / Clip / Sigmoid / TanH / Softmax")
def activation(node, ins, arrays, names, target):
    src = ins[0]
    layers = lower_activation(node["attrs"], src.blob, names.top, names.layer, target)
    return Lowering(layers, [TensorRef(names.top, src.shape, src.layout)])
