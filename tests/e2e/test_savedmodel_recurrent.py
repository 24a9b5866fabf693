"""Recurrent layers from SavedModels (issue 14): the graph front end recognises a Keras recurrent layer's
While loop (export_tf/graphdef/loops.py) and writes the node the Keras reader writes. Keras 3
`model.export()`, `tf.saved_model.save(model)` and a tf_keras (Keras 2) `model.save(dir)`, 64-step
sequences, random non-trivial weights, imported in Caffe at the parity bar; the nodes compared with the
Keras reader's; return_state and initial states; a while loop that is no recurrent layer, and one laid
out like one that computes something else, refused by name (status 4)."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from conftest import assert_parity, import_bundle, run_export
from test_recurrent import STEPS, char_level_classifier, conv_bilstm_recogniser, gru_tagger, randomize_recurrent
from test_recurrent_states import two_layers


def _export_saved(model, tmp_path, save):
    from export_tf.exporter import export
    folder = str(tmp_path / "saved")
    save(model, folder)
    bundle = str(tmp_path / "bundle.npz")
    return export(folder, bundle, batch=2, seed=0), bundle


def convert_saved(model, tmp_path, save=lambda model, folder: model.export(folder, verbose=False)):
    """Export a SavedModel of the model, convert it, assert parity; returns the manifest."""
    manifest, bundle = _export_saved(model, tmp_path, save)
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))
    return manifest


def _ops(manifest):
    return [node["op"] for node in manifest["nodes"]]


def test_char_level_classifier(tmp_path):
    """Embedding -> Conv1D -> MaxPooling1D -> LSTM (last step) -> Dense, through tf.saved_model.save; the
    int32 ids drawn below the table's rows (export_tf/graphdef/lookups.py)."""
    manifest = convert_saved(randomize_recurrent(char_level_classifier()), tmp_path, tf.saved_model.save)
    assert _ops(manifest)[0] == "embedding" and "lstm" in _ops(manifest)
    assert [d["high"] for d in manifest["reference"]["input_domains"].values()] == [40]    # ids in [0, 40)


def test_gru_tagger_both_reset_modes(tmp_path):
    manifest = convert_saved(randomize_recurrent(gru_tagger()), tmp_path)
    grus = [node["attrs"]["reset_after"] for node in manifest["nodes"] if node["op"] == "gru"]
    assert grus == [True, False]
    # Keras 3's TimeDistributed is one MatMul chain per step in the graph: folded into one (timesteps.py)
    assert _ops(manifest)[-2:] == ["dense", "activation"] and _ops(manifest).count("dense") == 1


def test_conv_bidirectional_lstm_recogniser(tmp_path):
    manifest = convert_saved(randomize_recurrent(conv_bilstm_recogniser()), tmp_path)
    lstm = [node for node in manifest["nodes"] if node["op"] == "lstm"]
    assert [node["attrs"]["direction"] for node in lstm] == ["bidirectional"]


def _settings_model(state=True):
    """SimpleRNN (relu), go_backwards LSTM (Keras 3 hard_sigmoid gates), Bidirectional GRUs merged by
    sum and ave, the last step of each, and a final h read alone (return_state: the node writes the
    last step too, under a name of its own)."""
    inp = keras.Input((STEPS, 3), name="sequence")
    x = layers.SimpleRNN(6, activation="relu", return_sequences=True, name="rnn_relu")(inp)
    x = layers.LSTM(5, recurrent_activation="hard_sigmoid", go_backwards=True, return_sequences=True,
                    name="lstm_back")(x)
    seq = layers.Bidirectional(layers.GRU(4, reset_after=False, return_sequences=True), merge_mode="sum",
                               name="bi_sum")(x)
    last = layers.Bidirectional(layers.GRU(3), merge_mode="ave", name="bi_ave")(seq)
    if not state:
        return randomize_recurrent(keras.Model(inp, last))
    _, h = layers.GRU(3, return_state=True, name="gru_state")(x)
    head = layers.Dense(2, name="from_state")(h)
    return randomize_recurrent(keras.Model(inp, [last, head]))


def test_settings_and_bidirectional_merges(tmp_path):
    convert_saved(_settings_model(), tmp_path)


