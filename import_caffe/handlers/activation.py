"""Activations: relu (negative slope, max value, threshold), relu6, clip, sigmoid, hard_sigmoid, tanh,
softmax (any axes), elu, selu, celu, softplus, softsign, silu/swish, hard_silu, gelu, mish,
log_sigmoid, tanh_shrink, hard_shrink, soft_shrink, sparse_plus, squareplus, exponential; and prelu.

Every lowering is exact up to float32 round-off except gelu's erf form, which stock Caffe cannot
compute: it uses an erfc approximation whose fractional error is below 1.2e-7 (see APPROXIMATIONS;
the report lists it with the error measured against TF). Where the target lacks Clip, clipping is the
exact composition -max(-max(x, lo), -hi) of Power and Eltwise MAX; where it lacks Swish, silu is
Sigmoid + Eltwise PROD.
"""
import math

import numpy as np

from .. import layout
from ..plan import CaffeLayer, Lowering, TensorRef
from ..registry import Unsupported, register

FLT_MAX = 3.4028234663852886e38

# Numerical Recipes' erfc (Chebyshev fit, fractional error < 1.2e-7 for every z >= 0):
# erfc(z) = t * exp(-z^2 + c0 + c1 t + ... + c9 t^9), t = 1 / (1 + z / 2).
ERFC_COEFFS = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398,
               1.48851587, -0.82215223, 0.17087277)
GELU_ERF = ("gelu's erf form (stock Caffe has no erf) as relu(x) - |x| erfc(|x|/sqrt(2)) / 2 with Numerical "
            "Recipes' erfc (fractional error < 1.2e-7)")


class _Net(object):
    """The layers of one activation: helpers are layer and blob '<name>/<role>'; the final layer is
    <name> writing `top`."""

    def __init__(self, name, top, target):
        self.name, self.top, self.target = name, top, target
        self.layers = []

    def add(self, role, type, bottoms, params=None, final=False):
        name = self.name if final else "%s/%s" % (self.name, role)
        blob = self.top if final else name
        self.layers.append(CaffeLayer(name, type, bottoms, [blob], params))
        return blob

    def power(self, role, x, power=1.0, scale=1.0, shift=0.0, final=False):
        return self.add(role, "Power", [x], {"power_param": {"power": float(power), "scale": float(scale),
                                                             "shift": float(shift)}}, final)

    def const(self, role, like, value):
        """A blob shaped like `like` holding `value` exactly (Power ignores its input when scale is 0)."""
        return self.power(role, like, 1.0, 0.0, value)

    def eltwise(self, role, xs, operation, coeff=None, final=False):
        param = {"operation": operation}
        if coeff is not None:
            param["coeff"] = [float(c) for c in coeff]
        return self.add(role, "Eltwise", list(xs), {"eltwise_param": param}, final)

    def relu(self, role, x, slope=0.0, final=False):
        return self.add(role, "ReLU", [x], {"relu_param": {"negative_slope": float(slope)}}, final)

    def clip(self, role, x, lo, hi, final=False):
        """min(max(x, lo), hi), either bound None for none: Clip, or exactly max with Eltwise MAX
        (ReLU for 0) and min(y, hi) = -max(-y, -hi) where the target has no Clip."""
        if self.target.has_clip:
            lo = -FLT_MAX if lo is None else float(lo)
            hi = FLT_MAX if hi is None else float(hi)
            return self.add(role, "Clip", [x], {"clip_param": {"min": lo, "max": hi}}, final)
        if lo is not None:
            last = final and hi is None
            if lo == 0:
                x = self.relu(role + "_lo", x, final=last)
            else:
                x = self.eltwise(role + "_lo", [x, self.const(role + "_lo_value", x, lo)], "MAX", final=last)
        if hi is not None:
            neg = self.power(role + "_neg", x, scale=-1.0)
            low = self.eltwise(role + "_hi", [neg, self.const(role + "_hi_value", x, -hi)], "MAX")
            x = self.power(role + "_min", low, scale=-1.0, final=final)
        return x


