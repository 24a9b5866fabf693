"""Attention end to end (issue 14, step 4), 64-step sequences, random non-trivial weights: Dot (every pair of
axes on sequences and vectors, normalize), Attention (dot and concat scores, use_scale, causal, the scores
returned), AdditiveAttention, MultiHeadAttention (4 heads, key, value and output widths, no bias, a gate,
causal, a sliding window, the scores returned, called with keywords); the acceptance models of the issue (a
stacked LSTM language model with an attention-weighted average, a two-block transformer encoder); masks
given as tensors refused by name."""
import os

import keras
import numpy as np
import pytest
from keras import layers

from conftest import assert_parity, caffe_layer_types, convert, randomize

STEPS = 64


@pytest.fixture(autouse=True)
def seeded():
    """Keras' initial kernels seeded too, so each test's figures (the README's) repeat."""
    keras.utils.set_random_seed(0)


def randomize_attention(model, seed=0):
    """randomize(), plus scalar scales away from 1 (Attention's scale and concat_score_weight are ones when
    built), so a dropped or misplaced scale shows."""
    randomize(model, seed)
    rng = np.random.default_rng(seed + 200)
    for var in model.weights:
        role = var.path.split("/")[-1]
        if role in ("scale", "concat_score_weight"):
            var.assign(rng.uniform(0.4, 1.6, tuple(var.shape)).astype("float32"))
    return model


def check(model, tmp_path, **kwargs):
    randomize_attention(model)
    result = convert(model, tmp_path, **kwargs)
    return assert_parity(result), result


def notes(report):
    """{TF layer: its lowering's note} from report.json."""
    return dict((row["layer"], row.get("note") or "") for row in report["layers"])


# ------------------------------------------------------------------------------------------- Dot

@pytest.mark.parametrize("normalize", [False, True], ids=["plain", "normalize"])
def test_dot_of_two_sequences_every_axes(tmp_path, normalize):
    a = keras.Input((STEPS, 5), name="a")
    b = keras.Input((STEPS, 5), name="b")
    wide = keras.Input((STEPS, STEPS), name="wide")
    outs = [layers.Dot(axes=2, normalize=normalize, name="dot_channels")([a, b]),       # (64, 64)
            layers.Dot(axes=1, normalize=normalize, name="dot_steps")([a, wide]),       # (5, 64)
            layers.Dot(axes=(2, 1), normalize=normalize, name="dot_2_1")([wide, b]),    # (64, 5)
            layers.Dot(axes=(1, 2), normalize=normalize, name="dot_1_2")([b, wide])]    # (5, 64)
    check(keras.Model([a, b, wide], outs), tmp_path)


@pytest.mark.parametrize("normalize", [False, True], ids=["plain", "normalize"])
def test_dot_with_vectors(tmp_path, normalize):
    seq = keras.Input((STEPS, 6), name="sequence")
    u = keras.Input((6,), name="u")
    v = keras.Input((6,), name="v")
    t = keras.Input((STEPS,), name="t")
    outs = [layers.Dot(axes=1, normalize=normalize, name="vec_vec")([u, v]),            # (1,)
            layers.Dot(axes=(1, 2), normalize=normalize, name="vec_seq")([u, seq]),     # (64,)
            layers.Dot(axes=(2, 1), normalize=normalize, name="seq_vec")([seq, v]),     # (64,)
            layers.Dot(axes=1, normalize=normalize, name="seq_steps_vec")([seq, t]),    # (6,)
            layers.Dot(axes=1, normalize=normalize, name="steps_vec_seq")([t, seq])]    # (6,)
    check(keras.Model([seq, u, v, t], outs), tmp_path)


def test_dot_normalize_for_caffe_1_0_without_clip(tmp_path):
    """normalize caps 1 / |x| at 1 / epsilon: a Clip where the target has one, else ReLU / Power / Eltwise MAX."""
    from conftest import import_bundle
    a = keras.Input((STEPS, 5), name="a")
    b = keras.Input((STEPS, 5), name="b")
    out = layers.Dot(axes=2, normalize=True, name="cosine")([a, b])
    report, result = check(keras.Model([a, b], out), tmp_path)
    assert "Clip" in caffe_layer_types(result)
    plain = import_bundle(result.bundle, str(tmp_path / "caffe-1.0"), "--target", "caffe-1.0")
    assert_parity(plain)
    assert "Clip" not in caffe_layer_types(plain)


