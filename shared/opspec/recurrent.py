"""Recurrent layers over sequences (L, C): lstm, gru, simple_rnn. One node is one Keras layer, or one
Bidirectional wrapper of one (direction "bidirectional": the backward layer's arrays are carried too,
and the two outputs merged by merge_mode). Kernels are Keras' own: kernel (C, G * units), recurrent_kernel
(units, G * units), gates in Keras' order (LSTM i, f, c, o; GRU z, r, h), G the number of gates.

Inputs: the sequence alone (zero initial states), or the sequence and then its initial states, vectors
(units,): h (and c, for an LSTM) of the forward layer, then the backward layer's when bidirectional
(Keras' own order). Nothing else is an input: the arity is 1 or 1 + state_inputs(op, attrs)."""
from . import Array, declare
from .activation import ACTIVATION
from .fields import Bool, Enum, Int

GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
STATES = {"lstm": 2, "gru": 1, "simple_rnn": 1}      # return_state adds h (and c) per direction


def state_inputs(op, attrs):
    """How many initial states a node of `op` reads when they are given (h, and c for an LSTM, per direction)."""
    return STATES[op] * (2 if attrs["direction"] == "bidirectional" else 1)


def _bidirectional(attrs):
    return attrs["direction"] == "bidirectional"


def _backward_bias(attrs):
    return attrs["use_bias"] and attrs["direction"] == "bidirectional"


def _bias(attrs):
    return attrs["use_bias"]


def _rule(op):
    def rule(ctx):
        length, channels = ctx.rank(0, 2)
        units, attrs = ctx.attrs["units"], ctx.attrs
        width = GATES[op] * units
        two = _bidirectional(attrs)
        given, wanted = len(ctx.ins) - 1, state_inputs(op, attrs)
        if given not in (0, wanted):
            ctx.fail("inputs", "op %r takes the sequence alone or with its %d initial states (h%s per direction), "
                     "found %d inputs" % (op, wanted, ", c" if op == "lstm" else "", given + 1))
        for index in range(1, given + 1):
            if ctx.rank(index, 1) != (units,):
                ctx.fail("inputs[%d]" % index, "an initial state has shape (%d,) (units), found %r"
                         % (units, ctx.ins[index]))
        for prefix in ("", "backward_") if two else ("",):
            ctx.array(prefix + "kernel", [channels, width])
            ctx.array(prefix + "recurrent_kernel", [units, width])
            ctx.array(prefix + "bias", [2, width] if op == "gru" and attrs["reset_after"] else [width])
        merged = 2 * units if two and attrs["merge_mode"] == "concat" else units
        ctx.output([length, merged] if attrs["return_sequences"] else [merged])
        if attrs["return_state"]:
            for index in range(1, 1 + STATES[op] * (2 if two else 1)):
                ctx.output([units], index)
    return rule


def _attrs(op):
    attrs = {
        "units": Int(1, 1 << 16),
        "cell_activation": ACTIVATION,
        "recurrent_activation": ACTIVATION,
        "use_bias": Bool(default=True, doc="whether bias arrays are carried"),
        "return_sequences": Bool(default=False, doc="every step's output (L, units), else the last (units,)"),
        "return_state": Bool(default=False, doc="the final states follow the output (h, c per direction)"),
        "go_backwards": Bool(default=False, doc="the (forward) layer reads the sequence from its end"),
        "direction": Enum("forward", "bidirectional", default="forward",
                          doc="bidirectional: a Keras Bidirectional wrapper (backward_* arrays)"),
        "merge_mode": Enum("concat", "sum", "mul", "ave", default="concat",
                           doc="how a bidirectional node merges its two outputs"),
    }
    if op != "lstm":
        del attrs["recurrent_activation"]
        if op == "gru":
            attrs["recurrent_activation"] = ACTIVATION
            attrs["reset_after"] = Bool(default=True, doc="the reset gate after the recurrent product (two biases)")
    return attrs


def _arrays(op):
    bias_doc = "(2, 3 * units): input and recurrent bias, with reset_after; else (G * units,)" if op == "gru" \
        else "(G * units,)"
    return {
        "kernel": Array(2, doc="(channels, G * units)"),
        "recurrent_kernel": Array(2, doc="(units, G * units)"),
        "bias": Array(None, when=_bias, doc=bias_doc + ", when carried"),
        "backward_kernel": Array(2, when=_bidirectional, doc="the backward layer's, when bidirectional"),
        "backward_recurrent_kernel": Array(2, when=_bidirectional, doc="the backward layer's, when bidirectional"),
        "backward_bias": Array(None, when=_backward_bias, doc="the backward layer's, when bidirectional"),
    }


def _declare(op, doc):
    declare(op, "recurrent", inputs=(1, 1 + 2 * STATES[op]), attrs=_attrs(op), arrays=_arrays(op), rule=_rule(op),
            doc="%s; inputs: the sequence, then its initial states when given (%s per direction)"
            % (doc, "h, c" if op == "lstm" else "h"))


_declare("lstm", "LSTM, gates i, f, c, o; outputs: the sequence or last step, then h, c with return_state")
_declare("gru", "GRU, gates z, r, h; reset_after applies the reset gate after the recurrent product")
_declare("simple_rnn", "h = activation(x kernel + h recurrent_kernel + bias)")
