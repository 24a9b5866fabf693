"""Dense end to end: InnerProduct on vectors (with/without bias, fused activations), a 1x1
Convolution on images (Keras Dense acts on the channel axis of a rank-4 tensor), and stacks."""
import keras
import pytest
from keras import layers

from conftest import caffe_layer_types, convert, randomize, assert_parity

DENSE_CASES = {
    "with_bias": dict(),
    "without_bias": dict(use_bias=False),
    "fused_relu": dict(activation="relu"),
    "fused_relu6": dict(activation="relu6"),
    "fused_sigmoid": dict(activation="sigmoid"),
    "fused_tanh": dict(activation="tanh"),
    "fused_softmax": dict(activation="softmax"),
    "fused_linear": dict(activation="linear"),
    "without_bias_fused_softmax": dict(use_bias=False, activation="softmax"),
}


@pytest.mark.parametrize("case", sorted(DENSE_CASES), ids=sorted(DENSE_CASES))
def test_dense_on_vector(check, case):
    inp = keras.Input((9,), name="features")
    out = layers.Dense(5, name="fc", **DENSE_CASES[case])(inp)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("case", sorted(DENSE_CASES), ids=sorted(DENSE_CASES))
def test_dense_on_image_channels(check, case):
    """(H, W, C) -> (H, W, units): a 1x1 convolution; softmax over the channel axis."""
    inp = keras.Input((4, 6, 3), name="image")
    out = layers.Dense(5, name="fc", **DENSE_CASES[case])(inp)
    check(keras.Model(inp, out))


def test_dense_on_image_is_a_1x1_convolution(tmp_path):
    inp = keras.Input((3, 5, 4), name="image")
    x = layers.Dense(6, name="fc")(inp)
    out = layers.Conv2D(2, 3, name="conv")(x)
    result = convert(randomize(keras.Model(inp, out)), tmp_path)
    assert_parity(result)
    assert caffe_layer_types(result) == ["Input", "Convolution", "Convolution"]


def test_dense_on_1x1_image(check):
    """After a keepdims global pool: (1, 1, C) stays an image."""
    inp = keras.Input((5, 5, 4), name="image")
    x = layers.GlobalAveragePooling2D(keepdims=True, name="gap")(inp)
    out = layers.Dense(3, activation="softmax", name="fc")(x)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("widths", [(8, 4), (16, 8, 3), (3, 12, 5)], ids=["8_4", "16_8_3", "3_12_5_bottleneck"])
def test_stacked_dense(check, widths):
    inp = keras.Input((7,), name="features")
    x = inp
    for i, units in enumerate(widths[:-1]):
        x = layers.Dense(units, activation="relu", name="hidden%s" % "abc"[i])(x)
    out = layers.Dense(widths[-1], activation="softmax", name="probs")(x)
    check(keras.Model(inp, out))


def test_stacked_dense_on_image(check):
    inp = keras.Input((4, 4, 3), name="image")
    x = layers.Dense(8, activation="relu", name="fc1")(inp)
    x = layers.Dense(5, activation="tanh", name="fc2")(x)
    x = layers.Flatten(name="flat")(x)
    out = layers.Dense(3, name="fc3")(x)
    check(keras.Model(inp, out))


def test_dense_single_unit(check):
    inp = keras.Input((6,), name="features")
    x = layers.Dense(4, activation="relu", name="hidden")(inp)
    out = layers.Dense(1, activation="sigmoid", name="probability")(x)
    check(keras.Model(inp, out))


def test_dense_on_sequence(check):
    """(L, C) -> (L, units): a 1x1 convolution on the one-row image; softmax over the channel axis;
    TimeDistributed(Dense) is the same Dense."""
    inp = keras.Input((7, 4), name="sequence")
    x = layers.Dense(6, activation="relu", name="fc1")(inp)
    out = layers.Dense(3, activation="softmax", name="fc2")(x)
    wrapped = layers.TimeDistributed(layers.Dense(4, activation="tanh"), name="per_step")(inp)
    check(keras.Model(inp, [out, layers.Dense(2, use_bias=False, name="fc3")(inp), wrapped]))
