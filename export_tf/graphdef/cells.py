"""The recurrent cells export_tf/graphdef/loops.py confirms a While loop against: Keras' LSTM, GRU (reset_after
both ways) and SimpleRNN equations in numpy (float64), the readings of a loop's captured weights that fit
their shapes, and the search for the one cell that reproduces what TF computed. No TensorFlow here."""
import itertools

import numpy as np

from ..handlers.activation import FIXED, KERAS2_HARD_SIGMOID, KERAS3_HARD_SIGMOID

TOLERANCE = 1e-5        # of max(1, the largest output): float32 TF against the float64 candidates
ACTIVATIONS = (FIXED["sigmoid"], FIXED["tanh"], FIXED["relu"], KERAS3_HARD_SIGMOID, KERAS2_HARD_SIGMOID, None)


def _act(attrs, x):
    if attrs is None:
        return x
    kind = attrs["function"]
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if kind == "tanh":
        return np.tanh(x)
    if kind == "relu":
        return np.maximum(x, 0.0)
    return np.clip(attrs["slope"] * x + attrs["offset"], 0.0, 1.0)


def project(arrays, x, backwards):
    """Every step's input product x kernel plus the input bias, in the order the cell reads the steps."""
    bias = arrays.get("bias")
    kernel = arrays["kernel"].astype(np.float64)
    steps = (x[:, ::-1] if backwards else x).astype(np.float64)
    projected = steps @ kernel
    if bias is not None:
        projected += np.asarray(bias, np.float64)[0] if bias.ndim == 2 else np.asarray(bias, np.float64)
    return projected


def run_cell(op, attrs, arrays, x, initial=None, watch=None, projected=None):
    """The manifest node's computation in float64 (Keras' equations): every step's h (N, T, U), and the
    final h and c (c: an LSTM's; None for the others). initial: the initial [h(, c)], else zeros;
    watch(step, h): True stops the run (None is returned); projected: project()'s result, if known."""
    rec = arrays["recurrent_kernel"].astype(np.float64)
    units = rec.shape[0]
    bias = arrays.get("bias")
    recurrent_bias = bias[1].astype(np.float64) if bias is not None and bias.ndim == 2 else 0.0
    act, gate = attrs["cell_activation"], attrs.get("recurrent_activation")
    if projected is None:
        projected = project(arrays, x, attrs["go_backwards"])
    h = np.zeros((x.shape[0], units)) if initial is None else np.asarray(initial[0], np.float64)
    c = np.zeros_like(h) if initial is None or len(initial) < 2 else np.asarray(initial[1], np.float64)
    out = []
    for t in range(projected.shape[1]):
        inner = projected[:, t]
        if op == "simple_rnn":
            h = _act(act, inner + h @ rec)
        elif op == "lstm":
            z = inner + h @ rec
            i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
            c = _act(gate, f) * c + _act(gate, i) * _act(act, g)
            h = _act(gate, o) * _act(act, c)
        elif attrs["reset_after"]:
            recur = h @ rec + recurrent_bias
            z = _act(gate, inner[:, :units] + recur[:, :units])
            r = _act(gate, inner[:, units:2 * units] + recur[:, units:2 * units])
            hh = _act(act, inner[:, 2 * units:] + r * recur[:, 2 * units:])
            h = z * h + (1.0 - z) * hh
        else:
            z = _act(gate, inner[:, :units] + h @ rec[:, :units])
            r = _act(gate, inner[:, units:2 * units] + h @ rec[:, units:2 * units])
            hh = _act(act, inner[:, 2 * units:] + (r * h) @ rec[:, 2 * units:])
            h = z * h + (1.0 - z) * hh
        if watch is not None and watch(t, h):
            return None
        out.append(h)
    return np.stack(out, axis=1), h, (c if op == "lstm" else None)


