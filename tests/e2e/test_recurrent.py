"""Recurrent layers end to end (issue 14), 64-step sequences, random non-trivial weights: LSTM through
Caffe's LSTM (sigmoid / tanh) or unrolled (other activations), GRU (reset_after both ways, a Keras 2 .h5
with hard_sigmoid gates), SimpleRNN, Bidirectional (every merge mode), return_sequences, return_state,
go_backwards; the acceptance models of the issue; Masking, a used mask_zero and stateful layers refused
by name (initial states: test_recurrent_states.py)."""
import os

import keras
import numpy as np
import pytest
from keras import layers

from conftest import assert_parity, caffe_layer_types, convert, randomize, run_export

STEPS = 64


def randomize_recurrent(model, seed=0, scale=0.5):
    """randomize(), plus every kernel drawn at a scale that keeps the gates away from saturation (so a
    wrong gate or a wrong order shows), and non-zero biases for the recurrent layers."""
    randomize(model, seed)
    rng = np.random.default_rng(seed + 100)
    for var in model.weights:
        role = var.path.split("/")[-1] if hasattr(var, "path") else var.name.split("/")[-1].split(":")[0]
        if role in ("kernel", "recurrent_kernel"):
            fan = max(1, int(var.shape[0]))
            var.assign(rng.normal(0.0, scale * 2.0 / np.sqrt(fan), tuple(var.shape)).astype("float32"))
        elif role == "bias":
            var.assign(rng.normal(0.0, 0.3, tuple(var.shape)).astype("float32"))
        elif role == "embeddings":
            var.assign(rng.normal(0.0, 1.0, tuple(var.shape)).astype("float32"))
    return model


def check(model, tmp_path, **kwargs):
    randomize_recurrent(model)
    result = convert(model, tmp_path, **kwargs)
    return assert_parity(result), result


@pytest.mark.parametrize("options", [
    dict(return_sequences=True),
    dict(return_sequences=False, return_state=True),
    dict(return_sequences=True, go_backwards=True),
    dict(return_sequences=True, return_state=True, use_bias=False),
], ids=["sequences", "last_with_state", "go_backwards", "no_bias_state"])
def test_lstm_settings_through_caffes_lstm(tmp_path, options):
    inp = keras.Input((STEPS, 3), name="sequence")
    out = layers.LSTM(5, name="lstm", **options)(inp)
    report, result = check(keras.Model(inp, out), tmp_path)
    assert "LSTM" in caffe_layer_types(result)


@pytest.mark.parametrize("options", [
    dict(recurrent_activation="hard_sigmoid", return_sequences=True),
    dict(activation="relu", return_sequences=False, return_state=True, go_backwards=True),
], ids=["hard_sigmoid", "relu_backwards_state"])
def test_lstm_unrolled(tmp_path, options):
    inp = keras.Input((STEPS, 3), name="sequence")
    out = layers.LSTM(4, name="lstm", **options)(inp)
    report, result = check(keras.Model(inp, out), tmp_path)
    assert "LSTM" not in caffe_layer_types(result)


@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
def test_gru(tmp_path, reset_after):
    inp = keras.Input((STEPS, 3), name="sequence")
    seq = layers.GRU(4, reset_after=reset_after, return_sequences=True, name="gru_seq")(inp)
    last = layers.GRU(3, reset_after=reset_after, go_backwards=True, return_state=True, name="gru_last")(seq)
    check(keras.Model(inp, [seq] + list(last)), tmp_path)


def test_simple_rnn(tmp_path):
    inp = keras.Input((STEPS, 3), name="sequence")
    seq = layers.SimpleRNN(4, return_sequences=True, name="rnn_tanh")(inp)
    out = layers.SimpleRNN(3, activation="relu", name="rnn_relu")(seq)
    check(keras.Model(inp, [seq, out]), tmp_path)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_merge_modes(tmp_path, merge_mode):
    inp = keras.Input((STEPS, 3), name="sequence")
    seq = layers.Bidirectional(layers.LSTM(4, return_sequences=True), merge_mode=merge_mode, name="bi_lstm")(inp)
    last = layers.Bidirectional(layers.GRU(3), merge_mode=merge_mode, name="bi_gru")(seq)
    check(keras.Model(inp, [seq, last]), tmp_path)


def test_time_distributed_per_step_layers(tmp_path):
    inp = keras.Input((STEPS, 3), name="sequence")
    x = layers.TimeDistributed(layers.Dense(5), name="td_dense")(inp)
    out = layers.TimeDistributed(layers.Activation("tanh"), name="td_tanh")(x)
    check(keras.Model(inp, out), tmp_path)


# ------------------------------------------------------------------------------ acceptance models

# The acceptance models, built once: test_savedmodel_recurrent.py converts them from SavedModels.
def char_level_classifier():
    """Embedding -> Conv1D -> MaxPooling1D -> LSTM (last step) -> Dense over 40 character ids."""
    inp = keras.Input((STEPS * 2,), dtype="int32", name="chars")
    x = layers.Embedding(40, 8, name="embed")(inp)
    x = layers.Conv1D(12, 5, padding="same", activation="relu", name="conv")(x)
    x = layers.MaxPooling1D(2, name="pool")(x)                   # 64 steps
    x = layers.LSTM(16, name="lstm")(x)
    return keras.Model(inp, layers.Dense(5, activation="softmax", name="probs")(x))


