"""The building blocks of the attention lowerings (handlers/attention.py): matrix products per sample of
two activations, from stock Caffe 1.0 layers, exactly.

Caffe multiplies two activations only elementwise: Eltwise PROD (blobs of one shape), or Scale / Bias with
a second bottom, which broadcast that bottom over the trailing axes of the first. It sums with a
Convolution (over the channels, or over a window of rows) or a Reduction (over the trailing axes). So a
product contracting k is laid out as one 4-D blob of every product term: one operand repeated by Tile,
the other broadcast by Scale (or both tiled and multiplied by Eltwise PROD), then summed along k by one
Convolution (weights 1, or the score's scale) or Reduction. Each output is the float32 sum of the same
products as TF's, in another order. A matrix is held in a blob in one of two orders per sample: k-major
[k][free] (a sequence (L, C) contracted over C: its Caffe blob (C, 1, L)) or free-major [free][k] (contracted
over L); a vector is both. Blobs are tracked with their per-sample shape (Blob), so a Reshape is added only
where the shape changes.

Cost, for two operands of free sizes A and B contracting K: 3 to 7 layers whatever the sizes, and blobs
of K * A * B values per sample (every head's), about three of them (the tiled operand, the terms, a tanh
of them); over MAX_TERMS terms a product is refused."""
import numpy as np

from ..registry import Unsupported
from .recurrent_steps import Builder

MASKED = -1e9      # added to a masked score: its softmax weight is exactly 0 (exp underflows), as in TF
MAX_TERMS = 1 << 26     # product terms per sample (a 256 MiB blob of them, held about three times)


def _terms(count):
    if count > MAX_TERMS:
        raise Unsupported("a product of %d terms per sample (over %d: a blob of %d MiB each, about three of them)"
                          % (count, MAX_TERMS, count * 4 >> 20))


class Blob(object):
    """A blob and its shape without the batch axis."""

    def __init__(self, name, dims):
        self.name, self.dims = name, [int(d) for d in dims]

    @property
    def size(self):
        return int(np.prod(self.dims)) if self.dims else 1


class Ops(Builder):
    """Builder (recurrent_steps.py) with shape-tracked blobs."""

    def view(self, role, x, dims):
        dims = [int(d) for d in dims]
        if x.dims == dims:
            return x
        return Blob(self.reshape(role, x.name, [0] + dims), dims)

    def tile(self, role, x, axis, tiles):
        """x repeated `tiles` times along `axis` (counted with the batch axis)."""
        if tiles == 1:
            return x
        dims = list(x.dims)
        dims[axis - 1] *= tiles
        return Blob(self.add(role, "Tile", [x.name], {"tile_param": {"axis": axis, "tiles": int(tiles)}}), dims)

    def broadcast(self, role, kind, x, y):
        """x times (Scale) or plus (Bias) y, y's shape a leading run of x's, broadcast over the rest."""
        param = {"scale_param": {"axis": 0, "bias_term": False}} if kind == "Scale" else {"bias_param": {"axis": 0}}
        return Blob(self.add(role, kind, [x.name, y.name], param), x.dims)

    def prod(self, role, xs):
        return Blob(self.eltwise(role, [x.name for x in xs], "PROD"), xs[0].dims)

    def layer(self, role, kind, x, params=None, dims=None, blobs=None):
        return Blob(self.add(role, kind, [x.name], params, blobs), x.dims if dims is None else dims)

    def power(self, role, x, power=1.0, scale=1.0, shift=0.0):
        return self.layer(role, "Power", x, {"power_param": {"power": float(power), "scale": float(scale),
                                                             "shift": float(shift)}})

    def conv(self, role, x, weights, group, bias=None):
        """A Convolution of x (C, H, W) with `weights` (out, C / group, kh, 1), no padding."""
        weights = np.ascontiguousarray(weights, dtype=np.float32)
        out, kh = weights.shape[0], weights.shape[2]
        param = {"num_output": int(out), "kernel_h": int(kh), "kernel_w": 1, "group": int(group),
                 "bias_term": bias is not None}
        blobs = [weights] + ([np.ascontiguousarray(bias, dtype=np.float32)] if bias is not None else [])
        return self.layer(role, "Convolution", x, {"convolution_param": param},
                          [out, x.dims[1] - kh + 1, x.dims[2]], blobs)

    def dense(self, role, x, kernel, bias):
        """A Keras kernel (in, out) on every step of a sequence blob (in, 1, L): a 1x1 Convolution."""
        kernel = np.asarray(kernel, dtype=np.float32)
        return self.conv(role, x, kernel.T[:, :, None, None], 1, bias)

    def finish(self, x, dims, names, index=0):
        """x viewed as `dims`, written to the node's output `index`: by a Reshape, or for the main output, which
        is made last, by the layer that made x, renamed (the layer carries the TF layer's name)."""
        top = names.outputs[index]
        last = self.layers[-1] if self.layers else None
        if index == 0 and x.dims == [int(d) for d in dims] and last is not None and last.tops == [x.name]:
            last.tops, last.name = [top], names.layer
            return Blob(top, dims)
        return Blob(self.reshape("out%d" % index if index else "out", x.name, [0] + list(dims), top=top,
                                 name=names.layer if index == 0 else None), dims)