def test_return_state(tmp_path):
    """Final states read as outputs: an LSTM's sequence, h and c (no bias), a go_backwards GRU's last step
    and h, a Bidirectional LSTM's merged last steps and h, c each way: Keras' [output, h(, c)] (per
    direction), return_state true (Caffe's LSTM exposes h_T and c_T)."""
    inp = keras.Input((STEPS, 3), name="sequence")
    seq, h, c = layers.LSTM(5, return_sequences=True, return_state=True, use_bias=False, name="lstm")(inp)
    last, g = layers.GRU(3, go_backwards=True, return_state=True, name="gru")(seq)
    both = layers.Bidirectional(layers.LSTM(3, return_state=True), name="bi")(seq)
    model = keras.Model(inp, [seq, h, c, last, g] + list(both))
    manifest = convert_saved(randomize_recurrent(model), tmp_path)
    states = [len(node["outputs"]) for node in manifest["nodes"] if node["attrs"].get("return_state")]
    assert sorted(states) == [2, 3, 5]


def test_initial_states(tmp_path):
    """initial_state given in the call: an LSTM's h and c as model inputs, a GRU's h computed (a Dense of
    another input); the node reads the sequence, then h (and c), as the Keras reader's does."""
    seq_in = keras.Input((STEPS, 3), name="sequence")
    h0, c0, enc = keras.Input((5,), name="h0"), keras.Input((5,), name="c0"), keras.Input((6,), name="encoded")
    seq = layers.LSTM(5, return_sequences=True, name="lstm")(seq_in, initial_state=[h0, c0])
    bridge = layers.Dense(4, activation="tanh", name="bridge")(enc)
    out = layers.GRU(4, name="gru")(seq, initial_state=[bridge])
    manifest = convert_saved(randomize_recurrent(keras.Model([seq_in, h0, c0, enc], out)), tmp_path)
    reads = [len(node["inputs"]) for node in manifest["nodes"] if node["op"] in ("lstm", "gru")]
    assert reads == [3, 2]


def _recurrent_nodes(path):
    from shared.bundle import read_bundle
    bundle = read_bundle(path)
    return [(node["op"], node["attrs"], bundle.node_arrays(node), (len(node["inputs"]), len(node["outputs"])))
            for node in bundle.manifest["nodes"] if node["op"] in ("lstm", "gru", "simple_rnn")]


def assert_same_nodes_as_the_keras_reader(model, tmp_path):
    """Both readers write the same recurrent nodes: op, every attribute, every array, as many inputs and
    outputs (their tensors' names differ). Returns the SavedModel's bundle path."""
    from export_tf.exporter import export
    model.save(str(tmp_path / "model.keras"))
    export(str(tmp_path / "model.keras"), str(tmp_path / "keras.npz"), batch=2, seed=0)
    _export_saved(model, tmp_path, lambda m, folder: m.export(folder, verbose=False))
    keras_side = _recurrent_nodes(str(tmp_path / "keras.npz"))
    graph_side = _recurrent_nodes(str(tmp_path / "bundle.npz"))
    assert [(op, attrs, arity) for op, attrs, _, arity in graph_side] == \
        [(op, attrs, arity) for op, attrs, _, arity in keras_side]
    for (_, _, mine, _), (_, _, theirs, _) in zip(graph_side, keras_side):
        assert sorted(mine) == sorted(theirs)
        for role in mine:
            np.testing.assert_array_equal(np.asarray(mine[role]), np.asarray(theirs[role]))
    return str(tmp_path / "bundle.npz")


def test_the_same_nodes_as_the_keras_reader(tmp_path):
    """The settings model's nodes, both readers (no Caffe run)."""
    assert_same_nodes_as_the_keras_reader(_settings_model(), tmp_path)


def test_lstm_final_h_without_c(tmp_path):
    """An LSTM's final h read without its c, beside its sequence and alone: each node Keras' [output, h, c]
    with return_state, as the Keras reader's (c fetched from the loop; was: refused, and a last step
    without return_state); parity in Caffe."""
    inp = keras.Input((STEPS, 3), name="sequence")
    seq, h_seq, _ = layers.LSTM(5, return_sequences=True, return_state=True, name="lstm_seq")(inp)
    _, h_alone, _ = layers.LSTM(4, return_state=True, name="lstm_alone")(seq)
    heads = [layers.Dense(2, name="head_%d" % i)(h) for i, h in enumerate([h_seq, h_alone])]
    bundle = assert_same_nodes_as_the_keras_reader(randomize_recurrent(keras.Model(inp, heads)), tmp_path)
    assert [(attrs["return_state"], arity) for _, attrs, _, arity in _recurrent_nodes(bundle)] == [(True, (1, 3))] * 2
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))


