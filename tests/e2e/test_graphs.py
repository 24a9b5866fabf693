"""Graph shapes beyond a chain: several inputs and outputs, layers called more than once (shared
weights), models nested several levels deep and a nested model called twice."""
import keras
from keras import layers

from conftest import assert_parity, convert, randomize


def test_several_inputs_and_outputs(tmp_path):
    image = keras.Input((8, 8, 3), name="image")
    meta = keras.Input((5,), name="meta")
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="conv")(image)
    pooled = layers.GlobalAveragePooling2D(name="gap")(x)
    m = layers.Dense(6, activation="tanh", name="meta_dense")(meta)
    joint = layers.Concatenate(name="joint")([pooled, m])
    logits = layers.Dense(4, name="logits")(joint)
    box = layers.Dense(2, name="box")(m)
    model = keras.Model([image, meta], [logits, x, box])
    report = assert_parity(convert(randomize(model), tmp_path))
    assert len(report["outputs"]) == 3


def test_shared_layers_called_twice(tmp_path):
    left = keras.Input((7, 7, 3), name="left")
    right = keras.Input((7, 7, 3), name="right")
    conv = layers.Conv2D(5, 3, padding="same", name="shared_conv")
    bn = layers.BatchNormalization(name="shared_bn")
    a = bn(conv(left))
    b = bn(conv(right))
    diff = layers.Add(name="sum")([a, b])
    dense = layers.Dense(3, name="shared_dense")
    out1 = dense(layers.Flatten(name="flat_a")(a))
    out2 = dense(layers.Flatten(name="flat_sum")(diff))
    model = keras.Model([left, right], [out1, out2])
    report = assert_parity(convert(randomize(model), tmp_path))
    names = [r["layer"] for r in report["layers"]]
    assert len([n for n in names if n.startswith("shared_conv")]) == 2


def test_models_nested_three_deep_and_called_twice(tmp_path):
    inner_in = keras.Input((6, 6, 4))
    inner = keras.Model(inner_in, layers.Conv2D(4, 3, padding="same", activation="relu", name="c")(inner_in),
                        name="inner")
    mid_in = keras.Input((6, 6, 4))
    y = inner(mid_in)
    mid = keras.Model(mid_in, layers.BatchNormalization(name="bn")(y), name="mid")
    outer_in = keras.Input((6, 6, 4))
    outer = keras.Model(outer_in, layers.Add(name="res")([outer_in, mid(outer_in)]), name="outer")
    top_in = keras.Input((6, 6, 4), name="image")
    z = outer(top_in)
    z = outer(z)                         # the whole nested stack twice, with the same weights
    out = layers.Conv2D(2, 1, name="head")(z)
    report = assert_parity(convert(randomize(keras.Model(top_in, out)), tmp_path))
    compared = [r["layer"] for r in report["layers"] if r["status"] == "ok"]
    assert any(n.startswith("outer/mid/inner/") for n in compared), compared
