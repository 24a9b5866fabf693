"""The building blocks of the recurrent lowerings (handlers/recurrent.py): a sequence moved between its
layout (N, C, 1, L) and Caffe's time-major (T, N, C), the exact Caffe LSTM, and the unrolled cells.

Every step is exact: Slice, Concat and Reshape move values without arithmetic, an InnerProduct with
`axis: 2` is the matrix product of each step, and the gates are Eltwise / Sigmoid / TanH / Power / Clip
(the activation lowerings of handlers/activation.py). A blob of zeros is an InnerProduct with zero weights
and no bias, a blob of ones one with a bias of 1: both follow the batch size."""
import numpy as np

from ..plan import CaffeLayer
from .activation import lower_activation
from .common import crop_axis


class Builder(object):
    """The layers of one node: helper layers and blobs are '<layer>/<role>'."""

    def __init__(self, names, target):
        self.names, self.target = names, target
        self.layers = []

    def add(self, role, type, bottoms, params=None, blobs=None, tops=None, name=None):
        tops = [self.names.sub(role)] if tops is None else list(tops)
        self.layers.append(CaffeLayer(name or self.names.sub(role), type, bottoms, tops, params, blobs))
        return tops[0] if len(tops) == 1 else tops

    def reshape(self, role, bottom, dims, top=None, name=None):
        return self.add(role, "Reshape", [bottom], {"reshape_param": {"shape": {"dim": list(dims)}}},
                        tops=None if top is None else [top], name=name)

    def eltwise(self, role, bottoms, operation, coeff=None, top=None, name=None):
        param = {"operation": operation}
        if coeff is not None:
            param["coeff"] = [float(c) for c in coeff]
        return self.add(role, "Eltwise", list(bottoms), {"eltwise_param": param},
                        tops=None if top is None else [top], name=name)

    def product(self, role, bottom, weight, bias=None):
        """bottom (T, N, K) times weight.T (weight: (out, K), Caffe's InnerProduct layout) plus bias."""
        weight = np.ascontiguousarray(weight, dtype=np.float32)
        param = {"num_output": int(weight.shape[0]), "axis": 2, "bias_term": bias is not None}
        blobs = [weight] + ([np.ascontiguousarray(bias, dtype=np.float32)] if bias is not None else [])
        return self.add(role, "InnerProduct", [bottom], {"inner_product_param": param}, blobs)

    def constant(self, role, bottom, channels, width, value):
        """A (T, N, width) blob of `value` (0 or 1) shaped after bottom (T, N, channels)."""
        bias = None if value == 0 else np.full(width, value, np.float32)
        return self.product(role, bottom, np.zeros((width, channels), np.float32), bias)

    def slice(self, role, bottom, axis, count):
        """`count` equal pieces along `axis` (the blob itself for one)."""
        if count == 1:
            return [bottom]
        tops = ["%s/%d" % (self.names.sub(role), i) for i in range(count)]
        return self.add(role, "Slice", [bottom], {"slice_param": {"axis": axis}}, tops=tops)

    def activate(self, role, attrs, bottom):
        if attrs is None:
            return bottom
        top = self.names.sub(role)
        self.layers += lower_activation(attrs, bottom, top, top, self.target)
        return top


def steps(b, src, length):
    """The steps (N, C, 1, 1) of a sequence blob (N, C, 1, L)."""
    return b.slice("steps", src, 3, length)


def time_major(b, role, pieces, channels, reverse):
    """(T, N, C) from the steps, in reverse order if asked: Concat along the batch axis gives (T * N, C, 1, 1)
    with step t's samples together, which Reshape views as (T, N, C)."""
    order = list(reversed(pieces)) if reverse else list(pieces)
    joined = order[0] if len(order) == 1 else b.add(role + "_concat", "Concat", order, {"concat_param": {"axis": 0}})
    return b.reshape(role, joined, [len(order), -1, channels])


