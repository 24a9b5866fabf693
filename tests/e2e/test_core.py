"""Core layers end to end: Dropout (identity at inference), Rescaling, and the names the Caffe net keeps
(the input blob carries the InputLayer's name, each output blob the output layer's name)."""
import os
import re

import keras
import pytest
from keras import layers

from conftest import assert_parity, caffe_layer_types, convert, randomize


def caffe_layers(result):
    """(name, type, bottoms, tops) of each layer of the generated prototxt (read as text)."""
    text = open(os.path.join(result.out, result.report["files"]["prototxt"])).read()
    out = []
    for block in re.split(r"^layer \{$", text, flags=re.M)[1:]:
        def fields(key):
            return re.findall(r'^  %s: "([^"]*)"$' % key, block, flags=re.M)
        out.append((fields("name")[0], fields("type")[0], fields("bottom"), fields("top")))
    return out


DROPOUT_LAYERS = {
    "dropout": lambda: layers.Dropout(0.5, name="drop"),
    "spatial_dropout": lambda: layers.SpatialDropout2D(0.5, name="drop"),
    "gaussian_dropout": lambda: layers.GaussianDropout(0.3, name="drop"),
    "gaussian_noise": lambda: layers.GaussianNoise(0.3, name="drop"),
}


@pytest.mark.parametrize("kind", sorted(DROPOUT_LAYERS), ids=sorted(DROPOUT_LAYERS))
def test_dropout_between_layers(check, kind):
    inp = keras.Input((6, 6, 3), name="image")
    x = layers.Conv2D(4, 3, name="conv1")(inp)
    x = DROPOUT_LAYERS[kind]()(x)
    out = layers.Conv2D(2, 3, name="conv2")(x)
    check(keras.Model(inp, out))


def test_dropout_right_before_output(tmp_path):
    """Dropout as the last layer: no Caffe Dropout, and the output blob still carries its name."""
    inp = keras.Input((10,), name="features")
    x = layers.Dense(6, activation="relu", name="fc")(inp)
    out = layers.Dropout(0.5, name="drop_out")(x)
    result = convert(randomize(keras.Model(inp, out)), tmp_path)
    report = assert_parity(result)
    assert "Dropout" not in caffe_layer_types(result)
    assert [o["layer"] for o in report["outputs"]] == ["drop_out"]
    assert any("drop_out" in tops for _, _, _, tops in caffe_layers(result))


def test_dropout_on_input(check):
    inp = keras.Input((8,), name="features")
    x = layers.Dropout(0.2, name="drop")(inp)
    out = layers.Dense(3, name="fc")(x)
    check(keras.Model(inp, out))


def test_dropout_only_model(check):
    """A model that is its input passed through Dropout: the output is a named copy of the input."""
    inp = keras.Input((4, 4, 2), name="image")
    out = layers.Dropout(0.5, name="drop")(inp)
    check(keras.Model(inp, out))


RESCALING_CASES = {
    "scale_1_over_255": dict(scale=1.0 / 255),
    "scale_and_offset": dict(scale=1.0 / 127.5, offset=-1.0),
    "negative_scale": dict(scale=-2.0, offset=0.5),
    "per_channel_scale_and_offset": dict(scale=[0.5, 2.0, -1.0], offset=[0.1, -0.2, 0.3]),
    "per_channel_scale_scalar_offset": dict(scale=[1 / 58.4, 1 / 57.1, 1 / 57.4], offset=-0.5),
    "scalar_scale_per_channel_offset": dict(scale=0.5, offset=[-123.7, -116.3, -103.5]),
}


@pytest.mark.parametrize("case", sorted(RESCALING_CASES), ids=sorted(RESCALING_CASES))
def test_rescaling_image(check, case):
    inp = keras.Input((5, 6, 3), name="image")
    x = layers.Rescaling(name="rescale", **RESCALING_CASES[case])(inp)
    out = layers.Conv2D(4, 3, name="conv")(x)
    check(keras.Model(inp, out))


@pytest.mark.parametrize("case", sorted(RESCALING_CASES), ids=sorted(RESCALING_CASES))
def test_rescaling_vector(check, case):
    inp = keras.Input((3,), name="features")
    x = layers.Rescaling(name="rescale", **RESCALING_CASES[case])(inp)
    out = layers.Dense(4, name="fc")(x)
    check(keras.Model(inp, out))


def test_rescaling_as_output(check):
    inp = keras.Input((4, 4, 3), name="image")
    x = layers.Conv2D(3, 1, name="conv")(inp)
    out = layers.Rescaling([2.0, 3.0, 4.0], offset=1.0, name="rescale")(x)
    check(keras.Model(inp, out))


def test_functional_input_name_is_the_caffe_input_blob(tmp_path):
    inp = keras.Input((6, 6, 3), name="camera_frame")
    out = layers.Conv2D(2, 3, name="conv")(inp)
    result = convert(randomize(keras.Model(inp, out)), tmp_path)
    report = assert_parity(result)
    assert [i["name"] for i in report["inputs"]] == ["camera_frame"]
    assert report["inputs"][0]["caffe_shape"] == ["N", 3, 6, 6]
    first = caffe_layers(result)[0]
    assert first[1] == "Input" and first[3] == ["camera_frame"]
    assert ("conv", "Convolution", ["camera_frame"], ["conv"]) in caffe_layers(result)


def test_sequential_input_layer_name_is_the_caffe_input_blob(tmp_path):
    model = keras.Sequential([layers.InputLayer(shape=(7,), name="sensor_readings"),
                              layers.Dense(4, name="fc"),
                              layers.Dense(2, name="scores")], name="seq")
    result = convert(randomize(model), tmp_path)
    report = assert_parity(result)
    assert [i["name"] for i in report["inputs"]] == ["sensor_readings"]
    assert report["inputs"][0]["caffe_shape"] == ["N", 7]
    inputs = [l for l in caffe_layers(result) if l[1] == "Input"]
    assert inputs == [("sensor_readings", "Input", [], ["sensor_readings"])]


def test_output_layer_names_are_the_caffe_output_blobs(tmp_path):
    """Two named outputs of different layouts; both are Caffe blobs of those names, and no layer
    reads or writes a blob that is not produced."""
    inp = keras.Input((6, 6, 3), name="image")
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="features")(inp)
    heatmap = layers.Conv2D(2, 1, name="heatmap")(x)
    scores = layers.Dense(5, activation="softmax", name="class_scores")(layers.GlobalAveragePooling2D(name="gap")(x))
    result = convert(randomize(keras.Model(inp, [heatmap, scores], name="two_heads")), tmp_path)
    report = assert_parity(result)
    assert sorted(o["layer"] for o in report["outputs"]) == ["class_scores", "heatmap"]
    net = caffe_layers(result)
    tops = set(t for _, _, _, ts in net for t in ts)
    assert {"heatmap", "class_scores", "image"} <= tops
    for name, _, bottoms, _ in net:
        assert set(bottoms) <= tops, name


def test_output_name_of_a_rescaled_input(tmp_path):
    """The output layer keeps its name even when it is the only layer after the input."""
    inp = keras.Input((3,), name="raw")
    out = layers.Rescaling(0.5, name="normalized")(inp)
    result = convert(randomize(keras.Model(inp, out)), tmp_path)
    assert_parity(result)
    assert ("normalized", "Power", ["raw"], ["normalized"]) in caffe_layers(result)