@pytest.mark.parametrize("inner", ["lstm", "gru"])
def test_bidirectional_initial_states(tmp_path, inner):
    """A Bidirectional LSTM / GRU called with initial_state (test_recurrent_states.py's models): states
    that are model inputs (return_sequences, return_state), then a Dense of another input (the last
    step); each pair of loops one node reading the sequence, then the forward states, then the backward
    ones, as the Keras reader's; parity in Caffe."""
    cls, count = (layers.LSTM, 4) if inner == "lstm" else (layers.GRU, 2)
    model = randomize_recurrent(two_layers(cls, {}, count, wrap=lambda layer, name: layers.Bidirectional(
        layer, name="bi_" + name)))
    bundle = assert_same_nodes_as_the_keras_reader(model, tmp_path)
    assert [arity for _, _, _, arity in _recurrent_nodes(bundle)] == [(1 + count, 1 + count), (1 + count, 1)]
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))


def test_keras2_savedmodel_hard_sigmoid(tmp_path):
    """tf_keras' model.save(dir) of a tagger over token ids: hard_sigmoid gates are clip(0.2 x + 0.5, 0, 1)
    there; GRU both reset modes, an LSTM, a default Bidirectional GRU (tf_keras' standard_gru: the two
    biases unstacked) and a TimeDistributed Dense (a Reshape to N * T rows and back)."""
    tf_keras = pytest.importorskip("tf_keras")
    kl = tf_keras.layers
    inp = kl.Input((STEPS,), dtype="int32", name="tokens")
    x = kl.Embedding(25, 5, name="embed")(inp)
    x = kl.GRU(10, return_sequences=True, recurrent_activation="hard_sigmoid", reset_after=False, name="gru_k2")(x)
    x = kl.GRU(10, return_sequences=True, recurrent_activation="hard_sigmoid", reset_after=True,
               name="gru_k2_after")(x)
    x = kl.LSTM(8, return_sequences=True, recurrent_activation="hard_sigmoid", name="lstm_k2")(x)
    x = kl.Bidirectional(kl.GRU(4, return_sequences=True), name="bi_gru")(x)
    out = kl.TimeDistributed(kl.Dense(6, activation="softmax"), name="tags")(x)      # rows: N * T
    model = tf_keras.Model(inp, out)
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    manifest = convert_saved(model, tmp_path, lambda m, folder: m.save(folder))
    gates = [node["attrs"]["recurrent_activation"] for node in manifest["nodes"] if node["op"] in ("gru", "lstm")]
    assert gates[:3] == [{"function": "hard_sigmoid", "slope": 0.2, "offset": 0.5}] * 3
    assert gates[3] == {"function": "sigmoid"}


# ------------------------------------------------------------------------------ refusals

class _Loops(tf.Module):
    """Two while loops that are no Keras recurrent layer, and an LSTM reading a mask."""

    def __init__(self):
        tokens = keras.Input((16,), dtype="int32", name="tokens")
        self.masked_model = keras.Model(tokens, layers.LSTM(3)(layers.Embedding(20, 4, mask_zero=True)(tokens)))
        rng = np.random.default_rng(0)
        self.kernel = tf.constant(rng.normal(0, 0.5, (3, 4)).astype("float32"))
        self.recurrent = tf.constant(rng.normal(0, 0.5, (4, 4)).astype("float32"))

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def power(self, x):
        """x @ R applied five times."""
        _, y = tf.while_loop(lambda i, y: i < 5, lambda i, y: (i + 1, tf.tanh(y @ self.recurrent)), [0, x])
        return {"y": y}

    @tf.function(input_signature=[tf.TensorSpec([None, 16], tf.int32, name="tokens")])
    def masked(self, tokens):
        """An Embedding's mask (mask_zero) read by an LSTM: the loop unstacks the mask beside the sequence."""
        return {"y": self.masked_model(tokens)}

    @tf.function(input_signature=[tf.TensorSpec([None, STEPS, 3], tf.float32, name="x")])
    def halved(self, x):
        """A SimpleRNN's list plumbing around a cell that is none: h = tanh(x K + h R) / 2."""
        steps = tf.TensorArray(tf.float32, size=STEPS).unstack(tf.transpose(x, [1, 0, 2]))
        out = tf.TensorArray(tf.float32, size=STEPS)

        def body(t, h, out):
            h = tf.tanh(steps.read(t) @ self.kernel + h @ self.recurrent) * 0.5
            return t + 1, h, out.write(t, h)
        _, _, out = tf.while_loop(lambda t, h, out: t < STEPS, body, [0, tf.zeros([tf.shape(x)[0], 4]), out])
        return {"y": tf.transpose(out.stack(), [1, 0, 2])}


