"""Recurrent layers called with initial states (issue 14), 64-step sequences: each model has a first layer
whose states are model inputs (return_sequences and return_state) and a second one, reading the first's
sequence, whose states are a Dense of another input (its final states unused). LSTM through Caffe's LSTM
(expose_hidden), LSTM with hard_sigmoid gates (unrolled), GRU both reset modes, SimpleRNN, Bidirectional
LSTM and GRU (forward states, then backward ones); the same from a Keras 2 (tf_keras) .h5. Every compared
tensor within 1e-4 of TF, relative."""
import keras
import pytest
from keras import layers

from conftest import PARITY_REL, assert_parity, caffe_layer_types, convert
from test_recurrent import randomize_recurrent

STEPS = 64
UNITS = 5
CASES = {
    "lstm_caffe": (layers.LSTM, {}, 2),
    "lstm_hard_sigmoid": (layers.LSTM, {"recurrent_activation": "hard_sigmoid"}, 2),
    "gru_reset_after": (layers.GRU, {"reset_after": True}, 1),
    "gru_reset_before": (layers.GRU, {"reset_after": False}, 1),
    "simple_rnn": (layers.SimpleRNN, {}, 1),
}


def two_layers(cls, options, count, wrap=None):
    """(model, its inputs' names): sequence -> layer 1 (states: inputs h0_*) -> layer 2 (states: Dense of
    the input 'context')."""
    backwards = wrap is None            # (Keras' Bidirectional refuses a go_backwards layer)
    wrap = wrap or (lambda layer, name: layer)
    seq = keras.Input((STEPS, 3), name="sequence")
    given = [keras.Input((UNITS,), name="h0_%d" % i) for i in range(count)]
    context = keras.Input((7,), name="context")
    first = wrap(cls(UNITS, return_sequences=True, return_state=True, **options), "first")
    out = first(seq, initial_state=given)
    computed = [layers.Dense(UNITS, activation="tanh", name="state_%d" % i)(context) for i in range(count)]
    width = out[0].shape[-1]
    second = wrap(cls(UNITS, go_backwards=backwards, **options), "second")
    last = second(layers.Dense(3, name="squeeze")(out[0]) if width != 3 else out[0], initial_state=computed)
    return keras.Model([seq] + given + [context], list(out) + [last])


def check_strictly(model, tmp_path):
    """Parity (assert_parity), and every compared tensor's own error within PARITY_REL."""
    randomize_recurrent(model)
    result = convert(model, tmp_path)
    report = assert_parity(result)
    rows = [r for r in report["layers"] if r["status"] != "not compared"]
    assert all(r["own_rel"] is not None and r["own_rel"] <= PARITY_REL for r in rows), result.describe()
    return report, result


@pytest.mark.parametrize("case", sorted(CASES))
def test_initial_states_from_inputs_and_from_a_dense(tmp_path, case):
    cls, options, count = CASES[case]
    model = two_layers(cls, options, count)
    report, result = check_strictly(model, tmp_path)
    types = caffe_layer_types(result)
    assert ("LSTM" in types) == (case == "lstm_caffe")
    prototxt = open(result.out + "/" + report["files"]["prototxt"]).read()
    assert ("expose_hidden: true" in prototxt) == (case == "lstm_caffe")
    if case == "lstm_caffe":
        assert "Silence" in types          # the second layer's unused final states
    inputs = dict((row["name"], row) for row in report["inputs"])
    assert {"sequence", "context", "h0_0"} <= set(inputs), report["inputs"]


@pytest.mark.parametrize("inner", ["lstm", "gru"])
def test_bidirectional_initial_states(tmp_path, inner):
    cls, count = (layers.LSTM, 4) if inner == "lstm" else (layers.GRU, 2)
    model = two_layers(cls, {}, count, wrap=lambda layer, name: layers.Bidirectional(layer, name="bi_" + name))
    report, result = check_strictly(model, tmp_path)
    assert ("LSTM" in caffe_layer_types(result)) == (inner == "lstm")


def test_keras2_h5_initial_states(tmp_path):
    """A Keras-2-written .h5 (tf_keras calls the layer on [sequence] + states; its reference run is given
    TF tensors, as tf_keras refuses numpy states): an LSTM with Keras 2's hard_sigmoid gates (slope 0.2)
    from states that are model inputs, a GRU with reset_after=False from a Dense of another input, and a
    Bidirectional LSTM (Caffe's LSTM) from both kinds."""
    tf_keras = pytest.importorskip("tf_keras")
    from conftest import import_bundle
    from export_tf.exporter import export
    kl = tf_keras.layers
    seq = kl.Input((STEPS, 3), name="sequence")
    h0, c0 = kl.Input((UNITS,), name="h0"), kl.Input((UNITS,), name="c0")
    context = kl.Input((7,), name="context")
    first = kl.LSTM(UNITS, return_sequences=True, return_state=True, recurrent_activation="hard_sigmoid",
                    name="lstm_k2")(seq, initial_state=[h0, c0])
    computed = [kl.Dense(UNITS, activation="tanh", name="state_%d" % i)(context) for i in range(2)]
    second = kl.GRU(UNITS, return_sequences=True, reset_after=False, name="gru_k2")(first[0],
                                                                                  initial_state=computed[:1])
    third = kl.Bidirectional(kl.LSTM(UNITS), name="bilstm_k2")(second, initial_state=[h0, c0] + computed)
    model = randomize_recurrent(tf_keras.Model([seq, h0, c0, context], list(first) + [third]))
    path = str(tmp_path / "model.h5")
    model.save(path)
    manifest = export(path, str(tmp_path / "bundle.npz"), batch=2, seed=0)
    assert manifest["source"]["format"] == "h5-keras2"
    nodes = dict((n["name"], n) for n in manifest["nodes"])
    assert nodes["lstm_k2"]["inputs"] == ["sequence", "h0", "c0"]
    assert nodes["lstm_k2"]["attrs"]["recurrent_activation"]["slope"] == 0.2
    assert nodes["gru_k2"]["inputs"] == ["lstm_k2", "state_0"] and not nodes["gru_k2"]["attrs"]["reset_after"]
    assert nodes["bilstm_k2"]["inputs"] == ["gru_k2", "h0", "c0", "state_0", "state_1"]
    result = import_bundle(str(tmp_path / "bundle.npz"), str(tmp_path / "caffe"))
    report = assert_parity(result)
    rows = [r for r in report["layers"] if r["status"] != "not compared"]
    assert all(r["own_rel"] is not None and r["own_rel"] <= PARITY_REL for r in rows), result.describe()
    assert "LSTM" in caffe_layer_types(result)
