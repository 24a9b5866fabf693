"""The recurrent-cell search of the graph front end (export_tf/graphdef/cells.py; numpy only, no TensorFlow):
the cell a While loop is confirmed as is the one whose outputs reproduce the loop's, its weights told
apart by the numbers when their shapes cannot, and a loop computing something else matches none."""
import numpy as np
import pytest

from export_tf.graphdef.cells import best_cell, run_cell

STEPS, BATCH, CHANNELS = 16, 2, 4
SIGMOID, TANH = {"function": "sigmoid"}, {"function": "tanh"}
KERAS2_HARD_SIGMOID = {"function": "hard_sigmoid", "slope": 0.2, "offset": 0.5}


def _weights(rng, channels, units, width, bias_shape):
    return (rng.normal(0, 0.6, (channels, width)), rng.normal(0, 0.6, (units, width)),
            rng.normal(0, 0.3, bias_shape))


def _case(op, attrs, units=CHANNELS, bias_shape=None, seed=0):
    rng = np.random.default_rng(seed)
    gates = {"lstm": 4, "gru": 3, "simple_rnn": 1}[op]
    kernel, recurrent, bias = _weights(rng, CHANNELS, units, gates * units, bias_shape or (gates * units,))
    x = rng.normal(0, 1, (BATCH, STEPS, CHANNELS))
    full = dict(attrs, units=units, go_backwards=False, return_sequences=True)
    seq, h, c = run_cell(op, full, {"kernel": kernel, "recurrent_kernel": recurrent, "bias": bias}, x)
    states = [np.zeros((BATCH, units))] * (2 if op == "lstm" else 1)
    return x, states, [kernel, recurrent, bias], seq, h, c


@pytest.mark.parametrize("op,attrs,bias_shape", [
    ("lstm", {"recurrent_activation": SIGMOID, "cell_activation": TANH}, None),
    ("lstm", {"recurrent_activation": KERAS2_HARD_SIGMOID, "cell_activation": TANH}, None),
    ("gru", {"recurrent_activation": SIGMOID, "cell_activation": TANH, "reset_after": True}, (2, 3 * CHANNELS)),
    ("gru", {"recurrent_activation": KERAS2_HARD_SIGMOID, "cell_activation": TANH, "reset_after": False}, None),
    ("simple_rnn", {"cell_activation": {"function": "relu", "negative_slope": 0.0, "max_value": None,
                                        "threshold": 0.0}}, None),
], ids=["lstm", "lstm_keras2_hard_sigmoid", "gru_reset_after", "gru_reset_before", "simple_rnn_relu"])
def test_the_cell_that_computed_the_outputs_is_found(op, attrs, bias_shape):
    x, states, weights, seq, _, _ = _case(op, attrs, bias_shape=bias_shape)
    # the captured weights in another order, the kernel and the recurrent kernel of one shape (C == U)
    found = best_cell(states, weights[::-1], x, False, False, seq.astype(np.float32), [])
    assert found is not None
    got_op, got, arrays, roles = found
    assert got_op == op and roles == []
    for key, value in attrs.items():
        assert got[key] == value, key
    np.testing.assert_array_equal(arrays["kernel"], weights[0])
    np.testing.assert_array_equal(arrays["recurrent_kernel"], weights[1])


def test_final_states_are_told_apart():
    x, states, weights, seq, h, c = _case("lstm", {"recurrent_activation": SIGMOID, "cell_activation": TANH})
    found = best_cell(states, weights, x, False, True, None, [c, h])
    assert found is not None and found[3] == ["c", "h"]


def test_a_loop_computing_something_else_matches_no_cell():
    x, states, weights, seq, _, _ = _case("simple_rnn", {"cell_activation": TANH})
    assert best_cell(states, weights, x, False, False, seq * 0.5, []) is None
    assert best_cell(states, weights, x, True, False, seq, []) is None          # read from the other end


@pytest.mark.parametrize("body_ops", [{"MatMul", "Minimum", "Maximum", "Tanh"}, {"MatMul", "Sigmoid"}],
                         ids=["shown", "not_shown"])
def test_the_body_ops_narrow_the_search_only(body_ops):
    """The activations the loop's body shows are searched first; a cell they miss is still found."""
    x, states, weights, seq, _, _ = _case("gru", {"recurrent_activation": KERAS2_HARD_SIGMOID,
                                                  "cell_activation": TANH, "reset_after": False})
    found = best_cell(states, weights, x, False, True, seq[:, -1].astype(np.float32), [], body_ops=body_ops)
    assert found is not None and found[1]["recurrent_activation"] == KERAS2_HARD_SIGMOID