def to_sequence(b, role, blob, length, width, reverse, top, name=None):
    """(T, N, U) back to the sequence layout (N, U, 1, T): viewed as (T, N, U, 1), sliced into steps
    (1, N, U, 1), concatenated along the last axis (1, N, U, T) (in reverse order if asked), which has the
    values of (N, U, 1, T) in Caffe's order."""
    column = b.reshape(role + "_column", blob, [length, -1, width, 1])
    pieces = b.slice(role + "_steps", column, 0, length)
    if reverse:
        pieces = list(reversed(pieces))
    joined = pieces[0] if length == 1 else b.add(role + "_concat", "Concat", pieces, {"concat_param": {"axis": 3}})
    return b.reshape(role, joined, [-1, width, 1, length], top=top, name=name)


def last_step(b, role, blob, length, width, top, name=None):
    """Step T - 1 of (T, N, U) as a vector (N, U)."""
    layers, last = crop_axis(b.names.sub(role + "_last"), blob, b.names.sub(role + "_last"), 0, length - 1, 1, length)
    b.layers += layers
    return b.reshape(role, last, [-1, width], top=top, name=name)


def caffe_lstm(b, role, x, length, channels, units, kernel, recurrent, bias, states, init=None):
    """Caffe's LSTM on x (T, N, C), gates reordered from Keras' i, f, c, o to Caffe's i, f, o, g, the bias
    on the input transform as in Keras. Without initial states the continuation blob (T, N) is 0 at t = 0
    and 1 after (ones from an InnerProduct, scaled per step by a Scale blob (0, 1, ..., 1)): Caffe then
    multiplies h_0 and c_0 by 0. With initial states `init` ([h_0, c_0] as (N, U) blobs) it is 1 at every
    step and expose_hidden reads them as its bottoms h_0, c_0 (1, N, U). expose_hidden also gives h_T and
    c_T as tops: the final states with `states` (zeros for the initial states it then reads without
    `init`), else sent to Silence. Returns (all h (T, N, U), [h_T, c_T] as (1, N, U) or [])."""
    order = np.concatenate([np.arange(g * units, (g + 1) * units) for g in (0, 1, 3, 2)])
    w_x = np.ascontiguousarray(np.asarray(kernel, np.float32)[:, order].T)
    w_h = np.ascontiguousarray(np.asarray(recurrent, np.float32)[:, order].T)
    b_x = np.zeros(4 * units, np.float32) if bias is None else np.asarray(bias, np.float32)[order]
    cont = b.constant(role + "_ones", x, channels, 1, 1.0)
    if not init:
        starts = np.ones(length, np.float32)
        starts[0] = 0.0
        param = {"scale_param": {"axis": 0, "num_axes": 1, "bias_term": False}}
        cont = b.add(role + "_cont_steps", "Scale", [cont], param, [starts])
    cont = b.reshape(role + "_cont", cont, [0, -1])
    bottoms, tops = [x, cont], [b.names.sub(role)]
    param = {"num_output": units}
    if states or init:
        bottoms += initial_states(b, role, x, length, channels, units, 2, init)
        tops += [b.names.sub(role + "_hT"), b.names.sub(role + "_cT")]
        param["expose_hidden"] = True
    out = b.add(role, "LSTM", bottoms, {"recurrent_param": param}, [w_x, b_x, w_h], tops=tops)
    if not (states or init):
        return out, []
    if not states:
        b.add(role + "_final_unused", "Silence", out[1:], tops=[])
    return out[0], (out[1:] if states else [])


def initial_states(b, role, x, length, channels, units, count, init=None):
    """`count` initial states (1, N, U) for x (T, N, C): the given (N, U) blobs viewed so, else zeros
    (an InnerProduct of zero weights on step 0)."""
    names = ("h0", "c0")[:count]
    if init:
        return [b.reshape(role + "_" + n, blob, [1, -1, units]) for n, blob in zip(names, init)]
    layers, first = crop_axis(b.names.sub(role + "_first"), x, b.names.sub(role + "_first"), 0, 0, 1, length)
    b.layers += layers
    return [b.constant(role + "_" + n, first, channels, units, 0) for n in names]


