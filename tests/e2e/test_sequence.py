"""Sequences end to end: TF (N, L, C) tensors live in Caffe as (N, C, 1, L) one-row images. Conv1D (valid,
same, causal, strides, dilation, groups, fused activations), MaxPooling1D / AveragePooling1D (SAME average
pooling excludes the padding), global pooling (keepdims too), sequence inputs and rank-3 model outputs,
Embedding (integer inputs, valid reference indices) and Flatten of a sequence."""
import os

import keras
import numpy as np
import pytest
from keras import layers



def test_conv1d_settings(check):
    """One sequence input, every Conv1D setting as its own model output (each is compared); DepthwiseConv1D
    and SeparableConv1D."""
    inp = keras.Input((11, 4), name="sequence")
    outs = [
        layers.Conv1D(5, 3, name="valid")(inp),
        layers.Conv1D(6, 4, strides=2, padding="same", activation="relu", name="same_strided")(inp),
        layers.Conv1D(3, 3, padding="causal", dilation_rate=2, activation="tanh", name="causal_dilated")(inp),
        layers.Conv1D(6, 2, padding="same", groups=2, use_bias=False, name="grouped_same_even")(inp),
        layers.Conv1D(4, 5, strides=3, padding="causal", activation="softmax", name="causal_strided")(inp),
        layers.DepthwiseConv1D(3, depth_multiplier=2, padding="same", activation="relu", name="depthwise")(inp),
        layers.DepthwiseConv1D(2, strides=2, name="depthwise_strided")(inp),
        layers.SeparableConv1D(5, 3, depth_multiplier=2, padding="same", dilation_rate=2, activation="sigmoid",
                               name="separable")(inp),
    ]
    check(keras.Model(inp, outs))


def test_pool1d_settings(check):
    """Pooling windows straddle the padding (SAME avg divides by real cells only); the conv in front
    gives values of both signs so a padded zero would win a max. Concatenate (time and channel axes) and
    Add read pooled sequences; ZeroPadding1D, Cropping1D, UpSampling1D and RepeatVector shape them."""
    inp = keras.Input((11, 3), name="sequence")
    x = layers.Conv1D(4, 1, name="conv")(inp)
    outs = [
        layers.MaxPooling1D(2, name="max_valid")(x),
        layers.MaxPooling1D(3, strides=2, padding="same", name="max_same")(x),
        layers.AveragePooling1D(3, strides=2, padding="same", name="avg_same")(x),
        layers.AveragePooling1D(4, strides=1, padding="same", name="avg_same_even")(x),
        layers.AveragePooling1D(3, strides=3, name="avg_valid")(x),
        layers.GlobalAveragePooling1D(name="gap")(x),
        layers.GlobalMaxPooling1D(keepdims=True, name="gmp_keepdims")(x),
        layers.GlobalAveragePooling1D(keepdims=True, name="gap_keepdims")(x),
    ]
    outs.append(layers.Concatenate(axis=1, name="concat_time")([outs[0], outs[4]]))      # (5 + 3, 4)
    outs.append(layers.Concatenate(name="concat_channels")([outs[1], outs[2]]))          # (6, 4 + 4)
    outs.append(layers.Add(name="add")([outs[1], outs[2]]))
    outs.append(layers.Conv1D(2, 3, name="conv_after_pad")(layers.ZeroPadding1D((2, 1), name="pad")(x)))
    outs.append(layers.ZeroPadding1D(1, name="pad_symmetric")(x))
    outs.append(layers.Cropping1D((1, 3), name="crop")(x))
    outs.append(layers.RepeatVector(3, name="repeat")(outs[5]))                            # (4,) -> (3, 4)
    outs.append(layers.UpSampling1D(3, name="upsample")(outs[0]))                          # (5, 4) -> (15, 4)
    check(keras.Model(inp, outs))


