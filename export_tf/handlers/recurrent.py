"""Recurrent layers (TF (N, L, C)): LSTM, GRU (reset_after both ways), SimpleRNN, and Bidirectional over any of
them (TimeDistributed is in dense.py).

Initial states given in the call (initial_state=[h, c], any tensors of the model: inputs or computed)
are the node's inputs after the sequence, in Keras' order (a Bidirectional's forward states, then its
backward ones); without them the states start at zero.

Inference only: dropout and recurrent_dropout do nothing, unit_forget_bias is an initialiser, unroll and
the implementation choice compute the same values. Refused: stateful layers (their state outlives a
call), time_major (Keras 2), and masks (Caffe has none: a Masking layer has no handler, a mask given in
the call is refused, and an Embedding's mask_zero that changes an output fails the exporter's reference
check)."""
from shared.opspec.recurrent import state_inputs

from ..layerview import TensorArg
from ..node import Unsupported, make_node
from ..registry import register
from .activation import activation_attr
from .sequence import sequence_input

_OPS = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn"}
_MERGES = ("concat", "sum", "mul", "ave")


def _cell_attrs(class_name, config, what):
    """The manifest attributes of one recurrent layer's config (a Keras 3 or Keras 2 one)."""
    if config.get("stateful"):
        raise Unsupported("%sstateful=True (the state would outlive a call; convert a stateless copy)" % what)
    if config.get("time_major"):
        raise Unsupported("%stime_major=True" % what)
    attrs = {
        "units": int(config["units"]),
        "cell_activation": activation_attr(config.get("activation", "tanh"), config),
        "use_bias": bool(config.get("use_bias", True)),
        "return_sequences": bool(config.get("return_sequences", False)),
        "return_state": bool(config.get("return_state", False)),
        "go_backwards": bool(config.get("go_backwards", False)),
    }
    if class_name in ("LSTM", "GRU"):
        attrs["recurrent_activation"] = activation_attr(config.get("recurrent_activation", "sigmoid"), config)
    if class_name == "GRU":
        attrs["reset_after"] = bool(config.get("reset_after", True))
    return attrs


def _select(view, op, attrs):
    """The node's inputs (indices of the layer's inputs): the sequence, then its initial states if given
    (None: the sequence alone). Keras 3 passes them as initial_state=[...]; Keras 2 (tf_keras) calls the
    layer on one list [sequence, states...]."""
    args = view.arguments
    if args.get("mask") is not None:
        raise Unsupported("a mask given in the call (Caffe has no masks)")
    states = args.get("initial_state")
    sequence = args.get("sequences")
    if isinstance(args.get("inputs"), list):            # tf_keras: call([sequence] + states)
        sequence, states = args["inputs"][0], args["inputs"][1:] or states
    elif sequence is None:
        sequence = args.get("inputs")
    if states is None or states == []:
        if len(view.input_shapes) != 1:
            raise Unsupported("%d inputs, and no initial_state among the call's arguments" % len(view.input_shapes))
        sequence_input(view)
        return None
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    wanted = state_inputs(op, attrs)
    if len(states) != wanted or not all(isinstance(t, TensorArg) for t in [sequence] + states):
        raise Unsupported("initial_state of %d value(s) %r: %d tensors of the model expected (h%s per direction)"
                          % (len(states), states, wanted, ", c" if op == "lstm" else ""))
    select = [sequence.index] + [t.index for t in states]
    if len(view.input_shapes[select[0]]) != 2:
        raise Unsupported("expects a sequence tensor (L, C), found shape %r" % (view.input_shapes[select[0]],))
    return select


def _arrays(view, attrs, prefix=""):
    arrays = {"kernel": view.weight(prefix + "kernel"), "recurrent_kernel": view.weight(prefix + "recurrent_kernel")}
    if attrs["use_bias"]:
        arrays["bias"] = view.weight(prefix + "bias")
    return arrays


def _recurrent(view):
    op = _OPS[view.class_name]
    attrs = _cell_attrs(view.class_name, view.config, "")
    select = _select(view, op, dict(attrs, direction="forward"))
    return make_node(op, attrs, _arrays(view, attrs), select=select)


@register("LSTM", ops=("lstm",))
def lstm(view):
    return _recurrent(view)


@register("GRU", ops=("gru",))
def gru(view):
    return _recurrent(view)


@register("SimpleRNN", ops=("simple_rnn",))
def simple_rnn(view):
    return _recurrent(view)


def _inner(config, key):
    inner = config.get(key) or {}
    return inner.get("class_name"), inner.get("config") or {}


@register("Bidirectional", ops=tuple(sorted(_OPS.values())))
def bidirectional(view):
    """A forward and a backward layer of one type and one setting (the backward one reads the sequence
    from its end), merged by merge_mode; the backward layer's sequence output is re-reversed (Keras)."""
    kind, forward = _inner(view.config, "layer")
    back_kind, backward = _inner(view.config, "backward_layer")
    if kind not in _OPS:
        raise Unsupported("Bidirectional over %s (supported: %s)" % (kind, ", ".join(sorted(_OPS))))
    merge = view.config.get("merge_mode", "concat")
    if merge not in _MERGES:
        raise Unsupported("merge_mode=%r (supported: %s)" % (merge, ", ".join(_MERGES)))
    attrs = _cell_attrs(kind, forward, "forward layer: ")
    if back_kind is not None:
        back = _cell_attrs(back_kind, backward, "backward layer: ")
        back["go_backwards"] = not back["go_backwards"]
        if back_kind != kind or back != attrs:
            raise Unsupported("a backward layer of another type or setting than the forward one")
    attrs.update(direction="bidirectional", merge_mode=merge)
    select = _select(view, _OPS[kind], attrs)
    arrays = _arrays(view, attrs, "forward/")
    arrays.update(("backward_" + role, value) for role, value in _arrays(view, attrs, "backward/").items())
    return make_node(_OPS[kind], attrs, arrays, select=select)