def candidates(states, weights, channels):
    """(op, structural attrs, arrays) for every reading of the captured weights that fits their shapes."""
    units = states[0].shape[-1]
    kinds = [("lstm", 4)] if len(states) == 2 else [("gru", 3), ("simple_rnn", 1)]
    for (op, gates), order in itertools.product(kinds, itertools.permutations(range(len(weights)))):
        width = gates * units
        mats = [weights[i] for i in order]
        if len(mats) == 4 and op == "gru" and mats[2].shape == mats[3].shape == (width,):
            mats = mats[:2] + [np.stack(mats[2:])]     # tf_keras' standard_gru: the two biases unstacked
        if len(mats) not in (2, 3) or mats[0].shape != (channels, width) or mats[1].shape != (units, width):
            continue
        arrays = {"kernel": mats[0], "recurrent_kernel": mats[1]}
        if len(mats) == 3:
            arrays["bias"] = mats[2]
        bias_shape = mats[2].shape if len(mats) == 3 else None
        if op == "gru":
            for reset_after in (True, False):
                if bias_shape in (None, (2, width) if reset_after else (width,)):
                    yield op, {"reset_after": reset_after, "use_bias": bias_shape is not None}, arrays
        elif bias_shape in (None, (width,)):
            yield op, {"use_bias": bias_shape is not None}, arrays


# the TF ops an activation shows in a loop's body (Keras 3's hard_sigmoid: Relu6; Keras 2's: Minimum, Maximum)
_SHOWS = {"sigmoid": ("Sigmoid",), "tanh": ("Tanh",), "relu": ("Relu",),
          "hard_sigmoid": ("Relu6", "Minimum", "Maximum", "ClipByValue")}


def best_cell(states, weights, x, backwards, last, main, finals, initial=None, body_ops=None):
    """best_cell_among the activations the body's ops show (body_ops: the op types, None: unknown), then,
    if none of them reproduces TF's values, among all (the ops only narrow the search down)."""
    if body_ops is not None:
        shown = [a for a in ACTIVATIONS if a is None or any(op in body_ops for op in _SHOWS[a["function"]])]
        found = best_cell_among(shown, states, weights, x, backwards, last, main, finals, initial)
        if found is not None or len(shown) == len(ACTIVATIONS):
            return found
    return best_cell_among(ACTIVATIONS, states, weights, x, backwards, last, main, finals, initial)


def best_cell_among(activations, states, weights, x, backwards, last, main, finals, initial=None):
    """The cell reproducing TF's values, or None. states: the initial states (their count and width);
    weights: the captured float arrays; x: the sequence (N, T, C); last: main is the last step (else every
    step); main: TF's value of the output the model reads, or None; finals: TF's values of the final
    states the model reads; initial: the initial [h(, c)] given as inputs, else None (zeros). Returns
    (op, attrs, arrays, roles), roles naming each final "h" or "c"."""
    scale = max([1.0] + [float(np.abs(v).max()) for v in ([main] if main is not None else []) + list(finals)])
    best = None
    bound = TOLERANCE * scale
    # every step known: a candidate is dropped at its first step that differs
    watch = None if last or main is None else (lambda t, h: not np.abs(h - main[:, t]).max() <= bound)
    for op, attrs, arrays in candidates(states, weights, x.shape[2]):
        projected = project(arrays, x, backwards)
        gates = activations if op != "simple_rnn" else (None,)
        for gate, act in itertools.product(gates, activations):
            full = dict(attrs, units=int(states[0].shape[1]), cell_activation=act, go_backwards=backwards,
                        return_sequences=not last)
            if op != "simple_rnn":
                full["recurrent_activation"] = gate
            with np.errstate(all="ignore"):     # a wrong candidate may overflow: it just does not match
                ran = run_cell(op, full, arrays, x, initial, watch, projected)
            if ran is None:
                continue
            seq, h, c = ran
            found = _errors(seq[:, -1] if last else seq, h, c, main, finals)
            if found is not None and found[0] <= bound and (best is None or found[0] < best[0]):
                best = (found[0], op, full, arrays, found[1])
    return None if best is None else best[1:]


def _errors(got, h, c, main, finals):
    """(the largest difference, the role of each final) of one candidate, or None if a shape differs."""
    errs, roles = [], []
    if main is not None:
        if got.shape != main.shape:
            return None
        errs.append(float(np.abs(got - main).max()))
    for value in finals:
        options = [(float(np.abs(mine - value).max()), role) for mine, role in ((h, "h"), (c, "c"))
                   if mine is not None and mine.shape == value.shape]
        if not options:
            return None
        err, role = min(options)
        errs.append(err)
        roles.append(role)
    return (max(errs), roles) if errs else None
