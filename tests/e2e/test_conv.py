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


SEPARABLE_BRANCHES = {
    "sep_dm2_same": dict(filters=5, kernel_size=3, padding="same", depth_multiplier=2),
    "sep_dm3_s2_same_relu": dict(filters=4, kernel_size=3, strides=2, padding="same", depth_multiplier=3,
                                 activation="relu"),
    "sep_dilation2_valid_no_bias_tanh": dict(filters=4, kernel_size=3, dilation_rate=2, padding="valid",
                                             use_bias=False, activation="tanh"),
    "sep_k4x2_s2_same_sigmoid": dict(filters=3, kernel_size=(4, 2), strides=2, padding="same",
                                       activation="sigmoid"),
}


def test_separable_conv2d(check):
    """SeparableConv2D = depthwise Convolution (group = C) then a 1x1 Convolution. Multipliers > 1
    show whether the depthwise output order (c * multiplier + m) meets the pointwise kernel's rows;
    an 11x10 input makes stride-2 SAME padding asymmetric on W. Branches of one input, so each
    setting is compared on its own."""
    inp = keras.Input((11, 10, 3), name="image")
    outs = [layers.SeparableConv2D(name=name, **SEPARABLE_BRANCHES[name])(inp) for name in sorted(SEPARABLE_BRANCHES)]
    check(keras.Model(inp, outs))


TRANSPOSE_BRANCHES = {
    "k3_s2_same": dict(kernel_size=3, strides=2, padding="same"),
    "k4_s2_same": dict(kernel_size=4, strides=2, padding="same"),
    "k3_s2_same_output_padding0": dict(kernel_size=3, strides=2, padding="same", output_padding=0),
    "k3_s2_same_output_padding1_relu": dict(kernel_size=3, strides=2, padding="same", output_padding=1,
                                            activation="relu"),
    "k5_s3_same_output_padding2_no_bias": dict(kernel_size=5, strides=3, padding="same", output_padding=2,
                                               use_bias=False),
    "k3_s2_valid": dict(kernel_size=3, strides=2, padding="valid"),
    "k3_s2_valid_output_padding1": dict(kernel_size=3, strides=2, padding="valid", output_padding=1),
    "k2_s3_valid_stride_over_kernel": dict(kernel_size=2, strides=3, padding="valid"),
    "k3x2_s1x2_same_sigmoid": dict(kernel_size=(3, 2), strides=(1, 2), padding="same", activation="sigmoid"),
    "k1_s1_valid": dict(kernel_size=1, padding="valid"),
}


def test_conv2d_transpose(check):
    """Conv2DTranspose as Caffe Deconvolution: TF's SAME output starts one-sidedly inside the full
    transposed convolution (Slice), output_padding and strides above the kernel size make TF's output
    outgrow it (zero kernel taps). A 5x6 input: odd and even sides."""
    inp = keras.Input((5, 6, 3), name="image")
    outs = [layers.Conv2DTranspose(4, name=name, **TRANSPOSE_BRANCHES[name])(inp) for name in sorted(TRANSPOSE_BRANCHES)]
    check(keras.Model(inp, outs))
