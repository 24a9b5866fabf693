"""Whole-model concerns: model formats (.keras, legacy .h5 written by Keras 2), bundle containers,
nested and Sequential models, batch size, names."""
import os

import keras
import numpy as np
import pytest
from keras import layers

from conftest import assert_parity, caffe_layer_types, convert, import_bundle, randomize


def small_cnn(name="small_cnn"):
    inp = keras.Input((10, 10, 3), name="pixels")
    x = layers.Conv2D(8, 3, strides=2, padding="same", name="conv")(inp)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU(6.0, name="relu6")(x)
    x = layers.Flatten(name="flat")(x)
    out = layers.Dense(4, name="logits")(x)
    return keras.Model(inp, out, name=name)


@pytest.mark.parametrize("ext", [".npz", ".h5"], ids=["npz_bundle", "h5_bundle"])
def test_bundle_containers(tmp_path, ext):
    report = assert_parity(convert(randomize(small_cnn()), tmp_path, ext=ext))
    assert report["model"] == "small_cnn"


def test_the_manifest_records_the_model_file_and_its_sha256(tmp_path):
    """Hashed while Keras loads the model (a worker thread): the whole file's digest all the same."""
    import hashlib
    from export_tf.exporter import export
    path = os.path.join(str(tmp_path), "small.keras")
    randomize(small_cnn()).save(path)
    manifest = export(path, os.path.join(str(tmp_path), "small.npz"))
    with open(path, "rb") as f:
        assert manifest["source"] == {"path": "small.keras", "sha256": hashlib.sha256(f.read()).hexdigest(),
                                      "format": "keras"}


def test_batch_size_is_not_hard_coded(tmp_path):
    result = convert(randomize(small_cnn()), tmp_path, batch=5)
    report = assert_parity(result)
    assert report["batch"] == 5
    proto = open(os.path.join(result.out, report["files"]["prototxt"])).read()
    assert "dim: 1\n" in proto          # the Input layer is declared with batch 1 ...
    assert report["layers"][-1]["max_rel"] is not None   # ... and ran with 5 through reshape


def test_input_and_output_names_are_the_caffe_blob_names(tmp_path):
    result = convert(randomize(small_cnn()), tmp_path)
    report = assert_parity(result)
    assert [i["name"] for i in report["inputs"]] == ["pixels"]
    assert [o["layer"] for o in report["outputs"]] == ["logits"]
    proto = open(os.path.join(result.out, report["files"]["prototxt"])).read()
    assert 'top: "pixels"' in proto and 'top: "logits"' in proto
    assert caffe_layer_types(result)[0] == "Input"


def test_sequential_model(tmp_path):
    model = keras.Sequential([keras.Input((8, 8, 2)), layers.Conv2D(4, 3, activation="relu"),
                              layers.MaxPooling2D(), layers.Flatten(), layers.Dense(3)], name="seq")
    assert_parity(convert(randomize(model), tmp_path))


def test_nested_models_are_flattened(tmp_path):
    inner_in = keras.Input((8, 8, 4))
    h = layers.Conv2D(4, 3, padding="same", name="inner_conv")(inner_in)
    h = layers.BatchNormalization(name="inner_bn")(h)
    block = keras.Model(inner_in, layers.ReLU(name="inner_relu")(h), name="block")
    inp = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(4, 1, name="stem")(inp)
    x = block(x)
    x = layers.Add(name="skip")([x, layers.Conv2D(4, 1, name="proj")(inp)])
    out = layers.Dense(2, name="head")(layers.GlobalAveragePooling2D(name="gap")(x))
    report = assert_parity(convert(randomize(keras.Model(inp, out, name="outer")), tmp_path))
    names = [r["layer"] for r in report["layers"]]
    assert "block/inner_conv" in names and "block/inner_bn" in names


def _keras2_model(tf_keras):
    L = tf_keras.layers
    inp = tf_keras.Input((9, 9, 3), name="img")
    x = L.Conv2D(6, 3, strides=2, padding="same", use_bias=False, name="conv")(inp)
    x = L.BatchNormalization(name="bn")(x)
    x = L.Activation("relu", name="act")(x)
    x = L.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = L.MaxPooling2D(2, padding="same", name="pool")(x)
    x = L.Flatten(name="flat")(x)
    out = L.Dense(5, activation="softmax", name="probs")(x)
    model = tf_keras.Model(inp, out, name="legacy")
    rng = np.random.default_rng(3)
    for var in model.weights:
        role = var.name.split("/")[-1].split(":")[0]
        if role in ("bias", "beta", "moving_mean"):
            var.assign(rng.normal(0, 0.3, var.shape).astype("float32"))
        elif role in ("gamma", "moving_variance"):
            var.assign(rng.uniform(0.5, 1.5, var.shape).astype("float32"))
    return model


def _export_h5(tmp_path, model_path):
    from export_tf.exporter import export
    bundle = os.path.join(str(tmp_path), "legacy.npz")
    manifest = export(model_path, bundle)
    return manifest, import_bundle(bundle, os.path.join(str(tmp_path), "caffe"))


def test_legacy_h5_written_by_keras2(tmp_path):
    tf_keras = pytest.importorskip("tf_keras")
    path = os.path.join(str(tmp_path), "legacy.h5")
    _keras2_model(tf_keras).save(path)          # Keras 2 writes the legacy full-model HDF5 file
    manifest, result = _export_h5(tmp_path, path)
    assert manifest["source"]["format"] in ("h5", "h5-keras2")
    assert_parity(result)


def test_legacy_h5_that_keras3_refuses_loads_through_keras2(tmp_path, monkeypatch):
    tf_keras = pytest.importorskip("tf_keras")
    path = os.path.join(str(tmp_path), "legacy.h5")
    _keras2_model(tf_keras).save(path)

    def refuse(*args, **kwargs):
        raise ValueError("Keras 3 cannot read this file")
    monkeypatch.setattr(keras.models, "load_model", refuse)
    manifest, result = _export_h5(tmp_path, path)
    assert manifest["source"]["format"] == "h5-keras2"
    assert_parity(result)