@pytest.mark.parametrize("signature,reason", [
    ("power", "not one sequence unstacked by TensorListFromTensor"),
    ("masked", "a mask is one: Caffe has no masks"),
    ("halved", "no LSTM, GRU or SimpleRNN cell"),
], ids=["plain_loop", "masked", "other_cell"])
def test_other_while_loops_are_refused_by_name(tmp_path, signature, reason):
    module = _Loops()
    folder = str(tmp_path / "loops")
    signatures = {"power": module.power, "halved": module.halved, "masked": module.masked}
    tf.saved_model.save(module, folder, signatures=signatures)
    proc = run_export(folder, tmp_path / "b.npz", "--signature", signature)
    assert proc.returncode == 4, proc.stderr
    assert "While" in proc.stderr and "is not a Keras recurrent layer's loop" in proc.stderr, proc.stderr
    assert reason in proc.stderr, proc.stderr
    assert not os.path.exists(str(tmp_path / "b.npz"))


@pytest.mark.parametrize("save", ["model_export", "tf_saved_model_save"])
def test_stateful_layers_are_refused_by_name(tmp_path, save):
    """Keras 3 stateful=True layers (a fixed batch) assign their state variables at each call: refused by
    name through the CLI, status 4, saying to convert a stateless copy (was: 'could not freeze', status 6)."""
    inp = keras.Input((STEPS, 3), batch_size=2, name="sequence")
    x = layers.LSTM(5, stateful=True, return_sequences=True, name="lstm")(inp)
    model = randomize_recurrent(keras.Model(inp, layers.GRU(4, stateful=True, name="gru")(x)))
    folder = str(tmp_path / "stateful")
    model.export(folder, verbose=False) if save == "model_export" else tf.saved_model.save(model, folder)
    proc = run_export(folder, tmp_path / "b.npz")
    assert proc.returncode == 4, proc.stderr
    assert "2 unsupported layer(s)" in proc.stderr and "stateful layer" in proc.stderr, proc.stderr
    assert "stateful=True" in proc.stderr and "convert a stateless copy" in proc.stderr, proc.stderr
    assert "gru" in proc.stderr and not os.path.exists(str(tmp_path / "b.npz"))


def test_keras2_stateful_gru_is_refused_by_name(tmp_path):
    """tf_keras' (Keras 2) model.save(dir) of a stateful GRU: refused by name through the CLI, status 4, as Keras 3's."""
    tf_keras = pytest.importorskip("tf_keras")
    kl = tf_keras.layers
    inp = kl.Input((STEPS, 3), batch_size=2, name="sequence")
    model = tf_keras.Model(inp, kl.GRU(4, stateful=True, name="gru_k2")(inp))
    folder = str(tmp_path / "stateful_k2")
    model.save(folder)
    proc = run_export(folder, tmp_path / "b.npz")
    assert proc.returncode == 4, proc.stderr
    assert "stateful layer" in proc.stderr and "stateful=True" in proc.stderr, proc.stderr
    assert "convert a stateless copy" in proc.stderr and "gru_k2" in proc.stderr, proc.stderr
    assert not os.path.exists(str(tmp_path / "b.npz"))


@pytest.mark.parametrize("lower", [False, True], ids=["loop_kept", "loop_lowered"])
def test_frozen_graph(tmp_path, lower):
    """A frozen GraphDef (.pb) of a GRU: with its While kept (lower_control_flow=False) it converts; lowered
    into Enter / Merge / NextIteration cycles it is refused, saying how to freeze it instead."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    from export_tf.exporter import export
    from shared.errors import ModelLoadError
    inp = keras.Input((STEPS, 3), name="sequence")
    model = randomize_recurrent(keras.Model(inp, layers.GRU(4, name="gru")(inp)))
    function = tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec([None, STEPS, 3], tf.float32))
    graph_def = convert_variables_to_constants_v2(function, lower_control_flow=lower).graph.as_graph_def()
    path = str(tmp_path / "gru.pb")
    with open(path, "wb") as f:
        f.write(graph_def.SerializeToString())
    if lower:
        with pytest.raises(ModelLoadError, match="lower_control_flow=False"):
            export(path, str(tmp_path / "bundle.npz"))
        return
    manifest = export(path, str(tmp_path / "bundle.npz"))
    assert _ops(manifest) == ["gru"]
    assert_parity(import_bundle(str(tmp_path / "bundle.npz"), str(tmp_path / "caffe")))