# ------------------------------------------------------------------------------------- Attention

@pytest.mark.parametrize("config,call", [
    (dict(), dict()),
    (dict(use_scale=True), dict(use_causal_mask=True, return_attention_scores=True)),
    (dict(score_mode="concat", use_scale=True), dict()),
    (dict(score_mode="concat"), dict(use_causal_mask=True)),
], ids=["dot", "scaled_causal_scores", "concat_scaled", "concat_causal"])
def test_attention(tmp_path, config, call):
    q = keras.Input((STEPS, 8), name="query")
    v = keras.Input((STEPS, 6), name="value")
    k = keras.Input((STEPS, 8), name="key")
    out = layers.Attention(name="attention", **config)([q, v, k], **call)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    report, result = check(keras.Model([q, v, k], outs), tmp_path)
    assert "LSTM" not in caffe_layer_types(result)


def node_inputs(result, name):
    from shared.bundle import read_bundle
    nodes = read_bundle(result.bundle, arrays=False).manifest["nodes"]
    return [n for n in nodes if n["name"] == name][0]["inputs"]


def test_self_attention_reads_its_input_once(tmp_path):
    x = keras.Input((STEPS, 8), name="x")
    h = layers.Dense(8, name="proj")(x)
    out = layers.Attention(use_scale=True, name="self_attention")([h, h])
    report, result = check(keras.Model(x, out), tmp_path)
    assert node_inputs(result, "self_attention") == ["proj"]


@pytest.mark.parametrize("use_scale,call", [(True, dict(return_attention_scores=True)), (False, dict(use_causal_mask=True))],
                         ids=["scaled_scores", "unscaled_causal"])
def test_additive_attention(tmp_path, use_scale, call):
    q = keras.Input((STEPS, 8), name="query")
    v = keras.Input((STEPS + 16, 8), name="value")
    out = layers.AdditiveAttention(use_scale=use_scale, name="additive")([q, v], **call)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    check(keras.Model([q, v], outs), tmp_path)


# --------------------------------------------------------------------------- MultiHeadAttention

@pytest.mark.parametrize("config,call", [
    (dict(num_heads=4, key_dim=4), dict()),
    (dict(num_heads=4, key_dim=3, value_dim=5, output_shape=7, use_bias=False), dict(use_causal_mask=True)),
    (dict(num_heads=2, key_dim=4, sliding_window=9, use_gate=True), dict(return_attention_scores=True)),
], ids=["self", "dims_no_bias_causal", "window_gate_scores"])
def test_multi_head_self_attention(tmp_path, config, call):
    x = keras.Input((STEPS, 12), name="x")
    out = layers.MultiHeadAttention(name="mha", **config)(x, x, **call)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    check(keras.Model(x, outs), tmp_path)


def test_multi_head_cross_attention_called_with_keywords(tmp_path):
    """query=, value=, key= : Keras lists the inputs sorted by name (key, query, value); the node reads them in
    the op's order."""
    q = keras.Input((STEPS, 6), name="q")
    v = keras.Input((STEPS + 8, 5), name="v")
    k = keras.Input((STEPS + 8, 7), name="k")
    out = layers.MultiHeadAttention(4, 3, value_dim=2, name="mha")(query=q, value=v, key=k)
    report, result = check(keras.Model([q, v, k], out), tmp_path)
    assert node_inputs(result, "mha") == ["q", "v", "k"]


# ---------------------------------------------------------------------------- acceptance models