def _relu(net, x, a, ref):
    slope = float(a["negative_slope"])
    max_value = a["max_value"]
    threshold = float(a["threshold"])
    if threshold == 0.0:
        if max_value is None:
            return net.relu("relu", x, slope, final=True)
        if slope == 0.0:
            return net.clip("clip", x, 0.0, max_value, final=True)
        return net.clip("clip", net.relu("leaky", x, slope), None, max_value, final=True)
    # Keras: y = x where x > threshold else 0; clip(y, 0, max_value); y -= slope * relu(threshold - x)
    plain = max_value is None and slope == 0.0
    mask = net.add("mask", "Threshold", [x], {"threshold_param": {"threshold": threshold}})
    y = net.eltwise("kept", [x, mask], "PROD", final=plain)
    if max_value is not None:
        y = net.clip("clip", y, 0.0, max_value, final=slope == 0.0)
    if slope != 0.0:
        below = net.relu("below", net.power("flip", x, scale=-1.0, shift=threshold))
        y = net.eltwise("sum", [y, below], "SUM", [1.0, -slope], final=True)
    return y


def _hard_sigmoid(net, x, a, final=True):
    """clip(slope * x + offset, 0, 1): Keras 3's relu6(x + 3) / 6, Keras 2's clip(0.2 x + 0.5, 0, 1)."""
    lin = net.power("linear", x, scale=a["slope"], shift=a["offset"])
    return net.clip("hard_sigmoid", lin, 0.0, 1.0, final=final)


def _silu(net, x, a, ref):
    if net.target.has_swish:
        return net.add("swish", "Swish", [x], {"swish_param": {"beta": 1.0}}, final=True)
    return net.eltwise("prod", [x, net.add("sigmoid", "Sigmoid", [x])], "PROD", final=True)


def _gelu(net, x, a, ref):
    if a["approximate"]:
        # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as TF computes it
        c = math.sqrt(2.0 / math.pi)
        cube = net.power("cube", x, power=3.0)
        inner = net.eltwise("inner", [x, cube], "SUM", [c, c * 0.044715])
        half = net.power("half", net.add("tanh", "TanH", [inner]), scale=0.5, shift=0.5)
        return net.eltwise("prod", [x, half], "PROD", final=True)
    u = net.add("abs", "AbsVal", [x])
    step = 0.5 / math.sqrt(2.0)                       # t = 1 / (1 + z/2), z = |x| / sqrt(2)
    powers = [net.power("t%d" % k, u, power=-k, scale=step, shift=1.0) for k in range(1, 10)]
    z2 = net.power("z2", u, power=2.0, scale=1.0 / math.sqrt(2.0))
    poly = net.eltwise("poly", [z2] + powers, "SUM", [-1.0] + list(ERFC_COEFFS[1:]))
    expo = net.add("exp", "Exp", [poly], {"exp_param": {"base": -1.0, "scale": 1.0, "shift": ERFC_COEFFS[0]}})
    tail = net.eltwise("tail", [u, powers[0], expo], "PROD")          # |x| erfc(|x| / sqrt(2))
    return net.eltwise("sum", [net.relu("relu", x), tail], "SUM", [1.0, -0.5], final=True)


def _softmax(net, x, a, ref):
    axis = a["axis"]
    if axis == -1:      # the channel axis: Caffe axis 1 for images, sequences and vectors
        return net.add("softmax", "Softmax", [x], {"softmax_param": {"axis": 1}}, final=True)
    if ref is None:
        raise Unsupported("softmax over axis %r" % (axis,))
    try:
        axes = sorted(set(layout.caffe_axis(t, ref.layout) for t in (axis if isinstance(axis, list) else [axis])))
    except (ValueError, KeyError):
        raise Unsupported("softmax over axis %r of a %s tensor" % (axis, ref.layout.kind))
    dims = [None] + layout.caffe_shape(ref.shape, ref.layout)
    lo, hi = axes[0], axes[-1]
    if 0 in axes or any(i not in axes and dims[i] != 1 for i in range(lo, hi + 1)):
        raise Unsupported("softmax over TF axes %r: Caffe axes %r are not contiguous" % (axis, axes))
    if lo == hi:
        return net.add("softmax", "Softmax", [x], {"softmax_param": {"axis": lo}}, final=True)
    merged = net.add("merge", "Reshape", [x], {"reshape_param": {"shape": {"dim": [-1]}, "axis": lo,
                                                                 "num_axes": hi - lo + 1}})
    probs = net.add("softmax", "Softmax", [merged], {"softmax_param": {"axis": lo}})
    return net.add("split", "Reshape", [probs], {"reshape_param": {"shape": {"dim": dims[lo:hi + 1]},
                                                                   "axis": lo, "num_axes": 1}}, final=True)


