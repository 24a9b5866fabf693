"""Recurrent layers: lstm, gru, simple_rnn, each also bidirectional (TF (N, L, C), Caffe (N, C, 1, L)).

The sequence is moved to Caffe's time-major (T, N, C) exactly (Slice + Concat + Reshape; a reversed
direction concatenates the steps in reverse order), and back the same way. An LSTM whose gates are
sigmoid and whose activation is tanh is Caffe's own LSTM layer. Everything else (a hard_sigmoid gate,
the Keras 2 default; any other activation; every GRU and SimpleRNN: Caffe has no GRU, and its RNN adds
an output tanh Keras does not have) is unrolled over the fixed sequence length into InnerProduct (axis 2),
Slice, Eltwise and the activation lowerings: exact, at about 15 layers per step for an LSTM, 17 for a GRU
and 3 for a SimpleRNN (per direction). The note of each node says which it took and how many layers.

Initial states given as inputs (vectors (N, U) after the sequence, per direction h then c) replace the
zeros: an unrolled cell starts from them, Caffe's LSTM reads them through expose_hidden (its bottoms h_0,
c_0 viewed as (1, N, U)) with a continuation of 1 at every step."""
from shared.opspec.recurrent import STATES

from ..layout import SEQUENCE, VECTOR, Layout
from ..plan import Lowering, TensorRef
from ..registry import Unsupported, register
from .recurrent_steps import Builder, caffe_lstm, last_step, steps, time_major, to_sequence, unrolled

_SIGMOID, _TANH = {"function": "sigmoid"}, {"function": "tanh"}


def _native(op, attrs):
    """Whether Caffe's LSTM computes this layer exactly (its gates are sigmoid, its activation tanh)."""
    return op == "lstm" and attrs["recurrent_activation"] == _SIGMOID and attrs["cell_activation"] == _TANH


def _direction(b, op, attrs, role, x_steps, x_forward, length, channels, arrays, prefix, reverse, init):
    """One direction from its initial states `init` (blobs (N, U), or None: zeros): (its h steps as
    (T, N, U), [final states (1, N, U)] with return_state)."""
    kernel, recurrent, bias = arrays[prefix + "kernel"], arrays[prefix + "recurrent_kernel"], arrays.get(prefix + "bias")
    if _native(op, attrs):
        x = time_major(b, role + "_input", x_steps, channels, True) if reverse else x_forward()
        return caffe_lstm(b, role, x, length, channels, attrs["units"], kernel, recurrent, bias, attrs["return_state"],
                          init)
    hs, states = unrolled(b, role, op, attrs, x_forward(), length, channels, kernel, recurrent, bias, reverse, init)
    joined = hs[0] if length == 1 else b.add(role + "_steps", "Concat", hs, {"concat_param": {"axis": 0}})
    return joined, states


def _output(b, role, attrs, blob, length, reverse, top=None, name=None):
    units = attrs["units"]
    if attrs["return_sequences"]:
        return to_sequence(b, role + "_out", blob, length, units, reverse, top, name)
    return last_step(b, role + "_out", blob, length, units, top, name)


def _lower(op, node, ins, arrays, names, target):
    attrs = node["attrs"]
    src, given = ins[0], [ref.blob for ref in ins[1:]]
    if src.layout.kind != SEQUENCE:
        raise Unsupported("expects a sequence input (L, C), found a %s tensor" % src.layout.kind)
    for ref in ins[1:]:
        if ref.layout.kind != VECTOR:
            raise Unsupported("expects its initial states as vectors (units,), found a %s tensor" % ref.layout.kind)
    length, channels = src.shape
    units = attrs["units"]
    b = Builder(names, target)
    x_steps = steps(b, src.blob, length)
    cache = {}

    def x_forward():
        if "x" not in cache:
            cache["x"] = time_major(b, "input", x_steps, channels, False)
        return cache["x"]

    two = attrs["direction"] == "bidirectional"
    count = STATES[op]          # the initial states of each direction, when given (the spec checked their number)
    runs = [("forward" if two else "cell", "", attrs["go_backwards"], False, given[:count])]
    if two:
        runs.append(("backward", "backward_", not attrs["go_backwards"], True, given[count:]))
    seqs, states = [], []
    for role, prefix, reverse, flip, init in runs:
        blob, final = _direction(b, op, attrs, role, x_steps, x_forward, length, channels, arrays, prefix, reverse,
                                 init or None)
        last = not two
        seqs.append(_output(b, role, attrs, blob, length, flip,
                            top=names.top if last else None, name=names.layer if last else None))
        states += final
    width = units
    if two:
        mode = attrs["merge_mode"]
        if mode == "concat":
            b.add("merge", "Concat", seqs, {"concat_param": {"axis": 1}}, tops=[names.top], name=names.layer)
            width = 2 * units
        else:
            operation, coeff = {"sum": ("SUM", None), "ave": ("SUM", [0.5, 0.5]), "mul": ("PROD", None)}[mode]
            b.eltwise("merge", seqs, operation, coeff, top=names.top, name=names.layer)
    outs = [TensorRef(names.top, [length, width], Layout(SEQUENCE)) if attrs["return_sequences"]
            else TensorRef(names.top, [width], Layout(VECTOR))]
    if attrs["return_state"]:
        for i, blob in enumerate(states):
            top = names.outputs[i + 1]
            b.reshape("state%d" % i, blob, [-1, units], top=top)
            outs.append(TensorRef(top, [units], Layout(VECTOR)))
    how = "Caffe's LSTM" if _native(op, attrs) else "unrolled over %d steps%s" % (length, " per direction" if two else "")
    how += ", from the given initial states" if given else ""
    return Lowering(b.layers, outs, "%s %s: %s, %d Caffe layers" % (node["source_type"], op, how, len(b.layers)))


_COMPOSITION = ("%s on the time-major sequence (Slice + Concat + Reshape each way); unrolled: InnerProduct + Slice + "
                "Eltwise + gate activations per step")


@register("lstm", composition=_COMPOSITION % "LSTM (sigmoid / tanh gates), else unrolled")
def lstm(node, ins, arrays, names, target):
    return _lower("lstm", node, ins, arrays, names, target)


@register("gru", composition=_COMPOSITION % "unrolled")
def gru(node, ins, arrays, names, target):
    return _lower("gru", node, ins, arrays, names, target)


@register("simple_rnn", composition=_COMPOSITION % "unrolled")
def simple_rnn(node, ins, arrays, names, target):
    return _lower("simple_rnn", node, ins, arrays, names, target)