def language_model():
    """Embedding -> LSTM -> LSTM (return_sequences) -> per-step next-token softmax, and an attention-weighted
    average of the steps (Dense(1) -> Softmax over time -> Dot) -> Dense (also built by
    test_savedmodel_attention.py)."""
    tokens = keras.Input((STEPS,), dtype="int32", name="tokens")
    x = layers.Embedding(30, 8, name="embed")(tokens)
    x = layers.LSTM(16, return_sequences=True, name="lstm1")(x)
    h = layers.LSTM(16, return_sequences=True, name="lstm2")(x)
    next_token = layers.Dense(30, activation="softmax", name="next_token")(h)
    return keras.Model(tokens, [next_token, attention_average_head(h)])


def test_stacked_lstm_language_model_with_attention_average(tmp_path):
    report, result = check(language_model(), tmp_path)
    assert "LSTM" in caffe_layer_types(result)


def attention_average_head(h):
    """The attention-weighted average of a sequence's steps (Dense(1) -> Softmax over time -> Dot), then a
    4-way softmax (also built by test_savedmodel_attention.py)."""
    scores = layers.Dense(1, name="score")(h)                          # (64, 1)
    weights = layers.Softmax(axis=1, name="over_time")(scores)         # softmax over the 64 steps
    context = layers.Dot(axes=1, name="weighted_average")([weights, h])   # (1, 16)
    context = layers.Flatten(name="context")(context)
    return layers.Dense(4, activation="softmax", name="topic")(context)


def _encoder_block(x, i, width):
    attn = layers.MultiHeadAttention(4, width // 4, name="mha%d" % i)(x, x)
    x = layers.LayerNormalization(epsilon=1e-6, name="norm%d_a" % i)(layers.Add(name="res%d_a" % i)([x, attn]))
    ff = layers.Dense(2 * width, activation="gelu", name="ff%d_in" % i)(x)
    ff = layers.Dense(width, name="ff%d_out" % i)(ff)
    return layers.LayerNormalization(epsilon=1e-6, name="norm%d_b" % i)(layers.Add(name="res%d_b" % i)([x, ff]))


def transformer_encoder():
    """The two-block transformer encoder of the issue (also built by test_savedmodel_attention.py)."""
    inp = keras.Input((STEPS, 10), name="features")
    x = layers.Dense(16, name="embed")(inp)
    for i in range(2):
        x = _encoder_block(x, i, 16)
    pooled = layers.GlobalAveragePooling1D(name="pool")(x)
    out = layers.Dense(5, activation="softmax", name="classes")(pooled)
    return keras.Model(inp, out)


def test_two_block_transformer_encoder(tmp_path):
    check(transformer_encoder(), tmp_path)


# ------------------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("which", ["attention_mask", "mask"])
def test_masks_given_as_tensors_are_refused_by_name(tmp_path, which):
    from export_tf.exporter import export
    from shared.errors import UnsupportedError
    x = keras.Input((6, 4), name="x")
    m = keras.Input((6, 6) if which == "attention_mask" else (6,), name="m")
    if which == "attention_mask":
        out = layers.MultiHeadAttention(2, 2, name="att")(x, x, attention_mask=m)
    else:
        out = layers.Attention(name="att")([x, x], mask=[m, m])
    path = str(tmp_path / "m.keras")
    keras.Model([x, m], out).save(path)
    with pytest.raises(UnsupportedError) as info:
        export(path, str(tmp_path / "b.npz"))
    assert "(first: att)" in str(info.value) and ("%s given" % which) in str(info.value)
    assert not os.path.exists(str(tmp_path / "b.npz"))


def test_keras2_h5_attention_layers(tmp_path):
    """A Keras-2-written .h5 (tf_keras): MultiHeadAttention, Attention with a causal mask and Dot normalize
    (tf_keras' l2_normalize: x * rsqrt(max(sum x^2, 1e-12)))."""
    tf_keras = pytest.importorskip("tf_keras")
    kl = tf_keras.layers
    x = kl.Input((STEPS, 8), name="x")
    h = kl.MultiHeadAttention(4, 2, name="mha")(x, x)
    a = kl.Attention(use_scale=True, name="att")([h, x], use_causal_mask=True)
    out = kl.Dot(axes=2, normalize=True, name="cosine")([a, x])
    model = tf_keras.Model(x, out)
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(0.5, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    assert_parity(convert(model, tmp_path, save_as=".h5"))
