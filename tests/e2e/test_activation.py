"""Activations end to end: Activation by name, ReLU with max_value / negative_slope, LeakyReLU and
Softmax, on images (channel axis = Caffe axis 1) and on vectors. Softmax inputs have 5 channels so
the probabilities are far from one-hot and a wrong axis shows."""
import keras
import pytest
from keras import layers

ACTIVATIONS = {
    "activation_relu": lambda: layers.Activation("relu", name="act"),
    "activation_relu6": lambda: layers.Activation("relu6", name="act"),
    "activation_sigmoid": lambda: layers.Activation("sigmoid", name="act"),
    "activation_tanh": lambda: layers.Activation("tanh", name="act"),
    "activation_softmax": lambda: layers.Activation("softmax", name="act"),
    "activation_linear": lambda: layers.Activation("linear", name="act"),
    "relu_default": lambda: layers.ReLU(name="act"),
    "relu_max_value_6": lambda: layers.ReLU(max_value=6.0, name="act"),
    "relu_negative_slope_0.1": lambda: layers.ReLU(negative_slope=0.1, name="act"),
    "relu_max_value_3_negative_slope_0.2": lambda: layers.ReLU(max_value=3.0, negative_slope=0.2, name="act"),
    "leaky_relu_default": lambda: layers.LeakyReLU(name="act"),
    "leaky_relu_0.05": lambda: layers.LeakyReLU(negative_slope=0.05, name="act"),
    "softmax_layer": lambda: layers.Softmax(name="act"),
    "softmax_layer_axis_-1": lambda: layers.Softmax(axis=-1, name="act"),
}
CLASSES = 5


@pytest.mark.parametrize("case", sorted(ACTIVATIONS), ids=sorted(ACTIVATIONS))
def test_activation_on_image(check, case):
    """After a convolution with a bias, so the values straddle 0, 3 and 6 (scaled up by 4)."""
    inp = keras.Input((6, 7, 3), name="image")
    x = layers.Conv2D(CLASSES, 3, padding="same", name="conv")(inp)
    x = layers.Rescaling(4.0, name="spread")(x)
    out = ACTIVATIONS[case]()(x)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("case", sorted(ACTIVATIONS), ids=sorted(ACTIVATIONS))
def test_activation_on_vector(check, case):
    inp = keras.Input((10,), name="features")
    x = layers.Dense(CLASSES, name="dense")(inp)
    x = layers.Rescaling(4.0, name="spread")(x)
    out = ACTIVATIONS[case]()(x)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("case", ["activation_relu", "activation_softmax", "relu_max_value_3_negative_slope_0.2"])
def test_activation_on_input(check, case):
    """Applied straight to the network input blob, then consumed by another layer."""
    inp = keras.Input((5, 5, CLASSES), name="image")
    x = ACTIVATIONS[case]()(inp)
    out = layers.Conv2D(3, 1, name="conv")(x)
    check(keras.Model(inp, out))


def test_activation_chain(check):
    """Several activations in a row: each Caffe layer must read the previous one's top."""
    inp = keras.Input((4, 4, CLASSES), name="image")
    x = layers.LeakyReLU(negative_slope=0.2, name="leaky")(inp)
    x = layers.ReLU(max_value=1.0, name="clip")(x)
    x = layers.Activation("tanh", name="tanh")(x)
    out = layers.Softmax(name="probs")(x)
    check(keras.Model(inp, out))
