"""BatchNormalization end to end: inference form on images and on vectors, every epsilon and affine
setting (Caffe BatchNorm's default eps differs from Keras's; center/scale drop beta/gamma)."""
import keras
import pytest
from keras import layers

BN_CASES = {
    "eps_1e-3_default": dict(),
    "eps_1e-5": dict(epsilon=1e-5),
    "eps_0.1": dict(epsilon=0.1),
    "no_center": dict(center=False),
    "no_scale": dict(scale=False),
    "no_center_no_scale": dict(center=False, scale=False),
    "no_center_eps_0.1": dict(center=False, epsilon=0.1),
}


@pytest.mark.parametrize("case", sorted(BN_CASES), ids=sorted(BN_CASES))
def test_batch_norm_on_image(check, case):
    inp = keras.Input((7, 6, 5), name="image")
    x = layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    out = layers.BatchNormalization(name="bn", **BN_CASES[case])(x)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("case", sorted(BN_CASES), ids=sorted(BN_CASES))
def test_batch_norm_on_vector_after_dense(check, case):
    inp = keras.Input((12,), name="features")
    x = layers.Dense(6, name="dense")(inp)
    out = layers.BatchNormalization(name="bn", **BN_CASES[case])(x)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("case", ["eps_1e-3_default", "no_center_no_scale"])
def test_batch_norm_on_input_image(check, case):
    """Normalising the network input directly (a preprocessing BatchNorm), then a convolution."""
    inp = keras.Input((6, 6, 3), name="image")
    x = layers.BatchNormalization(name="bn", **BN_CASES[case])(inp)
    out = layers.Conv2D(4, 3, name="conv")(x)
    check(keras.Model(inp, out))


def test_batch_norm_then_relu_then_dense(check):
    """The classic conv-bn-relu block feeding a classifier head."""
    inp = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(6, 3, strides=2, padding="same", use_bias=False, name="conv")(inp)
    x = layers.BatchNormalization(epsilon=1e-5, name="bn")(x)
    x = layers.ReLU(name="relu")(x)
    x = layers.Flatten(name="flat")(x)
    x = layers.Dense(8, name="fc")(x)
    x = layers.BatchNormalization(name="bn_fc")(x)
    out = layers.Dense(5, activation="softmax", name="probs")(x)
    check(keras.Model(inp, out))


def test_batch_norm_on_flattened_image(check):
    """Per-feature statistics of an HWC-flattened tensor: Caffe's CHW-flattened blob must not pair
    feature i with the statistics of another feature."""
    inp = keras.Input((3, 4, 2), name="image")
    x = layers.Flatten(name="flat")(inp)
    x = layers.BatchNormalization(name="bn")(x)
    out = layers.Dense(3, name="head")(x)
    check(keras.Model(inp, out))


def test_layer_norm_on_vectors_sequences_and_images(check):
    """LayerNormalization over the channel axis at every position (Caffe's MVN cannot: it normalises over
    C*H*W): each rank, with center/scale off, a large epsilon, and an input offset far from zero."""
    image = keras.Input((4, 5, 6), name="image")
    sequence = keras.Input((7, 5), name="sequence")
    vector = keras.Input((9,), name="features")
    a = layers.Conv2D(6, 3, padding="same", name="conv")(image)
    a = layers.Rescaling(1.0, offset=3.0, name="offset")(a)
    outs = [
        layers.LayerNormalization(name="ln_image")(a),
        layers.LayerNormalization(epsilon=0.5, center=False, name="ln_sequence")(
            layers.Conv1D(4, 3, name="conv1d")(sequence)),
        layers.LayerNormalization(scale=False, epsilon=1e-6, name="ln_vector")(layers.Dense(8, name="fc")(vector)),
        layers.LayerNormalization(center=False, scale=False, name="ln_plain")(vector),
    ]
    check(keras.Model([image, sequence, vector], outs))


def test_normalization_preprocessing(check):
    """Keras's Normalization: adapted statistics (per channel, and one for all with axis=None), explicit
    mean/variance, and invert=True; computes (x - mean) / max(sqrt(var), epsilon)."""
    import numpy as np
    rng = np.random.default_rng(3)
    image = keras.Input((4, 5, 3), name="image")
    vector = keras.Input((6,), name="features")
    sequence = keras.Input((7, 2), name="sequence")
    per_channel = layers.Normalization(name="norm_image")
    per_channel.adapt(rng.normal([1.0, -2.0, 0.5], [0.5, 2.0, 3.0], (16, 4, 5, 3)).astype("float32"))
    whole = layers.Normalization(axis=None, name="norm_all")
    whole.adapt(rng.normal(2.0, 3.0, (16, 6)).astype("float32"))
    explicit = layers.Normalization(mean=[0.5, -1.0], variance=[4.0, 0.25], name="norm_explicit")
    invert = layers.Normalization(mean=[0.5, -1.0], variance=[4.0, 0.25], invert=True, name="norm_invert")
    outs = [
        layers.Conv2D(2, 3, name="conv")(per_channel(image)),
        whole(vector),
        explicit(sequence),
        invert(sequence),
        # variances whose square root is below Keras's epsilon (1e-7): the divisor is epsilon itself
        layers.Normalization(mean=[0.5, -1.0], variance=[0.0, 1e-16], name="norm_tiny_variance")(sequence),
    ]
    check(keras.Model([image, vector, sequence], outs))