def _celu(net, x, a, ref):
    alpha = float(a["alpha"])
    if alpha == 0.0:
        raise Unsupported("celu with alpha 0 (Keras divides by alpha)")
    if alpha == 1.0:
        return net.add("elu", "ELU", [x], {"elu_param": {"alpha": 1.0}}, final=True)
    elu = net.add("elu", "ELU", [net.power("in", x, scale=1.0 / alpha)], {"elu_param": {"alpha": 1.0}})
    return net.power("out", elu, scale=alpha, final=True)


def _shrink(net, x, a, ref):
    """hard_shrink: x where |x| > t else 0 (two Threshold masks); soft_shrink: relu(x - t) - relu(-x - t)."""
    t = float(a["threshold"])
    if a["function"] == "hard_shrink":
        above = net.add("above", "Threshold", [x], {"threshold_param": {"threshold": t}})
        below = net.add("below", "Threshold", [net.power("flip", x, scale=-1.0)], {"threshold_param": {"threshold": t}})
        return net.eltwise("prod", [x, net.eltwise("mask", [above, below], "SUM")], "PROD", final=True)
    above = net.relu("above", net.power("shift", x, shift=-t))
    below = net.relu("below", net.power("flip_shift", x, scale=-1.0, shift=-t))
    return net.eltwise("sum", [above, below], "SUM", [1.0, -1.0], final=True)


def _sparse_plus(net, x, a, ref):
    """0 below -1, (x + 1)^2 / 4 between, x above 1: ((clip(x, -1, 1) + 1) / 2)^2 + relu(x - 1)."""
    middle = net.power("square", net.clip("clip", x, -1.0, 1.0), power=2.0, scale=0.5, shift=0.5)
    return net.eltwise("sum", [middle, net.relu("above", net.power("shift", x, shift=-1.0))], "SUM", final=True)


def _squareplus(net, x, a, ref):
    """(x + sqrt(x^2 + b)) / 2."""
    root = net.power("root", net.power("square", x, power=2.0), power=0.5, shift=a["b"])
    return net.eltwise("sum", [x, root], "SUM", [0.5, 0.5], final=True)


def _simple(type, params=None):
    return lambda net, x, a, ref: net.add(type.lower(), type, [x], params, final=True)


_LOWERINGS = {
    "relu": _relu,
    "relu6": lambda net, x, a, ref: net.clip("clip", x, 0.0, 6.0, final=True),
    "clip": lambda net, x, a, ref: net.clip("clip", x, a["min"], a["max"], final=True),
    "sigmoid": _simple("Sigmoid"),
    "tanh": _simple("TanH"),
    "softplus": _simple("BNLL"),
    "exponential": _simple("Exp"),
    "softmax": _softmax,
    "elu": lambda net, x, a, ref: net.add("elu", "ELU", [x], {"elu_param": {"alpha": float(a["alpha"])}},
                                          final=True),
    "selu": lambda net, x, a, ref: net.power("scale", net.add("elu", "ELU", [x], {"elu_param": {
        "alpha": float(a["alpha"])}}), scale=a["scale"], final=True),
    "celu": _celu,
    "softsign": lambda net, x, a, ref: net.eltwise("prod", [x, net.power("inverse", net.add("abs", "AbsVal", [x]),
                                                                         power=-1.0, shift=1.0)], "PROD", final=True),
    "silu": _silu,
    "hard_sigmoid": lambda net, x, a, ref: _hard_sigmoid(net, x, a),
    "hard_silu": lambda net, x, a, ref: net.eltwise("prod", [x, _hard_sigmoid(net, x, a, final=False)], "PROD",
                                                    final=True),
    "gelu": _gelu,
    "mish": lambda net, x, a, ref: net.eltwise("prod", [x, net.add("tanh", "TanH", [net.add("softplus", "BNLL", [x])])],
                                               "PROD", final=True),
    "log_sigmoid": lambda net, x, a, ref: net.power("negate", net.add("softplus", "BNLL", [
        net.power("flip", x, scale=-1.0)]), scale=-1.0, final=True),
    "hard_shrink": _shrink,
    "soft_shrink": _shrink,
    "sparse_plus": _sparse_plus,
    "squareplus": _squareplus,
    "tanh_shrink": lambda net, x, a, ref: net.eltwise("sum", [x, net.add("tanh", "TanH", [x])], "SUM", [1.0, -1.0],
                                                      final=True),
}
FUNCTIONS = tuple(sorted(_LOWERINGS))