def scores(ops, role, x, y, heads, weight, kind="Scale", between=None):
    """out[h][j][i] = sum_d weight[d] * f(x[h d][i] o y[h d][j]), as (heads, B, A): x and y k-major
    ((H * D, 1, A) and (H * D, 1, B), or vectors), o a product (kind Scale) or a sum (Bias), f the layers
    `between` adds (tanh), weight one value or one per d. x is tiled B times (Tile), y broadcast over A
    (Scale / Bias), each head's d summed by a grouped 1x1 Convolution: 4 layers (+ views)."""
    hd = x.dims[0]
    a, b = x.size // hd, y.size // hd
    _terms(hd * a * b)
    xt = ops.tile(role + "_tile", ops.view(role + "_x", x, [hd, 1, a]), 2, b)
    yv = y if (b == 1 and y.dims == [hd]) else ops.view(role + "_y", y, [hd, b])
    p = ops.broadcast(role + "_terms", kind, xt, yv)
    if between is not None:
        p = between(p)
    w = np.broadcast_to(np.asarray(weight, np.float32).reshape(-1), (hd,)).reshape(heads, hd // heads, 1, 1)
    return ops.conv(role + "_sum", p, w, heads)


def weighted(ops, role, w, v, heads):
    """out[h e][i] = sum_k w[h][k][i] * v[h e][k], as (H * E, 1, A): w the weights (H, K, A), v free-major
    (H * E, 1, K), or a vector (E, K flat). w is tiled E times within each head, v broadcast over A (Scale),
    k summed by a depthwise Convolution with a K x 1 window of ones: 3-5 layers."""
    _, k, a = w.dims
    e = v.size // (heads * k)
    _terms(heads * e * k * a)
    if heads == 1:
        wt = ops.tile(role + "_tile", w, 1, e)
    else:
        wt = ops.view(role + "_w_view", ops.tile(role + "_tile", ops.view(role + "_w", w, [heads, 1, k * a]), 2, e),
                      [heads * e, k, a])
    p = ops.broadcast(role + "_terms", "Scale", wt, ops.view(role + "_v", v, [heads * e, k]))
    return ops.conv(role + "_sum", p, np.ones((heads * e, 1, k, 1), np.float32), heads * e)


def last_axis(ops, role, x, y, coeff=1.0):
    """out[j][i] = sum_k x[i][k] * y[j][k], as (B, A): x and y free-major ((A, 1, K), (B, 1, K), or vectors).
    Both tiled to (B, A, K), Eltwise PROD, Reduction SUM over k: 3-7 layers."""
    k = x.dims[-1]
    a, b = x.size // k, y.size // k
    _terms(a * b * k)
    if a == 1 and b == 1 and x.dims == y.dims:
        p = ops.prod(role + "_terms", [x, y])
        return ops.layer(role + "_sum", "Reduction", p, {"reduction_param": {
            "operation": "SUM", "axis": 1, "coeff": float(coeff)}}, [])
    xt = ops.tile(role + "_x_tile", ops.view(role + "_x", x, [1, a, k]), 1, b)
    yt = ops.tile(role + "_y_tile", ops.view(role + "_y", y, [b, 1, k]), 2, a)
    p = ops.prod(role + "_terms", [xt, yt])
    return ops.layer(role + "_sum", "Reduction", p, {"reduction_param": {
        "operation": "SUM", "axis": 3, "coeff": float(coeff)}}, [b, a])


def l2_normalize(ops, role, x, kmajor, epsilon):
    """x * min(1 / |x|, 1 / epsilon) along k (Keras' normalize): the sum of squares (Power + a 1x1
    Convolution over channels for a k-major sequence, else Reduction SUMSQ over the trailing axes),
    Power -0.5, the cap (ReLU with a maximum), and Tile + Eltwise PROD or Scale back onto x."""
    cap = {"function": "relu", "negative_slope": 0.0, "max_value": 1.0 / epsilon if epsilon > 0 else 3.4e38,
           "threshold": 0.0}
    if kmajor and len(x.dims) == 3:
        k = x.dims[0]
        squares = ops.power(role + "_square", x, 2.0)
        total = ops.conv(role + "_sumsq", squares, np.ones((1, k, 1, 1), np.float32), 1)
    else:
        axis = 1 if len(x.dims) == 1 else 2
        total = ops.layer(role + "_sumsq", "Reduction", x, {"reduction_param": {"operation": "SUMSQ", "axis": axis}},
                          x.dims[:axis - 1])
    inverse = ops.power(role + "_rsqrt", total, -0.5)
    inverse = Blob(ops.activate(role + "_cap", cap, inverse.name), inverse.dims)
    if kmajor and len(x.dims) == 3:
        return ops.prod(role, [x, ops.tile(role + "_tile", inverse, 1, x.dims[0])])
    return ops.broadcast(role, "Scale", x, inverse)


def mask_bias(ops, role, x, query_steps, key_steps, causal, window):
    """x (H, K, Q) + MASKED where query step i may not see key step j (causal: j > i; window: |i - j| >= it),
    a Bias with a constant (K, Q) blob; None when nothing is masked. Raises ValueError naming a query step
    that would see no key step (TF's softmax of a fully masked row is not reproduced exactly)."""
    i = np.arange(query_steps)[None, :]
    j = np.arange(key_steps)[:, None]
    allowed = np.ones((key_steps, query_steps), bool)
    if causal:
        allowed &= j <= i
    if window:
        allowed &= np.abs(i - j) < window
    if allowed.all():
        return x
    blind = np.flatnonzero(~allowed.any(axis=0))
    if blind.size:
        raise ValueError("query step %d attends to no key step" % blind[0])
    blob = np.where(allowed, 0.0, MASKED).astype(np.float32)
    return ops.layer(role, "Bias", x, {"bias_param": {"axis": 2, "num_axes": 2}}, blobs=[blob])
