"""Attention and the transformer encoder from SavedModels (issue 14): the graph front end recognises the ops
Keras' layers write on the TF backend (tf.tensordot's Reshape -> MatMul -> Reshape, MultiHeadAttention's
projections, einsums, scale and Softmax, LayerNormalization's moments arithmetic, tf.nn.gelu's Erfc or Tanh
arithmetic, BatchMatMulV2 of two activations) and writes the manifest ops the Keras reader writes, compared
on every tensor; an einsum it does not recognise, and MultiHeadAttention with a mask, are refused by name."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from conftest import assert_parity, import_bundle
from test_attention import STEPS, attention_average_head, language_model, randomize_attention, transformer_encoder


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(0)


def export_saved_model(model, tmp_path, writer="model_export"):
    folder = str(tmp_path / "saved")
    if writer == "model_export":
        model.export(folder, verbose=False)
    else:
        tf.saved_model.save(model, folder)
    return folder


def convert_saved_model(folder, tmp_path):
    """Export the SavedModel (in-process) and import it in Caffe; returns (ops by count, the Result)."""
    from export_tf.exporter import export
    bundle = str(tmp_path / "bundle.npz")
    manifest = export(folder, bundle, batch=2, seed=0)
    ops = {}
    for node in manifest["nodes"]:
        ops[node["op"]] = ops.get(node["op"], 0) + 1
    return ops, import_bundle(bundle, str(tmp_path / "caffe"))


def test_two_block_transformer_encoder_from_model_export(tmp_path):
    """MultiHeadAttention (4 heads), LayerNormalization and the exact GELU feed-forward: one node each, as
    from the .keras file."""
    folder = export_saved_model(randomize_attention(transformer_encoder()), tmp_path)
    ops, result = convert_saved_model(folder, tmp_path)
    assert_parity(result)
    assert ops["multi_head_attention"] == 2 and ops["layer_norm"] == 4, ops
    assert ops["activation"] == 3 and ops["dense"] == 6 and ops["global_pool1d"] == 1, ops   # 2 gelu, 1 softmax
    assert "rescale" not in ops and "identity" not in ops and "dot" not in ops, ops    # every bias in its node


@pytest.mark.parametrize("writer", ["model_export", "tf_saved_model_save"])
def test_attention_weighted_average(tmp_path, writer):
    """Conv1D -> Dense(1) -> Softmax over time -> Dot (a BatchMatMulV2 of two activations) -> Dense."""
    features = keras.Input((STEPS, 6), name="features")
    h = layers.Conv1D(16, 3, padding="same", name="conv")(features)
    model = randomize_attention(keras.Model(features, attention_average_head(h)))
    ops, result = convert_saved_model(export_saved_model(model, tmp_path, writer), tmp_path)
    assert_parity(result)
    assert ops["dot"] == 1 and ops["dense"] == 2 and ops["permute"] == 1, ops     # the softmax over time: one node


def test_stacked_lstm_language_model_with_attention_average(tmp_path):
    """The language model of test_attention.py from its SavedModel: the Embedding's gather and the LSTMs'
    While loops are recognised by the graph reader (lookups.py, loops.py), the attention-weighted average here."""
    model = randomize_attention(language_model())
    ops, result = convert_saved_model(export_saved_model(model, tmp_path), tmp_path)
    assert_parity(result)
    assert ops["embedding"] == 1 and ops["lstm"] == 2 and ops["dot"] == 1, ops


def test_keras2_saved_model(tmp_path):
    """tf_keras (Keras 2) writes MultiHeadAttention's projections as einsums, scales the query before the key-first
    scores einsum, and LayerNormalization through tf.nn.batch_normalization (beta - mean * inv, or -(mean * inv)
    without beta) when its epsilon is below 1.001e-5, else a FusedBatchNormV3 in training mode over a reshape to
    (1, rows, C, 1) and back, then the scale and offset."""
    tf_keras = pytest.importorskip("tf_keras")
    kl = tf_keras.layers
    x = kl.Input((STEPS, 8), name="x")
    h = kl.MultiHeadAttention(4, 2, name="mha")(x, x)
    h = kl.LayerNormalization(epsilon=1e-6, name="norm")(kl.Add(name="res")([x, h]))
    f = kl.Dense(16, activation="gelu", name="ff")(h)
    g = kl.LayerNormalization(epsilon=1e-6, scale=False, name="no_scale")(f)
    g = kl.LayerNormalization(epsilon=1e-6, center=False, name="no_center")(g)
    g = kl.LayerNormalization(name="fused")(g)
    g = kl.LayerNormalization(center=False, name="fused_no_center")(g)
    model = tf_keras.Model(x, g)
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(0.3, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    folder = str(tmp_path / "saved")
    tf.saved_model.save(model, folder)
    ops, result = convert_saved_model(folder, tmp_path)
    assert_parity(result)
    assert ops["multi_head_attention"] == 1 and ops["layer_norm"] == 5 and ops["activation"] == 1, ops


class _Products(tf.Module):
    """tf.einsum written by hand: a product of two sequences, a sequence times a constant matrix."""

    def __init__(self):
        super(_Products, self).__init__()
        self.kernel = tf.Variable(np.random.default_rng(3).normal(0, 0.5, (5, 7)).astype("float32"))

    @tf.function(input_signature=[tf.TensorSpec([None, STEPS, 5], tf.float32),
                                  tf.TensorSpec([None, 9, 5], tf.float32), tf.TensorSpec([None, 5], tf.float32)])
    def __call__(self, a, b, v):
        return {"scores": tf.einsum("btc,bsc->bts", a, b), "projected": tf.einsum("btc,cd->btd", a, self.kernel),
                "swapped": tf.einsum("bsc,btc->bts", b, a), "vector": tf.einsum("bc,cd->bd", v, self.kernel),
                "attended": tf.einsum("bc,btc->bt", v, a)}


def test_einsum_products(tmp_path):
    folder = str(tmp_path / "products")
    module = _Products()
    tf.saved_model.save(module, folder, signatures=module.__call__.get_concrete_function())
    ops, result = convert_saved_model(folder, tmp_path)
    assert_parity(result)
    assert ops == {"dot": 3, "dense": 2}, ops


def test_dot_attention_layers_through_their_products(tmp_path):
    """Keras' Attention with dot scores (scaled or not) is two BatchMatMulV2 and a Softmax in a graph: two dot nodes
    and a softmax, no pattern needed (with use_causal_mask: one attention node, test_causal_dot_attention)."""
    q = keras.Input((STEPS, 8), name="q")
    v = keras.Input((STEPS, 6), name="v")
    k = keras.Input((STEPS, 8), name="k")
    outs = [layers.Attention(use_scale=True, name="scaled")([q, v, k]), layers.Attention(name="plain")([q, k])]
    model = randomize_attention(keras.Model([q, v, k], outs))
    ops, result = convert_saved_model(export_saved_model(model, tmp_path), tmp_path)
    assert_parity(result)
    assert ops["dot"] == 4 and ops["activation"] == 2, ops


def test_attention_variants(tmp_path):
    """Cross attention with its own key, value and output widths and no biases; LayerNormalization without
    its scale, and without its offset; the approximate (tanh) GELU."""
    q = keras.Input((STEPS, 12), name="q")
    v = keras.Input((STEPS + 8, 6), name="v")
    k = keras.Input((STEPS + 8, 5), name="k")
    a = layers.MultiHeadAttention(4, 3, value_dim=2, output_shape=7, use_bias=False, name="mha")(q, v, key=k)
    a = layers.LayerNormalization(scale=False, name="no_scale")(a)
    b = layers.LayerNormalization(center=False, epsilon=1e-5, name="no_center")(q)
    b = layers.Dense(8, name="ff")(b)
    b = keras.ops.gelu(b, approximate=True)
    model = randomize_attention(keras.Model([q, v, k], [a, b]))
    ops, result = convert_saved_model(export_saved_model(model, tmp_path), tmp_path)
    assert_parity(result)
    assert ops["multi_head_attention"] == 1 and ops["layer_norm"] == 2 and ops["activation"] == 1, ops


class _Einsum(tf.Module):
    def __init__(self, equation):
        super(_Einsum, self).__init__()
        self.equation = equation

    @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32), tf.TensorSpec([None, 5], tf.float32)])
    def __call__(self, a, b):
        return tf.einsum(self.equation, a, b)


def test_unrecognised_einsum_is_refused_by_name(tmp_path):
    from export_tf.exporter import export
    from shared.errors import UnsupportedError
    folder = str(tmp_path / "outer")
    module = _Einsum("bi,bj->bij")          # an outer product: no contraction
    tf.saved_model.save(module, folder, signatures=module.__call__.get_concrete_function())
    with pytest.raises(UnsupportedError) as info:
        export(folder, str(tmp_path / "b.npz"))
    assert "Einsum [einsum 'bi,bj->bij' is not recognised" in str(info.value)
    assert not os.path.exists(str(tmp_path / "b.npz"))


def test_causal_and_sliding_window_masks(tmp_path):
    """The constant masks Keras writes as a SelectV2 before the softmax: causal, and a sliding window with it."""
    x = keras.Input((STEPS, 12), name="x")
    h = layers.MultiHeadAttention(4, 3, name="causal")(x, x, use_causal_mask=True)
    h = layers.MultiHeadAttention(4, 3, sliding_window=9, name="window")(h, h, use_causal_mask=True)
    h = layers.MultiHeadAttention(2, 3, sliding_window=5, name="window_only")(h, h)
    model = randomize_attention(keras.Model(x, h))
    ops, result = convert_saved_model(export_saved_model(model, tmp_path), tmp_path)
    assert_parity(result)
    assert ops == {"multi_head_attention": 3}, ops


def test_multi_head_attention_with_a_mask_tensor_is_refused_by_name(tmp_path):
    from export_tf.exporter import export
    from shared.errors import UnsupportedError
    x = keras.Input((8, 8), name="x")
    m = keras.Input((8, 8), name="m")
    out = layers.MultiHeadAttention(2, 4, name="mha")(x, x, attention_mask=m)
    folder = export_saved_model(keras.Model([x, m], out), tmp_path)
    with pytest.raises(UnsupportedError) as info:
        export(folder, str(tmp_path / "b.npz"))
    assert "MultiHeadAttention's, but the ops around it are not its plain pattern" in str(info.value)
    assert not os.path.exists(str(tmp_path / "b.npz"))


def _attention_attrs(folder, tmp_path):
    """Export the SavedModel; returns (the attention nodes' (score, use_scale, causal, inputs count), the Result)."""
    from export_tf.exporter import export
    bundle = str(tmp_path / "bundle.npz")
    manifest = export(folder, bundle, batch=2, seed=0)
    assert set(node["op"] for node in manifest["nodes"]) == {"attention"}, manifest["nodes"]
    found = sorted((n["attrs"]["score"], n["attrs"]["use_scale"], n["attrs"]["causal"], len(n["inputs"]))
                   for n in manifest["nodes"])
    return found, import_bundle(bundle, str(tmp_path / "caffe"))


def test_causal_dot_attention(tmp_path):
    """Attention(use_causal_mask=True): its constant mask (where(not allowed, scores - 1e9, scores)) recognised,
    one attention node as the Keras reader's (was refused at its SelectV2), scaled or not, 64 steps."""
    q = keras.Input((STEPS, 8), name="q")
    v = keras.Input((STEPS, 6), name="v")
    k = keras.Input((STEPS, 8), name="k")
    outs = [layers.Attention(use_scale=True, name="scaled")([q, v, k], use_causal_mask=True),
            layers.Attention(name="plain")([q, k], use_causal_mask=True)]
    model = randomize_attention(keras.Model([q, v, k], outs))
    found, result = _attention_attrs(export_saved_model(model, tmp_path), tmp_path)
    assert_parity(result)
    assert found == [("dot", False, True, 2), ("dot", True, True, 3)], found


def test_additive_attention(tmp_path):
    """AdditiveAttention (Bahdanau) with and without use_scale, and causal: sum(scale * tanh(q + k)) over the
    channels, one attention node with additive scores each (was refused at its Sum)."""
    q = keras.Input((STEPS, 8), name="q")
    v = keras.Input((STEPS, 6), name="v")
    k = keras.Input((STEPS, 8), name="k")
    outs = [layers.AdditiveAttention(name="scaled")([q, v, k]),
            layers.AdditiveAttention(use_scale=False, name="plain")([q, k]),
            layers.AdditiveAttention(name="causal")([k, q], use_causal_mask=True)]
    model = randomize_attention(keras.Model([q, v, k], outs))
    found, result = _attention_attrs(export_saved_model(model, tmp_path), tmp_path)
    assert_parity(result)
    assert found == [("additive", False, False, 2), ("additive", True, False, 3), ("additive", True, True, 2)], found


def test_concat_attention_is_refused_at_its_sum(tmp_path):
    from export_tf.exporter import export
    from shared.errors import UnsupportedError
    q = keras.Input((8, 4), name="q")
    v = keras.Input((8, 4), name="v")
    folder = export_saved_model(keras.Model([q, v], layers.Attention(score_mode="concat")([q, v])), tmp_path)
    with pytest.raises(UnsupportedError) as info:
        export(folder, str(tmp_path / "b.npz"))
    assert "Sum [a sum over an axis converts only inside Keras 3's AdditiveAttention" in str(info.value)
    assert not os.path.exists(str(tmp_path / "b.npz"))