def lower_activation(attrs, bottom, top, name, target, ref=None):
    """Caffe layers computing the activation `attrs` from blob bottom into blob top. ref: the input's
    TensorRef, needed only by a softmax over other axes than the channels."""
    fn = attrs["function"]
    if fn not in _LOWERINGS:
        raise Unsupported("activation function %r (supported: %s)" % (fn, ", ".join(FUNCTIONS)))
    net = _Net(name, top, target)
    _LOWERINGS[fn](net, bottom, attrs, ref)
    return net.layers


def approximations(node):
    """What approximate lowerings `node` uses (its own activation or a fused one): [description]."""
    attrs = node.get("attrs") or {}
    act = attrs if node.get("op") == "activation" else attrs.get("activation")
    if isinstance(act, dict) and act["function"] == "gelu" and not act["approximate"]:
        return [GELU_ERF]
    return []


def _note(attrs, target):
    fn = attrs["function"]    # (gelu's erf form is listed with the approximations, not here)
    clips = fn in ("relu6", "clip", "hard_sigmoid", "hard_silu", "sparse_plus") or (fn == "relu" and attrs["max_value"] is not None)
    if clips and not target.has_clip:
        return "clipped exactly with ReLU / Power / Eltwise MAX (target %s has no Clip)" % target.name
    if fn == "silu" and not target.has_swish:
        return "silu as Sigmoid + Eltwise PROD (target %s has no Swish)" % target.name
    return None


def _channel_softmax_or_elementwise(node, ins):
    attrs = node["attrs"]
    return attrs["function"] != "softmax" or attrs["axis"] == -1


@register("activation", flat_ok=_channel_softmax_or_elementwise,
          composition="ReLU / Clip / Sigmoid / TanH / Softmax / ELU / BNLL / Exp / Swish, or exact Power / AbsVal / "
                      "Threshold / Eltwise compositions",
          approximate="gelu's default erf form: stock Caffe has no erf; a composition within ~2e-7")
def activation(node, ins, arrays, names, target):
    src = ins[0]
    layers = lower_activation(node["attrs"], src.blob, names.top, names.layer, target, src)
    return Lowering(layers, [TensorRef(names.top, src.shape, src.layout)], note=_note(node["attrs"], target))


@register("prelu", flat_ok=True, composition="PReLU (a slope per channel), else ReLU + Power + Scale + Eltwise")
def prelu(node, ins, arrays, names, target):
    src = ins[0]
    alpha = arrays["alpha"].astype("float32")
    out = [TensorRef(names.top, src.shape, src.layout)]
    per_channel = src.layout.kind != layout.FLAT_CHW and all(d == 1 for d in alpha.shape[:-1]) and \
        alpha.shape[-1] == src.shape[-1]
    if alpha.size == 1 or per_channel:
        # one slope is written per channel too (Caffe's channel_shared blob is 0-d, which weight files
        # written from numpy arrays do not keep)
        channels = layout.caffe_shape(src.shape, src.layout)[0]
        slopes = np.full(channels, alpha.reshape(-1)[0], np.float32) if alpha.size == 1 else alpha.reshape(-1)
        layer = CaffeLayer(names.layer, "PReLU", [src.blob], [names.top], {"prelu_param": {"channel_shared": False}},
                           [np.ascontiguousarray(slopes, dtype=np.float32)])
        return Lowering([layer], out)
    # relu(x) - alpha * relu(-x), as Keras computes it, with alpha broadcast to the whole (C, H, W) blob
    full = np.broadcast_to(alpha, tuple(src.shape))[None]
    slopes = layout.activation_to_caffe(-full, src.layout)[0]
    net = _Net(names.layer, names.top, target)
    pos = net.relu("pos", src.blob)
    neg = net.relu("neg", net.power("flip", src.blob, scale=-1.0))
    scaled = net.add("scaled", "Scale", [neg], {"scale_param": {"axis": 1, "num_axes": slopes.ndim}})
    net.layers[-1].blobs = [np.ascontiguousarray(slopes, dtype=np.float32)]
    net.eltwise("sum", [pos, scaled], "SUM", final=True)
    return Lowering(net.layers, out, note="PReLU with alpha along %s: ReLU + Power + Scale + Eltwise SUM"
                    % "x".join(str(d) for d in alpha.shape))
