"""Convolutions end to end: Conv2D and DepthwiseConv2D in every padding/stride/dilation regime."""
import keras
import pytest
from keras import layers

CONV_CASES = {
    "k3_s1_same": dict(kernel_size=3, strides=1, padding="same"),
    "k3_s2_same_even_input": dict(kernel_size=3, strides=2, padding="same"),
    "k3_s2_valid": dict(kernel_size=3, strides=2, padding="valid"),
    "k1_s1_valid": dict(kernel_size=1, strides=1, padding="valid"),
    "k2_s1_same_asymmetric": dict(kernel_size=2, strides=1, padding="same"),
    "k5x3_s2x1_same": dict(kernel_size=(5, 3), strides=(2, 1), padding="same"),
    "k4_s4_same": dict(kernel_size=4, strides=4, padding="same"),
    "k7_s2_same": dict(kernel_size=7, strides=2, padding="same"),
    "k3_dilation2_same": dict(kernel_size=3, dilation_rate=2, padding="same"),
    "k3_dilation3x2_valid": dict(kernel_size=3, dilation_rate=(3, 2), padding="valid"),
    "no_bias": dict(kernel_size=3, padding="same", use_bias=False),
    "fused_relu": dict(kernel_size=3, padding="same", activation="relu"),
    "fused_relu6": dict(kernel_size=3, strides=2, padding="same", activation="relu6"),
    "fused_sigmoid": dict(kernel_size=3, padding="valid", activation="sigmoid"),
    "fused_tanh": dict(kernel_size=3, padding="valid", activation="tanh"),
    "groups2": dict(kernel_size=3, padding="same", groups=2),
}


@pytest.mark.parametrize("case", sorted(CONV_CASES), ids=sorted(CONV_CASES))
@pytest.mark.parametrize("size", [(12, 12), (11, 13)], ids=["even12x12", "odd11x13"])
def test_conv2d(check, case, size):
    inp = keras.Input(size + (4,), name="image")
    out = layers.Conv2D(6, name="conv", **CONV_CASES[case])(inp)
    check(keras.Model(inp, out))


DEPTHWISE_CASES = {
    "k3_s1_same": dict(kernel_size=3, padding="same"),
    "k3_s2_same": dict(kernel_size=3, strides=2, padding="same"),
    "k3_s2_valid": dict(kernel_size=3, strides=2, padding="valid"),
    "k5_multiplier3": dict(kernel_size=5, padding="same", depth_multiplier=3),
    "k3_dilation2": dict(kernel_size=3, padding="same", dilation_rate=2),
    "no_bias_relu6": dict(kernel_size=3, padding="same", use_bias=False, activation="relu6"),
}


@pytest.mark.parametrize("case", sorted(DEPTHWISE_CASES), ids=sorted(DEPTHWISE_CASES))
def test_depthwise_conv2d(check, case):
    inp = keras.Input((10, 9, 5), name="image")
    out = layers.DepthwiseConv2D(name="dw", **DEPTHWISE_CASES[case])(inp)
    check(keras.Model(inp, out))
