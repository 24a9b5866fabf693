"""Arithmetic written with operators on symbolic tensors in a functional model (keras.ops nodes, not
layers): constants become the rescale op, tensor pairs the merge ops. MobileNetV3's hard_sigmoid is
written this way."""
import keras
import numpy as np
import pytest
from keras import layers

from conftest import convert, randomize


def test_operators_with_constants_and_tensors(check):
    inp = keras.Input((6, 5, 4), name="image")
    x = layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    a = layers.ReLU(6.0, name="relu6")(x + 3.0) * (1.0 / 6.0)          # hard_sigmoid, as MobileNetV3
    b = 2.0 - x
    c = x / 4.0
    d = x + np.array([0.5, -1.0, 2.0, 0.25], dtype="float32")         # one value per channel
    e = (a - b) * c + d
    out = layers.Conv2D(3, 1, name="head")(e)
    check(keras.Model(inp, out))


def test_a_constant_divided_by_a_tensor_is_refused_with_its_reason(tmp_path):
    inp = keras.Input((4, 4, 2), name="image")
    x = layers.Conv2D(2, 1, name="conv")(inp)
    out = layers.Conv2D(2, 1, name="head")(1.0 / (layers.ReLU(name="relu")(x) + 1.0))
    with pytest.raises(Exception) as info:
        convert(randomize(keras.Model(inp, out)), tmp_path)
    assert "a constant divided by a tensor" in str(info.value)
    assert getattr(info.value, "exit_code", None) == 4