def test_sequence_classifier(check):
    """Conv1D -> pool -> Flatten (a flattened sequence: the Dense kernel rows are permuted) -> Dense."""
    inp = keras.Input((12, 3), name="sequence")
    x = layers.Conv1D(6, 3, padding="same", activation="relu", name="conv1")(inp)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.MaxPooling1D(2, name="pool")(x)
    x = layers.Dense(5, activation="tanh", name="per_step")(x)
    flat = layers.Flatten(name="flat")(x)
    out = layers.Dense(4, name="logits")(flat)
    check(keras.Model(inp, [out, flat]))


def test_embedding_text_classifier(check):
    """Integer token ids -> Embedding -> Conv1D -> GlobalMaxPooling1D -> Dense softmax. The reference
    inputs are valid indices; Caffe's Embed writes (L, D) and the vectors are moved onto the channel axis."""
    inp = keras.Input((9,), dtype="int32", name="tokens")
    emb = layers.Embedding(20, 6, name="embed")(inp)
    x = layers.Conv1D(8, 3, activation="relu", name="conv")(emb)
    x = layers.GlobalMaxPooling1D(name="pool")(x)
    out = layers.Dense(3, activation="softmax", name="probs")(x)
    model = keras.Model(inp, [out, emb])
    model.get_layer("embed").embeddings.assign(np.random.default_rng(1).normal(0, 1, (20, 6)).astype("float32"))
    check(model)


def test_embedding_reference_inputs_are_valid_indices(tmp_path):
    from export_tf.exporter import export
    from shared.bundle import read_bundle
    inp = keras.Input((50,), dtype="int32", name="tokens")
    out = layers.Embedding(7, 3, name="embed")(inp)
    path = str(tmp_path / "m.keras")
    keras.Model(inp, out).save(path)
    export(path, str(tmp_path / "b.npz"), batch=4)
    bundle = read_bundle(str(tmp_path / "b.npz"))
    ids = bundle.arrays[bundle.manifest["reference"]["inputs"]["tokens"]]
    assert ids.dtype == np.float32 and np.all(ids == np.round(ids))
    assert ids.min() == 0 and ids.max() == 6


def test_embedding_mask_zero_without_effect_converts(check):
    inp = keras.Input((6,), dtype="int32", name="tokens")
    x = layers.Embedding(10, 4, mask_zero=True, name="embed")(inp)
    out = layers.Dense(3, name="fc")(x)
    check(keras.Model(inp, out))


def test_embedding_mask_zero_used_downstream_is_refused(tmp_path):
    """GlobalAveragePooling1D averages over unmasked steps only: Caffe has no masks (an in-process export:
    the message and exit status 4 of UnsupportedError are the CLI's, tested in test_reshape/test_cli)."""
    from export_tf.exporter import export
    from shared.errors import UnsupportedError
    inp = keras.Input((6,), dtype="int32", name="tokens")
    x = layers.Embedding(10, 4, mask_zero=True, name="embed")(inp)
    out = layers.GlobalAveragePooling1D(name="gap")(x)
    path = str(tmp_path / "m.keras")
    keras.Model(inp, out).save(path)
    with pytest.raises(UnsupportedError) as info:
        export(path, str(tmp_path / "b.npz"))
    assert "mask_zero" in str(info.value) and "(first: embed)" in str(info.value)
    assert not os.path.exists(str(tmp_path / "b.npz"))


@pytest.mark.parametrize("values", [[[0, 3, 7]], [[0, 1.5, 2]], [[-1, 0, 2]]], ids=["too_large", "fraction", "negative"])
def test_reference_indices_outside_the_vocabulary_are_refused(tmp_path, values):
    """User-given reference inputs for an integer input must be valid indices (TF refuses others, Caffe's
    Embed would read outside its weights)."""
    from export_tf.exporter import export
    from shared.errors import UsageError
    inp = keras.Input((3,), dtype="int32", name="tokens")
    out = layers.Embedding(7, 2, name="embed")(inp)
    path = str(tmp_path / "m.keras")
    keras.Model(inp, out).save(path)
    with pytest.raises(UsageError, match=r"integer indices in \[0, 7\)"):
        export(path, str(tmp_path / "b.npz"), reference_inputs={"tokens": np.array(values, dtype=np.float32)})