def unrolled(b, role, op, attrs, x, length, channels, kernel, recurrent, bias, reverse, init=None):
    """The cell `op` unrolled over the steps of x (T, N, C) (read from the end if reverse): the input
    product of every step at once (one InnerProduct), then each step's recurrent product and gates, from
    the initial states `init` ([h (, c)] as (N, U) blobs) or zeros.
    Returns ([h of each step in processing order, (1, N, U)], [final h (and c)])."""
    units = attrs["units"]
    bias = None if bias is None else np.asarray(bias, np.float32)
    x_bias = bias if bias is None or bias.ndim == 1 else bias[0]
    h_bias = None if bias is None or bias.ndim == 1 else bias[1]
    kernel, recurrent = np.asarray(kernel, np.float32), np.asarray(recurrent, np.float32)
    projected = b.product(role + "_x", x, kernel.T, x_bias)
    pieces = b.slice(role + "_x_steps", projected, 0, length)
    if reverse:
        pieces = list(reversed(pieces))
    if init:
        h = b.reshape(role + "_h0", init[0], [1, -1, units])
        c = b.reshape(role + "_c0", init[1], [1, -1, units]) if op == "lstm" else None
    else:
        h = b.constant(role + "_h0", pieces[0], kernel.shape[1], units, 0)
        c = b.constant(role + "_c0", pieces[0], kernel.shape[1], units, 0) if op == "lstm" else None
    outputs = []
    for t, p in enumerate(pieces):
        r = "%s_t%d" % (role, t)
        if op == "lstm":
            h, c = _lstm_step(b, r, attrs, p, h, c, recurrent)
        elif op == "gru":
            h = _gru_step(b, r, attrs, p, h, recurrent, h_bias)
        else:
            h = b.activate(r + "_h", attrs["cell_activation"], b.eltwise(r + "_sum", [p, b.product(r + "_rec", h, recurrent.T)], "SUM"))
        outputs.append(h)
    return outputs, [h] if c is None else [h, c]


def _lstm_step(b, r, attrs, p, h, c, recurrent):
    """Keras' LSTM cell: z = x W + b + h U; i, f, o gates, g candidate; c = f c + i g; h = o act(c)."""
    z = b.eltwise(r + "_z", [p, b.product(r + "_rec", h, recurrent.T)], "SUM")
    i, f, g, o = b.slice(r + "_gates", z, 2, 4)
    gate, act = attrs["recurrent_activation"], attrs["cell_activation"]
    i, f, o = (b.activate(r + "_" + n, gate, v) for n, v in (("i", i), ("f", f), ("o", o)))
    g = b.activate(r + "_g", act, g)
    c = b.eltwise(r + "_c", [b.eltwise(r + "_fc", [f, c], "PROD"), b.eltwise(r + "_ig", [i, g], "PROD")], "SUM")
    return b.eltwise(r + "_h", [o, b.activate(r + "_act_c", act, c)], "PROD"), c


def _gru_step(b, r, attrs, p, h, recurrent, h_bias):
    """Keras' GRU cell (z, r, h gates): reset_after multiplies the reset gate into the recurrent product
    (with its own bias), else into h before it; then h = z h_prev + (1 - z) candidate."""
    units = attrs["units"]
    gate, act = attrs["recurrent_activation"], attrs["cell_activation"]
    xz, xr, xh = b.slice(r + "_x", p, 2, 3)
    if attrs["reset_after"]:
        hz, hr, hh = b.slice(r + "_rec_gates", b.product(r + "_rec", h, recurrent.T, h_bias), 2, 3)
    else:
        hz, hr = b.slice(r + "_rec_gates", b.product(r + "_rec", h, recurrent[:, :2 * units].T), 2, 2)
    z = b.activate(r + "_zg", gate, b.eltwise(r + "_z", [xz, hz], "SUM"))
    reset = b.activate(r + "_rg", gate, b.eltwise(r + "_r", [xr, hr], "SUM"))
    if attrs["reset_after"]:
        inner = b.eltwise(r + "_reset", [reset, hh], "PROD")
    else:
        inner = b.product(r + "_rec_h", b.eltwise(r + "_reset", [reset, h], "PROD"), recurrent[:, 2 * units:].T)
    candidate = b.activate(r + "_cand", act, b.eltwise(r + "_pre", [xh, inner], "SUM"))
    keep = b.eltwise(r + "_keep", [z, h], "PROD")
    flip = b.add(r + "_flip", "Power", [z], {"power_param": {"power": 1.0, "scale": -1.0, "shift": 1.0}})
    return b.eltwise(r + "_h", [keep, b.eltwise(r + "_new", [flip, candidate], "PROD")], "SUM")
