"""Recurrent layers (TF (N, L, C)): LSTM, GRU (reset_after both ways), SimpleRNN, and Bidirectional over any of
them (TimeDistributed is in dense.py).

Inference only: dropout and recurrent_dropout do nothing, unit_forget_bias is an initialiser, unroll and
the implementation choice compute the same values. Refused: stateful layers (their state outlives a
call), initial states given as inputs, time_major (Keras 2), and masks (Caffe has none: a Masking layer
has no handler, and an Embedding's mask_zero that changes an output fails the exporter's reference check)."""
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


def _check_inputs(view):
    if len(view.input_shapes) != 1:
        raise Unsupported("initial states given as inputs (%d inputs): only zero initial states are supported"
                          % len(view.input_shapes))
    sequence_input(view)


def _arrays(view, attrs, prefix=""):
    arrays = {"kernel": view.weight(prefix + "kernel"), "recurrent_kernel": view.weight(prefix + "recurrent_kernel")}
    if attrs["use_bias"]:
        arrays["bias"] = view.weight(prefix + "bias")
    return arrays


def _recurrent(view):
    _check_inputs(view)
    attrs = _cell_attrs(view.class_name, view.config, "")
    return make_node(_OPS[view.class_name], attrs, _arrays(view, attrs))


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
    _check_inputs(view)
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
    arrays = _arrays(view, attrs, "forward/")
    arrays.update(("backward_" + role, value) for role, value in _arrays(view, attrs, "backward/").items())
    return make_node(_OPS[kind], attrs, arrays)
