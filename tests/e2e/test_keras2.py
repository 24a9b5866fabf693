"""Keras 2 files mean what Keras 2 computed (issue 13): a legacy .h5 that tf_keras wrote is loaded by
tf_keras (its keras_version attribute), so its reference values and lowerings are Keras 2's, although
Keras 3 would load it silently with its own meaning; Keras 2's operator layers (TFOpLambda,
SlicingOpLambda) are lowered through the graph front end's TF-op lowerings; Lambda layers are refused
unless the file is trusted (--trust-lambda). Each Keras 2 / Keras 3 difference the README lists has a
test here or in the family tests it names."""
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_parity, import_bundle
from export_tf.exporter import export
from shared.bundle import read_bundle
from shared.errors import UnsupportedError

tf_keras = pytest.importorskip("tf_keras")
L = tf_keras.layers


def _reference(bundle):
    """(TF's reference input, TF's reference output) of a one-input, one-output bundle."""
    data = read_bundle(bundle)
    (x,), (y,) = data.reference("inputs").values(), data.reference("outputs").values()
    return np.asarray(x), np.asarray(y)


def _randomize(model, seed=3):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def test_hard_sigmoid_means_keras2s(tmp_path):
    """Keras 2's hard_sigmoid is clip(0.2 x + 0.5, 0, 1); Keras 3 loads the same file as relu6(x + 3) / 6
    (4e-2 apart on these values): the reference comes from tf_keras and the lowering follows it."""
    import keras
    inp = L.Input((4, 4, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", name="conv")(inp)
    out = L.Activation("hard_sigmoid", name="gate")(L.Rescaling(3.0, name="spread")(x))
    model = _randomize(tf_keras.Model(inp, out))
    path = str(tmp_path / "keras2.h5")
    model.save(path)
    bundle = str(tmp_path / "keras2.npz")
    manifest = export(path, bundle, batch=4)
    assert manifest["source"]["format"] == "h5-keras2"
    gate = [n for n in manifest["nodes"] if n["name"] == "gate"][0]
    assert (gate["attrs"]["slope"], gate["attrs"]["offset"]) == (0.2, 0.5)
    x_in, ref = _reference(bundle)
    np.testing.assert_allclose(ref, model(x_in).numpy(), atol=1e-6)           # what tf_keras computes
    keras3 = keras.models.load_model(path, compile=False)                       # what Keras 3 makes of it
    assert np.abs(keras3(x_in).numpy() - ref).max() > 1e-2
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))


def test_operator_layers_lower_through_the_graph_front_end(tmp_path):
    """tf.nn.relu6(x), x[:, 1:], tf.concat, tf.math ops written in a Keras 2 functional model are
    TFOpLambda / SlicingOpLambda layers in its .h5; each becomes the nodes of its TF ops."""
    inp = L.Input((6, 6, 3), name="image")
    a = L.Conv2D(4, 3, padding="same", name="conv")(inp)
    a = L.LeakyReLU(alpha=0.25, name="leaky")(a)     # Keras 2 names its slope alpha, Keras 3 negative_slope
    b = tf.nn.relu6(a * 2.0)                    # TFOpLambda: math.multiply, nn.relu6
    c = b[:, 1:, :-1, :]                        # SlicingOpLambda -> (5, 5, 4)
    d = L.Conv2D(4, 2, padding="valid", name="conv2")(a)            # (5, 5, 4)
    e = tf.concat([c, tf.math.tanh(d)], axis=-1)                    # TFOpLambda: concat, math.tanh
    out = L.Dense(3, name="head")(L.Flatten(name="flat")(tf.nn.sigmoid(e)))
    model = _randomize(tf_keras.Model(inp, out))
    classes = set(type(layer).__name__ for layer in model.layers)
    assert {"TFOpLambda", "SlicingOpLambda"} <= classes, classes
    path = str(tmp_path / "ops.h5")
    model.save(path)
    bundle = str(tmp_path / "ops.npz")
    manifest = export(path, bundle)
    assert manifest["source"]["format"] == "h5-keras2"
    leaky = [n for n in manifest["nodes"] if n["name"] == "leaky"][0]["attrs"]
    assert leaky["negative_slope"] == 0.25, leaky
    sources = set(n["source_type"] for n in manifest["nodes"])
    assert {"Relu6", "StridedSlice", "ConcatV2", "Tanh"} <= sources, sources
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))


def _lambda_model():
    inp = L.Input((5, 5, 2), name="image")
    x = L.Conv2D(3, 3, padding="same", name="conv")(inp)
    x = L.Lambda(lambda t: tf.nn.relu(t) * 2.0 + 1.0, name="scale_shift")(x)
    return _randomize(tf_keras.Model(inp, L.GlobalAveragePooling2D(name="gap")(x)))


def test_lambda_is_refused_unless_trusted(tmp_path):
    path = str(tmp_path / "lambda.h5")
    _lambda_model().save(path)
    with pytest.raises(UnsupportedError) as info:
        export(path, str(tmp_path / "refused.npz"))
    text = str(info.value)
    assert "scale_shift" in text and "runs when the model is loaded" in text and "--trust-lambda" in text, text
    assert not os.path.exists(str(tmp_path / "refused.npz"))
    bundle = str(tmp_path / "lambda.npz")
    manifest = export(path, bundle, trust_lambda=True)
    assert [n["op"] for n in manifest["nodes"] if n["name"].startswith("scale_shift/")], manifest["nodes"]
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))


def test_keras3_lambda_is_refused_unless_trusted_too(tmp_path):
    """A .keras file's Lambda (Keras 3 itself refuses it unless safe_mode=False): the same rule."""
    import keras
    inp = keras.Input((5, 5, 2), name="image")
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv")(inp)
    x = keras.layers.Lambda(lambda t: t * 2.0 + 1.0, output_shape=(5, 5, 3), name="scale_shift")(x)
    path = str(tmp_path / "lambda.keras")
    keras.Model(inp, keras.layers.GlobalAveragePooling2D(name="gap")(x)).save(path)
    with pytest.raises(UnsupportedError, match="--trust-lambda"):
        export(path, str(tmp_path / "refused.npz"))
    bundle = str(tmp_path / "lambda.npz")
    manifest = export(path, bundle, trust_lambda=True)
    assert [(n["name"], n["op"]) for n in manifest["nodes"]][1] == ("scale_shift/mul", "rescale")
    assert_parity(import_bundle(bundle, str(tmp_path / "caffe")))
