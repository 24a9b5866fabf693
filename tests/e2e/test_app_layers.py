"""The helper layers keras.applications models define themselves, in the blocks they come from:
InceptionResNetV2's scaled residual sum (CustomScaleLayer) and ConvNeXt's LayerScale and
StochasticDepth. The residual scale is far from 1 and gamma random per channel, so a dropped
coefficient or a wrong channel order shows."""
import keras
import numpy as np
from keras import layers
from keras.src.applications.convnext import LayerScale, StochasticDepth
from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

from conftest import caffe_layer_types, convert, assert_parity, randomize


def test_inception_resnet_scaled_residual(tmp_path):
    inp = keras.Input((9, 9, 8), name="image")
    b0 = layers.Conv2D(4, 1, name="branch_0")(inp)
    b1 = layers.Conv2D(4, 3, padding="same", name="branch_1")(inp)
    mixed = layers.Concatenate(name="mixed")([b0, b1])
    up = layers.Conv2D(8, 1, name="up")(mixed)
    x = CustomScaleLayer(0.17, name="block_scale")([inp, up])
    out = layers.Activation("relu", name="block_ac")(x)
    result = convert(randomize(keras.Model(inp, out)), tmp_path)
    assert_parity(result)
    assert "Eltwise" in caffe_layer_types(result)


def test_convnext_layer_scale_and_stochastic_depth(tmp_path):
    inp = keras.Input((8, 8, 6), name="image")
    x = layers.DepthwiseConv2D(7, padding="same", name="dwconv")(inp)
    x = layers.Conv2D(6, 1, name="pwconv")(x)
    scale = LayerScale(1e-6, 6, name="layer_scale")
    x = scale(x)
    x = StochasticDepth(0.1, name="drop_path")(x)
    out = layers.Add(name="residual")([inp, x])
    model = randomize(keras.Model(inp, out))
    gamma = np.random.default_rng(3).uniform(-2.0, 2.0, (6,)).astype("float32")
    scale.weights[0].assign(gamma)        # ConvNeXt initialises gamma to 1e-6: make it visible
    result = convert(model, tmp_path)
    report = assert_parity(result)
    assert "Scale" in caffe_layer_types(result)
    compared = [r["layer"] for r in report["layers"] if r["status"] == "ok"]
    assert "layer_scale" in compared