def gru_tagger():
    """Embedding -> GRU (reset_after=True) -> GRU (reset_after=False) -> TimeDistributed(Dense) tags."""
    inp = keras.Input((STEPS,), dtype="int32", name="tokens")
    x = layers.Embedding(25, 8, name="embed")(inp)
    x = layers.GRU(10, return_sequences=True, reset_after=True, name="gru_after")(x)
    x = layers.GRU(10, return_sequences=True, reset_after=False, name="gru_before")(x)
    return keras.Model(inp, layers.TimeDistributed(layers.Dense(6, activation="softmax"), name="tags")(x))


def conv_bilstm_recogniser():
    """Conv1D features -> Bidirectional LSTM (concat) -> per-step Dense outputs (OCR / speech style)."""
    inp = keras.Input((STEPS, 6), name="frames")
    x = layers.Conv1D(8, 3, padding="same", activation="relu", name="conv")(inp)
    x = layers.Bidirectional(layers.LSTM(8, return_sequences=True), name="bilstm")(x)
    return keras.Model(inp, layers.Dense(7, activation="softmax", name="per_step")(x))


def test_char_level_classifier(tmp_path):
    check(char_level_classifier(), tmp_path)


def test_gru_tagger_both_reset_modes(tmp_path):
    check(gru_tagger(), tmp_path)


def test_keras2_h5_gru_tagger_hard_sigmoid(tmp_path):
    """A Keras-2-written .h5 (tf_keras): hard_sigmoid gates are clip(0.2 x + 0.5, 0, 1) there, and
    reset_after both ways."""
    tf_keras = pytest.importorskip("tf_keras")
    kl = tf_keras.layers
    inp = kl.Input((STEPS,), dtype="int32", name="tokens")
    x = kl.Embedding(25, 8, name="embed")(inp)
    x = kl.GRU(10, return_sequences=True, recurrent_activation="hard_sigmoid", reset_after=False, name="gru_k2")(x)
    x = kl.GRU(10, return_sequences=True, recurrent_activation="hard_sigmoid", reset_after=True, name="gru_k2_after")(x)
    x = kl.LSTM(8, return_sequences=True, recurrent_activation="hard_sigmoid", name="lstm_k2")(x)
    out = kl.TimeDistributed(kl.Dense(6, activation="softmax"), name="tags")(x)
    model = tf_keras.Model(inp, out)
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    assert_parity(convert(model, tmp_path, save_as=".h5"))


def test_conv_bidirectional_lstm_recogniser(tmp_path):
    check(conv_bilstm_recogniser(), tmp_path)


# ------------------------------------------------------------------------------ refusals

def test_masking_is_refused_by_name(tmp_path):
    from export_tf.exporter import export
    from shared.errors import UnsupportedError
    inp = keras.Input((6, 3), name="sequence")
    x = layers.Masking(0.0, name="mask")(inp)
    out = layers.LSTM(4, name="lstm")(x)
    path = str(tmp_path / "m.keras")
    keras.Model(inp, out).save(path)
    with pytest.raises(UnsupportedError) as info:
        export(path, str(tmp_path / "b.npz"))
    assert "Masking x1 (first: mask)" in str(info.value)
    assert not os.path.exists(str(tmp_path / "b.npz"))


def test_mask_zero_into_an_lstm_is_refused_by_name(tmp_path):
    from export_tf.exporter import export
    from shared.errors import UnsupportedError
    inp = keras.Input((6,), dtype="int32", name="tokens")
    x = layers.Embedding(10, 4, mask_zero=True, name="embed")(inp)
    out = layers.LSTM(3, name="lstm")(x)
    path = str(tmp_path / "m.keras")
    keras.Model(inp, out).save(path)
    with pytest.raises(UnsupportedError) as info:
        export(path, str(tmp_path / "b.npz"))
    assert "mask_zero" in str(info.value) and "(first: embed)" in str(info.value)


@pytest.mark.parametrize("flavour", ["keras3", "keras2_h5"])
def test_stateful_layers_are_refused_by_name(tmp_path, flavour):
    """stateful=True needs a fixed batch (3 here, not the export's 2) and the reference run changes the
    state: the export still reaches the handlers, which refuse each stateful layer by name beside every
    other unsupported layer (status 4, nothing written)."""
    k = keras if flavour == "keras3" else pytest.importorskip("tf_keras")
    seq = k.Input((6, 3), batch_size=3, name="sequence")
    x = k.layers.LSTM(4, stateful=True, return_sequences=True, name="lstm_s")(seq)
    x = k.layers.GRU(4, stateful=True, return_sequences=True, name="gru_s")(x)
    x = k.layers.Bidirectional(k.layers.LSTM(4, stateful=True, return_sequences=True), name="bi_s")(x)
    out = k.layers.Dense(2, name="head")(k.layers.UnitNormalization(name="unit")(x))
    path = str(tmp_path / ("model.keras" if flavour == "keras3" else "model.h5"))
    k.Model(seq, out).save(path)
    proc = run_export(path, tmp_path / "b.npz")
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr and "internal check" not in proc.stderr, proc.stderr
    assert "4 unsupported layer(s) of 4 type(s)" in proc.stderr, proc.stderr
    reason = "[stateful=True (the state would outlive a call; convert a stateless copy)]"
    for line in ("LSTM %s x1 (first: lstm_s)" % reason, "GRU %s x1 (first: gru_s)" % reason,
                 "Bidirectional [forward layer: stateful=True", "x1 (first: bi_s)",
                 "UnitNormalization x1 (first: unit)"):
        assert line in proc.stderr, proc.stderr
    assert sorted(os.listdir(str(tmp_path))) == [os.path.basename(path)]
